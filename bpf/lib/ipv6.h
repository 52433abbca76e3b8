/* SPDX-License-Identifier: GPL-2.0-only */
/* IPv6 header and its extension header chain. */
#ifndef XDPFW_IPV6_H
#define XDPFW_IPV6_H

#include <linux/in.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>

#include "pkt.h"

#define XDPFW_IP6_OFFSET 0xfff8 /* fragment offset bits of frag_off */

/* The first 8 bytes of any extension header (none is shorter). For the
 * fragment header the second byte is reserved and frag_off is meaningful. */
struct xdpfw_ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off;
	__be32 word;
};

#define XDPFW_EXT_TYPES                                                                        \
	((1ull << IPPROTO_HOPOPTS) | (1ull << IPPROTO_ROUTING) | (1ull << IPPROTO_FRAGMENT) |   \
	 (1ull << IPPROTO_AH) | (1ull << IPPROTO_DSTOPTS))

/* 1 if x == 0, else 0 (x < 2^63), without a branch. The empty asm hides x
 * from the compiler, which would otherwise fold this back into a compare and
 * a jump. Why no jumps: each branch on the header type would leave the
 * verifier with a differently bounded cursor, and it would then verify the
 * rest of the chain once per combination of types (exponential in the chain
 * length, ~300k instructions for 8 headers). Computed arithmetically, every
 * type leaves the same state and the chain costs one pass per position. */
static __always_inline __u64 xdpfw_is_zero(__u64 x)
{
	asm volatile("" : "+r"(x));
	return (x - 1) >> 63;
}

/* 1 if nexthdr (a byte) is an extension header the walk skips, else 0. */
static __always_inline __u64 xdpfw_ipv6_is_ext(__u64 nexthdr)
{
	return ((XDPFW_EXT_TYPES >> (nexthdr & 63)) & 1) & xdpfw_is_zero(nexthdr >> 6);
}

/* Walks at most XDPFW_MAX_EXT_HDRS extension headers; a longer chain is
 * refused (a rule on the L4 protocol must not be skipped by padding the
 * chain). ESP (50), "no next header" (59) and any other value end the chain
 * and become pkt->proto. Each length is checked against c->rem, which the
 * caller bounded by the frame, so an over-long header is EXTHDR, not L4.
 * Lengths: hop-by-hop, routing and destination options (hdrlen + 1) * 8,
 * AH (hdrlen + 2) * 4, fragment 8 (its second byte is reserved). */
static __always_inline int xdpfw_parse_ipv6_ext(struct xdpfw_cursor *c, struct xdpfw_pkt *pkt,
						__u64 nexthdr)
{
	struct xdpfw_ipv6_ext *ext;
	__u64 is_frag, is_ah, units, len;
	int i;

#pragma unroll
	for (i = 0; i < XDPFW_MAX_EXT_HDRS; i++) {
		if (!xdpfw_ipv6_is_ext(nexthdr))
			goto done;
		ext = c->pos;
		if ((void *)(ext + 1) > c->end)
			return XDPFW_REASON_MALFORMED_EXTHDR;
		is_frag = xdpfw_is_zero(nexthdr ^ IPPROTO_FRAGMENT);
		is_ah = xdpfw_is_zero(nexthdr ^ IPPROTO_AH);
		/* A non-first fragment: what follows is payload, not headers. */
		if (is_frag & (1 - xdpfw_is_zero(ext->frag_off & bpf_htons(XDPFW_IP6_OFFSET)))) {
			pkt->proto = ext->nexthdr;
			return 0;
		}
		units = (ext->hdrlen & (is_frag - 1)) + 1 + is_ah;
		len = units * (8 - 4 * is_ah);
		if (len > c->rem)
			return XDPFW_REASON_MALFORMED_EXTHDR;
		nexthdr = ext->nexthdr;
		c->pos += len;
		c->rem -= len;
	}
	if (xdpfw_ipv6_is_ext(nexthdr))
		return XDPFW_REASON_MALFORMED_EXTHDR;
done:
	pkt->proto = nexthdr;
	c->l4 = 1;
	return 0;
}

static __always_inline int xdpfw_parse_ipv6(struct xdpfw_cursor *c, struct xdpfw_pkt *pkt)
{
	struct ipv6hdr *ip6h = c->pos;
	__u32 plen;

	if ((void *)(ip6h + 1) > c->end)
		return XDPFW_REASON_MALFORMED_IPV6;
	if (ip6h->version != 6)
		return XDPFW_REASON_MALFORMED_IPV6;
	plen = bpf_ntohs(ip6h->payload_len);
	/* Bytes past the payload are link padding; fewer is a cut frame. */
	if ((void *)(ip6h + 1) + plen > c->end)
		return XDPFW_REASON_MALFORMED_IPV6;

	pkt->family = XDPFW_FAMILY_IPV6;
	__builtin_memcpy(pkt->src6, &ip6h->saddr, sizeof(pkt->src6));
	__builtin_memcpy(pkt->dst6, &ip6h->daddr, sizeof(pkt->dst6));
	c->pos = ip6h + 1;
	c->rem = plen;
	return xdpfw_parse_ipv6_ext(c, pkt, ip6h->nexthdr);
}

#endif /* XDPFW_IPV6_H */
