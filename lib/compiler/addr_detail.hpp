// SPDX-License-Identifier: GPL-2.0-only
// Compiler internals for addresses (not for users of lib/compiler): atoms and
// address classes, IPv4 and IPv6 table building, incremental IPv4 updates and
// the compile cache that keeps the tables between compiles.
#pragma once

#include "lib/compiler/detail.hpp"

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace xdpfw::detail {

// ---------------------------------------------------------------- atoms (address_classes.cpp)

// The identity of an atom: what one address match refers to, a named set or
// a literal prefix. Ordered, so atoms get canonical numbers whatever the
// rule order.
struct AtomKey {
    bool is_set = false;
    std::string set;
    Prefix prefix;
    auto operator<=>(const AtomKey&) const = default;
    bool operator==(const AtomKey&) const = default;
};

struct AtomKeyHash {
    size_t operator()(const AtomKey& k) const
    {
        if (k.is_set)
            return std::hash<std::string>{}(k.set);
        uint64_t h = uint64_t(k.prefix.family) << 8 | k.prefix.len;
        for (size_t i = 0; i < k.prefix.addr.size(); i += 8) {
            uint64_t w;
            std::memcpy(&w, k.prefix.addr.data() + i, 8);
            h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
            h ^= h >> 29;
        }
        return static_cast<size_t>(h);
    }
};

// How errors name an atom: "set @x", or "rule 5 (10.0.0.0/8)" after the
// first rule that uses the prefix. Built only when an error is reported (a
// compile of 1,000 literal-prefix rules would spend a fifth of its time
// formatting names nobody reads).
struct AtomLabel {
    AtomKey key;
    uint32_t rule_id = 0; // literal prefixes: the first rule using it
    std::string str() const;
};

struct Atom {
    AtomLabel label; // for errors
    std::vector<uint32_t> rules; // rules using this atom in this direction, ascending
};

// A fresh id for a new set of address tables (AddrTables::tables_id).
uint64_t next_tables_id();

// Address classes of one direction: interned sorted atom lists (class 0 = {}).
class ClassBuilder {
public:
    ClassBuilder(uint32_t capacity, const std::string& dir_key);

    // Interns a prefix's own atoms (those naming it directly).
    uint32_t own(const std::vector<uint32_t>& atoms);
    const std::vector<uint32_t>& own_atoms(uint32_t id) const { return owns_[id]; }

    // Class of a prefix whose closest enclosing prefix has class parent.
    // CapacityError past max_addr_classes.
    uint32_t child(uint32_t parent, uint32_t own_id);

    const std::vector<std::vector<uint32_t>>& classes() const { return classes_; }

private:
    uint32_t capacity_;
    std::string key_;
    std::vector<std::vector<uint32_t>> classes_;
    std::map<std::vector<uint32_t>, uint32_t> class_index_;
    std::vector<std::vector<uint32_t>> owns_;
    std::map<std::vector<uint32_t>, uint32_t> own_index_;
    std::unordered_map<uint64_t, uint32_t> transitions_;
};

// The atoms of an own-atoms list, for errors; names are by atom id (the ids
// ClassBuilder's own-atom lists hold).
std::string atom_names(const ClassBuilder& cb, const std::vector<AtomLabel>& names,
                       uint32_t own_id);

// ---------------------------------------------------------------- prefixes

inline uint32_t load_v4(const std::array<uint8_t, 16>& a)
{
    return (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
}
inline uint32_t v4_mask(unsigned len) { return len ? ~uint32_t{0} << (32 - len) : 0; }

// An IPv4 prefix as one number: address << 8 | length, so sorting by key
// sorts by (address, length) and a prefix follows everything containing it.
inline uint64_t v4_key(uint32_t addr, unsigned len) { return (uint64_t{addr} << 8) | len; }
inline uint32_t key_addr(uint64_t key) { return static_cast<uint32_t>(key >> 8); }
inline unsigned key_len(uint64_t key) { return static_cast<unsigned>(key & 0xff); }

// One (prefix, atom) pair before distinct prefixes are merged.
struct V4Item {
    uint64_t key; // v4_key
    uint32_t atom;
    bool operator<(const V4Item& o) const { return key != o.key ? key < o.key : atom < o.atom; }
};

struct V6Item {
    std::array<uint8_t, 16> addr;
    uint8_t len;
    uint32_t atom;
    bool operator<(const V6Item& o) const
    {
        if (addr != o.addr)
            return addr < o.addr;
        if (len != o.len)
            return len < o.len;
        return atom < o.atom;
    }
};

// One distinct IPv4 prefix with its own atoms.
struct V4Entry {
    uint64_t key; // v4_key
    uint32_t own; // ClassBuilder own-atoms id
    bool operator<(const V4Entry& o) const { return key < o.key; }
};

// One prefix whose own atoms change: +atom or -atom.
struct V4Change {
    uint64_t key;
    uint32_t atom;
    bool add;
    bool operator<(const V4Change& o) const
    {
        return key != o.key ? key < o.key : (atom != o.atom ? atom < o.atom : add < o.add);
    }
};

// ---------------------------------------------------------------- IPv4 tables (v4_tables.cpp)

// Sorted (prefix, atom) items -> distinct prefixes with their own atoms.
std::vector<V4Entry> v4_entries(std::vector<V4Item>& items, ClassBuilder& cb);

// Thrown by an update whose host routes outgrow the table's buckets: the
// caller rebuilds the tables, sized for the new count.
struct HostTableOutgrown {};

// The DIR-24 contents of /24 blocks [b0, b1) before chunks get their ids:
// CHUNK entries hold indices into `chunks`.
struct PaintedV4 {
    PagedTable tbl24;             // b1 - b0 entries
    std::vector<uint32_t> chunks; // XDPFW_CHUNK_SLOTS per chunk
};

// What painting needs besides the prefixes: the classes, how errors name
// atoms, the limits, and the table whose host table takes host routes.
struct V4Painter {
    ClassBuilder& cb;
    const std::vector<AtomLabel>& names;
    const Capacities& caps;
    const std::string& key; // "src" or "dst"
    size_t chunk_room;      // chunks this paint may make (CapacityError past it)
    V4Table& hosts_of;
    size_t host_limit;      // host routes in all (HostTableOutgrown past it)
};

// Paints blocks [b0, b1) from the prefixes [first, last): sorted, all inside
// the blocks, `outer` the class of the addresses none of them covers. The
// /32s of HOSTS blocks go straight into the host table (at most max_v4_hosts
// in all, CapacityError); chunks into out.
void paint_v4(const V4Painter& pt, const V4Entry* first, const V4Entry* last, uint32_t b0,
              uint32_t b1, uint32_t outer, PaintedV4& out);

// The whole table from scratch; no IPv4 prefix: an empty table.
void build_v4(const std::vector<V4Entry>& entries, ClassBuilder& cb,
              const std::vector<AtomLabel>& names, const Capacities& caps,
              const std::string& key, V4Table& out);

void init_hosts(V4Table& t, uint32_t buckets);
void host_erase(V4Table& t, uint32_t addr);
// An incremental update that would put more routes than this in a table of
// `buckets` buckets rebuilds it (with more buckets) instead.
inline size_t host_growth_limit(uint32_t buckets) { return size_t{3} * buckets; }

// ---------------------------------------------------------------- IPv4 updates (v4_update.cpp)

// Applies changes to a table built from `entries`, painting again only the
// /24 blocks under a changed prefix; returns the new prefix list (entries
// is left as it was, for a caller that keeps it when this throws).
// CapacityError when the tables as kept have no room, HostTableOutgrown
// when the host routes need more buckets: the caller rebuilds.
std::vector<V4Entry> update_v4(const std::vector<V4Entry>& entries, std::vector<V4Change> changes,
                               ClassBuilder& cb, const std::vector<AtomLabel>& names,
                               const Capacities& caps, const std::string& key, V4Table& table,
                               std::vector<uint32_t>& free_chunks);

// ---------------------------------------------------------------- IPv6 (v6_tables.cpp)

void build_v6(std::vector<V6Item>& items, ClassBuilder& cb, const std::vector<AtomLabel>& names,
              const Capacities& caps, const std::string& key, V6Table& out);

} // namespace xdpfw::detail

namespace xdpfw {

struct CompileCache {
    // Per direction: the inputs of the last compile and its tables, plus what
    // an incremental update needs: atom ids that stay put from compile to
    // compile (address classes are lists of them), the class builder, the
    // distinct IPv4 prefixes, and the chunk ids freed for reuse
    // (compile_cache.cpp).
    struct Dir {
        uint64_t tables_id = 0; // 0: nothing valid (never built, or a build failed)
        std::vector<detail::AtomKey> keys;
        // Per set atom, in key order: the sets themselves, sharing their
        // prefixes with the policy (PrefixSet), so an unchanged set is
        // told apart without comparing it.
        std::vector<PrefixSet> set_contents;
        std::array<uint32_t, 5> limits{};
        std::shared_ptr<const V4Table> v4;
        std::shared_ptr<const V6Table> v6;
        std::unordered_map<detail::AtomKey, uint32_t, detail::AtomKeyHash> atom_id;
        std::vector<detail::AtomLabel> names; // by atom id, for errors
        std::shared_ptr<detail::ClassBuilder> cb;
        std::vector<detail::V4Entry> v4_entries;
        std::vector<uint32_t> free_chunks;

        static std::array<uint32_t, 5> limits_of(const Capacities& c);
        bool same_inputs(const std::vector<detail::AtomKey>& k, const Policy& p,
                         const Capacities& c) const;
        void remember(const std::vector<detail::AtomKey>& k, const Policy& p, const Capacities& c);
    };
    Dir dir[XDPFW_DIRECTIONS];
};

} // namespace xdpfw

namespace xdpfw::detail {

// Address tables from scratch; atom ids restart at the atoms' indices.
void rebuild_tables(CompileCache::Dir& st, const std::vector<AtomKey>& keys,
                    const std::vector<Atom>& atoms, const Policy& policy, const Capacities& caps,
                    const std::string& key);

// Updates the tables of the last compile for the atoms and set contents that
// changed. False when the change is too large to be worth it, CapacityError
// when the tables as kept have no room, HostTableOutgrown: the caller
// rebuilds. The cache changes only on success, apart from append-only parts
// (atom ids, interned classes).
bool update_tables(CompileCache::Dir& st, const std::vector<AtomKey>& keys,
                   const std::vector<Atom>& atoms, const Policy& policy, const Capacities& caps,
                   const std::string& key);

} // namespace xdpfw::detail
