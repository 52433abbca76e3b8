/* SPDX-License-Identifier: GPL-2.0-only */
/* Every struct, enum and constant shared between the XDP program and C++.
 *
 * Only <linux/types.h> types, explicit padding, no bitfields. Multi-byte
 * fields are in host byte order unless the comment says "network order".
 * The C++ side static_asserts the sizes below (lib/abi/abi_check.hpp) and
 * checks every map's key and value size against them when a map is opened.
 *
 * Policy tables exist twice, once per generation (0 and 1). The packet path
 * reads the active generation once from xdpfw_ctrl and uses only that
 * generation's tables; the control plane writes the inactive generation, then
 * flips the index (see docs/ARCHITECTURE.md, "Atomic commits").
 */
#ifndef XDPFW_ABI_H
#define XDPFW_ABI_H

#include <linux/types.h>

#define XDPFW_GENERATIONS 2
#define XDPFW_DIRECTIONS 2 /* 0 = source address, 1 = destination */

/* Rules are bits in a bitmap; 64 rules per word. */
#define XDPFW_MAX_RULES 16384
#define XDPFW_MAX_WORDS (XDPFW_MAX_RULES / 64)
#define XDPFW_MAX_SUMMARY_WORDS (XDPFW_MAX_WORDS / 64)

/* Scalar field domains. The last index of each is the "absent" value. */
#define XDPFW_VLAN_NONE 4096        /* untagged frame */
#define XDPFW_VLAN_SLOTS 4097
#define XDPFW_PROTO_SLOTS (3 * 256) /* family (enum xdpfw_family) * 256 + L4 protocol */
#define XDPFW_PORT_NONE 65536       /* no port: not TCP/UDP, or a non-first fragment */
#define XDPFW_PORT_SLOTS 65537
#define XDPFW_FLAGS_NONE 256        /* not TCP, or a non-first fragment */
#define XDPFW_FLAGS_SLOTS 257
#define XDPFW_ICMP_NONE 65536       /* not ICMP/ICMPv6, or a non-first fragment */
#define XDPFW_ICMP_SLOTS 65537      /* index = type << 8 | code */
#define XDPFW_CT_SLOTS 5            /* enum xdpfw_ct_state; XDPFW_CT_NONE for non-IP */

/* IPv4 address table: DIR-24 first level; a /24 block holding longer
 * prefixes is either a 256-entry chunk or, when they are all /32s, a HOSTS
 * entry whose /32s are in the host table. */
#define XDPFW_TBL24_SLOTS (1u << 24)
#define XDPFW_CHUNK_SLOTS 256
#define XDPFW_TBL24_KIND_SHIFT 30
#define XDPFW_TBL24_LEAF 0u  /* low 30 bits: address class */
#define XDPFW_TBL24_CHUNK 1u /* low 30 bits: chunk index */
#define XDPFW_TBL24_HOSTS 2u /* low 30 bits: class of the addresses not in the host table */
#define XDPFW_TBL24_VALUE_MASK ((1u << XDPFW_TBL24_KIND_SHIFT) - 1)

/* Tables of __u32 are dense __u32 arrays (entry i at byte 4 * i), in whole
 * 64-byte blocks (one block is one cache line). The tables every packet
 * reads (scalars, interfaces, address classes, rules) are each the one
 * value of an array map, read at an offset from a lookup of key 0; the
 * pages of xdpfw_tables are one value each too (struct xdpfw_kpage). A
 * lookup by entry would pass the entry's index as a key through the
 * stack: a store and a reload on the packet's chain of dependent loads. */
#define XDPFW_BLOCK_SLOTS 16
#define XDPFW_BLOCKS(n) (((n) + XDPFW_BLOCK_SLOTS - 1) / XDPFW_BLOCK_SLOTS)

struct xdpfw_block {
	__u32 v[XDPFW_BLOCK_SLOTS];
};

/* Policy tables that follow the policy's size live in pages: inner maps of
 * the ARRAY_OF_MAPS xdpfw_tables, each an array of one struct xdpfw_kpage
 * (256 KiB; one size, so the verifier inlines their lookups; one value, so a
 * program that looked a page up reads any entry of it by offset, and the
 * bitmap walk looks up a page once for all the fields whose words it
 * holds), created by the control plane as a policy needs them.
 *
 * The IPv4 tables (DIR-24 top, chunks, host table) are cut into pages of
 * XDPFW_KPAGE_SLOTS entries. A page of them never changes once published;
 * equal pages are one map, referenced from every slot that holds them (a
 * DIR-24 table with one prefix is two maps: the /8 holding it and the page
 * of class 0 that every other /8 shares), and the two generations share the
 * pages they have in common. The rule bitmaps are pages of their own per
 * generation, rewritten in place.
 *
 * Slots (xdpfw_table_slot): per generation, XDPFW_TOP_PAGES top pages per
 * direction, bitmap_pages bitmap pages, chunk_pages chunk pages and
 * host_pages host-table pages per direction (the last three set by the
 * loaded capacities). */
