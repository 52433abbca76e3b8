/* SPDX-License-Identifier: GPL-2.0-only */
/* The specialised tier's classifier (abi.h, struct xdpfw_spec), built only
 * into xdpfw_spec.bpf.c. cfg_spec is .rodata: the loader fills it for one
 * policy before the load, the verifier then knows every value in it, keeps
 * only the ranges and fields the policy has and drops the rest as dead
 * code. Scalar fields become compares against constants, no table is read
 * for them; so do IPv4 addresses of a direction with few prefixes
 * (v4_inline). Other addresses are looked up in the live generation down to
 * their class, and the class's rule word comes from the spec when it has at
 * most XDPFW_SPEC_MAX_CLASSES classes (class_table), else from the live
 * bitmaps; a set change keeps the program unless it changes what the spec
 * holds (its key).
 */
#ifndef XDPFW_SPEC_H
#define XDPFW_SPEC_H

#include "maps.h"
#include "classify.h"
#include "events.h"
#include "parse.h"

const volatile struct xdpfw_spec cfg_spec = {};

/* The rules field f admits for value v: those of the range holding v (the
 * ranges are disjoint), else the field's other rules. Loops over constants:
 * unrolled, and the ranges past n_ranges are dead code. No branch on v: a
 * branch per range would give the verifier a path, and a distinct constant
 * result, per combination of ranges over all fields, past its limit. */
static __always_inline __u64 xdpfw_spec_field(__u32 f, __u32 v)
{
	__u64 bits = cfg_spec.f[f].other, t, in;
	__u32 i;

#pragma unroll
	for (i = 0; i < XDPFW_SPEC_MAX_RANGES; i++) {
		if (i >= cfg_spec.f[f].n_ranges)
			break;
		/* t < 0 exactly when v is outside lo .. lo + span, so `in` is
		 * all ones inside, else 0; the empty asms hide that from the
		 * compiler, which would turn both back into branches. */
		t = (__u64)cfg_spec.f[f].r[i].span - (__u32)(v - cfg_spec.f[f].r[i].lo);
		asm volatile("" : "+r"(t));
		in = ~(__u64)((__s64)t >> 63);
		asm volatile("" : "+r"(in));
		bits = (bits & ~in) | (cfg_spec.f[f].r[i].bits & in);
	}
	return bits;
}

/* Word `at` of generation gen's bitmap pages (0: none). A global function:
 * verified once, so the address lookups' many paths before it do not make
 * the verifier track which bitmap index each one leaves. */
__attribute__((noinline)) __u64 xdpfw_spec_bitmap_word(__u32 gen, __u32 at)
{
	struct xdpfw_walk w = { .gen = gen, .n_list = 1 };

	return xdpfw_and_word(&w, at, 0);
}

/* What the packet's source (dir 0) or destination (dir 1) address admits
 * in generation gen: its class's bitmap, word 0 (after the summary words).
 * A global function, verified once for both directions: inlined, the
 * address lookups' paths (IPv4 chunk or hosts, the IPv6 probe loop) would
 * be verified again for every state the scalar fields leave. */
__attribute__((noinline)) __u64 xdpfw_spec_addr_word(const struct xdpfw_pkt *pkt, __u32 gen,
						     __u32 dir)
{
	struct xdpfw_policy_hdr *hdr;
	__u32 index, class;

	if (!pkt)
		return 0;
	hdr = bpf_map_lookup_elem(&xdpfw_policy, &gen);
	if (!hdr)
		return 0;
	class = xdpfw_pkt_addr_class(hdr, gen, dir & 1, pkt);
	/* Few classes: their rule words are in the spec (class_table). */
	if (cfg_spec.class_table & (1u << (dir & 1))) {
		if (class >= cfg_spec.n_classes[dir & 1])
			return 0;
		return cfg_spec.class_bits[dir & 1][class & (XDPFW_SPEC_MAX_CLASSES - 1)];
	}
	index = xdpfw_class_ref(gen, dir & 1, class);
	if (index == XDPFW_NO_RULE)
		return 0;
	index = xdpfw_ref_index(index);
	return xdpfw_spec_bitmap_word(gen, index * hdr->bitmap_stride + hdr->n_summary);
}

/* What the packet's source (dir 0) or destination (dir 1) address admits:
 * IPv4 by the spec's ranges when it has them (v4_inline), otherwise, and
 * for IPv6, through the live tables. */
static __always_inline __u64 xdpfw_spec_addr(const struct xdpfw_pkt *pkt, __u32 gen, __u32 dir,
					     const int lean)
{
	__u32 f = XDPFW_FIELD_SRC + dir;

	/* The lean lane: an IPv4 packet, and every looked-up address is
	 * v4_inline (xdpfw_spec_lean). */
	if (lean || ((cfg_spec.v4_inline & (1u << f)) && pkt->family == XDPFW_FAMILY_IPV4))
		return xdpfw_spec_field(f, bpf_ntohl(dir ? pkt->dst4 : pkt->src4));
	return xdpfw_spec_addr_word(pkt, gen, dir);
}

/* `ranged` is cfg_spec.ranged, read once: a field without ranges costs
 * nothing at all (a test of cfg_spec itself is a load per field, whose
 * branch alone the verifier removes). */
#define XDPFW_SPEC_SCALAR(field, value)                               \
	do {                                                          \
		if (ranged & (1u << (field)))                         \
			acc &= xdpfw_spec_field((field), (value));    \
	} while (0)

/* Classifies a parsed packet by cfg_spec, reading the address tables of
 * generation gen. Counts the count rules before the winner and the winner;
 * returns the winner's index and points *rule at it in cfg_spec (constants
 * to the verifier when the spec has one terminal rule, so the action's
 * switch is decided at load), or XDPFW_NO_RULE. */
