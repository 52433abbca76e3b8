/* SPDX-License-Identifier: GPL-2.0-only */
/* First-match classification by rule bitmaps (linear bit-vector search).
 *
 * Each match field maps the packet's value to a bitmap of the rules that
 * field admits (scalar tables, the interface table, and for addresses the
 * DIR-24 / IPv6 prefix tables followed by an address-class indirection).
 * The AND of the field bitmaps holds the rules that match; the lowest set
 * bit whose rule is terminal wins. Each bitmap carries summary words (bit w:
 * word w is not zero), so only words where every field has a candidate are
 * visited: the walk costs O(words with candidates), not O(rules). And each
 * reference to a bitmap carries a lower bound of its first non-zero word
 * (abi.h, xdpfw_ref): the walk opens the word at the largest bound of the
 * used fields first, which holds the winner whenever one field is selective
 * (an address prefix: the rule words of a 1,000-rule policy read once per
 * field, no summary word, no bpf_loop), and reads summary words only past it.
 */
#ifndef XDPFW_CLASSIFY_H
#define XDPFW_CLASSIFY_H

#include <bpf/bpf_endian.h>
#include "maps.h"
#include "parse.h"
#include "limits.h"

/* Index of the lowest set bit of x (x != 0), by de Bruijn multiplication:
 * the BPF instruction set has no count-trailing-zeros. */
static const __u8 xdpfw_debruijn64[64] = {
	0,  1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6,
};

static __always_inline __u32 xdpfw_ctz64(__u64 x)
{
	return xdpfw_debruijn64[((x & -x) * 0x03f79d71b4cb0a89ULL) >> 58];
}

/* Field lookups return a bitmap reference (xdpfw_ref); XDPFW_NO_RULE when a
 * table entry is missing (a policy the control plane never writes), which
 * ends the walk. */
static __always_inline __u32 xdpfw_scalar_index(__u32 gen, __u32 base, __u32 slots, __u32 value)
{
	return xdpfw_scalar_ref(base + gen * slots + value);
}

/* IPv4: one DIR-24 lookup, then a chunk for /24 blocks that hold prefixes
 * longer than /24, or the host table for blocks whose longer prefixes are
 * all /32s. Returns the address class. */
static __always_inline __u32 xdpfw_v4_class(const struct xdpfw_policy_hdr *hdr, __u32 gen,
					      __u32 dir, __u32 addr_be)
{
	__u32 addr = bpf_ntohl(addr_be);
	__u32 buckets = hdr->v4_host_buckets[dir & 1];
	struct xdpfw_block *h = 0;
	__u32 *e, kind, value, k;

	if (!hdr->v4_table[dir & 1])
		return 0;
	if (buckets > cfg_host_buckets)
		return 0;
	/* In a /16 that holds host routes, touch the bucket before the DIR-24
	 * entry is read: its address needs nothing from that entry, so both
	 * cache misses are in flight at once (a host route then costs about
	 * what a /24 entry does). Elsewhere the entry decides first, and the
	 * bucket is read only for a HOSTS block. */
	if (buckets && (hdr->v4_host_hint[dir & 1][addr >> 21] >> ((addr >> 16) & 31) & 1)) {
		h = xdpfw_v4_block(gen, dir, XDPFW_V4_HOSTS, xdpfw_host_bucket(addr, buckets));
		if (h)
			(void)*(volatile __u32 *)&h->v[0];
	}
	/* (h is looked up again below rather than kept: fewer live values
	 * through the DIR-24 lookup, which the stack budget needs.) */
	e = xdpfw_v4_slot(gen, dir, XDPFW_V4_TOP, addr >> 8);
	if (!e)
		return 0;
	kind = *e >> XDPFW_TBL24_KIND_SHIFT;
	value = *e & XDPFW_TBL24_VALUE_MASK;
	if (kind == XDPFW_TBL24_CHUNK) {
		__u32 *c;

		if (value >= cfg_chunk_cap)
			return 0;
		c = xdpfw_v4_slot(gen, dir, XDPFW_V4_CHUNKS,
				  value * XDPFW_CHUNK_SLOTS + (addr & 0xff));
		return c ? *c : 0;
	}
	if (kind == XDPFW_TBL24_HOSTS && buckets) {
		h = xdpfw_v4_block(gen, dir, XDPFW_V4_HOSTS, xdpfw_host_bucket(addr, buckets));
		if (!h)
			return value;
#pragma unroll
		for (k = 0; k < XDPFW_HOST_SLOTS; k++)
			if (h->v[2 * k] == addr && (h->v[2 * k + 1] & XDPFW_HOST_VALID))
				return h->v[2 * k + 1] & XDPFW_TBL24_VALUE_MASK;
	}
	return value;
}

