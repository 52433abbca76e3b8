/* SPDX-License-Identifier: GPL-2.0-only
 * Connection tracking: the flow table and the state of a packet (ct=).
 *
 * Run only for a policy that uses ct= (the header's used_fields): the XDP
 * program looks the packet's flow up before it classifies, and writes the
 * flow's new state after, only when the verdict lets the packet through
 * (a dropped SYN makes no entry, a dropped RST closes nothing). The host's
 * own packets (tc egress, xdpfw_ct_egress) always count as let through.
 * The state machine is the one of lib/reference/conntrack.cpp (the
 * differential tests hold the two together); docs/ARCHITECTURE.md,
 * "Connection tracking", says what each state means and why.
 *
 * Entries are written without locks: two CPUs racing on one flow's
 * handshake can lose one state step (the next packet repeats it).
 */
#ifndef XDPFW_CT_H
#define XDPFW_CT_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdpfw/abi.h>

#include "maps.h"
#include "parse.h"

/* The flow table's template: the control plane creates the real one (an
 * LRU hash of ct.max_flows entries, preallocated: LRU maps cannot be
 * BPF_F_NO_PREALLOC) and puts it in slot 0 the first time a policy uses
 * ct=, so a policy without ct= costs no flow memory. */
struct xdpfw_ct_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	/* sizes, not types: the entry is used through pointers only, so
	 * clang's BTF would hold just a forward declaration of it */
	__uint(key_size, sizeof(struct xdpfw_ct_key));
	__uint(value_size, sizeof(struct xdpfw_ct_entry));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct xdpfw_ct_map);
} xdpfw_ct SEC(".maps");

/* [enum xdpfw_ct_stat] */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPFW_CT_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} xdpfw_ct_stats SEC(".maps");

/* [0]: written by the control plane only (abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_ct_info);
} xdpfw_ct_info SEC(".maps");

#define XDPFW_CT_WRITE_NONE 0
#define XDPFW_CT_WRITE_UPDATE 1 /* the entry exists: new state, orig, timeout */
#define XDPFW_CT_WRITE_INSERT 2 /* no live entry: a new flow */

#define XDPFW_TCP_FIN 0x01
#define XDPFW_TCP_SYN 0x02
#define XDPFW_TCP_RST 0x04
#define XDPFW_TCP_ACK 0x10

/* What the lookup leaves for the write after the verdict. */
struct xdpfw_ct_ctx {
	struct xdpfw_ct_key key;
	__u32 timeout;  /* seconds */
	__u8 write;     /* XDPFW_CT_WRITE_* */
	__u8 state;     /* enum xdpfw_ct_flow to write */
	__u8 orig;      /* side to write as the opener */
	__u8 pad;
};

/* [0]: the XDP program's ctx between lookup and write, per CPU (one packet
 * at a time on a CPU): on the stack it would not fit beside the program's
 * frame. The tc program keeps its own on its stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_ct_ctx);
} xdpfw_ct_scratch SEC(".maps");

static __always_inline void xdpfw_ct_stat(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&xdpfw_ct_stats, &i);

	if (c)
		(*c)++;
}

/* off (<= 1024) as a 64-bit value the verifier knows is small: the mask
 * after the barrier is kept (the compiler would drop it, knowing off is
 * small, and leave the upper half of the register unknown). */
static __always_inline __u64 xdpfw_ct_bounded(__u32 off)
{
	__u64 o = off;

	asm volatile("" : "+r"(o));
	return o & 0x7ff;
}

/* The normalised key of a tuple; returns the side (0: a, 1: b) of its
 * source. IPv4 addresses are 4 bytes, the rest of the key's stays 0. The
 * key is filled as (source, destination) and swapped in place when the
 * destination sorts first: no copies on the stack, whose room the XDP
 * program's frame mostly takes. */
