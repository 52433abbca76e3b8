// SPDX-License-Identifier: GPL-2.0-only
/* The xdpfw program with its stage stops removed by the preprocessor: the
 * production build must be exactly this one (tests/bpf/test_stage_stops.cpp). */
#define xdpfw_stop_after(s) 0
#include "../../../bpf/xdpfw.bpf.c"
