// SPDX-License-Identifier: GPL-2.0-only
/* The socket-filter tap (`xdpfwctl tap`, lib/tap): attached to an AF_PACKET
 * socket on one interface, it keeps the frames that passed XDP and match
 * one rule's words (cfg_tap), and drops the rest before they are queued.
 *
 * Socket filters have no direct packet access, so the frame's head is
 * copied into a per-CPU buffer and the XDP program's own parser (parse.h)
 * runs over that copy. The cursor's end is the frame's real end, not the
 * copy's: the parser checks every read against it, and the verifier proves
 * every read lies within XDPFW_TAP_HEAD, so each read the parser makes is
 * inside [0, min(frame length, XDPFW_TAP_HEAD)), the bytes copied. The IP
 * length checks then compare with the whole frame, as XDP's do.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdpfw/abi.h>

#include "parse.h"
#include "tap.h"

char LICENSE[] SEC("license") = "GPL";

/* The furthest the parser reads: Ethernet, two VLAN tags, the IPv6 header,
 * XDPFW_MAX_EXT_HDRS extension headers of at most 2,056 bytes as the
 * verifier bounds them ((255 + 2) units of 8), and a TCP header. */
#define XDPFW_TAP_HEAD                                                                         \
	(((ETH_HLEN + 2 * 4 + 40 + XDPFW_MAX_EXT_HDRS * 2056 + 20) + 7) & ~7)
/* Frames are far shorter; the bound keeps the end pointer's arithmetic in
 * what the verifier accepts. */
#define XDPFW_TAP_MAX_FRAME (1u << 24)
#define XDPFW_MAC_LEN (2 * ETH_ALEN)
#define XDPFW_VLAN_TAG_LEN 4

struct xdpfw_tap_buf {
	__u8 b[XDPFW_TAP_HEAD];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_tap_buf);
} xdpfw_tap_head SEC(".maps");

/* Set by the loader (lib/tap/program.cpp) before load. */
const volatile struct xdpfw_tap_filter cfg_tap = {};

/* Copies the frame as XDP saw it into buf and returns its length, or 0.
 * The receive path has moved an outer 802.1Q/802.1ad tag into the skb's
 * metadata by the time packet sockets see the frame; it goes back between
 * the MAC addresses and the ethertype, so that vlan= compares the tag XDP
 * compared and the tags count as they did there. */
static __always_inline __u32 xdpfw_tap_copy(struct __sk_buff *skb, __u8 *buf)
{
	__u32 len = skb->len, copy;
	__be16 *tag;

	if (len < XDPFW_MAC_LEN || len > XDPFW_TAP_MAX_FRAME)
		return 0;
	if (!skb->vlan_present) {
		copy = len < XDPFW_TAP_HEAD ? len : XDPFW_TAP_HEAD;
		return bpf_skb_load_bytes(skb, 0, buf, copy) ? 0 : len;
	}
	if (bpf_skb_load_bytes(skb, 0, buf, XDPFW_MAC_LEN))
		return 0;
	tag = (__be16 *)(buf + XDPFW_MAC_LEN);
	tag[0] = (__be16)skb->vlan_proto;
	tag[1] = bpf_htons(skb->vlan_tci);
	copy = len - XDPFW_MAC_LEN;
	if (copy > XDPFW_TAP_HEAD - XDPFW_MAC_LEN - XDPFW_VLAN_TAG_LEN)
		copy = XDPFW_TAP_HEAD - XDPFW_MAC_LEN - XDPFW_VLAN_TAG_LEN;
	if (copy && bpf_skb_load_bytes(skb, XDPFW_MAC_LEN, buf + XDPFW_MAC_LEN + XDPFW_VLAN_TAG_LEN,
				       copy))
		return 0;
	return len + XDPFW_VLAN_TAG_LEN;
}

SEC("socket")
int xdpfw_tap(struct __sk_buff *skb)
{
	struct xdpfw_pkt pkt;
	__u32 zero = 0, len;
	__u8 *buf;

	/* No words: every frame, without parsing it. */
	if (!cfg_tap.fields)
		return skb->len;
	buf = bpf_map_lookup_elem(&xdpfw_tap_head, &zero);
	if (!buf)
		return 0;
	len = xdpfw_tap_copy(skb, buf);
	if (!len)
		return 0;
	if (xdpfw_parse(buf, buf + len, &pkt))
		return 0;
	return xdpfw_tap_match(&pkt, &cfg_tap) ? skb->len : 0;
}
