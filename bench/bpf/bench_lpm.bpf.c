// SPDX-License-Identifier: GPL-2.0-only
/* The baseline of the micro benchmark: the kernel's LPM trie keyed by the
 * IPv4 source address. Parses just enough (Ethernet, IPv4) to find the
 * address, does one lookup and drops on a hit, so its cost is the trie
 * lookup plus the same test-run floor that xdpfw pays.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* The trie's key layout (prefix length, then the address in network order);
 * the benchmark checks the map's key size against its own copy at load. */
struct bench_lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* the kernel requires it for tries */
	__uint(max_entries, 1);               /* set at load to the set's size */
	__type(key, struct bench_lpm_key);
	__type(value, __u32);
} bench_lpm_v4 SEC(".maps");

SEC("xdp")
int bench_lpm(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bench_lpm_key key;
	struct iphdr *ip;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	key.prefixlen = 32;
	key.addr = ip->saddr;
	return bpf_map_lookup_elem(&bench_lpm_v4, &key) ? XDP_DROP : XDP_PASS;
}
