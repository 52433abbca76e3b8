// SPDX-License-Identifier: GPL-2.0-only
/* The xdpfw program with the specialised tier (bpf/lib/spec.h): the loader
 * fills cfg_spec for the live policy (lib/kernel/spec_program.hpp). It runs
 * the spec while the live generation is the policy it was built for, and
 * tail-calls the general program (xdpfw_progs) otherwise: it holds no
 * general classifier, so the verifier has far less to check. A build of
 * its own: the general program has no trace of it.
 */
#define XDPFW_SPEC_TIER
#include "xdpfw.bpf.c"
