/* SPDX-License-Identifier: GPL-2.0-only */
/* IPv4 header: validation, addresses, options and fragments. */
#ifndef XDPFW_IPV4_H
#define XDPFW_IPV4_H

#include <linux/ip.h>
#include <bpf/bpf_endian.h>

#include "pkt.h"

/* <net/ip.h> is not a uapi header. */
#define XDPFW_IP_OFFSET 0x1fff /* fragment offset, 8-byte units */

/* Takes the IPv4 header including its options. A non-first fragment holds
 * no L4 header (its first bytes are payload), so c->l4 stays 0 for it and
 * the ports of such a packet stay absent: port rules never match it. */
static __always_inline int xdpfw_parse_ipv4(struct xdpfw_cursor *c, struct xdpfw_pkt *pkt)
{
	struct iphdr *iph = c->pos;
	__u32 hlen, tot_len;

	if ((void *)(iph + 1) > c->end)
		return XDPFW_REASON_MALFORMED_IPV4;
	if (iph->version != 4 || iph->ihl < 5)
		return XDPFW_REASON_MALFORMED_IPV4;
	hlen = iph->ihl * 4;
	tot_len = bpf_ntohs(iph->tot_len);
	if (hlen > tot_len)
		return XDPFW_REASON_MALFORMED_IPV4;
	/* Bytes past tot_len are link padding; fewer than tot_len is a cut frame. */
	if ((void *)iph + tot_len > c->end)
		return XDPFW_REASON_MALFORMED_IPV4;

	pkt->family = XDPFW_FAMILY_IPV4;
	pkt->proto = iph->protocol;
	pkt->src4 = iph->saddr;
	pkt->dst4 = iph->daddr;
	if (iph->frag_off & bpf_htons(XDPFW_IP_OFFSET))
		return 0;

	c->pos = (void *)iph + hlen;
	c->rem = tot_len - hlen;
	c->l4 = 1;
	return 0;
}

#endif /* XDPFW_IPV4_H */