#define XDPFW_KPAGE_SLOTS 65536u /* __u32 entries of one page (256 KiB) */
#define XDPFW_KPAGE_BLOCKS (XDPFW_KPAGE_SLOTS / XDPFW_BLOCK_SLOTS)
#define XDPFW_KPAGE_WORDS (XDPFW_KPAGE_SLOTS / 2) /* __u64 bitmap words of one page */
#define XDPFW_TOP_PAGES (XDPFW_TBL24_SLOTS / XDPFW_KPAGE_SLOTS) /* one per /8 */

struct xdpfw_kpage {
	struct xdpfw_block b[XDPFW_KPAGE_BLOCKS];
};

enum xdpfw_v4_part {
	XDPFW_V4_TOP = 0,
	XDPFW_V4_CHUNKS = 1,
	XDPFW_V4_HOSTS = 2,
};

static inline __u32 xdpfw_kpages(__u64 slots)
{
	return (__u32)((slots + XDPFW_KPAGE_SLOTS - 1) / XDPFW_KPAGE_SLOTS);
}

/* How xdpfw_tables is cut; the loader sets it from the capacities. */
struct xdpfw_table_layout {
	__u32 bitmap_pages; /* per generation */
	__u32 chunk_pages;  /* per direction and generation */
	__u32 host_pages;   /* per direction and generation */
};

/* Slot numbers: (index within a generation) * 2 + gen, the DIR-24 top pages
 * first and the bitmap pages next, so the slots the common path reads are
 * constants plus the packet's generation, direction and page. */
static inline __u32 xdpfw_table_slots(__u32 bitmap_pages, __u32 chunk_pages, __u32 host_pages)
{
	return XDPFW_GENERATIONS * (XDPFW_DIRECTIONS * (XDPFW_TOP_PAGES + chunk_pages + host_pages) +
				    bitmap_pages);
}

static inline __u32 xdpfw_top_slot(__u32 gen, __u32 dir, __u32 page)
{
	return ((dir * XDPFW_TOP_PAGES + page) << 1) | (gen & 1);
}

static inline __u32 xdpfw_bitmap_slot(__u32 gen, __u32 page)
{
	return ((XDPFW_DIRECTIONS * XDPFW_TOP_PAGES + page) << 1) | (gen & 1);
}

/* The slot of page `page` of one part of one direction's IPv4 table. */
static inline __u32 xdpfw_table_slot(__u32 gen, __u32 dir, __u32 part, __u32 page,
				     __u32 bitmap_pages, __u32 chunk_pages, __u32 host_pages)
{
	__u32 i = XDPFW_DIRECTIONS * XDPFW_TOP_PAGES + bitmap_pages;

	if (part == XDPFW_V4_TOP)
		return xdpfw_top_slot(gen, dir, page);
	if (part == XDPFW_V4_CHUNKS)
		i += dir * chunk_pages + page;
	else
		i += XDPFW_DIRECTIONS * chunk_pages + dir * host_pages + page;
	return (i << 1) | (gen & 1);
}

/* Rule bitmaps as 64-bit words in the bitmap pages: word j of bitmap b is
 * word b * bitmap_stride + j of the generation's bitmap pages (policy
 * header), summary words first. A stride of up to 8 words is a power of
 * two, so a small policy's bitmap is one cache line. */
struct xdpfw_words {
	__u64 w[8];
};

/* A bitmap reference, as the index tables (scalars, address classes,
 * interfaces, ethertypes) and the header's *_default / all_bitmap fields
 * hold it: the bitmap's index in the low 24 bits and, in the high 8, a
 * lower bound of its first rule word that is not zero (the first such word,
 * capped at 255; 255 for an empty bitmap). The walk starts at the largest
 * bound of the fields it ANDs: no word before it can hold a rule every
 * field admits, so a selective field (an address) takes the walk straight
 * to its rules' word, past summary words. XDPFW_NO_RULE is no reference. */
#define XDPFW_REF_INDEX_MASK 0x00ffffffu
#define XDPFW_REF_HINT_SHIFT 24
#define XDPFW_REF_HINT_MAX 255u

static inline __u32 xdpfw_ref(__u32 index, __u32 first_word)
{
	if (first_word > XDPFW_REF_HINT_MAX)
		first_word = XDPFW_REF_HINT_MAX;
	return (index & XDPFW_REF_INDEX_MASK) | (first_word << XDPFW_REF_HINT_SHIFT);
}

static inline __u32 xdpfw_ref_index(__u32 ref)
{
	return ref & XDPFW_REF_INDEX_MASK;
}

static inline __u32 xdpfw_ref_hint(__u32 ref)
{
	return ref >> XDPFW_REF_HINT_SHIFT;
}

static inline __u32 xdpfw_bitmap_stride(__u32 n_summary, __u32 n_words)
{
	__u32 n = n_summary + n_words, s = 1;

	if (n > 8)
		return n;
	while (s < n)
		s *= 2;
	return s;
}