static __always_inline int xdpfw_spec_classify(struct xdp_md *ctx, const struct xdpfw_pkt *pkt,
					       __u32 gen, __u32 pkt_len,
					       const struct xdpfw_rule **rule, const int lean)
{
	/* Looked up before the packet is read: not on its chain. */
	struct xdpfw_counter *counters = xdpfw_rule_counters_here();
	__u64 acc = cfg_spec.base, win, counted;
	__u32 i, slot, ranged = cfg_spec.ranged;

	if (ranged & (1u << XDPFW_FIELD_IFINDEX)) /* three dependent loads: only when used */
		acc &= xdpfw_spec_field(XDPFW_FIELD_IFINDEX, ctx->ingress_ifindex);
	XDPFW_SPEC_SCALAR(XDPFW_FIELD_VLAN, pkt->vlan);
	XDPFW_SPEC_SCALAR(XDPFW_FIELD_PROTO, pkt->family * 256 + (pkt->proto & 0xff));
	XDPFW_SPEC_SCALAR(XDPFW_FIELD_SPORT, pkt->sport);
	XDPFW_SPEC_SCALAR(XDPFW_FIELD_DPORT, pkt->dport);
	if (cfg_spec.flags_table)
		acc &= cfg_spec.tcp_flags[pkt->tcp_flags < XDPFW_FLAGS_SLOTS ? pkt->tcp_flags
									: XDPFW_FLAGS_SLOTS - 1];
	XDPFW_SPEC_SCALAR(XDPFW_FIELD_ICMP, pkt->icmp);
	XDPFW_SPEC_SCALAR(XDPFW_FIELD_ETHER, pkt->family == XDPFW_FAMILY_IPV4   ? ETH_P_IP
					     : pkt->family == XDPFW_FAMILY_IPV6 ? ETH_P_IPV6
										: pkt->ether);
	XDPFW_SPEC_SCALAR(XDPFW_FIELD_CT, pkt->ct);
	if ((cfg_spec.lookup & (1u << XDPFW_FIELD_SRC)) && acc)
		acc &= xdpfw_spec_addr(pkt, gen, 0, lean);
	if ((cfg_spec.lookup & (1u << XDPFW_FIELD_DST)) && acc)
		acc &= xdpfw_spec_addr(pkt, gen, 1, lean);

	win = acc & cfg_spec.terminal;
	if (cfg_spec.n_count) {
		/* The count rules before the winner (all of them without one). */
		counted = acc & ~cfg_spec.terminal & (win ? (win & -win) - 1 : ~0ULL);
		for (i = 0; i < XDPFW_SPEC_MAX_RULES; i++) {
			if (i >= cfg_spec.n_count || !counted)
				break;
			slot = cfg_spec.rules[xdpfw_ctz64(counted) & 63].counter_slot;
			counted &= counted - 1;
			xdpfw_count(xdpfw_rule_counter(counters, slot), pkt_len);
		}
	}
	if (!win)
		return XDPFW_NO_RULE;
	/* One terminal rule: the winner is known before the packet is, so its
	 * counter's address does not wait for the bit scan. */
	if (cfg_spec.one_terminal)
		i = (cfg_spec.one_terminal - 1) & 63;
	else
		i = xdpfw_ctz64(win) & 63;
	*rule = (const struct xdpfw_rule *)&cfg_spec.rules[i];
	xdpfw_count(xdpfw_rule_counter(counters, cfg_spec.rules[i].counter_slot), pkt_len);
	return i;
}

/* The lean lane, for a spec with lean set (abi.h), takes untagged IPv4
 * frames: Ethernet, IPv4 and L4 read by the shared parser's helpers, but
 * with no path merging in from VLAN tags or IPv6, so the record stays in
 * registers (nothing takes its address) and the rule's tests, its counter
 * and the verdict follow in one straight path. Returns the verdict, or -1
 * for any other frame, which the full path takes. */
static __always_inline int xdpfw_spec_lean(struct xdp_md *ctx, const struct xdpfw_ctrl *ctrl,
					   const struct xdpfw_policy_hdr *hdr, __u32 gen,
					   void *data, void *data_end, __u32 len)
{
	struct ethhdr *eth = data;
	struct xdpfw_cursor c = { .pos = eth + 1, .end = data_end };
	const struct xdpfw_rule *r = 0;
	__u32 reason, index = XDPFW_NO_RULE;
	struct xdpfw_pkt pkt;
	int verdict, bad;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	/* As xdpfw_parse() past an untagged Ethernet header. */
	xdpfw_pkt_init(&pkt);
	bad = xdpfw_parse_ipv4(&c, &pkt);
	if (!bad && c.l4) {
		pkt.l4_off = c.pos - data;
		bad = xdpfw_parse_l4(&c, &pkt);
	}
	if (bad) {
		reason = bad;
		verdict = hdr->malformed_action == XDPFW_ACT_PASS ? XDP_PASS : XDP_DROP;
		goto counted;
	}
	index = xdpfw_spec_classify(ctx, &pkt, gen, len, &r, 1);
	if (index != XDPFW_NO_RULE) {
		/* Drop or pass (lean): a rule's outcome is in its counter. */
		verdict = r->action == XDPFW_ACT_PASS ? XDP_PASS : XDP_DROP;
		reason = verdict == XDP_PASS ? XDPFW_REASON_RULE_PASS : XDPFW_REASON_RULE_DROP;
		goto out;
	}
	verdict = xdpfw_default_verdict(hdr, &reason);
counted:
	xdpfw_count_reason(ctx, ctrl, hdr, reason, verdict, len);
out:
	xdpfw_record_verdict(reason, index, r ? r->rule_id : XDPFW_NO_RULE, verdict);
	return verdict;
}

#endif /* XDPFW_SPEC_H */
