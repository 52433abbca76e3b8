// SPDX-License-Identifier: GPL-2.0-only
/* xdpfw-pktgen's frame rewriter, run by BPF_PROG_RUN in live-frames mode:
 * per packet it writes the next source/destination address and port of the
 * configured ranges into the template frame, patches the IPv4 header and L4
 * checksums incrementally (RFC 1624) and redirects the frame out of the
 * sending interface.
 *
 * Everything protocol-specific (which offsets hold what, which checksums
 * cover which fields) is worked out in userspace and handed over as rodata,
 * so this program knows no protocol. Offsets are even (the frame starts
 * 2-byte aligned and every field rewritten is 16-bit aligned), so all packet
 * accesses are 16-bit.
 *
 * The live-frames page pool initialises a page from data_in once and then
 * recycles it with whatever an earlier run left in it, so every update is
 * computed against the bytes currently in the frame, never the template.
 * A range of one value is never written: the template holds it, and no
 * frame ever carries another.
 *
 * This program's speed is the ceiling of every benchmark row, so the per
 * frame work is kept small: each range keeps a wrapping cursor instead of
 * dividing the frame number by its size (a 64-bit division per range per
 * frame was the most expensive thing this program did).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* Set by xdpfw-pktgen before load (bench/pktgen/live_sender.cpp). An offset
 * of 0 means "no such field" (offset 0 is the destination MAC). */
const volatile __u32 cfg_ifindex;       /* redirect target */
const volatile __u32 cfg_addr_words;    /* 16-bit words per address: 2 or 8 */
const volatile __u32 cfg_src_off;       /* source address */
const volatile __u32 cfg_dst_off;       /* destination address */
const volatile __u32 cfg_ip_csum_off;   /* IPv4 header checksum */
const volatile __u32 cfg_l4_csum_off;   /* TCP/UDP/ICMPv6 checksum; 0 for ICMPv4,
					 * whose checksum covers nothing rewritten */
const volatile __u32 cfg_l4_pseudo;     /* 1: the L4 checksum covers the addresses */
const volatile __u32 cfg_l4_udp;        /* 1: a zero checksum is sent as 0xffff */
const volatile __u32 cfg_sport_off;     /* L4 ports */
const volatile __u32 cfg_dport_off;
/* Address ranges: first address as four host-order 32-bit words, most
 * significant first (IPv4 in word 3), and how many addresses (at most 2^32,
 * checked by userspace, which also keeps first + count - 1 from wrapping). */
const volatile __u32 cfg_src_first[4];
const volatile __u32 cfg_dst_first[4];
const volatile __u64 cfg_src_count = 1;
const volatile __u64 cfg_dst_count = 1;
const volatile __u32 cfg_sport_first;
const volatile __u32 cfg_sport_count = 1;
const volatile __u32 cfg_dport_first;
const volatile __u32 cfg_dport_count = 1;

/* Frames rewritten so far: packet n takes value n mod count of every range.
 * Userspace reads it as the exact number of frames sent, also when a run is
 * cut short by a signal. One sender thread runs the program, so a plain
 * increment is enough. */
__u64 pktgen_seq;
/* Each range's cursor: pktgen_seq mod its count, advanced with it (the same
 * value without a division). Indexes are below 2^32. */
__u32 pktgen_src_idx, pktgen_dst_idx, pktgen_sport_idx, pktgen_dport_idx;
/* Frames too short for the configured offsets (a userspace bug): dropped. */
__u64 pktgen_short;

#define MAX_FRAME_OFF 0x3ff /* offsets are header offsets, far below this */

/* One's-complement sum of old -> new for one 16-bit word (RFC 1624 eqn. 3:
 * HC' = ~(~HC + ~m + m')). Values are raw network-order words; the sum is
 * byte-order independent as long as the checksum is handled the same way. */
static __always_inline __u32 csum_delta(__u32 sum, __u16 old, __u16 new)
{
	return sum + (__u16)~old + new;
}

static __always_inline void csum_apply(__u16 *csum, __u32 delta, int udp)
{
	__u32 s = (__u16)~*csum + delta;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (__u16)~s;
	/* UDP reserves 0 for "no checksum"; a computed 0 goes out as 0xffff. */
	if (udp && s == 0)
		s = 0xffff;
	*csum = (__u16)s;
}