struct xdpfw_v6_walk {
	const struct xdpfw_policy_hdr *hdr;
	const __u8 *addr;
	__u32 gen;
	__u32 dir;
	__u32 class;
};

/* One probe per distinct prefix length, longest first; the first hit is the
 * longest match. bpf_loop callback: returns 1 to stop. */
static long xdpfw_v6_probe(__u32 i, void *arg)
{
	struct xdpfw_v6_walk *w = arg;
	struct xdpfw_v6_key key = { .gen = w->gen, .dir = w->dir };
	__u32 plen, j, *c;

	if (i >= XDPFW_V6_MAX_LENS || w->dir >= XDPFW_DIRECTIONS)
		return 1;
	plen = w->hdr->v6_lens[w->dir][i];
	key.plen = plen;
	for (j = 0; j < 4; j++) {
		__u32 word, bits = plen > 32 * j ? plen - 32 * j : 0;

		__builtin_memcpy(&word, w->addr + 4 * j, 4);
		if (bits < 32)
			word &= bits ? bpf_htonl(~0u << (32 - bits)) : 0;
		__builtin_memcpy(&key.addr[4 * j], &word, 4);
	}
	c = bpf_map_lookup_elem(&xdpfw_v6_prefixes, &key);
	if (c) {
		w->class = *c;
		return 1;
	}
	return 0;
}

static __always_inline __u32 xdpfw_v6_class(const struct xdpfw_policy_hdr *hdr, __u32 gen,
					    __u32 dir, const __u8 *addr)
{
	struct xdpfw_v6_walk w = { .hdr = hdr, .addr = addr, .gen = gen, .dir = dir };
	__u32 n = hdr->v6_nlens[dir & 1];

	if (n)
		bpf_loop(n > XDPFW_V6_MAX_LENS ? XDPFW_V6_MAX_LENS : n, xdpfw_v6_probe, &w, 0);
	return w.class;
}

/* The address class of the packet's source (dir 0) or destination. */
static __always_inline __u32 xdpfw_pkt_addr_class(const struct xdpfw_policy_hdr *hdr, __u32 gen,
						  __u32 dir, const struct xdpfw_pkt *pkt)
{
	if (pkt->family == XDPFW_FAMILY_IPV4)
		return xdpfw_v4_class(hdr, gen, dir, dir ? pkt->dst4 : pkt->src4);
	if (pkt->family == XDPFW_FAMILY_IPV6)
		return xdpfw_v6_class(hdr, gen, dir, dir ? pkt->dst6 : pkt->src6);
	return 0;
}

static __always_inline __u32 xdpfw_addr_index(const struct xdpfw_policy_hdr *hdr, __u32 gen,
					       __u32 dir, const struct xdpfw_pkt *pkt)
{
	return xdpfw_class_ref(gen, dir, xdpfw_pkt_addr_class(hdr, gen, dir, pkt));
}

/* State of the bitmap walk, shared with the bpf_loop callback. The used
 * fields' bitmap indices are kept as a compact list of scalars: no pointers
 * and no per-field branches, which keeps the verifier's state count low. */
struct xdpfw_walk {
	__u32 list[XDPFW_FIELD_COUNT]; /* first word of each used field's bitmap */
	__u32 n_list;
	__u32 gen;
	__u32 pkt_len;
	/* The used fields' largest first-word bound (xdpfw_use); once the walk
	 * opened that word, the first word the summary words may still name. */
	__u32 min_word;
	__u32 next_summary; /* next summary word to load; the one before covers cand */
	__u32 n_summary;    /* summary words the policy uses (<= cfg_summary_words) */
	__u32 stride;       /* words per bitmap (policy header) */
	__u32 n_words;      /* rule words the policy uses */
	__u32 bit_base;     /* first rule covered by acc */
	__u64 cand;         /* candidate words left */
	__u64 acc;          /* matching rules left in the current word */
	__u32 all;          /* the all-rules bitmap's reference: a field that gives it is left out */
	__u32 winner;       /* rule index, XDPFW_NO_RULE while none */
	struct xdpfw_rule rule;
};

