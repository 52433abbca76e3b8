// SPDX-License-Identifier: GPL-2.0-only
/* The xdpfw program with stage stops, for bench/stages: a load with
 * cfg_stop_after = s returns XDP_DROP right after stage s (enum xdpfw_stage),
 * so BPF_PROG_RUN times each prefix of the program. A build of its own: the
 * production build has no trace of the stops (maps.h, xdpfw_stop_after).
 */
#define XDPFW_STAGE_STOPS
#include "xdpfw.bpf.c"