static __always_inline __u32 xdpfw_ct_fill(struct xdpfw_ct_key *k, __u32 family, __u32 proto,
					   const void *src, const void *dst, __u16 sport,
					   __u16 dport)
{
	__u32 i, x, y, n = family == XDPFW_FAMILY_IPV4 ? 4 : 16;
	int cmp = 0;

	__builtin_memset(k, 0, sizeof(*k));
	k->family = family;
	k->proto = proto;
	if (n == 4) {
		__builtin_memcpy(k->addr_a, src, 4);
		__builtin_memcpy(k->addr_b, dst, 4);
	} else {
		__builtin_memcpy(k->addr_a, src, 16);
		__builtin_memcpy(k->addr_b, dst, 16);
	}
	for (i = 0; i < 4; i++) {
		__builtin_memcpy(&x, k->addr_a + 4 * i, 4);
		__builtin_memcpy(&y, k->addr_b + 4 * i, 4);
		if (x != y) {
			cmp = bpf_ntohl(x) < bpf_ntohl(y) ? -1 : 1;
			break;
		}
	}
	if (!cmp)
		cmp = (int)sport - (int)dport;
	k->port_a = sport;
	k->port_b = dport;
	if (cmp <= 0)
		return 0;
	for (i = 0; i < 4; i++) {
		__builtin_memcpy(&x, k->addr_a + 4 * i, 4);
		__builtin_memcpy(&y, k->addr_b + 4 * i, 4);
		__builtin_memcpy(k->addr_a + 4 * i, &y, 4);
		__builtin_memcpy(k->addr_b + 4 * i, &x, 4);
	}
	k->port_a = dport;
	k->port_b = sport;
	return 1;
}

static __always_inline int xdpfw_ct_echo(__u32 family, __u32 type, int *request)
{
	if (family == XDPFW_FAMILY_IPV4 && (type == 8 || type == 0)) {
		*request = type == 8;
		return 1;
	}
	if (family == XDPFW_FAMILY_IPV6 && (type == 128 || type == 129)) {
		*request = type == 128;
		return 1;
	}
	return 0;
}

static __always_inline int xdpfw_ct_icmp_error(__u32 family, __u32 type)
{
	if (family == XDPFW_FAMILY_IPV4)
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/* The flow an ICMP error quotes (at off: the inner IP header) has an
 * entry: related, else invalid. */
static __always_inline __u32 xdpfw_ct_related(void *data, void *data_end, __u32 family,
					      __u32 off, void *table, __u64 now,
					      struct xdpfw_ct_key *k)
{
	struct xdpfw_ct_entry *e;
	__u32 proto, l4;
	__u16 ports[2];
	__u8 *ip, *p;
	int req;

	if (off > 1024)
		return XDPFW_CT_INVALID;
	ip = data + xdpfw_ct_bounded(off);
	if (family == XDPFW_FAMILY_IPV4) {
		if ((void *)(ip + 20) > data_end || (ip[0] >> 4) != 4)
			return XDPFW_CT_INVALID;
		proto = ip[9];
		l4 = (ip[0] & 15) * 4;
	} else {
		if ((void *)(ip + 40) > data_end || (ip[0] >> 4) != 6)
			return XDPFW_CT_INVALID;
		proto = ip[6];
		l4 = 40;
	}
	p = ip + l4;
	if ((void *)(p + 8) > data_end)
		return XDPFW_CT_INVALID;
	__builtin_memcpy(ports, p, 4);
	ports[0] = bpf_ntohs(ports[0]);
	ports[1] = bpf_ntohs(ports[1]);
	if ((family == XDPFW_FAMILY_IPV4 && proto == IPPROTO_ICMP) ||
	    (family == XDPFW_FAMILY_IPV6 && proto == IPPROTO_ICMPV6)) {
		if (!xdpfw_ct_echo(family, p[0], &req))
			return XDPFW_CT_INVALID;
		__builtin_memcpy(&ports[0], p + 4, 2);
		ports[0] = bpf_ntohs(ports[0]);
		ports[1] = ports[0];
	} else if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		ports[0] = ports[1] = 0;
	}
	if (family == XDPFW_FAMILY_IPV4)
		xdpfw_ct_fill(k, family, proto, ip + 12, ip + 16, ports[0], ports[1]);
	else
		xdpfw_ct_fill(k, family, proto, ip + 8, ip + 24, ports[0], ports[1]);
	e = bpf_map_lookup_elem(table, k);
	return e && e->expires_ns > now ? XDPFW_CT_RELATED : XDPFW_CT_INVALID;
}