static __always_inline void xdpfw_count(struct xdpfw_counter *c, __u32 len)
{
	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

/* AND of u64 number `word` of the listed bitmaps (summary words first, then
 * rule words); 0 if a bitmap is missing. A page is looked up once for the
 * fields whose words follow each other in it (most policies' bitmaps all
 * fit in one page); `first`, when not NULL, is the generation's first
 * bitmap page, looked up by the caller before the words were known. */
static __always_inline __u64 xdpfw_and_word(const struct xdpfw_walk *w, __u32 word,
					     struct xdpfw_kpage *first)
{
	struct xdpfw_kpage *pg = first;
	__u32 k, at, page, cur = first ? 0 : ~0u;
	__u64 acc = ~0ULL;

	for (k = 0; k < XDPFW_FIELD_COUNT; k++) {
		if (k >= w->n_list)
			break;
		/* A slot past the bitmap pages is another table's page, or
		 * none: never out of bounds, and never asked for, since the
		 * control plane writes word offsets of its own bitmaps. */
		at = w->list[k] + word;
		page = at / XDPFW_KPAGE_WORDS;
		if (page != cur) { /* the first field's page is never ~0 */
			pg = xdpfw_page(xdpfw_bitmap_slot(w->gen, page));
			if (!pg)
				return 0;
			cur = page;
		}
		acc &= ((__u64 *)pg)[at % XDPFW_KPAGE_WORDS];
	}
	return acc;
}

/* Takes the next matching rule of the open word (w->acc != 0): counts it;
 * a count rule lets the walk go on (0), a terminal rule wins (1). 1 also on
 * a table the control plane never writes (the walk ends, no winner). */
static __always_inline long xdpfw_take_rule(struct xdpfw_walk *w, struct xdpfw_rule *rules,
					    struct xdpfw_counter *counters)
{
	struct xdpfw_rule *r;
	__u32 index, slot;

	index = w->bit_base + xdpfw_ctz64(w->acc);
	w->acc &= w->acc - 1;
	if (index >= cfg_max_rules || !rules)
		return 1;
	r = rules + index;
	slot = r->counter_slot;
	/* Under its rate limit the rule does not match: the walk goes on. */
	if ((r->flags & XDPFW_RULE_LIMIT) && !xdpfw_limit_over(w->gen, index, slot))
		return 0;
	if (!xdpfw_stop_after(XDPFW_STAGE_WALK)) /* that stage leaves counting out */
		xdpfw_count(xdpfw_rule_counter(counters, slot), w->pkt_len);
	if (r->action == XDPFW_ACT_COUNT)
		return 0;
	w->winner = index;
	w->rule = *r;
	return 1;
}

/* Loads the next summary word's AND into w->cand, less the words before
 * w->min_word (the walk has opened those, or none of them can match).
 * Returns 1 when there is none left (the walk ends). */
static __always_inline long xdpfw_load_summary(struct xdpfw_walk *w, struct xdpfw_kpage *first)
{
	__u32 s = w->next_summary, skip;

	if (s >= w->n_summary || s >= cfg_summary_words)
		return 1;
	w->cand = xdpfw_and_word(w, s, first);
	if (w->min_word > s * 64) {
		skip = w->min_word - s * 64;
		w->cand = skip < 64 ? w->cand & (~0ULL << skip) : 0;
	}
	w->next_summary = s + 1;
	return 0;
}

/* Opens the next candidate word (w->cand != 0): its matching rules go to
 * w->acc. Returns 1 if the word is out of range (the walk ends). */
static __always_inline long xdpfw_open_word(struct xdpfw_walk *w, struct xdpfw_kpage *first)
{
	__u32 word = (w->next_summary - 1) * 64 + xdpfw_ctz64(w->cand);

	w->cand &= w->cand - 1;
	if (word >= cfg_words)
		return 1;
	w->bit_base = word * 64;
	w->acc = xdpfw_and_word(w, w->n_summary + word, first);
	return 0;
}

/* One step of the walk (bpf_loop callback; returns 1 to stop): load the next
 * summary word, or open the next candidate word, or take the next matching
 * rule of the open word. Count rules are counted; a terminal rule wins. */
static long xdpfw_walk_step(__u32 i, void *arg)
{
	struct xdpfw_walk *w = arg;

	if (!w->acc) {
		if (!w->cand)
			return xdpfw_load_summary(w, 0);
		return xdpfw_open_word(w, 0);
	}
	return xdpfw_take_rule(w, xdpfw_rule_table(w->gen), xdpfw_rule_counters_here());
}

/* The walk, as a global function: the verifier checks it once, whatever the
 * field lookups before it did (inlined, it was verified again for every
 * distinct state they leave, past the 1M-instruction limit). The common case
 * runs straight through, without bpf_loop's indirect calls: the rule word at
 * the fields' largest first-word bound (the only word of a policy of up to
 * 64 rules), else the first candidate word the summary word after it names,
 * and that word's first two matching rules (a count rule, then the one that
 * decides). Returns 1 when the walk must go on
 * (the caller resumes it in bpf_loop, whose context must be on its stack). */
__attribute__((noinline)) int xdpfw_walk_start(struct xdpfw_walk *w)
{
	struct xdpfw_counter *counters;
	struct xdpfw_kpage *first;
	struct xdpfw_rule *rules;
	__u32 word;

	if (!w)
		return 0;
	/* None of these lookups depends on the packet: the loads of the first
	 * bitmap page's, the rule table's and this CPU's counters' addresses
	 * run while the fields' lookups are still in flight, instead of after
	 * them. */
	first = xdpfw_page(xdpfw_bitmap_slot(w->gen, 0));
	rules = xdpfw_rule_table(w->gen);
	counters = xdpfw_rule_counters_here();
	word = w->min_word;
	if (word >= w->n_words || word >= cfg_words)
		return 0; /* some field admits no rule at all */
	w->bit_base = word * 64;
	w->acc = xdpfw_and_word(w, w->n_summary + word, first);
	/* Summary words resume after the opened word. */
	w->min_word = word + 1;
	w->next_summary = w->min_word / 64;
	if (!w->acc && w->min_word < w->n_words) {
		if (xdpfw_load_summary(w, first))
			return 0;
		if (w->cand && xdpfw_open_word(w, first))
			return 0;
	}
	if (w->acc && xdpfw_take_rule(w, rules, counters))
		return 0;
	if (w->acc && xdpfw_take_rule(w, rules, counters))
		return 0;
	return w->acc || w->cand ||
	       (w->next_summary < w->n_summary && w->min_word < w->n_words);
}

/* The ingress interface's bitmap: a direct array slot below
 * XDPFW_IFINDEX_SLOTS (every slot is written), the hash only above. */
static __always_inline __u32 xdpfw_ifindex_index(const struct xdpfw_policy_hdr *hdr, __u32 gen,
						 __u32 ifindex)
{
	struct xdpfw_ifindex_key k = { .ifindex = ifindex, .gen = gen };
	struct xdpfw_iif_table *t;
	__u32 *b;

	if (ifindex >= XDPFW_IFINDEX_SLOTS) {
		b = bpf_map_lookup_elem(&xdpfw_ifindex, &k);
		return b ? *b : hdr->ifindex_default;
	}
	t = bpf_map_lookup_elem(&xdpfw_iif, &xdpfw_key0);
	if (!t || gen >= XDPFW_GENERATIONS)
		return hdr->ifindex_default;
	return t->v[gen * XDPFW_IFINDEX_SLOTS + ifindex];
}

/* The frame's ethertype's bitmap: a hash entry for the ethertypes ether=
 * rules name, the header's default for every other. The parser stores the
 * ethertype of non-IP frames only; an IP packet's is its family's. */
static __always_inline __u32 xdpfw_ether_index(const struct xdpfw_policy_hdr *hdr, __u32 gen,
					       const struct xdpfw_pkt *pkt)
{
	struct xdpfw_ether_key k = { .ethertype = pkt->ether, .gen = gen };
	__u32 *b;

	if (pkt->family == XDPFW_FAMILY_IPV4)
		k.ethertype = ETH_P_IP;
	else if (pkt->family == XDPFW_FAMILY_IPV6)
		k.ethertype = ETH_P_IPV6;
	b = bpf_map_lookup_elem(&xdpfw_ether, &k);

	return b ? *b : hdr->ether_default;
}

static __always_inline void xdpfw_list(struct xdpfw_walk *w, __u32 ref)
{
	if (w->n_list >= XDPFW_FIELD_COUNT)
		return;
	/* A missing entry (XDPFW_NO_RULE): no word can match. Its list entry
	 * ~0 is a page slot past xdpfw_tables, so an AND with it is 0 too. */
	if (ref == XDPFW_NO_RULE) {
		w->list[w->n_list++] = ~0u;
		w->min_word = XDPFW_REF_HINT_MAX + 1;
		return;
	}
	w->list[w->n_list++] = xdpfw_ref_index(ref) * w->stride;
	if (xdpfw_ref_hint(ref) > w->min_word)
		w->min_word = xdpfw_ref_hint(ref);
}

/* A field's bitmap joins the AND unless it admits every rule (bitmaps are
 * interned, so that is the all-rules bitmap's reference): ANDing it would
 * read a word that changes nothing (a TCP-only policy's proto=tcp). */
static __always_inline void xdpfw_use(struct xdpfw_walk *w, __u32 ref)
{
	if (ref != w->all)
		xdpfw_list(w, ref);
}

/* Classifies a parsed packet against generation gen. Returns the winning
 * rule's index (and copies it to *rule), or XDPFW_NO_RULE. */
static __always_inline __u32 xdpfw_classify(const struct xdpfw_policy_hdr *hdr, __u32 gen,
					    const struct xdpfw_pkt *pkt, __u32 ifindex,
					    __u32 pkt_len, struct xdpfw_rule *rule)
{
	struct xdpfw_walk w = { .gen = gen, .pkt_len = pkt_len, .winner = XDPFW_NO_RULE,
				.n_summary = hdr->n_summary, .stride = hdr->bitmap_stride,
				.n_words = hdr->n_words, .all = hdr->all_bitmap };
	__u32 used = hdr->used_fields;

	if (!hdr->n_rules)
		return XDPFW_NO_RULE;
	/* Fields no rule uses are left out of the AND, and so are fields
	 * whose value every rule admits; with none left, every rule matches
	 * and the all-rules bitmap is walked. */
	if (used & (1u << XDPFW_FIELD_IFINDEX))
		xdpfw_use(&w, xdpfw_ifindex_index(hdr, gen, ifindex));
	if (used & (1u << XDPFW_FIELD_VLAN))
		xdpfw_use(&w, xdpfw_scalar_index(gen, XDPFW_SCALAR_BASE_VLAN, XDPFW_VLAN_SLOTS,
						 pkt->vlan));
	if (used & (1u << XDPFW_FIELD_PROTO))
		xdpfw_use(&w, xdpfw_scalar_index(gen, XDPFW_SCALAR_BASE_PROTO, XDPFW_PROTO_SLOTS,
						 pkt->family * 256 + (pkt->proto & 0xff)));
	if (used & (1u << XDPFW_FIELD_SRC))
		xdpfw_use(&w, xdpfw_addr_index(hdr, gen, 0, pkt));
	if (used & (1u << XDPFW_FIELD_DST))
		xdpfw_use(&w, xdpfw_addr_index(hdr, gen, 1, pkt));
	if (used & (1u << XDPFW_FIELD_SPORT))
		xdpfw_use(&w, xdpfw_scalar_index(gen, XDPFW_SCALAR_BASE_SPORT, XDPFW_PORT_SLOTS,
						 pkt->sport));
	if (used & (1u << XDPFW_FIELD_DPORT))
		xdpfw_use(&w, xdpfw_scalar_index(gen, XDPFW_SCALAR_BASE_DPORT, XDPFW_PORT_SLOTS,
						 pkt->dport));
	if (used & (1u << XDPFW_FIELD_TCP_FLAGS))
		xdpfw_use(&w, xdpfw_scalar_index(gen, XDPFW_SCALAR_BASE_TCP_FLAGS,
						 XDPFW_FLAGS_SLOTS, pkt->tcp_flags));
	if (used & (1u << XDPFW_FIELD_ICMP))
		xdpfw_use(&w, xdpfw_scalar_index(gen, XDPFW_SCALAR_BASE_ICMP, XDPFW_ICMP_SLOTS,
						 pkt->icmp));
	if (used & (1u << XDPFW_FIELD_ETHER))
		xdpfw_use(&w, xdpfw_ether_index(hdr, gen, pkt));
	if (used & (1u << XDPFW_FIELD_CT))
		xdpfw_use(&w, xdpfw_scalar_index(gen, XDPFW_SCALAR_BASE_CT, XDPFW_CT_SLOTS,
						 pkt->ct < XDPFW_CT_SLOTS ? pkt->ct : XDPFW_CT_NONE));
	if (!w.n_list)
		xdpfw_list(&w, hdr->all_bitmap);
	if (used & XDPFW_USED_LIMITS)
		xdpfw_limit_take(pkt, pkt_len); /* limits.h */

	if (xdpfw_stop_after(XDPFW_STAGE_LOOKUP)) {
		asm volatile("" : : "r"(&w) : "memory"); /* the lookups' results are kept */
		return XDPFW_NO_RULE; /* xdpfw_main drops */
	}
	/* Resumed walk: at most one step per summary word, candidate word and
	 * matching rule; it stops at the first terminal rule. */
	if (xdpfw_walk_start(&w))
		bpf_loop(w.n_summary + hdr->n_words + hdr->n_rules, xdpfw_walk_step, &w, 0);
	if (w.winner != XDPFW_NO_RULE)
		*rule = w.rule;
	return w.winner;
}

#endif /* XDPFW_CLASSIFY_H */