/* The host table: the /32s of HOSTS blocks, hashed by address into buckets
 * of one cache line, XDPFW_HOST_SLOTS (address, XDPFW_HOST_VALID | class)
 * pairs each (v[2k], v[2k + 1]; address in host order; an all-zero pair is
 * free). The bucket depends on the address alone, so the program can load
 * it alongside the DIR-24 entry and the two cache misses overlap; it does
 * so only for an address whose /16 holds a HOSTS block (the policy header's
 * v4_host_hint), as a bucket load is a miss of its own that every other
 * address would pay for nothing. A table uses
 * the first v4_host_buckets[dir] buckets of its region (policy header; 0: no
 * host routes, no load), chosen by the compiler at about four slots per
 * route, so a small table stays in cache; the region has room for
 * xdpfw_host_buckets(max_v4_hosts). A /24 whose hosts do not all fit in
 * their buckets becomes a chunk. */
#define XDPFW_HOST_SLOTS 8
#define XDPFW_HOST_VALID (1u << 31)
#define XDPFW_HOST_BLOCK_MAX 256      /* /32s of one /24 at most */
#define XDPFW_MAX_V4_HOSTS (1u << 24) /* host routes per direction and generation */
/* v4_host_hint: bit (a >> 16) % 32 of word a >> 21 is set when the /16 of
 * address a (host order) may hold a HOSTS block. Only a hint: a clear bit
 * makes the program read the bucket after the DIR-24 entry instead of
 * alongside it, a set one a bucket load that may not be needed. */
#define XDPFW_HOST_HINT_WORDS ((1u << 16) / 32)

static inline __u32 xdpfw_host_buckets(__u32 max_hosts)
{
	return max_hosts / 2 + 1;
}

/* Bucket of an address (host order) among n: multiplicative hash, scaled. */
static inline __u32 xdpfw_host_bucket(__u32 addr, __u32 n)
{
	return (__u32)(((__u64)(__u32)(addr * 0x9e3779b1u) * n) >> 32);
}

/* Maximum prefix lengths probed per IPv6 lookup (one per distinct length). */
#define XDPFW_V6_MAX_LENS 129

/* Bounded IPv6 extension header chain. */
#define XDPFW_MAX_EXT_HDRS 8

enum xdpfw_family {
	XDPFW_FAMILY_OTHER = 0, /* not IP (ARP, LLDP, ...) */
	XDPFW_FAMILY_IPV4 = 1,
	XDPFW_FAMILY_IPV6 = 2,
};

/* Match fields; each is one per-packet lookup giving a rule bitmap. */
enum xdpfw_field {
	XDPFW_FIELD_IFINDEX = 0,
	XDPFW_FIELD_VLAN = 1,
	XDPFW_FIELD_PROTO = 2, /* family and L4 protocol together */
	XDPFW_FIELD_SRC = 3,
	XDPFW_FIELD_DST = 4,
	XDPFW_FIELD_SPORT = 5,
	XDPFW_FIELD_DPORT = 6,
	XDPFW_FIELD_TCP_FLAGS = 7,
	XDPFW_FIELD_ICMP = 8,
	XDPFW_FIELD_ETHER = 9, /* ethertype after the VLAN tags (xdpfw_ether) */
	XDPFW_FIELD_CT = 10,   /* connection tracking state (bpf/lib/ct.h) */
	XDPFW_FIELD_COUNT = 11,
};

/* Scalar tables share one array: table index = base + generation * slots + value. */
enum xdpfw_scalar {
	XDPFW_SCALAR_VLAN = 0,
	XDPFW_SCALAR_PROTO = 1,
	XDPFW_SCALAR_SPORT = 2,
	XDPFW_SCALAR_DPORT = 3,
	XDPFW_SCALAR_TCP_FLAGS = 4,
	XDPFW_SCALAR_ICMP = 5,
	XDPFW_SCALAR_CT = 6,
	XDPFW_SCALAR_COUNT = 7,
};
#define XDPFW_SCALAR_BASE_VLAN 0
#define XDPFW_SCALAR_BASE_PROTO (XDPFW_SCALAR_BASE_VLAN + XDPFW_GENERATIONS * XDPFW_VLAN_SLOTS)
#define XDPFW_SCALAR_BASE_SPORT (XDPFW_SCALAR_BASE_PROTO + XDPFW_GENERATIONS * XDPFW_PROTO_SLOTS)
#define XDPFW_SCALAR_BASE_DPORT (XDPFW_SCALAR_BASE_SPORT + XDPFW_GENERATIONS * XDPFW_PORT_SLOTS)
#define XDPFW_SCALAR_BASE_TCP_FLAGS (XDPFW_SCALAR_BASE_DPORT + XDPFW_GENERATIONS * XDPFW_PORT_SLOTS)
#define XDPFW_SCALAR_BASE_ICMP (XDPFW_SCALAR_BASE_TCP_FLAGS + XDPFW_GENERATIONS * XDPFW_FLAGS_SLOTS)
#define XDPFW_SCALAR_BASE_CT (XDPFW_SCALAR_BASE_ICMP + XDPFW_GENERATIONS * XDPFW_ICMP_SLOTS)
#define XDPFW_SCALAR_TOTAL (XDPFW_SCALAR_BASE_CT + XDPFW_GENERATIONS * XDPFW_CT_SLOTS)
/* xdpfw_scalars' one value: every scalar table, in whole 64-byte blocks. */
struct xdpfw_scalar_table {
	__u32 v[XDPFW_BLOCKS(XDPFW_SCALAR_TOTAL) * XDPFW_BLOCK_SLOTS];
};

