/* SPDX-License-Identifier: GPL-2.0-only */
/* Rate limits (limit=): token buckets kept as GCRA times (abi.h, struct
 * xdpfw_limit). The walk (classify.h) asks xdpfw_limit_over() only for a
 * rule with XDPFW_RULE_LIMIT that the packet otherwise matches; a policy
 * without limits never gets here.
 *
 * Buckets are shared by all CPUs and updated by compare-and-swap, so the
 * limit holds exactly whichever CPUs the packets arrive on (a per-CPU bucket
 * would let through the rate once per CPU). Aggregate buckets (per=rule) are
 * an array indexed by the rule's counter slot; per-address buckets an LRU
 * hash of XDPFW_LIMIT_KEYS entries (least recently used sources fall out
 * and come back full). Both are keyed by rule id, not by generation: a
 * commit keeps the buckets of a rule whose limit it does not change.
 */
#ifndef XDPFW_LIMITS_H
#define XDPFW_LIMITS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdpfw/abi.h>
#include "maps.h"
#include "pkt.h"

/* [gen * cfg_max_rules + i]: the limit of rule i, for the rules that have
 * one. Hashes without preallocation: their memory follows the policy. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* set at load */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct xdpfw_limit);
} xdpfw_limits SEC(".maps");

/* [counter_slot]: per=rule buckets, made at the rule's first packet. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* set at load */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct xdpfw_bucket);
} xdpfw_limit_rule SEC(".maps");

/* per=src / per=dst buckets: an LRU hash of XDPFW_LIMIT_KEYS entries,
 * preallocated as an LRU hash must be, that the control plane makes and puts
 * in slot 0 when a policy first has such a limit (PolicyMaps::commit), so a
 * policy without one holds no bucket memory. This is its template. */
struct xdpfw_limit_keys_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(struct xdpfw_limit_key));
	__uint(value_size, sizeof(struct xdpfw_bucket));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct xdpfw_limit_keys_map);
} xdpfw_limit_keys SEC(".maps");

/* The packet's address keys, taken before the walk when some rule has a
 * limit. They wait in a per-CPU slot (one packet at a time on a CPU): the
 * walk's context may hold no pointers, and on the stack they would not fit
 * beside the program's frame and connection tracking's. */
struct xdpfw_limit_in {
	__u8 src[8];
	__u8 dst[8];
	__u32 family;
	__u32 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_limit_in);
} xdpfw_limit_scratch SEC(".maps");

static __always_inline void xdpfw_limit_take(const struct xdpfw_pkt *pkt, __u32 len)
{
	struct xdpfw_limit_in *in;
	__u32 zero = 0;

	in = bpf_map_lookup_elem(&xdpfw_limit_scratch, &zero);
	if (!in)
		return;
	__builtin_memset(in, 0, sizeof(*in)); /* non-IP frames share the zero key */
	in->family = pkt->family;
	in->len = len;
	if (pkt->family == XDPFW_FAMILY_IPV4) {
		__builtin_memcpy(in->src, &pkt->src4, 4);
		__builtin_memcpy(in->dst, &pkt->dst4, 4);
	} else if (pkt->family == XDPFW_FAMILY_IPV6) {
		__builtin_memcpy(in->src, pkt->src6, 8);
		__builtin_memcpy(in->dst, pkt->dst6, 8);
	}
}

/* The bucket under key in map, made full (tat = now) if there is none. Of
 * two CPUs adding it at once, one insert fails and both charge the other's. */
static __always_inline struct xdpfw_bucket *xdpfw_limit_bucket(void *map, const void *key,
							       __u64 now, __u64 tag)
{
	struct xdpfw_bucket *b = bpf_map_lookup_elem(map, key), fresh;

	if (b)
		return b;
	fresh.tat = now;
	fresh.tag = tag;
	bpf_map_update_elem(map, key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/* 1 when the packet is over rule `index`'s limit (the rule matches), 0 when
 * it conforms (it is charged and the walk goes on). A global function: the
 * verifier checks it once, not once per place the walk takes a rule. */
__attribute__((noinline)) int xdpfw_limit_over(__u32 gen, __u32 index, __u32 slot)
{
	struct xdpfw_limit_key k = {};
	struct xdpfw_bucket *b;
	struct xdpfw_limit_in *in;
	struct xdpfw_limit *l;
	void *table;
	__u64 now, cost, old, base, next;
	__u32 key, i, zero = 0;

	in = bpf_map_lookup_elem(&xdpfw_limit_scratch, &zero);
	if (!in || index >= cfg_max_rules)
		return 0;
	key = gen * cfg_max_rules + index;
	l = bpf_map_lookup_elem(&xdpfw_limits, &key);
	if (!l)
		return 0;
	now = bpf_ktime_get_ns();
	cost = ((l->bytes ? (__u64)in->len : 1) * l->cost_q16 + 0xffff) >> 16;
	if (l->per == XDPFW_LIMIT_PER_RULE) {
		b = xdpfw_limit_bucket(&xdpfw_limit_rule, &slot, now, l->tag);
	} else {
		k.slot = slot;
		k.family = in->family;
		k.dir = l->per == XDPFW_LIMIT_PER_DST;
		__builtin_memcpy(k.addr, k.dir ? in->dst : in->src, 8);
		table = bpf_map_lookup_elem(&xdpfw_limit_keys, &zero);
		if (!table)
			return 0;
		b = xdpfw_limit_bucket(table, &k, now, l->tag);
	}
	if (!b)
		return 0;
	if (b->tag != l->tag) {
		/* The rule's limit changed (or the slot is new): full. */
		b->tat = now;
		b->tag = l->tag;
	}
	for (i = 0; i < 4; i++) {
		old = *(volatile __u64 *)&b->tat;
		base = old > now ? old : now;
		next = base + cost;
		if (next - now > l->tol_ns)
			return 1;
		if (__sync_val_compare_and_swap(&b->tat, old, next) == old)
			return 0;
	}
	return 1; /* four CPUs raced past this one: count it over */
}

#endif /* XDPFW_LIMITS_H */