/* The TCP state machine: the packet's state, and what to write. */
static __always_inline __u32 xdpfw_ct_tcp(struct xdpfw_ct_ctx *c,
					  const struct xdpfw_ct_entry *e, __u32 dir,
					  __u32 flags)
{
	__u32 syn = flags & XDPFW_TCP_SYN, ack = flags & XDPFW_TCP_ACK;
	__u32 st, orig;

	if (!e) {
		if (syn && !ack && !(flags & XDPFW_TCP_RST)) {
			c->write = XDPFW_CT_WRITE_INSERT;
			c->state = XDPFW_CTF_SYN_SENT;
			c->orig = dir;
			c->timeout = XDPFW_CT_TIMEOUT_SYN_SENT;
			return XDPFW_CT_NEW;
		}
		return XDPFW_CT_INVALID;
	}
	st = e->state;
	orig = dir == e->orig;
	c->write = XDPFW_CT_WRITE_UPDATE;
	c->orig = e->orig;
	if (flags & XDPFW_TCP_RST) {
		c->state = XDPFW_CTF_CLOSE;
		c->timeout = XDPFW_CT_TIMEOUT_CLOSE;
		return XDPFW_CT_ESTABLISHED;
	}
	if (syn && !ack) {
		if (st == XDPFW_CTF_SYN_SENT && orig) {
			c->state = st;
			c->timeout = XDPFW_CT_TIMEOUT_SYN_SENT;
			return XDPFW_CT_NEW;
		}
		if (st == XDPFW_CTF_FIN_WAIT || st == XDPFW_CTF_CLOSE) {
			c->state = XDPFW_CTF_SYN_SENT; /* the pair opens again */
			c->orig = dir;
			c->timeout = XDPFW_CT_TIMEOUT_SYN_SENT;
			return XDPFW_CT_NEW;
		}
	} else if (syn) {
		if (!orig && (st == XDPFW_CTF_SYN_SENT || st == XDPFW_CTF_SYN_RECV)) {
			c->state = XDPFW_CTF_SYN_RECV;
			c->timeout = XDPFW_CT_TIMEOUT_SYN_RECV;
			return XDPFW_CT_ESTABLISHED;
		}
	} else if (st == XDPFW_CTF_SYN_RECV) {
		c->state = orig ? XDPFW_CTF_ESTABLISHED : st;
		c->timeout = orig ? XDPFW_CT_TIMEOUT_ESTABLISHED : XDPFW_CT_TIMEOUT_SYN_RECV;
		if (orig && (flags & XDPFW_TCP_FIN)) {
			c->state = XDPFW_CTF_FIN_WAIT;
			c->timeout = XDPFW_CT_TIMEOUT_FIN_WAIT;
		}
		return XDPFW_CT_ESTABLISHED;
	} else if (st == XDPFW_CTF_ESTABLISHED || st == XDPFW_CTF_FIN_WAIT) {
		if (st == XDPFW_CTF_FIN_WAIT || (flags & XDPFW_TCP_FIN)) {
			c->state = XDPFW_CTF_FIN_WAIT;
			c->timeout = XDPFW_CT_TIMEOUT_FIN_WAIT;
		} else {
			c->state = st;
			c->timeout = XDPFW_CT_TIMEOUT_ESTABLISHED;
		}
		return XDPFW_CT_ESTABLISHED;
	}
	c->write = XDPFW_CT_WRITE_NONE;
	return XDPFW_CT_INVALID;
}

