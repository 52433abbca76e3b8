// SPDX-License-Identifier: GPL-2.0-only
/* The AF_XDP ceiling of bench/xsk: every frame straight into the socket of
 * its rx queue, no parsing, no policy (drop when no socket is bound). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} ceiling_xsks SEC(".maps");

SEC("xdp")
int xsk_ceiling(struct xdp_md *ctx)
{
	return bpf_redirect_map(&ceiling_xsks, ctx->rx_queue_index, XDP_DROP);
}
