/* SPDX-License-Identifier: GPL-2.0-only */
/* action=syncookie: xdpfw answers a TCP SYN itself with a SYN-ACK whose
 * sequence number is a SYN cookie (the kernel's own, from its secret:
 * bpf_tcp_raw_gen_syncookie_*), sent back out of the receiving port
 * (XDP_TX), so the listener never sees the SYN. A pure ACK the rule matches
 * passes only when its cookie checks (bpf_tcp_raw_check_syncookie_*); the
 * listener, with net.ipv4.tcp_syncookies set, checks that cookie again and
 * builds the connection from it (docs/RULES.md). Anything else the rule
 * matches is dropped.
 *
 * Headers are copied to the stack, edited there and stored back: the TCP
 * header's length varies (options), which packet pointers cannot follow.
 * The reply keeps the SYN's TCP header length, its options overwritten
 * with the cookie's MSS and end-of-options; a cookie carries no window
 * scale, SACK or timestamps.
 */
#ifndef XDPFW_SYNCOOKIE_H
#define XDPFW_SYNCOOKIE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdpfw/abi.h>
#include "pkt.h"

#define XDPFW_TCP_FIN 0x01
#define XDPFW_TCP_SYN 0x02
#define XDPFW_TCP_RST 0x04
#define XDPFW_TCP_ACK 0x10
#define XDPFW_SYNACK_TTL 64

/* [counter_slot]: when the rule last let a SYN through to the stack. The
 * listener accepts a cookie ACK only within two minutes of sending a cookie
 * itself (the kernel's tcp_synq_no_recent_overflow()), so one SYN a second
 * goes up: with net.ipv4.tcp_syncookies=2 the kernel answers it with a
 * cookie of its own, keeping no state, and so keeps accepting ours. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH); /* entries made on use: memory follows the policy */
	__uint(max_entries, 1);          /* set at load */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u64);
} xdpfw_syncookie_pass SEC(".maps");

#define XDPFW_SYNCOOKIE_PASS_NS 1000000000ull

static __always_inline int xdpfw_sc_pass_due(__u32 slot)
{
	__u64 *last = bpf_map_lookup_elem(&xdpfw_syncookie_pass, &slot), now, old = 0;

	if (!last) { /* the rule's first SYN: due */
		bpf_map_update_elem(&xdpfw_syncookie_pass, &slot, &old, BPF_NOEXIST);
		last = bpf_map_lookup_elem(&xdpfw_syncookie_pass, &slot);
		if (!last)
			return 0;
	}
	now = bpf_ktime_get_ns();
	old = *(volatile __u64 *)last;
	if (now - old < XDPFW_SYNCOOKIE_PASS_NS)
		return 0;
	return __sync_val_compare_and_swap(last, old, now) == old;
}

struct xdpfw_sc {
	__u32 l3;      /* offsets in the frame */
	__u32 l4;
	__u32 tcp_len; /* 20..60 */
	__u32 ipv6;
	union {
		struct iphdr v4;
		struct ipv6hdr v6;
	} ip;
	__u8 tcp[60];
};

/* [0]: the frame's headers while a SYN is answered, per CPU (one packet at a
 * time on a CPU): on the stack they would push this function's frame and the
 * main program's past the 512-byte limit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_sc);
} xdpfw_sc_scratch SEC(".maps");

/* s->tcp_len, bounded where the verifier can see it (20..60; 0 if not). */
static __always_inline __u32 xdpfw_sc_len(const struct xdpfw_sc *s)
{
	__u32 len = s->tcp_len;

	asm volatile("" : "+r"(len)); /* the checks below bound this register */
	if (len < sizeof(struct tcphdr) || len > sizeof(s->tcp))
		return 0;
	return len;
}

