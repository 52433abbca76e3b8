// SPDX-License-Identifier: GPL-2.0-only
/* xdpfw-bench's reference device under test: counts every frame in a
 * per-CPU counter and returns a fixed verdict without reading the packet.
 * With XDP_DROP it is the ceiling of the drop rows (the cheapest thing an XDP
 * program can do with a frame), with XDP_PASS the ceiling of the pass rows.
 * The counter proves the traffic reached it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* XDP_DROP or XDP_PASS, set before load (bench/suite/duts.cpp). */
const volatile __u32 cfg_action = XDP_DROP;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sink_packets SEC(".maps");

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&sink_packets, &key);

	if (n)
		*n += 1;
	return cfg_action;
}
