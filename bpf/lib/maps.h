/* SPDX-License-Identifier: GPL-2.0-only */
/* The maps of the xdpfw XDP program and its load-time knobs (rodata).
 *
 * Sizes marked "set at load" are placeholders that the loader replaces with
 * bpf_map__set_max_entries()/set_value_size() from its LoadOptions; the
 * matching cfg_* constants below are set through skel->rodata so that the
 * verifier sees them as constants. Layouts are described in abi.h.
 */
#ifndef XDPFW_MAPS_H
#define XDPFW_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdpfw/abi.h>

const volatile __u32 cfg_max_rules = 64;        /* rules per generation */
const volatile __u32 cfg_words = 1;             /* cfg_max_rules / 64 */
const volatile __u32 cfg_summary_words = 1;     /* ceil(cfg_words / 64) */
const volatile __u32 cfg_addr_class_cap = 1;    /* per direction and generation */
const volatile __u32 cfg_chunk_cap = 1;         /* per direction and generation */
const volatile __u32 cfg_host_buckets = 1;      /* per direction and generation */
const volatile __u32 cfg_bitmap_pages = 1;      /* per generation (abi.h) */
const volatile __u32 cfg_chunk_pages = 1;       /* xdpfw_kpages(chunk_cap * 256) */
const volatile __u32 cfg_host_pages = 1;        /* xdpfw_kpages(host_buckets * 16) */
const volatile __u32 cfg_record_verdict = 0;   /* tests: fill xdpfw_last */
const volatile __u32 cfg_stop_after = 0;       /* stage build: enum xdpfw_stage */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_ctrl);
} xdpfw_ctrl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPFW_GENERATIONS);
	__type(key, __u32);
	__type(value, struct xdpfw_policy_hdr);
} xdpfw_policy SEC(".maps");

/* Scalar field value -> bitmap reference (xdpfw_ref); layout XDPFW_SCALAR_BASE_*.
 * One value (struct xdpfw_scalar_table): the program reads an entry at its
 * offset from one lookup of a constant key, so the entry's index never
 * goes through the stack as a key (a store and a reload on the path from
 * the packet to its bitmap). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_scalar_table);
} xdpfw_scalars SEC(".maps");

/* The rules in evaluation order, rule i of generation gen at
 * [gen * cfg_max_rules + i]: one value of XDPFW_GENERATIONS * cfg_max_rules
 * struct xdpfw_rule (its size is set at load, so the map has no BTF value
 * type), read at an offset like xdpfw_scalars. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct xdpfw_rule)); /* set at load */
} xdpfw_rules SEC(".maps");

/* Address class -> bitmap reference: one value of u32, the class of
 * generation gen and direction dir at [(gen * 2 + dir) * cfg_addr_class_cap
 * + class] (sized at load, like xdpfw_rules). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct xdpfw_block)); /* set at load */
} xdpfw_addr_class SEC(".maps");

/* The inner maps of xdpfw_tables: pages, one struct xdpfw_kpage each
 * (abi.h). Sizes, not types: clang gives a type reached only through
 * pointers no BTF body, which libbpf cannot size, and a BTF key type
 * without a value type makes the kernel refuse the map's BTF (libbpf then
 * retries without it, with a warning per load). */
struct xdpfw_table_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct xdpfw_kpage));
};

/* Per generation: the bitmap pages, then the IPv4 tables' pages (abi.h,
 * xdpfw_table_slot). The control plane fills the slots. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* set at load */
	__type(key, __u32);
	__array(values, struct xdpfw_table_map);
} xdpfw_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* memory follows the prefixes held */
	__uint(max_entries, 1); /* set at load */
	__type(key, struct xdpfw_v6_key);
	__type(value, __u32);
} xdpfw_v6_prefixes SEC(".maps");

