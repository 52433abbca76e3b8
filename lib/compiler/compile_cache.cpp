// SPDX-License-Identifier: GPL-2.0-only
// The compile cache: per direction, the last compile's atoms, set contents
// and address tables; rebuilding those tables, or updating them for the
// atoms and set contents that changed.
#include "lib/compiler/addr_detail.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace xdpfw {

using detail::AtomKey;

std::array<uint32_t, 5> CompileCache::Dir::limits_of(const Capacities& c)
{
    return {c.max_addr_classes, c.max_v4_chunks, c.max_v4_hosts, c.max_v6_prefixes,
            c.host_block_limit};
}

bool CompileCache::Dir::same_inputs(const std::vector<AtomKey>& k, const Policy& p,
                                    const Capacities& c) const
{
    if (k != keys || limits_of(c) != limits)
        return false;
    size_t s = 0;
    for (const AtomKey& a : k) {
        if (!a.is_set)
            continue;
        if (p.sets.at(a.set) != set_contents[s++])
            return false;
    }
    return true;
}

void CompileCache::Dir::remember(const std::vector<AtomKey>& k, const Policy& p,
                                 const Capacities& c)
{
    keys = k;
    set_contents.clear();
    for (const AtomKey& a : k)
        if (a.is_set)
            set_contents.push_back(p.sets.at(a.set));
    limits = limits_of(c);
    tables_id = detail::next_tables_id();
}

std::shared_ptr<CompileCache> make_compile_cache()
{
    return std::make_shared<CompileCache>();
}

} // namespace xdpfw

namespace xdpfw::detail {

namespace {

// A prefix as a table item; PolicyError when it is neither IPv4 nor IPv6.
template <typename V4Fn, typename V6Fn>
void split_prefix(const Prefix& p, const AtomLabel& atom_name, const std::string& key, V4Fn v4,
                  V6Fn v6)
{
    if (p.family == Family::ipv4 && p.len <= 32)
        v4(v4_key(load_v4(p.addr) & v4_mask(p.len), p.len));
    else if (p.family == Family::ipv6 && p.len <= 128)
        v6(v6_masked(p.addr, p.len), p.len);
    else
        throw PolicyError(atom_name.str(), key,
                          "prefix of family " + std::string(family_name(p.family)) +
                              " with length " + std::to_string(p.len) +
                              " is not an IPv4 or IPv6 prefix");
}

const std::vector<Prefix>& atom_prefixes(const AtomKey& k, const Policy& policy,
                                         std::vector<Prefix>& one)
{
    if (k.is_set)
        return policy.sets.at(k.set).prefixes();
    one.assign(1, k.prefix);
    return one;
}

// Every IPv6 item of the current atoms (by atom id).
std::vector<V6Item> v6_items(const std::vector<AtomKey>& keys, const std::vector<uint32_t>& ids,
                             const std::vector<Atom>& atoms, const Policy& policy,
                             const std::string& key)
{
    std::vector<V6Item> out;
    std::vector<Prefix> one;
    for (size_t a = 0; a < keys.size(); ++a)
        for (const Prefix& p : atom_prefixes(keys[a], policy, one))
            if (p.family != Family::ipv4)
                split_prefix(p, atoms[a].label, key, [](uint64_t) {},
                             [&](const std::array<uint8_t, 16>& addr, unsigned len) {
                                 out.push_back({addr, uint8_t(len), ids[a]});
                             });
    return out;
}

// How many prefixes from a and b on are equal, stepping by dir (1: forward
// from the first, -1: backward from the last), at most n. Blocks of them
// compare as memory (Prefix is plain data, same_prefixes).
size_t common_run(const Prefix* a, const Prefix* b, size_t n, ptrdiff_t dir)
{
    constexpr size_t block = 1024;
    size_t i = 0;
    while (i + block <= n) {
        const ptrdiff_t first = dir > 0 ? ptrdiff_t(i) : -ptrdiff_t(i + block - 1);
        if (std::memcmp(a + first, b + first, block * sizeof(Prefix)) != 0)
            break;
        i += block;
    }
    while (i < n && a[dir * ptrdiff_t(i)] == b[dir * ptrdiff_t(i)])
        ++i;
    return i;
}

// The prefix changes from the last compile's atoms to this one's: IPv4
// changes one by one, IPv6 only whether any (its table is rebuilt).
struct AtomDiff {
    AtomDiff(const std::string& k, size_t lim) : key(k), limit(lim) {}
    const std::string& key;
    size_t limit; // more changes: not worth an update
    std::vector<V4Change> v4;
    bool v6_changed = false;
    size_t n = 0;

