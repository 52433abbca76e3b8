// SPDX-License-Identifier: GPL-2.0-only
/* The xdpfw XDP program: parse -> classify -> act, one exit that counts
 * outcomes without a rule. Its stage build (xdpfw_stages.bpf.c) can stop
 * after a stage (cfg_stop_after, enum xdpfw_stage).
 *
 * Reading order: maps.h (tables and knobs), parse.h (the header walk),
 * classify.h (rule bitmaps), then this file.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdpfw/abi.h>

#include "maps.h"
#include "parse.h"
#include "classify.h"
#include "events.h"
#include "ct.h"
#include "syncookie.h"
#ifdef XDPFW_SPEC_TIER
#include "spec.h"
#endif

char LICENSE[] SEC("license") = "GPL";

static __always_inline int xdpfw_act(struct xdp_md *ctx, const struct xdpfw_rule *r,
				     const struct xdpfw_pkt *pkt, __u32 *reason)
{
	__u32 ifindex, slot;
	__u32 *base;

	switch (r->action) {
	case XDPFW_ACT_DROP:
		*reason = XDPFW_REASON_RULE_DROP;
		return XDP_DROP;
	case XDPFW_ACT_PASS:
		*reason = XDPFW_REASON_RULE_PASS;
		return XDP_PASS;
	case XDPFW_ACT_XSK:
		ifindex = ctx->ingress_ifindex; /* three dependent loads: only here */
		base = bpf_map_lookup_elem(&xdpfw_xsk_ports, &ifindex);
		slot = base ? *base + ctx->rx_queue_index : 0;
		if (base && bpf_map_lookup_elem(&xdpfw_xsks, &slot)) {
			*reason = XDPFW_REASON_RULE_XSK;
			return bpf_redirect_map(&xdpfw_xsks, slot, XDP_PASS);
		}
		*reason = XDPFW_REASON_XSK_NO_SOCKET;
		return r->flags & XDPFW_RULE_XSK_PASS ? XDP_PASS : XDP_DROP;
	case XDPFW_ACT_REDIRECT:
		if (bpf_redirect_map(&xdpfw_tx_ports, r->redirect_slot, 0) == XDP_REDIRECT) {
			*reason = XDPFW_REASON_RULE_REDIRECT;
			return XDP_REDIRECT;
		}
		*reason = XDPFW_REASON_REDIRECT_FAILED;
		return XDP_DROP;
	case XDPFW_ACT_SYNCOOKIE:
		return xdpfw_syncookie(ctx, pkt, r->counter_slot, reason);
	}
	*reason = XDPFW_REASON_RULE_DROP;
	return XDP_DROP;
}

SEC("xdp")
int xdpfw_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data, zero = 0, gen, reason, index = XDPFW_NO_RULE;
	struct xdpfw_rule rule = {};
	const struct xdpfw_rule *r = &rule; /* the winner (the spec tier: in cfg_spec) */
	struct xdpfw_policy_hdr *hdr = 0;
	struct xdpfw_ctrl *ctrl;
	struct xdpfw_pkt pkt;
	int verdict, bad, ct_write = 0;

	ctrl = bpf_map_lookup_elem(&xdpfw_ctrl, &zero);
	if (!ctrl || !ctrl->committed) {
		reason = XDPFW_REASON_NO_POLICY;
		verdict = XDP_PASS;
		goto out;
	}
	/* Read the generation once: the whole packet sees one policy. The
	 * control plane rewrites the other generation only after an RCU grace
	 * period has passed since the switch (RcuBarrier): this run holds the
	 * RCU read lock, so it finishes on the tables it started with. */
	gen = *(volatile __u32 *)&ctrl->active_gen & 1;
	hdr = bpf_map_lookup_elem(&xdpfw_policy, &gen);
	if (!hdr) {
		reason = XDPFW_REASON_NO_POLICY;
		verdict = XDP_PASS;
		goto out;
	}
	if (xdpfw_stop_after(XDPFW_STAGE_CONTROL))
		return XDP_DROP;
#ifdef XDPFW_SPEC_TIER
	/* Not the policy this program was built for (a commit landed before
	 * the daemon swapped programs): the general program decides. Its slot
	 * is filled when it is loaded, before any specialised program exists;
	 * were it empty, the policy's default verdict holds. */
	if (hdr->spec_key != cfg_spec.key) {
		bpf_tail_call(ctx, &xdpfw_progs, 0);
		verdict = xdpfw_default_verdict(hdr, &reason);
		goto out;
	}
	/* An untagged IPv4 frame of a lean policy: all in one straight path. */
	if (cfg_spec.lean) {
		verdict = xdpfw_spec_lean(ctx, ctrl, hdr, gen, data, data_end, len);
		if (verdict >= 0)
			return verdict;
	}
#endif

	bad = xdpfw_parse(data, data_end, &pkt);
	if (bad) {
		reason = bad;
		verdict = hdr->malformed_action == XDPFW_ACT_PASS ? XDP_PASS : XDP_DROP;
		goto out;
	}
	if (xdpfw_stop_after(XDPFW_STAGE_PARSE))
		return XDP_DROP;
	if (hdr->used_fields & (1u << XDPFW_FIELD_CT)) /* ct.h */
		ct_write = xdpfw_ct_ingress(ctx, &pkt);

#ifdef XDPFW_SPEC_TIER
	index = xdpfw_spec_classify(ctx, &pkt, gen, len, &r, 0);
#else
	index = xdpfw_classify(hdr, gen, &pkt, ctx->ingress_ifindex, len, &rule);
#endif
	if (xdpfw_stop_after(XDPFW_STAGE_LOOKUP) || xdpfw_stop_after(XDPFW_STAGE_WALK))
		return XDP_DROP;
	if (index == XDPFW_NO_RULE) {
		/* default: is for IP packets; other frames (ARP, LLDP, ...)
		 * get default_non_ip, so a drop-all policy keeps ARP. */
		if (pkt.family != XDPFW_FAMILY_OTHER) {
			verdict = xdpfw_default_verdict(hdr, &reason);
		} else {
			verdict = hdr->default_non_ip_action == XDPFW_ACT_DROP ? XDP_DROP : XDP_PASS;
			reason = verdict == XDP_DROP ? XDPFW_REASON_DEFAULT_NON_IP_DROP
						     : XDPFW_REASON_DEFAULT_NON_IP_PASS;
		}
		goto out;
	}
	verdict = xdpfw_act(ctx, r, &pkt, &reason);
	if (r->sample) /* sample=N (events.h) */
		xdpfw_event_rule(ctx, ctrl, hdr, r, reason, verdict, len);

out:
	if (ct_write && verdict != XDP_DROP)
		xdpfw_ct_commit();
	/* A rule's normal outcome is in its rule counter already; the control
	 * plane derives the rule_* reasons from those (abi.h). */
	if (reason >= XDPFW_REASON_FIRST_COUNTED && reason < XDPFW_REASON_COUNT)
		xdpfw_count_reason(ctx, ctrl, hdr, reason, verdict, len); /* and sample it (events.h) */
	xdpfw_record_verdict(reason, index, index == XDPFW_NO_RULE ? XDPFW_NO_RULE : r->rule_id,
			     verdict);
	return verdict;
}