enum xdpfw_action {
	XDPFW_ACT_DROP = 0,
	XDPFW_ACT_PASS = 1,
	XDPFW_ACT_XSK = 2,      /* AF_XDP socket of the receiving queue */
	XDPFW_ACT_REDIRECT = 3, /* out of another port through the devmap */
	XDPFW_ACT_COUNT = 4,    /* count and continue */
	XDPFW_ACT_SYNCOOKIE = 5, /* SYN: SYN-ACK with a cookie (XDP_TX); ACK: pass if its cookie checks */
	XDPFW_ACT_MAX = 6,
};

/* Stages of the program, in order: the stage build (xdpfw_stages.bpf.c)
 * loaded with cfg_stop_after = s (maps.h) returns XDP_DROP right after stage
 * s, so BPF_PROG_RUN times each prefix of the program (bench/stages). 0 runs
 * everything; the production build has no stops. */
enum xdpfw_stage {
	XDPFW_STAGE_FULL = 0,
	XDPFW_STAGE_CONTROL = 1, /* control map and generation read, header looked up */
	XDPFW_STAGE_PARSE = 2,   /* headers parsed */
	XDPFW_STAGE_LOOKUP = 3,  /* bitmap indices of the used fields, before the walk */
	XDPFW_STAGE_WALK = 4,    /* winning rule found, before any counting and the action */
	XDPFW_STAGE_COUNT = 5,
};

/* Why a packet got its verdict. Printed by name by xdpfw::reason_name();
 * keep the two in step (a unit test checks). The first four are a rule's
 * normal outcome: the program counts those packets in the rule's counter
 * only, and the control plane derives these reasons' totals from the live
 * rules' counters (lib/kernel/reason_totals.hpp). Every later reason has a
 * per-CPU counter in xdpfw_reason_stats, counted by the program. */
enum xdpfw_reason {
	XDPFW_REASON_RULE_DROP = 0,
	XDPFW_REASON_RULE_PASS = 1,
	XDPFW_REASON_RULE_XSK = 2,
	XDPFW_REASON_RULE_REDIRECT = 3,
	XDPFW_REASON_DEFAULT_DROP = 4,
	XDPFW_REASON_DEFAULT_PASS = 5,
	XDPFW_REASON_XSK_NO_SOCKET = 6,  /* xsk rule, no socket on the queue: fallback */
	XDPFW_REASON_REDIRECT_FAILED = 7, /* devmap slot empty or target down: dropped */
	XDPFW_REASON_MALFORMED_L2 = 8,    /* truncated Ethernet or VLAN header, >2 tags */
	XDPFW_REASON_MALFORMED_IPV4 = 9,  /* truncated, IHL < 5, bad version or length */
	XDPFW_REASON_MALFORMED_IPV6 = 10, /* truncated, bad version or payload length */
	XDPFW_REASON_MALFORMED_EXTHDR = 11, /* truncated or too many extension headers */
	XDPFW_REASON_MALFORMED_L4 = 12,   /* truncated TCP/UDP/ICMP header in a first fragment */
	XDPFW_REASON_NO_POLICY = 13,      /* nothing committed yet: passed */
	XDPFW_REASON_DEFAULT_NON_IP_DROP = 14, /* non-IP frame, no rule: default_non_ip drop */
	XDPFW_REASON_DEFAULT_NON_IP_PASS = 15, /* non-IP frame, no rule: default_non_ip pass */
	XDPFW_REASON_COUNT = 16,
};
#define XDPFW_REASON_FIRST_COUNTED XDPFW_REASON_DEFAULT_DROP

/* xdpfw_ctrl[0]: which generation is live. Written only by the control plane. */
struct xdpfw_ctrl {
	__u32 active_gen; /* 0 or 1 */
	__u32 committed;  /* 0 until the first commit */
	__u64 version;    /* commit version of the live generation */
	__u64 content_hash; /* of the live policy (lib/kernel/content_hash.hpp); not read here */
	/* Events (bpf/lib/events.h), set by the daemon from its config, kept
	 * by every commit. In this struct because the program reads it per
	 * packet anyway: testing a sample field costs no extra cache line. */
	__u32 sample_default;   /* 1 in N default verdicts make an event; 0: none */
	__u32 sample_malformed; /* 1 in N malformed packets make an event; 0: none */
	__u32 snaplen;          /* frame bytes copied into an event (<= XDPFW_EVENT_SNAP_MAX) */
	__u32 pad;
};