static __always_inline __u16 xdpfw_csum_fold(__s64 sum)
{
	__u64 s = (__u64)sum;

	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* Finds and copies the IP and TCP headers. 0 on success. Only plain
 * headers: IPv4 without options, not a fragment; IPv6 with TCP as its
 * next header. */
static __always_inline int xdpfw_sc_load(struct xdp_md *ctx, const struct xdpfw_pkt *pkt,
					 struct xdpfw_sc *s)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 i, len;
	__u8 doff;

	if ((void *)(eth + 1) > end)
		return -1;
	s->l3 = sizeof(*eth);
	if (pkt->vlan != XDPFW_VLAN_NONE) {
		/* Up to two tags (the parser refused more). */
#pragma unroll
		for (i = 0; i < 2; i++) {
			__be16 *type = data + s->l3 - 2;

			if ((void *)(type + 1) > end)
				return -1;
			if (*type != bpf_htons(ETH_P_8021Q) && *type != bpf_htons(ETH_P_8021AD))
				break;
			s->l3 += 4;
		}
	}
	s->ipv6 = pkt->family == XDPFW_FAMILY_IPV6;
	if (!s->ipv6) {
		if (bpf_xdp_load_bytes(ctx, s->l3, &s->ip.v4, sizeof(s->ip.v4)) ||
		    s->ip.v4.ihl != 5 || s->ip.v4.protocol != IPPROTO_TCP ||
		    (s->ip.v4.frag_off & bpf_htons(0x3fff)))
			return -1;
		s->l4 = s->l3 + sizeof(struct iphdr);
	} else {
		if (bpf_xdp_load_bytes(ctx, s->l3, &s->ip.v6, sizeof(s->ip.v6)) ||
		    s->ip.v6.nexthdr != IPPROTO_TCP)
			return -1;
		s->l4 = s->l3 + sizeof(struct ipv6hdr);
	}
	if (bpf_xdp_load_bytes(ctx, s->l4 + 12, &doff, 1))
		return -1;
	s->tcp_len = (doff >> 4) * 4;
	len = xdpfw_sc_len(s);
	if (!len)
		return -1;
	return bpf_xdp_load_bytes(ctx, s->l4, s->tcp, len) ? -1 : 0;
}

/* The SYN-ACK's TCP checksum: pseudo header, then the header itself. */
static __always_inline __u16 xdpfw_sc_tcp_csum(struct xdpfw_sc *s)
{
	__u32 tcp_len = xdpfw_sc_len(s);
	__be32 pseudo[10];
	__s64 sum;

	if (!tcp_len)
		return 0;
	if (s->ipv6) {
		__builtin_memcpy(pseudo, &s->ip.v6.saddr, 16);
		__builtin_memcpy(&pseudo[4], &s->ip.v6.daddr, 16);
		pseudo[8] = bpf_htonl(tcp_len);
		pseudo[9] = bpf_htonl(IPPROTO_TCP);
		sum = bpf_csum_diff(0, 0, pseudo, 40, 0);
	} else {
		pseudo[0] = s->ip.v4.saddr;
		pseudo[1] = s->ip.v4.daddr;
		pseudo[2] = bpf_htonl((IPPROTO_TCP << 16) | tcp_len);
		sum = bpf_csum_diff(0, 0, pseudo, 12, 0);
	}
	if (sum < 0)
		return 0;
	sum = bpf_csum_diff(0, 0, (__be32 *)s->tcp, tcp_len, sum);
	return sum < 0 ? 0 : xdpfw_csum_fold(sum);
}

/* Turns the copied SYN into its SYN-ACK with cookie (low 32 bits of
 * cookie) and MSS (bits 32-47). */
static __always_inline void xdpfw_sc_reply(struct xdpfw_sc *s, __s64 cookie)
{
	struct tcphdr *th = (struct tcphdr *)s->tcp;
	__u16 mss = (__u16)(cookie >> 32);
	__be16 port = th->source;
	__u8 a[16];
	__u32 i;

	th->source = th->dest;
	th->dest = port;
	th->ack_seq = bpf_htonl(bpf_ntohl(th->seq) + 1);
	th->seq = bpf_htonl((__u32)cookie);
	s->tcp[13] = XDPFW_TCP_SYN | XDPFW_TCP_ACK;
	th->window = bpf_htons(65535);
	th->urg_ptr = 0;
	th->check = 0;
	/* Options: MSS, then end-of-options over the rest. */
#pragma unroll
	for (i = sizeof(struct tcphdr); i < sizeof(s->tcp); i++)
		s->tcp[i] = 0;
	if (s->tcp_len >= sizeof(struct tcphdr) + 4) {
		s->tcp[20] = 2;
		s->tcp[21] = 4;
		s->tcp[22] = mss >> 8;
		s->tcp[23] = mss & 0xff;
	}
	if (s->ipv6) {
		__builtin_memcpy(a, &s->ip.v6.saddr, 16);
		__builtin_memcpy(&s->ip.v6.saddr, &s->ip.v6.daddr, 16);
		__builtin_memcpy(&s->ip.v6.daddr, a, 16);
		s->ip.v6.hop_limit = XDPFW_SYNACK_TTL;
		s->ip.v6.payload_len = bpf_htons(s->tcp_len);
		s->ip.v6.flow_lbl[0] = s->ip.v6.flow_lbl[1] = s->ip.v6.flow_lbl[2] = 0;
	} else {
		__be32 t = s->ip.v4.saddr;

		s->ip.v4.saddr = s->ip.v4.daddr;
		s->ip.v4.daddr = t;
		s->ip.v4.ttl = XDPFW_SYNACK_TTL;
		s->ip.v4.tot_len = bpf_htons(sizeof(struct iphdr) + s->tcp_len);
		s->ip.v4.id = 0;
		s->ip.v4.frag_off = bpf_htons(0x4000); /* DF */
		s->ip.v4.tos = 0;
		s->ip.v4.check = 0;
		s->ip.v4.check = xdpfw_csum_fold(bpf_csum_diff(0, 0, (__be32 *)&s->ip.v4,
							       sizeof(s->ip.v4), 0));
	}
	th->check = xdpfw_sc_tcp_csum(s);
}

