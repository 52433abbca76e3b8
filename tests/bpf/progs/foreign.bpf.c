// SPDX-License-Identifier: GPL-2.0-only
/* A program with a map named like one of xdpfw's but of its own, standing in
 * for a program an older xdpfw build pinned (tests/bpf/test_pinned_program.cpp). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdpfw/abi.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_ctrl);
} xdpfw_ctrl SEC(".maps");

SEC("xdp")
int foreign(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct xdpfw_ctrl *c = bpf_map_lookup_elem(&xdpfw_ctrl, &zero);

	return c && c->committed ? XDP_DROP : XDP_PASS;
}