/* xdpfw_policy[gen]: the header of one generation. */
struct xdpfw_policy_hdr {
	__u64 version;
	__u32 n_rules;           /* rules in use; bit i = i-th rule in evaluation order */
	__u32 n_words;           /* ceil(n_rules / 64) */
	__u32 n_summary;         /* ceil(n_words / 64) */
	__u16 used_fields;       /* bit (1 << enum xdpfw_field): some rule matches it */
	__u8 default_action;     /* IPv4/IPv6, no rule: XDPFW_ACT_DROP or XDPFW_ACT_PASS */
	__u8 malformed_action;   /* XDPFW_ACT_DROP or XDPFW_ACT_PASS */
	__u32 all_bitmap;        /* bitmap reference (xdpfw_ref): every rule's bit set */
	__u32 ifindex_default;   /* bitmap reference for an ingress interface no iif rule names */
	__u32 v6_nlens[XDPFW_DIRECTIONS]; /* distinct IPv6 prefix lengths per direction */
	__u32 v4_host_buckets[XDPFW_DIRECTIONS]; /* buckets of the host table in use */
	__u32 v4_table[XDPFW_DIRECTIONS]; /* 1: an IPv4 table; 0: every address is class 0 */
	__u32 bitmap_stride;     /* words per bitmap (xdpfw_bitmap_stride) */
	__u32 ether_default;     /* bitmap reference for an ethertype no ether= rule names */
	__u8 v6_lens[XDPFW_DIRECTIONS][XDPFW_V6_MAX_LENS + 3]; /* longest first */
	__u64 spec_key;          /* struct xdpfw_spec.key of this policy; 0: no specialised tier */
	/* Read only for a frame that is neither IPv4 nor IPv6 and that no rule
	 * matched, so it sits past the fields every packet reads. */
	__u8 default_non_ip_action; /* non-IP, no rule: XDPFW_ACT_DROP or XDPFW_ACT_PASS */
	__u8 pad3[7];
	/* Read only for an address whose direction has host routes. */
	__u32 v4_host_hint[XDPFW_DIRECTIONS][XDPFW_HOST_HINT_WORDS];
};

/* xdpfw_rules' value holds, at [gen * max_rules + i], the i-th rule in
 * evaluation order. */
struct xdpfw_rule {
	__u32 rule_id;      /* user-visible id */
	__u32 counter_slot; /* its counter in xdpfw_rule_counters; stable for the rule's life */
	__u32 redirect_slot;/* XDPFW_ACT_REDIRECT: index into xdpfw_tx_ports */
	__u8 action;        /* enum xdpfw_action */
	__u8 flags;         /* XDPFW_RULE_* */
	__u16 sample;       /* sample=N: 1 in N packets it decides make an event; 0: none */
};
/* xdpfw_rule.flags. The rules array is mmaped, whose stride is the value
 * size rounded up to 8 bytes: the struct stays 16 bytes. Bit 0 sits where
 * the byte xsk_fallback (XDPFW_ACT_PASS = 1, XDPFW_ACT_DROP = 0) was, so
 * rules written by an older build read the same. */
#define XDPFW_RULE_XSK_PASS 1u /* action=xsk with no socket on the queue: pass (else drop) */
#define XDPFW_RULE_LIMIT 2u    /* matches only over its rate limit (struct xdpfw_limit) */

/* The specialised tier (docs/ARCHITECTURE.md, "Tiers"). A policy of at most
 * XDPFW_SPEC_MAX_RULES rules, whose scalar fields each admit one set of rules
 * except on a few value ranges (TCP flags: a small table), is compiled into
 * this struct; a program built
 * from xdpfw_spec.bpf.c carries it in .rodata (cfg_spec), so the verifier
 * sees every value as a constant: the scalar fields become compares, the
 * rules' actions and counter slots constants. An address field whose IPv4
 * table has at most XDPFW_SPEC_MAX_RANGES ranges of one rule word (a few
 * prefixes) becomes ranges of host-order addresses too (v4_inline; the key
 * then changes with the prefixes, so a set change makes a new program);
 * IPv6, and IPv4 with more ranges, are looked up in the live tables (their
 * bitmaps' only word). The program uses it only
 * while the live generation's header has spec_key == key; otherwise (a newer
 * commit) it runs the general classifier, so a commit never waits for a new
 * program. */
#define XDPFW_SPEC_MAX_RULES 64 /* one rule word */
#define XDPFW_SPEC_MAX_RANGES 16 /* per scalar field */
#define XDPFW_SPEC_MAX_CLASSES 64 /* address classes per direction with class_bits */

/* Values lo .. lo + span of a field admit `bits` (rule i: bit i). */
struct xdpfw_spec_range {
	__u32 lo;
	__u32 span;
	__u64 bits;
};

struct xdpfw_spec_field {
	__u64 other;      /* what the values outside the ranges admit */
	__u32 n_ranges;   /* 0: the field is folded into xdpfw_spec.base */
	__u32 pad;
	struct xdpfw_spec_range r[XDPFW_SPEC_MAX_RANGES];
};

/* What the generated program of a bitmaps spec (xdpfw_spec.bitmaps) takes
 * as constants; the rest it reads from the live generation. */
struct xdpfw_spec_bitmaps {
	__u32 n_words;      /* the header's (struct xdpfw_policy_hdr) */
	__u32 n_summary;
	__u32 stride;
	__u32 used_fields;  /* the header's, fields only (no XDPFW_USED_LIMITS) */
	__u32 all_bitmap;   /* bitmap reference */
	__u32 pages;        /* bitmap pages in use (xdpfw_tables) */
	__u32 ether_ipv4;   /* the bitmap reference of ethertype IPv4 */
	__u32 pad;
};