/* [gen * XDPFW_IFINDEX_SLOTS + ifindex] -> bitmap reference (abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_iif_table);
} xdpfw_iif SEC(".maps");

/* Interfaces with an ifindex >= XDPFW_IFINDEX_SLOTS -> bitmap reference. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct xdpfw_ifindex_key);
	__type(value, __u32);
} xdpfw_ifindex SEC(".maps");

/* Ethertypes named by ether= rules -> bitmap reference (abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPFW_ETHER_ENTRIES);
	__type(key, struct xdpfw_ether_key);
	__type(value, __u32);
} xdpfw_ether SEC(".maps");

/* Per-rule counters, one value per possible CPU: value [cpu] holds
 * cfg_max_rules struct xdpfw_counter, the rule's at its counter_slot (slots
 * outlive generations). A program looks its CPU's value up once, before the
 * packet names a rule, and counts at the slot's offset: the per-rule chain
 * is the slot's load and the counter's, with no key through the stack and
 * no per-CPU pointer to load (what a BPF_MAP_TYPE_PERCPU_ARRAY of one
 * counter per slot costs). The daemon reads the values through an mmap and
 * sums them; each CPU writes only its own. Sized at load (both numbers). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* set at load: possible CPUs */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct xdpfw_counter)); /* set at load */
} xdpfw_rule_counters SEC(".maps");

/* This CPU's rule counters (xdpfw_rule_counters), or NULL. */
static __always_inline struct xdpfw_counter *xdpfw_rule_counters_here(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&xdpfw_rule_counters, &cpu);
}

/* The counter at slot of this CPU's rule counters c, or NULL. */
static __always_inline struct xdpfw_counter *xdpfw_rule_counter(struct xdpfw_counter *c,
								__u32 slot)
{
	return c && slot < cfg_max_rules ? c + slot : 0;
}

/* [reason]: outcomes without a rule only (from XDPFW_REASON_FIRST_COUNTED). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPFW_REASON_COUNT);
	__type(key, __u32);
	__type(value, struct xdpfw_counter);
} xdpfw_reason_stats SEC(".maps");

/* AF_XDP sockets (action xsk), slot = the ingress interface's base slot
 * (xdpfw_xsk_ports) + rx queue. One map serves every attached interface: a
 * socket only accepts frames of the device and queue it is bound to, so a
 * key of the rx queue alone could serve one interface only. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64); /* set at load */
	__type(key, __u32);
	__type(value, __u32);
} xdpfw_xsks SEC(".maps");

/* ifindex -> first xdpfw_xsks slot of that interface's queues. Written by
 * the AF_XDP engine; an interface without an entry has no sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xdpfw_xsk_ports SEC(".maps");

/* Egress ports of redirect:IFACE, keyed by ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xdpfw_tx_ports SEC(".maps");

/* [0]: the general program (the loader puts it there). The specialised
 * tier's program tail-calls it for a policy that is not its own. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xdpfw_progs SEC(".maps");

struct xdpfw_last_verdict xdpfw_last;

/* Tests (cfg_record_verdict): what decided the packet, in xdpfw_last. */
static __always_inline void xdpfw_record_verdict(__u32 reason, __u32 index, __u32 rule_id,
						 int verdict)
{
	if (cfg_record_verdict) {
		xdpfw_last.reason = reason;
		xdpfw_last.rule_index = index;
		xdpfw_last.rule_id = rule_id;
		xdpfw_last.action = verdict;
		xdpfw_last.generated = 0;
	}
}

/* The policy's default for an IP packet no rule decided, and its reason. */
static __always_inline int xdpfw_default_verdict(const struct xdpfw_policy_hdr *hdr,
						 __u32 *reason)
{
	int verdict = hdr->default_action == XDPFW_ACT_DROP ? XDP_DROP : XDP_PASS;

	*reason = verdict == XDP_DROP ? XDPFW_REASON_DEFAULT_DROP : XDPFW_REASON_DEFAULT_PASS;
	return verdict;
}

/* True when this load stops after stage s (enum xdpfw_stage): the program
 * returns XDP_DROP there. Only the stage build (xdpfw_stages.bpf.c, for
 * bench/stages) has stops; in the production build this is the constant 0,
 * so its code is what it was without them. (A rodata check alone is not
 * free: the verifier keeps the knob's load, and drops a dead branch only
 * when its target is reached from nowhere else.) */
