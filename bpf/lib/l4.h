/* SPDX-License-Identifier: GPL-2.0-only */
/* TCP, UDP, ICMP and ICMPv6 headers of a first fragment or whole packet. */
#ifndef XDPFW_L4_H
#define XDPFW_L4_H

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
/* <linux/icmp.h> is left out: it pulls in <sys/socket.h>, which has no BPF
 * target in glibc. ICMP type and code are the first two bytes anyway. */
#include <linux/icmpv6.h>
#include <bpf/bpf_endian.h>

#include "pkt.h"

#define XDPFW_TCP_FLAGS_OFF 13 /* CWR..FIN, the byte after data offset */
#define XDPFW_ICMP_MIN_LEN 4   /* type, code, checksum: all the classifier reads */

/* Fills the L4 fields for TCP, UDP, ICMP (IPv4) and ICMPv6 (IPv6). Other
 * protocols keep their fields absent. A header that does not fit in the IP
 * packet is MALFORMED_L4: a tiny first fragment must not hide its ports. */
static __always_inline int xdpfw_parse_l4(struct xdpfw_cursor *c, struct xdpfw_pkt *pkt)
{
	__u32 proto = pkt->proto;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;
		__u32 doff;

		if ((void *)(th + 1) > c->end)
			return XDPFW_REASON_MALFORMED_L4;
		/* doff >= 5 and doff * 4 <= rem also keep the fixed 20 bytes
		 * inside the IP packet. */
		doff = th->doff * 4;
		if (doff < sizeof(*th) || doff > c->rem)
			return XDPFW_REASON_MALFORMED_L4;
		pkt->sport = bpf_ntohs(th->source);
		pkt->dport = bpf_ntohs(th->dest);
		pkt->tcp_flags = ((__u8 *)th)[XDPFW_TCP_FLAGS_OFF];
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;

		if ((void *)(uh + 1) > c->end || c->rem < sizeof(*uh))
			return XDPFW_REASON_MALFORMED_L4;
		pkt->sport = bpf_ntohs(uh->source);
		pkt->dport = bpf_ntohs(uh->dest);
	} else if ((proto == IPPROTO_ICMP && pkt->family == XDPFW_FAMILY_IPV4) ||
		   (proto == IPPROTO_ICMPV6 && pkt->family == XDPFW_FAMILY_IPV6)) {
		__u8 *ih = c->pos;

		if ((void *)(ih + XDPFW_ICMP_MIN_LEN) > c->end || c->rem < XDPFW_ICMP_MIN_LEN)
			return XDPFW_REASON_MALFORMED_L4;
		pkt->icmp = (__u32)ih[0] << 8 | ih[1];
	}
	return 0;
}

#endif /* XDPFW_L4_H */