    // False past the limit.
    bool change(const Prefix& p, uint32_t atom, bool add, const AtomLabel& name)
    {
        split_prefix(p, name, key, [&](uint64_t k) { v4.push_back({k, atom, add}); },
                     [&](const std::array<uint8_t, 16>&, unsigned) { v6_changed = true; });
        return ++n <= limit;
    }
    // The difference between a set's old and new contents (both sorted,
    // no repeats). A set changes in a few places: the part before the
    // first and after the last difference is in both, so only what lies
    // between is compared prefix by prefix.
    bool set_change(const std::vector<Prefix>& was, const std::vector<Prefix>& now, uint32_t atom,
                    const AtomLabel& name)
    {
        const size_t both = std::min(was.size(), now.size());
        const size_t head = common_run(was.data(), now.data(), both, 1);
        const size_t tail = head == both ? 0
                                         : common_run(&was.back(), &now.back(), both - head, -1);
        const auto w0 = was.begin() + ptrdiff_t(head), w1 = was.end() - ptrdiff_t(tail);
        const auto n0 = now.begin() + ptrdiff_t(head), n1 = now.end() - ptrdiff_t(tail);
        std::vector<Prefix> diff;
        std::set_difference(w0, w1, n0, n1, std::back_inserter(diff));
        if (!changes(diff, false, atom, name))
            return false;
        diff.clear();
        std::set_difference(n0, n1, w0, w1, std::back_inserter(diff));
        return changes(diff, true, atom, name);
    }
    // Each of ps added or removed; false past the limit.
    bool changes(const std::vector<Prefix>& ps, bool add, uint32_t atom, const AtomLabel& name)
    {
        for (const Prefix& p : ps)
            if (!change(p, atom, add, name))
                return false;
        return true;
    }
};

// Walks the old and new atoms (both sorted by key) side by side into d;
// false when the change is too large.
bool diff_atoms(const CompileCache::Dir& st, const std::vector<AtomKey>& keys,
                const std::vector<uint32_t>& ids, const std::vector<Atom>& atoms,
                const Policy& policy, AtomDiff& d)
{
    std::vector<Prefix> one;
    size_t i = 0, j = 0, old_set = 0;
    while (i < st.keys.size() || j < keys.size()) {
        const bool old_only = j == keys.size() || (i < st.keys.size() && st.keys[i] < keys[j]);
        const bool new_only = i == st.keys.size() || (j < keys.size() && keys[j] < st.keys[i]);
        if (old_only) {
            const AtomKey& k = st.keys[i++];
            const uint32_t id = st.atom_id.at(k);
            const auto& was =
                k.is_set ? st.set_contents[old_set++].prefixes() : (one.assign(1, k.prefix), one);
            for (const Prefix& p : was)
                if (!d.change(p, id, false, st.names[id]))
                    return false;
        } else if (new_only) {
            for (const Prefix& p : atom_prefixes(keys[j], policy, one))
                if (!d.change(p, ids[j], true, atoms[j].label))
                    return false;
            ++j;
        } else {
            if (keys[j].is_set) {
                const PrefixSet& was = st.set_contents[old_set++];
                const PrefixSet& now = policy.sets.at(keys[j].set);
                if (const auto c = now.changes_from(was)) { // set.add/set.del of was
                    if (!d.changes(c->removed, false, ids[j], atoms[j].label) ||
                        !d.changes(c->added, true, ids[j], atoms[j].label))
                        return false;
                } else if (was != now &&
                           !d.set_change(was.prefixes(), now.prefixes(), ids[j], atoms[j].label)) {
                    return false;
                }
            }
            ++i;
            ++j;
        }
    }
    return true;
}

// Ids of this compile's atoms: kept for atoms seen before, new ones after.
std::vector<uint32_t> assign_ids(CompileCache::Dir& st, const std::vector<AtomKey>& keys,
                                 const std::vector<Atom>& atoms)
{
    std::vector<uint32_t> ids(keys.size());
    for (uint32_t a = 0; a < keys.size(); ++a) {
        auto [it, fresh] = st.atom_id.try_emplace(keys[a], uint32_t(st.names.size()));
        if (fresh)
            st.names.push_back(atoms[a].label);
        else
            st.names[it->second] = atoms[a].label;
        ids[a] = it->second;
    }
    return ids;
}

} // namespace

void rebuild_tables(CompileCache::Dir& st, const std::vector<AtomKey>& keys,
                    const std::vector<Atom>& atoms, const Policy& policy, const Capacities& caps,
                    const std::string& key)
{
    st.tables_id = 0;
    st.atom_id.clear();
    st.names.clear();
    std::vector<uint32_t> ids(keys.size());
    for (uint32_t a = 0; a < keys.size(); ++a) {
        st.atom_id.emplace(keys[a], a);
        st.names.push_back(atoms[a].label);
        ids[a] = a;
    }
    st.cb = std::make_shared<ClassBuilder>(caps.max_addr_classes, key);
    std::vector<V4Item> v4;
    std::vector<Prefix> one;
    for (uint32_t a = 0; a < keys.size(); ++a)
        for (const Prefix& p : atom_prefixes(keys[a], policy, one))
            split_prefix(p, atoms[a].label, key, [&](uint64_t k) { v4.push_back({k, a}); },
                         [](const std::array<uint8_t, 16>&, unsigned) {});
    st.v4_entries = v4_entries(v4, *st.cb);
    auto v4t = std::make_shared<V4Table>();
    build_v4(st.v4_entries, *st.cb, st.names, caps, key, *v4t);
    std::vector<V6Item> v6 = v6_items(keys, ids, atoms, policy, key);
    auto v6t = std::make_shared<V6Table>();
    build_v6(v6, *st.cb, st.names, caps, key, *v6t);
    st.v4 = std::move(v4t);
    st.v6 = std::move(v6t);
    st.free_chunks.clear();
}

bool update_tables(CompileCache::Dir& st, const std::vector<AtomKey>& keys,
                   const std::vector<Atom>& atoms, const Policy& policy, const Capacities& caps,
                   const std::string& key)
{
    const std::vector<uint32_t> ids = assign_ids(st, keys, atoms);
    AtomDiff d(key, std::max<size_t>(4096, st.v4_entries.size() / 4));
    if (!diff_atoms(st, keys, ids, atoms, policy, d))
        return false;

    std::vector<V4Entry> entries; // the new prefix list, when it changes
    std::vector<uint32_t> free_chunks = st.free_chunks;
    std::shared_ptr<const V4Table> v4t = st.v4;
    const bool v4_changed = !d.v4.empty();
    if (v4_changed) {
        auto t = std::make_shared<V4Table>(*st.v4); // shares every page
        entries = update_v4(st.v4_entries, std::move(d.v4), *st.cb, st.names, caps, key, *t,
                            free_chunks);
        v4t = std::move(t);
    }
    std::shared_ptr<const V6Table> v6t = st.v6;
    if (d.v6_changed) {
        std::vector<V6Item> items = v6_items(keys, ids, atoms, policy, key);
        auto t = std::make_shared<V6Table>();
        build_v6(items, *st.cb, st.names, caps, key, *t);
        v6t = std::move(t);
    }
    if (v4_changed)
        st.v4_entries = std::move(entries);
    st.free_chunks = std::move(free_chunks);
    st.v4 = std::move(v4t);
    st.v6 = std::move(v6t);
    return true;
}

} // namespace xdpfw::detail