#ifndef xdpfw_stop_after /* a test's reference build defines it as 0 */
#ifdef XDPFW_STAGE_STOPS
#define xdpfw_stop_after(s) (cfg_stop_after == (s))
#else
#define xdpfw_stop_after(s) 0
#endif
#endif

/* The key of a one-value map, in .rodata: a key on the stack would cost
 * each lookup a slot of the program's 512-byte stack. */
static const __u32 xdpfw_key0 = 0;

/* Entry i of xdpfw_scalars, a bitmap reference; XDPFW_NO_RULE outside the
 * table. */
static __always_inline __u32 xdpfw_scalar_ref(__u32 i)
{
	struct xdpfw_scalar_table *t = bpf_map_lookup_elem(&xdpfw_scalars, &xdpfw_key0);

	if (!t || i >= XDPFW_SCALAR_TOTAL)
		return XDPFW_NO_RULE;
	return t->v[i];
}

/* The bitmap reference of address class `class` (< cfg_addr_class_cap) of
 * generation gen and direction dir; XDPFW_NO_RULE outside the table. */
static __always_inline __u32 xdpfw_class_ref(__u32 gen, __u32 dir, __u32 class)
{
	__u32 *t = bpf_map_lookup_elem(&xdpfw_addr_class, &xdpfw_key0);

	if (!t || class >= cfg_addr_class_cap || gen >= XDPFW_GENERATIONS ||
	    dir >= XDPFW_DIRECTIONS)
		return XDPFW_NO_RULE;
	return t[(gen * XDPFW_DIRECTIONS + dir) * cfg_addr_class_cap + class];
}

/* The first rule of generation gen in xdpfw_rules, or NULL. */
static __always_inline struct xdpfw_rule *xdpfw_rule_table(__u32 gen)
{
	struct xdpfw_rule *t = bpf_map_lookup_elem(&xdpfw_rules, &xdpfw_key0);

	if (!t || gen >= XDPFW_GENERATIONS)
		return 0;
	return t + gen * cfg_max_rules;
}

/* The inner map in slot `slot` of xdpfw_tables, or NULL. */
static __always_inline void *xdpfw_table(__u32 slot)
{
	return bpf_map_lookup_elem(&xdpfw_tables, &slot);
}

/* The page in slot `slot` of xdpfw_tables, or NULL. */
static __always_inline struct xdpfw_kpage *xdpfw_page(__u32 slot)
{
	void *map = xdpfw_table(slot);

	return map ? bpf_map_lookup_elem(map, &xdpfw_key0) : 0;
}

/* Block b of one part of one direction's paged IPv4 table, or NULL. Only
 * chunks and host tables read the capacity knobs (rodata loads): the DIR-24
 * top slots are constants plus generation, direction and page. */
static __always_inline struct xdpfw_block *xdpfw_v4_block(__u32 gen, __u32 dir, __u32 part,
							  __u32 b)
{
	__u32 page = b / XDPFW_KPAGE_BLOCKS, slot;
	struct xdpfw_kpage *pg;

	if (part == XDPFW_V4_TOP)
		slot = xdpfw_top_slot(gen, dir, page);
	else
		slot = xdpfw_table_slot(gen, dir, part, page, cfg_bitmap_pages, cfg_chunk_pages,
					cfg_host_pages);
	pg = xdpfw_page(slot);
	return pg ? &pg->b[b % XDPFW_KPAGE_BLOCKS] : 0;
}

/* Entry i of one part of one direction's paged IPv4 table, or NULL. */
static __always_inline __u32 *xdpfw_v4_slot(__u32 gen, __u32 dir, __u32 part, __u32 i)
{
	struct xdpfw_block *b = xdpfw_v4_block(gen, dir, part, i / XDPFW_BLOCK_SLOTS);

	return b ? &b->v[i % XDPFW_BLOCK_SLOTS] : 0;
}

#endif /* XDPFW_MAPS_H */