struct xdpfw_spec {
	__u64 key;        /* content hash of everything below; never 0 */
	__u64 base;       /* AND of what the fields without ranges admit */
	__u64 terminal;   /* bit i: rule i ends the walk (its action is not count) */
	__u32 n_rules;
	__u32 n_count;    /* count rules: the walk counts those before the winner */
	__u32 lookup;     /* bit (1 << XDPFW_FIELD_SRC/DST): looked up in the live tables */
	__u32 flags_table; /* 1: TCP flags through tcp_flags[] (flag masks make many ranges) */
	__u32 v4_inline;  /* bit (1 << XDPFW_FIELD_SRC/DST): IPv4 by f[field]'s ranges */
	__u32 one_terminal; /* i + 1 when rule i is the only terminal rule, else 0 */
	__u32 class_table; /* bit dir: address classes -> rules through class_bits[dir] */
	__u32 n_classes[XDPFW_DIRECTIONS];
	__u32 ranged;     /* bit (1 << field): a scalar field with ranges (f[field].n_ranges) */
	/* Scalar fields, and for src/dst with v4_inline the IPv4 ranges. */
	struct xdpfw_spec_field f[XDPFW_FIELD_COUNT];
	struct xdpfw_rule rules[XDPFW_SPEC_MAX_RULES];
	__u64 tcp_flags[XDPFW_FLAGS_SLOTS + 7]; /* flags_table: TCP flags value -> rules */
	/* class_table: what an address of class c admits (the class's word in
	 * the live tables, which the spec's key then covers); the classes come
	 * from the live address tables. */
	__u64 class_bits[XDPFW_DIRECTIONS][XDPFW_SPEC_MAX_CLASSES];
	/* 1: untagged IPv4 frames take the lean lane (spec.h): the terminal
	 * rules drop or pass without sampling, the policy has no ct= and its
	 * addresses are all v4_inline. */
	__u32 lean;
	/* 1: the terminal rules drop or pass without sampling and the policy
	 * has no ct=: lean but for looked-up addresses (the generated program,
	 * lib/kernel/gen_program.hpp, takes those whose classes' rule words
	 * the spec carries). */
	__u32 lean_rules;
	/* 1: a policy no spec above fits (more than XDPFW_SPEC_MAX_RULES rules,
	 * or fields of too many ranges): only key, n_rules and bm are set. No
	 * compiled program is built for it; the generated program
	 * (lib/kernel/gen_program.hpp) reads the live generation's bitmaps,
	 * with bm's values as constants, and the general program decides what
	 * it does not take. */
	__u32 bitmaps;
	struct xdpfw_spec_bitmaps bm;
};

/* Per-CPU packet and byte counters (rules and reasons). */
struct xdpfw_counter {
	__u64 packets;
	__u64 bytes;
};

/* Ingress interface -> bitmap reference (xdpfw_ref). Interfaces below
 * XDPFW_IFINDEX_SLOTS are a direct slot of xdpfw_iif (one value, struct
 * xdpfw_iif_table: [gen * XDPFW_IFINDEX_SLOTS + ifindex], every slot written, ifindex_default
 * where no rule names the interface); the rare larger ifindex (hosts with
 * much namespace churn) is an entry of the xdpfw_ifindex hash, looked up
 * only for those. */
#define XDPFW_IFINDEX_SLOTS 4096
struct xdpfw_iif_table {
	__u32 v[XDPFW_GENERATIONS * XDPFW_IFINDEX_SLOTS];
};

struct xdpfw_ifindex_key {
	__u32 ifindex;
	__u32 gen;
};

/* Ethertype -> bitmap reference, for the ethertypes ether= rules name (few:
 * a hash, not a 65,536-slot table per generation); any other ethertype
 * takes the header's ether_default. Looked up only when some rule of the
 * generation uses ether= (used_fields). */
#define XDPFW_ETHER_ENTRIES 1024 /* both generations */

struct xdpfw_ether_key {
	__u32 ethertype; /* host order, after the VLAN tags */
	__u32 gen;
};

/* xdpfw_v6_prefixes: one entry per IPv6 prefix; addr is masked to plen. */
struct xdpfw_v6_key {
	__u8 gen;
	__u8 dir;
	__u8 plen;
	__u8 pad;
	__u8 addr[16]; /* network order */
};

/* Written per packet only when the program is loaded with record_verdict
 * (tests): the last packet's outcome, read back after BPF_PROG_RUN. */
struct xdpfw_last_verdict {
	__u32 reason;      /* enum xdpfw_reason */
	__u32 rule_index;  /* winning rule's position, or ~0 for default/malformed */
	__u32 rule_id;     /* winning rule's id, or ~0 */
	__u32 action;      /* the XDP action returned (XDP_DROP, XDP_PASS, ...) */
	__u32 generated;   /* 1: the generated program decided (gen_program.hpp), else 0 */
};

#define XDPFW_NO_RULE 0xffffffffu