/* UDP, ICMP echo and other protocols: new until the other side answers. */
static __always_inline __u32 xdpfw_ct_datagram(struct xdpfw_ct_ctx *c,
					       const struct xdpfw_ct_entry *e, __u32 dir,
					       __u32 proto, int opens)
{
	__u32 one_way = XDPFW_CT_TIMEOUT_GENERIC, both = XDPFW_CT_TIMEOUT_GENERIC;

	if (proto == IPPROTO_UDP) {
		one_way = XDPFW_CT_TIMEOUT_UDP;
		both = XDPFW_CT_TIMEOUT_UDP_STREAM;
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		one_way = both = XDPFW_CT_TIMEOUT_ICMP;
	}
	if (!e) {
		if (!opens)
			return XDPFW_CT_INVALID;
		c->write = XDPFW_CT_WRITE_INSERT;
		c->state = XDPFW_CTF_UNREPLIED;
		c->orig = dir;
		c->timeout = one_way;
		return XDPFW_CT_NEW;
	}
	c->write = XDPFW_CT_WRITE_UPDATE;
	c->orig = e->orig;
	if (e->state == XDPFW_CTF_UNREPLIED && dir == e->orig) {
		c->state = XDPFW_CTF_UNREPLIED;
		c->timeout = one_way;
		return XDPFW_CT_NEW;
	}
	c->state = XDPFW_CTF_REPLIED;
	c->timeout = both;
	return XDPFW_CT_ESTABLISHED;
}

/* The packet's ct state (enum xdpfw_ct_state); fills c for the write. An
 * entry whose state and opener stay as they are gets its new timeout here
 * already (at most once a second): the common established packet then
 * needs no write after the verdict. */
static __always_inline __u32 xdpfw_ct_track(void *data, void *data_end,
					    const struct xdpfw_pkt *pkt, struct xdpfw_ct_ctx *c)
{
	__u32 zero = 0, dir, proto = pkt->proto & 0xff, state, off = pkt->l4_off;
	__u16 sport = 0, dport = 0, id;
	struct xdpfw_ct_entry *e;
	__u64 now, expires;
	void *table;
	int opens = 1, req;
	__u8 *ih;

	if (pkt->family == XDPFW_FAMILY_OTHER)
		return XDPFW_CT_NONE;
	table = bpf_map_lookup_elem(&xdpfw_ct, &zero);
	if (!table)
		return XDPFW_CT_INVALID;
	now = bpf_ktime_get_coarse_ns();
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		if (pkt->sport == XDPFW_PORT_NONE)
			return XDPFW_CT_INVALID; /* a non-first fragment: no ports */
		sport = pkt->sport;
		dport = pkt->dport;
	} else if ((pkt->family == XDPFW_FAMILY_IPV4 && proto == IPPROTO_ICMP) ||
		   (pkt->family == XDPFW_FAMILY_IPV6 && proto == IPPROTO_ICMPV6)) {
		if (pkt->icmp == XDPFW_ICMP_NONE || off > 1024)
			return XDPFW_CT_INVALID;
		ih = data + xdpfw_ct_bounded(off);
		if ((void *)(ih + 8) > data_end)
			return XDPFW_CT_INVALID;
		if (xdpfw_ct_icmp_error(pkt->family, ih[0]))
			return xdpfw_ct_related(data, data_end, pkt->family, off + 8, table, now,
						&c->key); /* no write follows */
		if (!xdpfw_ct_echo(pkt->family, ih[0], &req))
			return XDPFW_CT_NEW; /* other ICMP: not tracked */
		opens = req;
		__builtin_memcpy(&id, ih + 4, 2);
		sport = dport = bpf_ntohs(id);
	}
	if (pkt->family == XDPFW_FAMILY_IPV4)
		dir = xdpfw_ct_fill(&c->key, pkt->family, proto, &pkt->src4, &pkt->dst4, sport,
				    dport);
	else
		dir = xdpfw_ct_fill(&c->key, pkt->family, proto, pkt->src6, pkt->dst6, sport,
				    dport);
	xdpfw_ct_stat(XDPFW_CT_STAT_LOOKUPS);
	e = bpf_map_lookup_elem(table, &c->key);
	if (e && e->expires_ns <= now)
		e = 0;
	/* The null checks below must test e itself: without this the
	 * compiler tests the expiry compare instead, which the verifier
	 * cannot tie to e. */
	asm volatile("" : "+r"(e));
	if (proto == IPPROTO_TCP)
		state = xdpfw_ct_tcp(c, e, dir, pkt->tcp_flags);
	else
		state = xdpfw_ct_datagram(c, e, dir, proto, opens);
	if (e && c->write == XDPFW_CT_WRITE_UPDATE && c->state == e->state && c->orig == e->orig) {
		expires = now + c->timeout * 1000000000ull;
		if (expires > e->expires_ns + 1000000000ull)
			e->expires_ns = expires;
		c->write = XDPFW_CT_WRITE_NONE;
	}
	return state;
}

