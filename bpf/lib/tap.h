/* SPDX-License-Identifier: GPL-2.0-only */
/* The tap's match: a parsed packet (parse.h) against struct
 * xdpfw_tap_filter, field by field as lib/reference's rule_matches does. */
#ifndef XDPFW_TAP_H
#define XDPFW_TAP_H

#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <xdpfw/abi.h>

#include "pkt.h"

/* addr (network order, 4 words for IPv6, the first for IPv4) inside the
 * prefix p/mask. */
static __always_inline int xdpfw_tap_prefix(const struct xdpfw_pkt *pkt, const __u8 *addr6,
					    __u32 addr4, const volatile __u32 *p,
					    const volatile __u32 *mask)
{
	__u32 w[4];
	int i;

	if (pkt->family == XDPFW_FAMILY_IPV4)
		return (addr4 & mask[0]) == p[0];
	if (pkt->family != XDPFW_FAMILY_IPV6)
		return 0;
	__builtin_memcpy(w, addr6, sizeof(w));
#pragma unroll
	for (i = 0; i < 4; i++)
		if ((w[i] & mask[i]) != p[i])
			return 0;
	return 1;
}

static __always_inline __u32 xdpfw_tap_ethertype(const struct xdpfw_pkt *pkt)
{
	if (pkt->family == XDPFW_FAMILY_IPV4)
		return ETH_P_IP;
	if (pkt->family == XDPFW_FAMILY_IPV6)
		return ETH_P_IPV6;
	return pkt->ether;
}

/* 1 if pkt matches f. f is the program's .rodata: every test of a field the
 * words left out is dead code the verifier removes. Ports, flags and ICMP
 * fields are absent (XDPFW_*_NONE) unless the parser took that L4 header,
 * which is the reference's has_l4 and protocol test in one. */
static __always_inline int xdpfw_tap_match(const struct xdpfw_pkt *pkt,
					   const volatile struct xdpfw_tap_filter *f)
{
	__u32 fields = f->fields;

	if ((fields & XDPFW_TAP_VLAN) && pkt->vlan != f->vlan)
		return 0;
	if ((fields & XDPFW_TAP_FAMILY) && pkt->family != f->family)
		return 0;
	if ((fields & XDPFW_TAP_ETHER) && xdpfw_tap_ethertype(pkt) != f->ether)
		return 0;
	if ((fields & XDPFW_TAP_SRC) &&
	    !xdpfw_tap_prefix(pkt, pkt->src6, pkt->src4, f->src, f->src_mask))
		return 0;
	if ((fields & XDPFW_TAP_DST) &&
	    !xdpfw_tap_prefix(pkt, pkt->dst6, pkt->dst4, f->dst, f->dst_mask))
		return 0;
	if ((fields & XDPFW_TAP_PROTO) &&
	    (pkt->family == XDPFW_FAMILY_OTHER || pkt->proto != f->proto))
		return 0;
	if ((fields & XDPFW_TAP_SPORT) &&
	    (pkt->sport == XDPFW_PORT_NONE || pkt->sport < f->sport_lo || pkt->sport > f->sport_hi))
		return 0;
	if ((fields & XDPFW_TAP_DPORT) &&
	    (pkt->dport == XDPFW_PORT_NONE || pkt->dport < f->dport_lo || pkt->dport > f->dport_hi))
		return 0;
	if ((fields & XDPFW_TAP_TCP_FLAGS) &&
	    (pkt->tcp_flags == XDPFW_FLAGS_NONE ||
	     (pkt->tcp_flags & f->flags_mask) != f->flags_value))
		return 0;
	if ((fields & (XDPFW_TAP_ICMP_TYPE | XDPFW_TAP_ICMP_CODE)) && pkt->icmp == XDPFW_ICMP_NONE)
		return 0;
	if ((fields & XDPFW_TAP_ICMP_TYPE) && (pkt->icmp >> 8) != f->icmp_type)
		return 0;
	if ((fields & XDPFW_TAP_ICMP_CODE) && (pkt->icmp & 0xff) != f->icmp_code)
		return 0;
	return 1;
}

#endif /* XDPFW_TAP_H */
