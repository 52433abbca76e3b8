// SPDX-License-Identifier: GPL-2.0-only
// IPv4 address tables built from scratch: DIR-24 painting (leaf entries,
// 256-entry chunks, HOSTS entries) and the host table of /32 routes.
#include "lib/compiler/addr_detail.hpp"

#include <algorithm>
#include <bit>

namespace xdpfw::detail {

std::vector<V4Entry> v4_entries(std::vector<V4Item>& items, ClassBuilder& cb)
{
    std::sort(items.begin(), items.end());
    std::vector<V4Entry> out;
    out.reserve(items.size());
    std::vector<uint32_t> own_atoms;
    for (size_t i = 0; i < items.size();) {
        size_t j = i;
        own_atoms.clear();
        for (; j < items.size() && items[j].key == items[i].key; ++j)
            if (own_atoms.empty() || own_atoms.back() != items[j].atom)
                own_atoms.push_back(items[j].atom);
        out.push_back({items[i].key, cb.own(own_atoms)});
        i = j;
    }
    return out;
}

void init_hosts(V4Table& t, uint32_t buckets)
{
    t.host_buckets = buckets;
    t.hosts = PagedTable::uniform(size_t{buckets} * XDPFW_BLOCK_SLOTS, 0);
    t.n_hosts = 0;
    t.host_hint.fill(0);
}

void host_erase(V4Table& t, uint32_t addr)
{
    if (auto at = t.find_host(addr)) {
        t.hosts.mut(*at) = 0;
        t.hosts.mut(*at + 1) = 0;
        --t.n_hosts;
    }
}

namespace {

// Puts host route addr -> cls in a free pair of its bucket; false if full.
bool host_insert(V4Table& t, uint32_t addr, uint32_t cls)
{
    const size_t b = size_t{xdpfw_host_bucket(addr, t.host_buckets)} * XDPFW_BLOCK_SLOTS;
    for (size_t k = 0; k < XDPFW_HOST_SLOTS; ++k)
        if (!(t.hosts[b + 2 * k + 1] & XDPFW_HOST_VALID)) {
            t.hosts.mut(b + 2 * k) = addr;
            t.hosts.mut(b + 2 * k + 1) = XDPFW_HOST_VALID | cls;
            ++t.n_hosts;
            t.host_hint[addr >> 21] |= uint32_t{1} << ((addr >> 16) & 31);
            return true;
        }
    return false;
}

// Buckets for a host table of n routes: a power of two, at least n / 2 (a
// quarter of the slots in use), within the map's room; 0 for none.
uint32_t host_buckets_for(size_t n, const Capacities& caps)
{
    if (n == 0)
        return 0;
    const size_t want = std::bit_ceil(n / 2 + 1);
    return static_cast<uint32_t>(std::min<size_t>(want, xdpfw_host_buckets(caps.max_v4_hosts)));
}

// Calls fn(i, j, only_hosts) for each /24 block holding prefixes longer than
// /24: [i, j) are those prefixes (sorted entries: a block's shorter ones come
// first), only_hosts whether they are all /32s.
template <typename Fn> void for_each_long_block(const V4Entry* first, size_t n, Fn fn)
{
    for (size_t i = 0; i < n;) {
        if (key_len(first[i].key) <= 24) {
            ++i;
            continue;
        }
        const uint32_t block = key_addr(first[i].key) >> 8;
        size_t j = i;
        bool only_hosts = true;
        for (; j < n && key_addr(first[j].key) >> 8 == block; ++j)
            only_hosts = only_hosts && key_len(first[j].key) == 32;
        fn(i, j, only_hosts);
        i = j;
    }
}

// Host routes a fresh build puts in the host table if no bucket fills: the
// /32s of the /24 blocks whose longer prefixes are only /32s, at most
// host_block_limit of them.
size_t host_candidates(const std::vector<V4Entry>& entries, const Capacities& caps)
{
    size_t n = 0;
    for_each_long_block(entries.data(), entries.size(), [&](size_t i, size_t j, bool only_hosts) {
        if (only_hosts && j - i <= caps.host_block_limit)
            n += j - i;
    });
    return n;
}

// The class of each prefix, with a stack of enclosing prefixes: whatever
// left the stack contains none of the rest.
std::vector<uint32_t> prefix_classes(const V4Entry* first, size_t n, uint32_t outer,
                                     ClassBuilder& cb)
{
    std::vector<uint32_t> cls(n);
    std::vector<size_t> stack;
    for (size_t i = 0; i < n; ++i) {
        const uint32_t addr = key_addr(first[i].key);
        while (!stack.empty()) {
            const uint64_t top = first[stack.back()].key;
            if ((addr & v4_mask(key_len(top))) == key_addr(top))
                break;
            stack.pop_back();
        }
        cls[i] = cb.child(stack.empty() ? outer : cls[stack.back()], first[i].own);
        stack.push_back(i);
    }
    return cls;
}

// The leaf entries of blocks [b0, b1) from the prefixes up to /24, each
// block written once. Such prefixes are disjoint or nested; `open` holds the
// open ones with their end block. Appending touches each entry once (no
// zero-fill first).
PagedTable paint_leaves(const V4Entry* first, size_t n, const std::vector<uint32_t>& cls,
                        uint32_t b0, uint32_t b1, uint32_t outer)
{
    PagedTable tbl24;
    struct Open {
        uint32_t end, cls;
    };
    std::vector<Open> open;
    uint32_t pos = b0;
    auto fill = [&](uint32_t to, uint32_t c) {
        if (to > pos) {
            tbl24.append(to - pos, (XDPFW_TBL24_LEAF << XDPFW_TBL24_KIND_SHIFT) | c);
            pos = to;
        }
    };
    for (size_t i = 0; i < n; ++i) {
        const unsigned len = key_len(first[i].key);
        if (len > 24)
            continue;
        const uint32_t start = key_addr(first[i].key) >> 8;
        while (!open.empty() && open.back().end <= start) {
            fill(open.back().end, open.back().cls);
            open.pop_back();
        }
        fill(start, open.empty() ? outer : open.back().cls);
        open.push_back({start + (uint32_t{1} << (24 - len)), cls[i]});
    }
    while (!open.empty()) {
        fill(open.back().end, open.back().cls);
        open.pop_back();
    }
    fill(b1, outer);
    return tbl24;
}

// Puts the /32s [i, j) of one block into the host table; false when a bucket
// is full (then none of them stays).
bool paint_hosts(const V4Painter& pt, const V4Entry* first, size_t i, size_t j,
                 const std::vector<uint32_t>& cls)
{
    if (pt.hosts_of.n_hosts + (j - i) > pt.caps.max_v4_hosts)
        throw CapacityError(atom_names(pt.cb, pt.names, first[i].own), pt.key,
                            "more than max_v4_hosts=" + std::to_string(pt.caps.max_v4_hosts) +
                                " IPv4 host routes (/32) in /24 blocks of host routes");
    if (pt.hosts_of.n_hosts + (j - i) > pt.host_limit)
        throw HostTableOutgrown{};
    size_t k = i;
    while (k < j && host_insert(pt.hosts_of, key_addr(first[k].key), cls[k]))
        ++k;
    if (k == j)
        return true;
    while (k-- > i) // a full bucket: take back this block's hosts
        host_erase(pt.hosts_of, key_addr(first[k].key));
    return false;
}

// Paints the prefixes [i, j) of one block into a new chunk (sorted order:
// inner prefixes last) over `base`, the block's class; returns its index.
// `overflowed`: blocks of hosts made chunks so far, for the error.
uint32_t paint_chunk(const V4Painter& pt, const V4Entry* first, size_t i, size_t j,
                     const std::vector<uint32_t>& cls, uint32_t base, size_t overflowed,
                     std::vector<uint32_t>& chunks)
{
    const size_t c = chunks.size() / XDPFW_CHUNK_SLOTS;
    if (c >= pt.chunk_room)
        throw CapacityError(atom_names(pt.cb, pt.names, first[i].own), pt.key,
                            "more than max_v4_chunks=" + std::to_string(pt.caps.max_v4_chunks) +
                                " IPv4 /24 blocks hold prefixes longer than /24" +
                                (overflowed ? " (" + std::to_string(overflowed) +
                                                  " of them blocks of host routes whose "
                                                  "host-table bucket was full)"
                                            : std::string()));
    chunks.resize(chunks.size() + XDPFW_CHUNK_SLOTS, base);
    auto chunk = chunks.begin() + ptrdiff_t(c * XDPFW_CHUNK_SLOTS);
    for (size_t k = i; k < j; ++k) {
        uint32_t lo = key_addr(first[k].key) & 0xff;
        uint32_t cnt = uint32_t{1} << (32 - key_len(first[k].key));
        std::fill(chunk + lo, chunk + lo + cnt, cls[k]);
    }
    return static_cast<uint32_t>(c);
}

} // namespace

void paint_v4(const V4Painter& pt, const V4Entry* first, const V4Entry* last, uint32_t b0,
              uint32_t b1, uint32_t outer, PaintedV4& out)
{
    const size_t n = size_t(last - first);
    const std::vector<uint32_t> cls = prefix_classes(first, n, outer, pt.cb);
    out.tbl24 = paint_leaves(first, n, cls, b0, b1, outer);
    out.chunks.clear();

    // Blocks holding longer prefixes: up to host_block_limit /32s go to the
    // host table (unless a bucket is full), anything else is a chunk.
    size_t overflowed = 0; // blocks of hosts made chunks: full buckets
    for_each_long_block(first, n, [&](size_t i, size_t j, bool only_hosts) {
        const uint32_t block = key_addr(first[i].key) >> 8;
        uint32_t& entry = out.tbl24.mut(block - b0);
        const uint32_t base = entry & XDPFW_TBL24_VALUE_MASK;
        if (only_hosts && j - i <= pt.caps.host_block_limit) {
            if (paint_hosts(pt, first, i, j, cls)) {
                entry = (XDPFW_TBL24_HOSTS << XDPFW_TBL24_KIND_SHIFT) | base;
                return;
            }
            ++overflowed;
        }
        const uint32_t c = paint_chunk(pt, first, i, j, cls, base, overflowed, out.chunks);
        entry = (XDPFW_TBL24_CHUNK << XDPFW_TBL24_KIND_SHIFT) | c;
    });
}

void build_v4(const std::vector<V4Entry>& entries, ClassBuilder& cb,
              const std::vector<AtomLabel>& names, const Capacities& caps,
              const std::string& key, V4Table& out)
{
    out = V4Table{};
    if (entries.empty())
        return;
    PaintedV4 p;
    init_hosts(out, host_buckets_for(host_candidates(entries, caps), caps));
    const V4Painter pt{cb, names, caps, key, caps.max_v4_chunks, out, SIZE_MAX};
    paint_v4(pt, entries.data(), entries.data() + entries.size(), 0, XDPFW_TBL24_SLOTS, 0, p);
    out.tbl24 = std::move(p.tbl24);
    out.chunks = PagedTable(p.chunks);
}

} // namespace xdpfw::detail