/* The socket-filter tap (bpf/xdpfw_tap.bpf.c, `xdpfwctl tap`): the match of
 * one rule's words, in the tap program's .rodata (cfg_tap) so the verifier
 * drops the tests of absent fields. A field is compared only when its bit is
 * in `fields`; with no bit every frame is kept, parsed or not. Semantics are
 * a rule's (lib/reference, rule_matches); a frame the parser refuses is kept
 * only by the empty filter. */
enum xdpfw_tap_field {
	XDPFW_TAP_VLAN = 1u << 0,
	XDPFW_TAP_ETHER = 1u << 1,
	XDPFW_TAP_FAMILY = 1u << 2,
	XDPFW_TAP_SRC = 1u << 3, /* always with XDPFW_TAP_FAMILY (the prefix's) */
	XDPFW_TAP_DST = 1u << 4,
	XDPFW_TAP_PROTO = 1u << 5,
	XDPFW_TAP_SPORT = 1u << 6,
	XDPFW_TAP_DPORT = 1u << 7,
	XDPFW_TAP_TCP_FLAGS = 1u << 8,
	XDPFW_TAP_ICMP_TYPE = 1u << 9,
	XDPFW_TAP_ICMP_CODE = 1u << 10,
};

struct xdpfw_tap_filter {
	__u32 fields;    /* enum xdpfw_tap_field bits */
	__u32 family;    /* enum xdpfw_family */
	__u32 vlan;      /* outer VID */
	__u32 ether;     /* ethertype after the tags, host order */
	__u32 proto;     /* IP protocol */
	__u16 sport_lo, sport_hi; /* inclusive, host order */
	__u16 dport_lo, dport_hi;
	__u8 flags_mask, flags_value; /* TCP header byte 13 */
	__u8 icmp_type, icmp_code;
	/* Prefixes as four 32-bit words in network order (IPv4: word 0), the
	 * address masked to its length. */
	__u32 src[4], src_mask[4];
	__u32 dst[4], dst_mask[4];
};

/* Events: sampled verdicts streamed through the BPF ring buffer xdpfw_events
 * (bpf/lib/events.h, docs/ARCHITECTURE.md "Events"). A rule samples with
 * sample=N (xdpfw_rule.sample); default and malformed verdicts with the
 * daemon's sample_default / sample_malformed (xdpfw_ctrl). "1 in N" counts
 * per CPU: the N-th, 2N-th, ... packet of the rule's (or reason's) per-CPU
 * packet counter. A full ring loses the event, never the packet, and counts
 * it in xdpfw_event_stats[XDPFW_EVSTAT_LOST]. */
#define XDPFW_EVENT_SNAP_MAX 256      /* frame bytes an event can carry */
#define XDPFW_EVENT_SNAP_DEFAULT 128
#define XDPFW_EVENT_RING_BYTES (4u << 20) /* ~14,000 events */

struct xdpfw_event {
	__u64 time_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 version;   /* commit version of the policy that decided (0: none) */
	__u32 ifindex;   /* ingress interface */
	__u32 rx_queue;
	__u32 rule_id;   /* the deciding rule, or XDPFW_NO_RULE (default, malformed) */
	__u32 pkt_len;   /* frame length */
	__u16 cap_len;   /* bytes of the frame in data */
	__u8 verdict;    /* the XDP action returned (XDP_DROP, XDP_PASS, XDP_REDIRECT) */
	__u8 reason;     /* enum xdpfw_reason */
	__u32 pad;
	__u8 data[XDPFW_EVENT_SNAP_MAX]; /* the first cap_len bytes of the frame */
};

/* xdpfw_event_stats (per-CPU xdpfw_counter): events written and lost. */
enum xdpfw_evstat {
	XDPFW_EVSTAT_SENT = 0,
	XDPFW_EVSTAT_LOST = 1, /* ring full: the event was dropped, the packet was not */
	XDPFW_EVSTAT_COUNT = 2,
};

/* Connection tracking (bpf/lib/ct.h, docs/ARCHITECTURE.md "Connection
 * tracking"). The packet's state, the value of the ct= field: */
enum xdpfw_ct_state {
	XDPFW_CT_NEW = 0,         /* no flow yet (or still one-way, UDP/ICMP) */
	XDPFW_CT_ESTABLISHED = 1, /* a flow the table holds, seen both ways */
	XDPFW_CT_RELATED = 2,     /* an ICMP error quoting a tracked flow */
	XDPFW_CT_INVALID = 3,     /* fits no flow: TCP without SYN and no flow, fragment, ... */
	XDPFW_CT_NONE = 4,        /* not IP: no ct= rule matches */
};

/* The flow table: an LRU hash, the only inner map of xdpfw_ct (created by
 * the control plane, ct.max_flows entries, when a policy first uses ct=;
 * replaced by an empty one on `ct flush`). Keys are normalised: side a is
 * the (address, port) pair that sorts first, so both directions of a flow
 * find one entry. ICMP echo flows use the echo identifier as both ports. */
struct xdpfw_ct_key {
	__u8 family;   /* enum xdpfw_family */
	__u8 proto;    /* IP protocol */
	__u16 pad;
	__u16 port_a;  /* host order */
	__u16 port_b;
	__u8 addr_a[16]; /* network order; IPv4 in the first 4 bytes */
	__u8 addr_b[16];
};

