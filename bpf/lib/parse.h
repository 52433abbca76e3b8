/* SPDX-License-Identifier: GPL-2.0-only */
/* The XDP packet parser: Ethernet/VLAN, IPv4/IPv6 (+ extension headers), L4.
 *
 * xdpfw_parse() returns 0 for a frame it could take apart (non-IP frames
 * included: family OTHER, the ethertype in pkt->ether, every other field
 * absent) and otherwise the enum
 * xdpfw_reason XDPFW_REASON_MALFORMED_* value of the first broken layer; the
 * topic helpers below follow the same convention (see pkt.h). It never reads
 * outside [data, data_end).
 */
#ifndef XDPFW_PARSE_H
#define XDPFW_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdpfw/abi.h>

#include "pkt.h"
#include "eth.h"
#include "ipv4.h"
#include "ipv6.h"
#include "l4.h"

static __always_inline int xdpfw_parse(void *data, void *data_end, struct xdpfw_pkt *pkt)
{
	struct xdpfw_cursor c = { .pos = data, .end = data_end };
	__be16 h_proto = 0;
	int ret;

	xdpfw_pkt_init(pkt);
	ret = xdpfw_parse_eth(&c, pkt, &h_proto);
	if (ret)
		return ret;
	if (h_proto == bpf_htons(ETH_P_IP))
		ret = xdpfw_parse_ipv4(&c, pkt);
	else if (h_proto == bpf_htons(ETH_P_IPV6))
		ret = xdpfw_parse_ipv6(&c, pkt);
	else {
		/* IP packets' ethertype follows from the family: stored for
		 * the others only, so IP packets pay nothing for it. */
		pkt->ether = bpf_ntohs(h_proto);
		return 0;
	}
	if (ret || !c.l4)
		return ret;
	pkt->l4_off = c.pos - data; /* connection tracking reads ICMP past 4 bytes */
	return xdpfw_parse_l4(&c, pkt);
}

#endif /* XDPFW_PARSE_H */
