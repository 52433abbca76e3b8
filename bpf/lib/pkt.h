/* SPDX-License-Identifier: GPL-2.0-only */
/* The parsed-packet record and the header cursor shared by the parser helpers.
 *
 * Return convention of every xdpfw_parse_*() helper: 0 when the header was
 * taken (the cursor then points past it), otherwise the enum xdpfw_reason
 * XDPFW_REASON_MALFORMED_* value naming the layer that is broken. Callers
 * return a non-zero value unchanged, so the first broken layer decides.
 *
 * Bounds: every read is preceded by `if ((void *)(hdr + 1) > c->end)` on the pointer
 * it reads through (what the verifier needs); lengths taken from the headers
 * (IPv4 total length, IPv6 payload length) are tracked in c->rem so that a
 * header reaching into the frame's trailing padding counts as truncated too.
 */
#ifndef XDPFW_PKT_H
#define XDPFW_PKT_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <xdpfw/abi.h>

struct xdpfw_pkt {
	__u32 family;    /* enum xdpfw_family */
	__u32 vlan;      /* outer tag's VID, XDPFW_VLAN_NONE if untagged */
	__u32 sport;     /* host order, XDPFW_PORT_NONE if no TCP/UDP header (or non-first fragment) */
	__u32 dport;
	__u32 tcp_flags; /* byte 13 of the TCP header, XDPFW_FLAGS_NONE if not TCP or no L4 */
	__u32 icmp;      /* type << 8 | code, XDPFW_ICMP_NONE if not ICMP(v4 proto 1)/ICMPv6(v6 proto 58) or no L4 */
	__u32 proto;     /* IP protocol (IPv6: after the extension headers), 0 for non-IP */
	__u32 ether;     /* non-IP: ethertype after the VLAN tags, host order (IP: see family) */
	__u32 src4, dst4;        /* network order, IPv4 */
	__u8 src6[16], dst6[16]; /* network order, IPv6 */
	__u32 l4_off;    /* offset of the L4 header in the frame, when there is one */
	__u32 ct;        /* enum xdpfw_ct_state; set only when the policy uses ct= */
};

struct xdpfw_cursor {
	void *pos; /* start of the next header */
	void *end; /* data_end */
	__u32 rem; /* bytes from pos to the end of the IP packet (its length field) */
	__u32 l4;  /* set by the L3 parsers: an L4 header of pkt->proto is at pos */
};

static __always_inline void xdpfw_pkt_init(struct xdpfw_pkt *pkt)
{
	/* Whole-struct store: the caller's stack copy is fully initialised,
	 * and a field the frame lacks reads as its "absent" value. */
	*pkt = (struct xdpfw_pkt){
		.family = XDPFW_FAMILY_OTHER,
		.vlan = XDPFW_VLAN_NONE,
		.sport = XDPFW_PORT_NONE,
		.dport = XDPFW_PORT_NONE,
		.tcp_flags = XDPFW_FLAGS_NONE,
		.icmp = XDPFW_ICMP_NONE,
	};
}

#endif /* XDPFW_PKT_H */