/* Writes first + idx (a 128-bit add, carrying upward) at off; the address's
 * checksum delta is returned through *delta. */
static __always_inline int write_addr(void *data, void *data_end, __u32 off,
				      const volatile __u32 *first, __u32 idx,
				      __u32 *delta)
{
	__u32 words = cfg_addr_words;
	__u32 val[4];
	__u64 carry = idx;
	__u16 *p;
	int i;

	for (i = 3; i >= 0; i--) {
		__u64 s = (__u64)first[i] + carry;

		val[i] = (__u32)s;
		carry = s >> 32;
	}
	p = data + (off & MAX_FRAME_OFF);
	if (words == 8) {
		if ((void *)(p + 8) > data_end)
			return -1;
#pragma unroll
		for (i = 0; i < 8; i++) {
			__u16 n = bpf_htons((__u16)(val[i / 2] >> (i & 1 ? 0 : 16)));

			*delta = csum_delta(*delta, p[i], n);
			p[i] = n;
		}
	} else {
		if ((void *)(p + 2) > data_end)
			return -1;
#pragma unroll
		for (i = 0; i < 2; i++) {
			__u16 n = bpf_htons((__u16)(val[3] >> (i ? 0 : 16)));

			*delta = csum_delta(*delta, p[i], n);
			p[i] = n;
		}
	}
	return 0;
}

static __always_inline int write_port(void *data, void *data_end, __u32 off,
				      __u32 port, __u32 *delta)
{
	__u16 *p = data + (off & MAX_FRAME_OFF);
	__u16 n = bpf_htons((__u16)port);

	if ((void *)(p + 1) > data_end)
		return -1;
	*delta = csum_delta(*delta, *p, n);
	*p = n;
	return 0;
}

/* The cursor's value for this frame; the cursor moves on, wrapping at count. */
static __always_inline __u32 advance(__u32 *cursor, __u64 count)
{
	__u32 idx = *cursor;

	*cursor = (__u64)idx + 1 >= count ? 0 : idx + 1;
	return idx;
}

static __always_inline __u16 *field16(void *data, void *data_end, __u32 off)
{
	__u16 *p = data + (off & MAX_FRAME_OFF);

	if ((void *)(p + 1) > data_end)
		return 0;
	return p;
}

SEC("xdp")
int pktgen_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 addr_delta = 0, port_delta = 0;
	__u16 *csum;

	pktgen_seq++;
	/* The counts are rodata: the verifier drops the branches of ranges of
	 * one value, so a fixed field costs nothing per frame. */
	if (cfg_src_count > 1 &&
	    write_addr(data, data_end, cfg_src_off, cfg_src_first,
		       advance(&pktgen_src_idx, cfg_src_count), &addr_delta))
		goto short_frame;
	if (cfg_dst_count > 1 &&
	    write_addr(data, data_end, cfg_dst_off, cfg_dst_first,
		       advance(&pktgen_dst_idx, cfg_dst_count), &addr_delta))
		goto short_frame;
	if (cfg_sport_off && cfg_sport_count > 1 &&
	    write_port(data, data_end, cfg_sport_off,
		       cfg_sport_first + advance(&pktgen_sport_idx, cfg_sport_count),
		       &port_delta))
		goto short_frame;
	if (cfg_dport_off && cfg_dport_count > 1 &&
	    write_port(data, data_end, cfg_dport_off,
		       cfg_dport_first + advance(&pktgen_dport_idx, cfg_dport_count),
		       &port_delta))
		goto short_frame;

	if (cfg_ip_csum_off && addr_delta) {
		csum = field16(data, data_end, cfg_ip_csum_off);
		if (!csum)
			goto short_frame;
		csum_apply(csum, addr_delta, 0);
	}
	if (cfg_l4_csum_off && (port_delta || (cfg_l4_pseudo && addr_delta))) {
		csum = field16(data, data_end, cfg_l4_csum_off);
		if (!csum)
			goto short_frame;
		csum_apply(csum, port_delta + (cfg_l4_pseudo ? addr_delta : 0), cfg_l4_udp);
	}
	return bpf_redirect(cfg_ifindex, 0);

short_frame:
	pktgen_short++;
	return XDP_DROP;
}