/* enum xdpfw_ct_flow: xdpfw_ct_entry.state. */
enum xdpfw_ct_flow {
	XDPFW_CTF_SYN_SENT = 1,
	XDPFW_CTF_SYN_RECV = 2,
	XDPFW_CTF_ESTABLISHED = 3,
	XDPFW_CTF_FIN_WAIT = 4,
	XDPFW_CTF_CLOSE = 5,
	XDPFW_CTF_UNREPLIED = 6, /* UDP, ICMP echo, other protocols: one way so far */
	XDPFW_CTF_REPLIED = 7,   /* ... seen both ways */
};

struct xdpfw_ct_entry {
	__u64 expires_ns; /* bpf_ktime_get_ns() clock; past it the entry is gone */
	__u8 state;       /* enum xdpfw_ct_flow */
	__u8 orig;        /* side (0: a, 1: b) that sent the first packet */
	__u8 pad[6];
};

/* Seconds a flow lives after its last packet, by state (the kernel's
 * nf_conntrack defaults). */
#define XDPFW_CT_TIMEOUT_SYN_SENT 120
#define XDPFW_CT_TIMEOUT_SYN_RECV 60
#define XDPFW_CT_TIMEOUT_ESTABLISHED 432000 /* 5 days */
#define XDPFW_CT_TIMEOUT_FIN_WAIT 120
#define XDPFW_CT_TIMEOUT_CLOSE 10
#define XDPFW_CT_TIMEOUT_UDP 30          /* one way */
#define XDPFW_CT_TIMEOUT_UDP_STREAM 120  /* seen both ways */
#define XDPFW_CT_TIMEOUT_ICMP 30
#define XDPFW_CT_TIMEOUT_GENERIC 600     /* other protocols */

/* xdpfw_ct_stats[i], per CPU: what the data path did to the flow table. */
enum xdpfw_ct_stat {
	XDPFW_CT_STAT_LOOKUPS = 0,    /* packets looked up (XDP ingress and tc egress) */
	XDPFW_CT_STAT_INSERTIONS = 1, /* entries created */
	XDPFW_CT_STAT_FULL = 2,       /* insertions that failed (table locked or out of memory) */
	XDPFW_CT_STAT_COUNT = 3,
};

/* xdpfw_ct_info[0]: the control plane's notes on the flow table (the data
 * path never reads it), kept in a map so they outlive a daemon restart. An
 * LRU hash does not count its entries or evictions; they are estimated from
 * the insertions since the table was made (lib/kernel/conntrack.hpp). */
struct xdpfw_ct_info {
	__u64 insertions_base; /* XDPFW_CT_STAT_INSERTIONS when the table was made */
	__u64 evictions_before; /* estimated evictions of the tables before it */
	__u64 flushes;
	__u32 max_flows;       /* the table's size */
	__u32 pad;
};

/* Rate limits (limit=, bpf/lib/limits.h). A rule with XDPFW_RULE_LIMIT
 * matches only the packets over its limit. The limit is a GCRA token bucket:
 * a bucket is the time `tat` at which it is full again; a packet costs `cost`
 * ns of it and conforms while max(tat, now) + cost - now <= tol_ns. The
 * compiler turns the rule text into these numbers (lib/model/rate_limit.hpp). */
#define XDPFW_USED_LIMITS (1u << 15) /* in used_fields: some rule has a limit */
#define XDPFW_LIMIT_KEYS 65536       /* per=src/dst buckets (LRU) */

enum xdpfw_limit_per {
	XDPFW_LIMIT_PER_RULE = 0, /* one bucket per rule: xdpfw_limit_rule[counter_slot] */
	XDPFW_LIMIT_PER_SRC = 1,  /* per source /32 (IPv4) or /64 (IPv6): xdpfw_limit_keys */
	XDPFW_LIMIT_PER_DST = 2,  /* per destination, likewise */
};

/* xdpfw_limits[gen * max_rules + i]: the limit of the i-th rule. */
struct xdpfw_limit {
	__u64 cost_q16; /* ns per unit, << 16; unit: a packet, or a byte when bytes */
	__u64 tol_ns;   /* the burst, in ns */
	__u64 tag;      /* hash of everything above and per; never 0 */
	__u8 per;       /* enum xdpfw_limit_per */
	__u8 bytes;     /* 1: the cost is per byte of the frame */
	__u8 pad[6];
};

/* A bucket. One with another tag than its rule's limit (the limit changed)
 * counts as full. */
struct xdpfw_bucket {
	__u64 tat; /* bpf_ktime_get_ns() time at which the bucket is full */
	__u64 tag;
};

struct xdpfw_limit_key {
	__u32 slot;   /* the rule's counter_slot */
	__u8 family;  /* enum xdpfw_family; non-IP frames share the key of family 0 */
	__u8 dir;     /* 0: per source, 1: per destination */
	__u8 pad[2];
	__u8 addr[8]; /* network order: IPv4 /32 (4 bytes, rest 0), IPv6 /64 */
};

#endif /* XDPFW_ABI_H */