/* Writes what xdpfw_ct_track decided, for a packet let through. */
static __always_inline void xdpfw_ct_write(const struct xdpfw_ct_ctx *c)
{
	struct xdpfw_ct_entry n = {}, *e;
	__u32 zero = 0;
	void *table;

	table = bpf_map_lookup_elem(&xdpfw_ct, &zero);
	if (!table)
		return;
	n.expires_ns = bpf_ktime_get_coarse_ns() + c->timeout * 1000000000ull;
	n.state = c->state;
	n.orig = c->orig;
	if (c->write == XDPFW_CT_WRITE_UPDATE) {
		e = bpf_map_lookup_elem(table, &c->key);
		if (e) {
			*e = n;
			return;
		}
	}
	if (bpf_map_update_elem(table, &c->key, &n, BPF_ANY))
		xdpfw_ct_stat(XDPFW_CT_STAT_FULL);
	else
		xdpfw_ct_stat(XDPFW_CT_STAT_INSERTIONS);
}

/* The XDP side (global: verified once). Sets pkt->ct; returns whether
 * xdpfw_ct_commit has something to write (kept in xdpfw_ct_scratch). */
__attribute__((noinline)) int xdpfw_ct_ingress(struct xdp_md *ctx, struct xdpfw_pkt *pkt)
{
	struct xdpfw_ct_ctx *c;
	__u32 zero = 0;

	if (!ctx || !pkt)
		return 0;
	c = bpf_map_lookup_elem(&xdpfw_ct_scratch, &zero);
	if (!c) {
		pkt->ct = XDPFW_CT_INVALID;
		return 0;
	}
	c->write = XDPFW_CT_WRITE_NONE;
	pkt->ct = xdpfw_ct_track((void *)(long)ctx->data, (void *)(long)ctx->data_end, pkt, c);
	return c->write;
}

__attribute__((noinline)) int xdpfw_ct_commit(void)
{
	struct xdpfw_ct_ctx *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&xdpfw_ct_scratch, &zero);
	if (c && c->write)
		xdpfw_ct_write(c);
	return 0;
}

#if !defined(XDPFW_SPEC_TIER) && !defined(XDPFW_STAGE_STOPS)
/* tc egress of the protected interfaces: the host's own packets open and
 * advance flows (they leave through the stack, XDP never sees them). Does
 * nothing unless the live policy uses ct=; never drops. */
SEC("tc")
int xdpfw_ct_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct xdpfw_policy_hdr *hdr;
	struct xdpfw_ctrl *ctrl;
	struct xdpfw_ct_ctx c = {};
	struct xdpfw_pkt pkt;
	__u32 zero = 0, gen;

	ctrl = bpf_map_lookup_elem(&xdpfw_ctrl, &zero);
	if (!ctrl || !ctrl->committed)
		return TC_ACT_OK;
	gen = *(volatile __u32 *)&ctrl->active_gen & 1;
	hdr = bpf_map_lookup_elem(&xdpfw_policy, &gen);
	if (!hdr || !(hdr->used_fields & (1u << XDPFW_FIELD_CT)))
		return TC_ACT_OK;
	if (xdpfw_parse(data, data_end, &pkt))
		return TC_ACT_OK;
	xdpfw_ct_track(data, data_end, &pkt, &c);
	if (c.write)
		xdpfw_ct_write(&c);
	return TC_ACT_OK;
}
#endif

#endif /* XDPFW_CT_H */
