/* SPDX-License-Identifier: GPL-2.0-only */
/* Ethernet header and up to two VLAN tags (802.1Q and 802.1ad, either order). */
#ifndef XDPFW_ETH_H
#define XDPFW_ETH_H

#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>

#include "pkt.h"

/* QinQ at most: a third tag is refused rather than skipped, so a rule on
 * the outer VID cannot be dodged by stacking tags. */
#define XDPFW_MAX_VLAN_TAGS 2
#define XDPFW_VID_MASK 0x0fff

/* <linux/if_vlan.h> is not a uapi header. */
struct xdpfw_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

static __always_inline int xdpfw_is_vlan(__be16 h_proto)
{
	return h_proto == bpf_htons(ETH_P_8021Q) || h_proto == bpf_htons(ETH_P_8021AD);
}

/* Takes the Ethernet header and the VLAN tags; *h_proto is the ethertype
 * after the tags (network order). */
static __always_inline int xdpfw_parse_eth(struct xdpfw_cursor *c, struct xdpfw_pkt *pkt,
					   __be16 *h_proto)
{
	struct ethhdr *eth = c->pos;
	struct xdpfw_vlan_hdr *vh;
	__be16 type;
	int i;

	if ((void *)(eth + 1) > c->end)
		return XDPFW_REASON_MALFORMED_L2;
	type = eth->h_proto;
	c->pos = eth + 1;

#pragma unroll
	for (i = 0; i < XDPFW_MAX_VLAN_TAGS; i++) {
		if (!xdpfw_is_vlan(type))
			break;
		vh = c->pos;
		if ((void *)(vh + 1) > c->end)
			return XDPFW_REASON_MALFORMED_L2;
		if (i == 0)
			pkt->vlan = bpf_ntohs(vh->tci) & XDPFW_VID_MASK;
		type = vh->encap_proto;
		c->pos = vh + 1;
	}
	if (xdpfw_is_vlan(type))
		return XDPFW_REASON_MALFORMED_L2;
	*h_proto = type;
	return 0;
}

#endif /* XDPFW_ETH_H */