/* Cuts the frame after the TCP header (a SYN's payload, Ethernet padding)
 * and writes the reply's headers; the MACs swap. 0 on success. */
static __always_inline int xdpfw_sc_store(struct xdp_md *ctx, struct xdpfw_sc *s)
{
	__u32 len = ctx->data_end - ctx->data, want = s->l4 + s->tcp_len, tcp_len;
	__u8 mac[12];

	if (len > want && bpf_xdp_adjust_tail(ctx, (int)want - (int)len))
		return -1;
	if (bpf_xdp_load_bytes(ctx, 0, mac, 12))
		return -1;
	if (bpf_xdp_store_bytes(ctx, 0, &mac[6], 6) || bpf_xdp_store_bytes(ctx, 6, mac, 6))
		return -1;
	if (s->ipv6 ? bpf_xdp_store_bytes(ctx, s->l3, &s->ip.v6, sizeof(s->ip.v6))
		    : bpf_xdp_store_bytes(ctx, s->l3, &s->ip.v4, sizeof(s->ip.v4)))
		return -1;
	tcp_len = xdpfw_sc_len(s);
	if (!tcp_len)
		return -1;
	return bpf_xdp_store_bytes(ctx, s->l4, s->tcp, tcp_len) ? -1 : 0;
}

/* The action. A global function: verified once, and the packet path's
 * other code does not carry its stack. Returns the XDP action; *reason as
 * xdpfw_act's. */
__attribute__((noinline)) int xdpfw_syncookie(struct xdp_md *ctx, const struct xdpfw_pkt *pkt,
					      __u32 slot, __u32 *reason)
{
	struct xdpfw_sc *s;
	__u32 flags, zero = 0, tcp_len;
	__s64 cookie;
	long bad;

	if (!ctx || !pkt || !reason)
		return XDP_DROP;
	*reason = XDPFW_REASON_RULE_DROP;
	s = bpf_map_lookup_elem(&xdpfw_sc_scratch, &zero);
	if (!s)
		return XDP_DROP;
	__builtin_memset(s, 0, sizeof(*s));
	flags = pkt->tcp_flags;
	if (pkt->proto != IPPROTO_TCP || flags == XDPFW_FLAGS_NONE || xdpfw_sc_load(ctx, pkt, s))
		return XDP_DROP;
	if ((flags & (XDPFW_TCP_SYN | XDPFW_TCP_ACK | XDPFW_TCP_RST)) == XDPFW_TCP_SYN) {
		if (xdpfw_sc_pass_due(slot)) {
			*reason = XDPFW_REASON_RULE_PASS;
			return XDP_PASS;
		}
		tcp_len = xdpfw_sc_len(s); /* bounded here, where the call needs it */
		if (!tcp_len)
			return XDP_DROP;
		cookie = s->ipv6 ? bpf_tcp_raw_gen_syncookie_ipv6(&s->ip.v6, (struct tcphdr *)s->tcp,
								 tcp_len)
				: bpf_tcp_raw_gen_syncookie_ipv4(&s->ip.v4, (struct tcphdr *)s->tcp,
								 tcp_len);
		if (cookie < 0)
			return XDP_DROP;
		xdpfw_sc_reply(s, cookie);
		if (xdpfw_sc_store(ctx, s))
			return XDP_DROP;
		*reason = XDPFW_REASON_RULE_PASS;
		return XDP_TX;
	}
	if ((flags & (XDPFW_TCP_SYN | XDPFW_TCP_ACK | XDPFW_TCP_RST | XDPFW_TCP_FIN)) ==
	    XDPFW_TCP_ACK) {
		bad = s->ipv6 ? bpf_tcp_raw_check_syncookie_ipv6(&s->ip.v6, (struct tcphdr *)s->tcp)
			     : bpf_tcp_raw_check_syncookie_ipv4(&s->ip.v4, (struct tcphdr *)s->tcp);
		if (!bad) {
			*reason = XDPFW_REASON_RULE_PASS;
			return XDP_PASS;
		}
	}
	return XDP_DROP;
}

#endif /* XDPFW_SYNCOOKIE_H */
