// SPDX-License-Identifier: GPL-2.0-only
// The compiled policy: the contents of the classifier's tables (rule bitmaps
// per field value, address tables, see docs/ARCHITECTURE.md). The compiler
// (lib/compiler) makes one; the map writer (lib/kernel/policy_maps) writes it
// into one generation.
#pragma once

#include "lib/tables/paged_table.hpp"

#include <xdpfw/abi.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xdpfw {

// A /24 block's IPv4 table, built from the prefixes (kernel-free DIR-24).
struct V4Table {
    PagedTable tbl24;   // XDPFW_TBL24_SLOTS entries (kind|value), or empty
    PagedTable chunks;  // n_chunks * XDPFW_CHUNK_SLOTS classes
    // The host table (abi.h): host_buckets * XDPFW_BLOCK_SLOTS words, the
    // /32s of HOSTS blocks; empty when tbl24 is.
    PagedTable hosts;
    uint32_t host_buckets = 0;
    size_t n_hosts = 0; // pairs in use
    // The /16s that hold host routes (abi.h, XDPFW_HOST_HINT_WORDS): set by
    // every insert, cleared only when the host table is built afresh.
    std::array<uint32_t, XDPFW_HOST_HINT_WORDS> host_hint{};
    uint32_t lookup(uint32_t addr_host_order) const; // address class
    // Index in hosts of host route addr's pair (in its bucket), or nullopt.
    std::optional<size_t> find_host(uint32_t addr_host_order) const;
};

struct V6Table {
    // plen -> (masked address -> class); probed longest length first.
    std::map<uint8_t, std::map<std::array<uint8_t, 16>, uint32_t>, std::greater<>> by_len;
    size_t size() const;
    uint32_t lookup(const std::array<uint8_t, 16>& addr) const; // address class
};

// An IPv6 address (network order) with the bits past len cleared.
std::array<uint8_t, 16> v6_masked(const std::array<uint8_t, 16>& a, unsigned len);

struct AddrTables {
    std::vector<uint32_t> class_bitmap; // address class -> bitmap index; class 0: no prefix
    // Immutable and shared with the compile cache. An empty tbl24 means no
    // IPv4 prefix (every address is class 0).
    std::shared_ptr<const V4Table> v4 = std::make_shared<const V4Table>();
    std::shared_ptr<const V6Table> v6 = std::make_shared<const V6Table>();
    // Equal ids mean identical v4/v6 tables and class numbering; the map
    // writer skips tables a generation already holds.
    uint64_t tables_id = 0;
};

struct CompiledPolicy {
    uint32_t n_rules = 0, n_words = 0, n_summary = 0;
    uint16_t used_fields = 0;   // bit (1 << enum xdpfw_field)
    uint8_t default_action = XDPFW_ACT_PASS;
    uint8_t malformed_action = XDPFW_ACT_DROP;
    uint8_t default_non_ip_action = XDPFW_ACT_PASS; // non-IP frames no rule matches
    // Evaluation order: bit i = rules[i], as the map stores them
    // (counter_slot == rule_id, since ids are < max_rules; redirect_slot is
    // the egress ifindex, the xdpfw_tx_ports key).
    std::vector<xdpfw_rule> rules;
    // limits[i]: rule i's rate limit when rules[i].flags has
    // XDPFW_RULE_LIMIT (else zero); empty when no rule has one.
    std::vector<xdpfw_limit> limits;
    // Distinct rule bitmaps, n_words words each; index all_bitmap has every
    // rule's bit. Summary words are derived by the writer (bit w: word w != 0).
    std::vector<std::vector<uint64_t>> bitmaps;
    uint32_t all_bitmap = 0;
    // Scalar field value -> bitmap index (sizes XDPFW_*_SLOTS).
    std::vector<uint32_t> vlan, proto, sport, dport, tcp_flags, icmp;
    std::vector<uint32_t> ct; // XDPFW_CT_SLOTS, or empty when no rule uses ct=
    std::map<uint32_t, uint32_t> ifindex; // ingress ifindex -> bitmap index
    uint32_t ifindex_default = 0;
    std::map<uint32_t, uint32_t> ether;   // ethertype an ether= rule names -> bitmap index
    uint32_t ether_default = 0;           // every other ethertype
    AddrTables addr[XDPFW_DIRECTIONS];    // [0] source, [1] destination
    // The hash of the policy this was compiled from (policy_source_hash(),
    // lib/compiler): the map writer folds it into the content hash it pins.
    uint64_t source_hash = 0;
    // The specialised tier's form of this policy (lib/compiler/specialise.hpp),
    // or null when the policy does not fit it; its key goes in the header.
    std::shared_ptr<const xdpfw_spec> spec;
    std::string spec_why_not; // when spec is null: what does not fit

    // What the program's tables hold for bitmap `index` (abi.h, xdpfw_ref):
    // the index and its first non-zero word. bitmap_refs(): every bitmap's.
    uint32_t bitmap_ref(uint32_t index) const;
    std::vector<uint32_t> bitmap_refs() const;
};

} // namespace xdpfw
