// SPDX-License-Identifier: GPL-2.0-only
/* The timing floor of the micro benchmark: an XDP program that drops every
 * frame without reading it. Run through BPF_PROG_RUN exactly like xdpfw, its
 * cost is what the kernel's test-run timer charges for an empty program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int bench_noop(struct xdp_md *ctx)
{
	return XDP_DROP;
}
