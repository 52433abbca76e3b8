// SPDX-License-Identifier: GPL-2.0-only
// The compiler: a Policy becomes the contents of the classifier's tables
// (rule bitmaps per field value, see docs/ARCHITECTURE.md). Kernel-free; the
// dataplane's PolicyMaps writes a CompiledPolicy into one generation.
#pragma once

#include "lib/model/policy.hpp"
#include "lib/reference/reference.hpp"

#include <xdpfw/abi.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

namespace xdpfw {

// Remembers the address tables of earlier compiles (see compile()).
struct CompileCache;
std::shared_ptr<CompileCache> make_compile_cache();

struct CompileOptions {
    uint32_t max_rules = 4096;          // multiple of 64, <= XDPFW_MAX_RULES
    uint32_t max_bitmaps = 16384;       // distinct rule bitmaps per generation
    uint32_t max_addr_classes = 65536;  // per direction and generation
    uint32_t max_v4_chunks = 4096;      // /24 blocks holding longer prefixes, per dir
    uint32_t max_v4_hosts = 65536;      // /32s in the host table (abi.h), per dir
    uint32_t max_v6_prefixes = 262144;  // per dir
    uint32_t host_block_limit = 32;     // more /32s in a /24: a chunk (<= 256)
    IfaceResolver resolve;              // iif= and redirect:IFACE names
    // When set, address tables are reused from the previous compile if the
    // prefixes and sets they come from are unchanged (commits that change
    // only rules then cost microseconds, not a 64 MiB table rebuild).
    std::shared_ptr<CompileCache> cache;
};

// A table of u32 in copy-on-write pages of 4096 entries (16 KiB). Copies
// share pages; writing through mut() copies a shared page first. So a
// compile that changes a few entries of the 64 MiB DIR-24 table copies a few
// pages, and the map writer rewrites only the pages that are not the very
// ones a generation already holds. Pages of one repeated value are shared.
class PagedTable {
public:
    static constexpr size_t page_slots = 4096;
    using Page = std::array<uint32_t, page_slots>;

    PagedTable() = default;
    explicit PagedTable(const std::vector<uint32_t>& flat);
    // n entries of one value, sharing one page.
    static PagedTable uniform(size_t n, uint32_t value);

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    uint32_t operator[](size_t i) const { return (*pages_[i / page_slots])[i % page_slots]; }
    // Entry i for writing (i < size()); the page is copied if shared.
    uint32_t& mut(size_t i);
    // Grows with entries of value `fill`, or shrinks.
    void resize(size_t n, uint32_t fill);
    // Appends n entries of value v; whole pages of it share one page.
    void append(size_t n, uint32_t v);
    const std::vector<std::shared_ptr<Page>>& pages() const { return pages_; }
    std::vector<uint32_t> flat() const;

private:
    std::vector<std::shared_ptr<Page>> pages_;
    size_t size_ = 0;
    std::unordered_map<uint32_t, std::shared_ptr<Page>> uniform_; // append()'s shared pages
};

// A /24 block's IPv4 table, built from the prefixes (kernel-free DIR-24).
struct V4Table {
    PagedTable tbl24;   // XDPFW_TBL24_SLOTS entries (kind|value), or empty
    PagedTable chunks;  // n_chunks * XDPFW_CHUNK_SLOTS classes
    // The host table (abi.h): host_buckets * XDPFW_BLOCK_SLOTS words, the
    // /32s of HOSTS blocks; empty when tbl24 is.
    PagedTable hosts;
    uint32_t host_buckets = 0;
    size_t n_hosts = 0; // pairs in use
    uint32_t lookup(uint32_t addr_host_order) const; // address class
};

struct V6Table {
    // plen -> (masked address -> class); probed longest length first.
    std::map<uint8_t, std::map<std::array<uint8_t, 16>, uint32_t>, std::greater<>> by_len;
    size_t size() const;
    uint32_t lookup(const std::array<uint8_t, 16>& addr) const; // address class
};

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

struct CompiledRule {
    uint32_t rule_id = 0;
    uint32_t counter_slot = 0; // == rule_id (ids are < max_rules)
    uint32_t redirect_ifindex = 0;
    uint8_t action = XDPFW_ACT_DROP;
    uint8_t xsk_fallback = XDPFW_ACT_PASS;
};

struct CompiledPolicy {
    uint32_t n_rules = 0, n_words = 0, n_summary = 0;
    uint16_t used_fields = 0;   // bit (1 << enum xdpfw_field)
    uint8_t default_action = XDPFW_ACT_PASS;
    uint8_t malformed_action = XDPFW_ACT_DROP;
    std::vector<CompiledRule> rules; // evaluation order: bit i = rules[i]
    // Distinct rule bitmaps, n_words words each; index all_bitmap has every
    // rule's bit. Summary words are derived by the writer (bit w: word w != 0).
    std::vector<std::vector<uint64_t>> bitmaps;
    uint32_t all_bitmap = 0;
    // Scalar field value -> bitmap index (sizes XDPFW_*_SLOTS).
    std::vector<uint32_t> vlan, proto, sport, dport, tcp_flags, icmp;
    std::map<uint32_t, uint32_t> ifindex; // ingress ifindex -> bitmap index
    uint32_t ifindex_default = 0;
    AddrTables addr[XDPFW_DIRECTIONS];    // [0] source, [1] destination

    // Software evaluation of the compiled tables (same walk as the BPF
    // program); the compiler's tests check it against the reference.
    Verdict evaluate(const PacketFields& pkt) const;
};

// Throws PolicyError (bad reference, capacity exceeded, unknown interface).
CompiledPolicy compile(const Policy& policy, const CompileOptions& opts);

} // namespace xdpfw
