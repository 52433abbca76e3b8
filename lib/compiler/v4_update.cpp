// SPDX-License-Identifier: GPL-2.0-only
// Incremental IPv4 updates: prefixes change, only the /24 blocks under a
// changed prefix are painted again (chunk ids freed and reused, host routes
// taken out of the host table and put back). Writes go through
// PagedTable::mut, so the pages the previous compile shared are copied, not
// changed.
#include "lib/compiler/addr_detail.hpp"

#include <algorithm>

namespace xdpfw::detail {

namespace {

// The changed prefixes with their new own atoms (own == UINT32_MAX: the
// prefix is gone), sorted by key.
std::vector<V4Entry> changed_entries(const std::vector<V4Entry>& entries,
                                     std::vector<V4Change>& changes, ClassBuilder& cb)
{
    std::sort(changes.begin(), changes.end());
    std::vector<V4Entry> changed;
    for (size_t i = 0; i < changes.size();) {
        const uint64_t k = changes[i].key;
        auto it = std::lower_bound(entries.begin(), entries.end(), V4Entry{k, 0});
        std::vector<uint32_t> own;
        if (it != entries.end() && it->key == k)
            own = cb.own_atoms(it->own);
        for (; i < changes.size() && changes[i].key == k; ++i) {
            auto pos = std::lower_bound(own.begin(), own.end(), changes[i].atom);
            const bool has = pos != own.end() && *pos == changes[i].atom;
            if (changes[i].add && !has)
                own.insert(pos, changes[i].atom);
            else if (!changes[i].add && has)
                own.erase(pos);
        }
        changed.push_back({k, own.empty() ? UINT32_MAX : cb.own(own)});
    }
    return changed;
}

// entries with the changed ones merged in (both sorted). The unchanged runs
// between them are copied whole: a few changes among a million entries.
std::vector<V4Entry> merge_entries(const std::vector<V4Entry>& entries,
                                   const std::vector<V4Entry>& changed)
{
    std::vector<V4Entry> merged;
    merged.reserve(entries.size() + changed.size());
    auto at = entries.begin();
    for (const V4Entry& c : changed) {
        auto next = std::lower_bound(at, entries.end(), c.key,
                                     [](const V4Entry& e, uint64_t k) { return e.key < k; });
        merged.insert(merged.end(), at, next);
        at = next != entries.end() && next->key == c.key ? next + 1 : next;
        if (c.own != UINT32_MAX)
            merged.push_back(c);
    }
    merged.insert(merged.end(), at, entries.end());
    return merged;
}

// Ranges to paint again (as v4 keys, sorted): each changed prefix up to /24,
// or the /24 block of a longer one. Nested ranges are covered by the
// outermost, which sorts first.
std::vector<uint64_t> repaint_ranges(const std::vector<V4Entry>& changed)
{
    std::vector<uint64_t> ranges;
    for (const V4Entry& c : changed) {
        unsigned len = std::min(key_len(c.key), 24u);
        ranges.push_back(v4_key(key_addr(c.key) & v4_mask(len), len));
    }
    std::sort(ranges.begin(), ranges.end());
    ranges.erase(std::unique(ranges.begin(), ranges.end()), ranges.end());
    return ranges;
}

// Frees what blocks [b0, b1) held: their chunk ids, and a HOSTS block's
// routes (the /32s the old prefix list has in it).
void free_blocks(V4Table& table, const std::vector<V4Entry>& entries, uint32_t b0, uint32_t b1,
                 std::vector<uint32_t>& free_chunks)
{
    for (uint32_t b = b0; b < b1; ++b) {
        const uint32_t e = table.tbl24[b];
        const uint32_t kind = e >> XDPFW_TBL24_KIND_SHIFT;
        if (kind == XDPFW_TBL24_CHUNK) {
            free_chunks.push_back(e & XDPFW_TBL24_VALUE_MASK);
        } else if (kind == XDPFW_TBL24_HOSTS) {
            auto it = std::lower_bound(entries.begin(), entries.end(),
                                       V4Entry{v4_key(b << 8, 0), 0});
            for (; it != entries.end() && key_addr(it->key) >> 8 == b; ++it)
                if (key_len(it->key) == 32)
                    host_erase(table, key_addr(it->key));
        }
    }
}

// The class outside a range's own prefixes: that of its enclosing prefixes.
uint32_t outer_class(const std::vector<V4Entry>& merged, uint32_t addr, unsigned len,
                     ClassBuilder& cb)
{
    uint32_t outer = 0;
    for (unsigned l = 0; l < len; ++l) {
        uint64_t k = v4_key(addr & v4_mask(l), l);
        auto it = std::lower_bound(merged.begin(), merged.end(), V4Entry{k, 0});
        if (it != merged.end() && it->key == k)
            outer = cb.child(outer, it->own);
    }
    return outer;
}

// A chunk id: a freed one, else a new one at the end of the chunk table.
uint32_t take_chunk(std::vector<uint32_t>& free_chunks, PagedTable& chunks)
{
    if (!free_chunks.empty()) {
        uint32_t id = free_chunks.back();
        free_chunks.pop_back();
        return id;
    }
    auto id = static_cast<uint32_t>(chunks.size() / XDPFW_CHUNK_SLOTS);
    chunks.resize(chunks.size() + XDPFW_CHUNK_SLOTS, 0);
    return id;
}

// Gives the painted blocks' chunks ids, then writes blocks [b0, b1).
void write_painted(const PaintedV4& p, uint32_t b0, uint32_t b1, V4Table& table,
                   std::vector<uint32_t>& free_chunks)
{
    for (uint32_t i = 0; i < b1 - b0; ++i) {
        uint32_t e = p.tbl24[i];
        const uint32_t kind = e >> XDPFW_TBL24_KIND_SHIFT;
        const uint32_t local = e & XDPFW_TBL24_VALUE_MASK;
        if (kind == XDPFW_TBL24_CHUNK) {
            uint32_t id = take_chunk(free_chunks, table.chunks);
            for (uint32_t k = 0; k < XDPFW_CHUNK_SLOTS; ++k)
                table.chunks.mut(size_t{id} * XDPFW_CHUNK_SLOTS + k) =
                    p.chunks[size_t{local} * XDPFW_CHUNK_SLOTS + k];
            e = (kind << XDPFW_TBL24_KIND_SHIFT) | id;
        }
        if (table.tbl24[b0 + i] != e)
            table.tbl24.mut(b0 + i) = e;
    }
}

} // namespace

std::vector<V4Entry> update_v4(const std::vector<V4Entry>& entries, std::vector<V4Change> changes,
                               ClassBuilder& cb, const std::vector<AtomLabel>& names,
                               const Capacities& caps, const std::string& key, V4Table& table,
                               std::vector<uint32_t>& free_chunks)
{
    const std::vector<V4Entry> changed = changed_entries(entries, changes, cb);
    std::vector<V4Entry> merged = merge_entries(entries, changed);
    if (table.tbl24.empty()) {
        table.tbl24 = PagedTable::uniform(XDPFW_TBL24_SLOTS, 0);
        init_hosts(table, 0);
    }
    PaintedV4 p;
    uint64_t covered_end = 0; // first address after the last range painted
    for (uint64_t r : repaint_ranges(changed)) {
        const uint32_t addr = key_addr(r);
        const unsigned len = key_len(r);
        if (addr < covered_end)
            continue; // inside a range painted already
        const uint64_t span = uint64_t{1} << (32 - len);
        covered_end = addr + span;
        const uint32_t b0 = addr >> 8;
        const auto b1 = static_cast<uint32_t>(b0 + (span >> 8));

        free_blocks(table, entries, b0, b1, free_chunks);
        const uint32_t outer = outer_class(merged, addr, len, cb);
        auto lo = std::lower_bound(merged.begin(), merged.end(), V4Entry{r, 0});
        auto hi = std::upper_bound(merged.begin(), merged.end(),
                                   V4Entry{v4_key(uint32_t(covered_end - 1), 32), 0});
        const size_t n_chunks = table.chunks.size() / XDPFW_CHUNK_SLOTS;
        const size_t room = free_chunks.size() +
                            (caps.max_v4_chunks - std::min<size_t>(n_chunks, caps.max_v4_chunks));
        const size_t host_limit = host_growth_limit(table.host_buckets);
        const V4Painter pt{cb, names, caps, key, room, table, host_limit};
        paint_v4(pt, &*lo, &*lo + (hi - lo), b0, b1, outer, p);
        write_painted(p, b0, b1, table, free_chunks);
    }
    return merged;
}

} // namespace xdpfw::detail
