/* SPDX-License-Identifier: GPL-2.0-only */
/* Sampled verdicts as events in the BPF ring buffer xdpfw_events (abi.h,
 * struct xdpfw_event; docs/ARCHITECTURE.md "Events").
 *
 * Cost: a policy without sampling pays one test per packet of a value the
 * program holds already: the deciding rule's sample field (copied with the
 * rule) or, for default and malformed verdicts, a field of xdpfw_ctrl, whose
 * cache line the program read first. Nothing else runs unless it is set.
 *
 * "1 in N" uses the per-CPU packet counter the program increments anyway
 * (the rule's, or the reason's): the packet whose count is a multiple of N
 * makes an event. Per CPU, so a total of P packets spread over C CPUs gives
 * between P/N - C and P/N events, never more.
 */
#ifndef XDPFW_EVENTS_H
#define XDPFW_EVENTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdpfw/abi.h>

#include "maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPFW_EVENT_RING_BYTES);
} xdpfw_events SEC(".maps");

/* [enum xdpfw_evstat]: events written, events lost to a full ring. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPFW_EVSTAT_COUNT);
	__type(key, __u32);
	__type(value, struct xdpfw_counter);
} xdpfw_event_stats SEC(".maps");

struct xdpfw_event_src {
	__u64 version;
	__u32 rule_id;
	__u32 reason;
	__u32 verdict;
	__u32 len;
};

/* Writes one event; a full ring counts it as lost. Not inlined: the
 * program's hot path holds only the call, and the verifier checks the
 * frame copy once. */
static __attribute__((noinline)) int xdpfw_event_write(struct xdp_md *ctx,
							const struct xdpfw_event_src *src,
							__u32 snaplen)
{
	struct xdpfw_event *e;
	__u32 key, cap;

	if (!ctx || !src)
		return 0;
	e = bpf_ringbuf_reserve(&xdpfw_events, sizeof(*e), 0);
	key = e ? XDPFW_EVSTAT_SENT : XDPFW_EVSTAT_LOST;
	xdpfw_count(bpf_map_lookup_elem(&xdpfw_event_stats, &key), src->len);
	if (!e)
		return 0;
	e->time_ns = bpf_ktime_get_ns();
	e->version = src->version;
	e->ifindex = ctx->ingress_ifindex;
	e->rx_queue = ctx->rx_queue_index;
	e->rule_id = src->rule_id;
	e->pkt_len = src->len;
	e->verdict = src->verdict;
	e->reason = src->reason;
	e->pad = 0;
	cap = snaplen < src->len ? snaplen : src->len;
	if (cap > XDPFW_EVENT_SNAP_MAX)
		cap = XDPFW_EVENT_SNAP_MAX;
	if (cap && bpf_xdp_load_bytes(ctx, 0, e->data, cap))
		cap = 0;
	e->cap_len = cap;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

/* 1 in n of the packets counted in c (this CPU's count). */
static __always_inline int xdpfw_sampled(const struct xdpfw_counter *c, __u32 n)
{
	return c && n && c->packets % n == 0;
}

/* The deciding rule r has sample= set (the caller tested r->sample). */
static __always_inline void xdpfw_event_rule(struct xdp_md *ctx, const struct xdpfw_ctrl *ctrl,
					     const struct xdpfw_policy_hdr *hdr,
					     const struct xdpfw_rule *r, __u32 reason,
					     __u32 verdict, __u32 len)
{
	struct xdpfw_event_src src = { .rule_id = r->rule_id, .reason = reason,
				       .verdict = verdict, .len = len };

	if (!ctrl || !hdr ||
	    !xdpfw_sampled(xdpfw_rule_counter(xdpfw_rule_counters_here(), r->counter_slot),
			   r->sample))
		return;
	src.version = hdr->version;
	xdpfw_event_write(ctx, &src, ctrl->snaplen);
}

/* A verdict without a rule, counted in c: sampled when the daemon asked for
 * its kind (default or malformed). */
static __always_inline void xdpfw_event_verdict(struct xdp_md *ctx, const struct xdpfw_ctrl *ctrl,
						const struct xdpfw_policy_hdr *hdr,
						const struct xdpfw_counter *c, __u32 reason,
						__u32 verdict, __u32 len)
{
	struct xdpfw_event_src src = { .rule_id = XDPFW_NO_RULE, .reason = reason,
				       .verdict = verdict, .len = len };
	__u32 n = 0;

	if (!ctrl || !(ctrl->sample_default | ctrl->sample_malformed))
		return;
	if (reason == XDPFW_REASON_DEFAULT_DROP || reason == XDPFW_REASON_DEFAULT_PASS ||
	    reason == XDPFW_REASON_DEFAULT_NON_IP_DROP || reason == XDPFW_REASON_DEFAULT_NON_IP_PASS)
		n = ctrl->sample_default;
	else if (reason >= XDPFW_REASON_MALFORMED_L2 && reason <= XDPFW_REASON_MALFORMED_L4)
		n = ctrl->sample_malformed;
	if (!xdpfw_sampled(c, n))
		return;
	src.version = hdr ? hdr->version : 0;
	xdpfw_event_write(ctx, &src, ctrl->snaplen);
}

/* Counts a verdict without a rule in its reason's counter, then samples it. */
static __always_inline void xdpfw_count_reason(struct xdp_md *ctx, const struct xdpfw_ctrl *ctrl,
					       const struct xdpfw_policy_hdr *hdr, __u32 reason,
					       __u32 verdict, __u32 len)
{
	struct xdpfw_counter *c = bpf_map_lookup_elem(&xdpfw_reason_stats, &reason);

	xdpfw_count(c, len);
	xdpfw_event_verdict(ctx, ctrl, hdr, c, reason, verdict, len);
}

#endif /* XDPFW_EVENTS_H */
