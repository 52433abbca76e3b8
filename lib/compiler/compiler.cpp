// SPDX-License-Identifier: GPL-2.0-only
// The policy compiler: rules become per-field rule bitmaps, address prefixes become
// DIR-24 / IPv6 tables of address classes, plus the software twin of the BPF walk.
#include "lib/compiler/compiler.hpp"

#include <atomic>
#include <cstring>
#include <type_traits>

#include <algorithm>
#include <bit>
#include <iterator>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>

namespace xdpfw {

namespace {

using Bits = std::vector<uint64_t>;

void set_bit(Bits& b, uint32_t i) { b[i / 64] |= uint64_t{1} << (i % 64); }
void clear_bit(Bits& b, uint32_t i) { b[i / 64] &= ~(uint64_t{1} << (i % 64)); }

void or_into(Bits& dst, const Bits& src)
{
    for (size_t w = 0; w < dst.size(); ++w)
        dst[w] |= src[w];
}

struct BitsHash {
    size_t operator()(const Bits& b) const
    {
        uint64_t h = 0x9e3779b97f4a7c15ULL ^ b.size();
        for (uint64_t w : b) {
            h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
            h *= 0xff51afd7ed558ccdULL;
        }
        return static_cast<size_t>(h ^ (h >> 33));
    }
};

// Distinct bitmaps, appended to the policy in first-seen order.
class BitmapPool {
public:
    BitmapPool(std::vector<Bits>& out, uint32_t capacity) : out_(out), capacity_(capacity) {}

    uint32_t intern(const Bits& b)
    {
        auto it = index_.find(b);
        if (it != index_.end())
            return it->second;
        if (out_.size() >= capacity_)
            throw CapacityError("policy", "",
                              "too many distinct rule bitmaps (more than max_bitmaps=" +
                                  std::to_string(capacity_) +
                                  "); the rules combine field values in too many ways");
        auto id = static_cast<uint32_t>(out_.size());
        out_.push_back(b);
        index_.emplace(b, id);
        return id;
    }

private:
    std::vector<Bits>& out_;
    uint32_t capacity_;
    std::unordered_map<Bits, uint32_t, BitsHash> index_;
};

uint8_t action_code(ActionType a)
{
    switch (a) {
    case ActionType::drop: return XDPFW_ACT_DROP;
    case ActionType::pass: return XDPFW_ACT_PASS;
    case ActionType::xsk: return XDPFW_ACT_XSK;
    case ActionType::redirect: return XDPFW_ACT_REDIRECT;
    case ActionType::count: return XDPFW_ACT_COUNT;
    }
    return XDPFW_ACT_DROP;
}

ActionType action_type(uint8_t code)
{
    switch (code) {
    case XDPFW_ACT_DROP: return ActionType::drop;
    case XDPFW_ACT_PASS: return ActionType::pass;
    case XDPFW_ACT_XSK: return ActionType::xsk;
    case XDPFW_ACT_REDIRECT: return ActionType::redirect;
    default: return ActionType::count;
    }
}

std::string rule_where(const Rule& r) { return "rule " + std::to_string(r.id); }

uint32_t resolve_iface(const CompileOptions& opts, const Rule& r, const std::string& key,
                       const std::string& name)
{
    if (!opts.resolve)
        throw PolicyError(rule_where(r), key,
                          "interface '" + name + "' cannot be resolved: no resolver given");
    uint32_t ifindex = 0;
    try {
        ifindex = opts.resolve(name);
    } catch (const PolicyError& e) {
        throw PolicyError(rule_where(r), key,
                          "cannot resolve interface '" + name + "': " +
                              (e.problem().empty() ? e.what() : e.problem()));
    }
    if (ifindex == 0)
        throw PolicyError(rule_where(r), key, "unknown interface '" + name + "'");
    return ifindex;
}

// ---------------------------------------------------------------- scalar fields

// A value range [lo, hi] one rule admits in a scalar field. A rule's spans are
// disjoint (see add_span callers), so entering and leaving can set and clear.
struct Span {
    uint32_t lo, hi, rule;
};

// Fills a table of `slots` entries: slot v gets the bitmap of the rules not
// using the field (base) plus those with a span holding v. A sweep over span
// boundaries interns one bitmap per elementary interval instead of per slot.
std::vector<uint32_t> build_scalar(uint32_t slots, const Bits& base, const std::vector<Span>& spans,
                                   BitmapPool& pool)
{
    struct Event {
        uint32_t pos;
        bool enter; // leaves sort first so adjacent spans of one rule stay set
        uint32_t rule;
        bool operator<(const Event& o) const
        {
            return pos != o.pos ? pos < o.pos : enter < o.enter;
        }
    };
    std::vector<Event> events;
    events.reserve(spans.size() * 2);
    for (const Span& s : spans) {
        uint32_t hi = std::min(s.hi, slots - 1);
        if (s.lo > hi)
            continue;
        events.push_back({s.lo, true, s.rule});
        events.push_back({hi + 1, false, s.rule});
    }
    std::sort(events.begin(), events.end());

    std::vector<uint32_t> table(slots);
    Bits cur = base;
    uint32_t pos = 0;
    size_t e = 0;
    while (pos < slots) {
        uint32_t next = e < events.size() ? std::min(events[e].pos, slots) : slots;
        if (next > pos) {
            std::fill(table.begin() + pos, table.begin() + next, pool.intern(cur));
            pos = next;
        }
        while (e < events.size() && events[e].pos == pos) {
            if (events[e].enter)
                set_bit(cur, events[e].rule);
            else
                clear_bit(cur, events[e].rule);
            ++e;
        }
    }
    return table;
}

// Adds the values 0..255 where pred holds as merged spans.
template <typename Pred> void add_byte_spans(std::vector<Span>& out, uint32_t rule, Pred pred)
{
    for (uint32_t v = 0; v < 256;) {
        if (!pred(v)) {
            ++v;
            continue;
        }
        uint32_t lo = v;
        while (v < 256 && pred(v))
            ++v;
        out.push_back({lo, v - 1, rule});
    }
}

// ---------------------------------------------------------------- addresses

// What one address match refers to: a literal prefix or a named set.
// The identity of an atom: a named set, or a literal prefix. Ordered, so
// atoms get canonical numbers whatever the rule order.
struct AtomKey {
    bool is_set = false;
    std::string set;
    Prefix prefix;
    auto operator<=>(const AtomKey&) const = default;
    bool operator==(const AtomKey&) const = default;
};

// How errors name an atom: "set @x", or "rule 5 (10.0.0.0/8)" after the
// first rule that uses the prefix. Built only when an error is reported (a
// compile of 1,000 literal-prefix rules would spend a fifth of its time
// formatting names nobody reads).
struct AtomLabel {
    AtomKey key;
    uint32_t rule_id = 0; // literal prefixes: the first rule using it
    std::string str() const
    {
        if (key.is_set)
            return "set @" + key.set;
        if (rule_id)
            return "rule " + std::to_string(rule_id) + " (" + key.prefix.str() + ")";
        return "prefix " + key.prefix.str();
    }
};

struct Atom {
    AtomLabel label; // for errors
    Bits rules;      // rules using this atom in this direction
};

uint64_t next_tables_id()
{
    static std::atomic<uint64_t> next{1};
    return next++;
}

// Address classes of one direction: interned sorted atom lists (class 0 = {}).
class ClassBuilder {
public:
    explicit ClassBuilder(uint32_t capacity, const std::string& dir_key)
        : capacity_(capacity), key_(dir_key)
    {
        classes_.push_back({});
        class_index_.emplace(std::vector<uint32_t>{}, 0);
    }

    // Interns a prefix's own atoms (those naming it directly).
    uint32_t own(const std::vector<uint32_t>& atoms)
    {
        auto it = own_index_.find(atoms);
        if (it != own_index_.end())
            return it->second;
        auto id = static_cast<uint32_t>(owns_.size());
        owns_.push_back(atoms);
        own_index_.emplace(atoms, id);
        return id;
    }
    const std::vector<uint32_t>& own_atoms(uint32_t id) const { return owns_[id]; }

    // Class of a prefix whose closest enclosing prefix has class parent.
    uint32_t child(uint32_t parent, uint32_t own_id)
    {
        uint64_t key = (uint64_t{parent} << 32) | own_id;
        auto it = transitions_.find(key);
        if (it != transitions_.end())
            return it->second;
        std::vector<uint32_t> merged;
        const auto& a = classes_[parent];
        const auto& b = owns_[own_id];
        std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(merged));
        uint32_t id;
        auto ci = class_index_.find(merged);
        if (ci != class_index_.end()) {
            id = ci->second;
        } else {
            if (classes_.size() >= capacity_)
                throw CapacityError("policy", key_,
                                  "too many distinct address classes (more than "
                                  "max_addr_classes=" +
                                      std::to_string(capacity_) +
                                      "): the sets and prefixes overlap in too many ways");
            id = static_cast<uint32_t>(classes_.size());
            classes_.push_back(merged);
            class_index_.emplace(std::move(merged), id);
        }
        transitions_.emplace(key, id);
        return id;
    }

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

uint32_t load_v4(const std::array<uint8_t, 16>& a)
{
    return (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
}

uint32_t v4_mask(unsigned len) { return len ? ~uint32_t{0} << (32 - len) : 0; }

// True if prefix (a, alen) contains address b (both IPv6, network order).
bool v6_contains(const std::array<uint8_t, 16>& a, unsigned alen, const std::array<uint8_t, 16>& b)
{
    unsigned full = alen / 8;
    if (!std::equal(a.begin(), a.begin() + full, b.begin()))
        return false;
    unsigned rest = alen % 8;
    if (!rest)
        return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (b[full] & mask) == a[full];
}

std::array<uint8_t, 16> v6_masked(const std::array<uint8_t, 16>& a, unsigned len)
{
    std::array<uint8_t, 16> out{};
    for (unsigned i = 0; i < 16; ++i) {
        if (len >= 8 * (i + 1))
            out[i] = a[i];
        else if (len > 8 * i)
            out[i] = static_cast<uint8_t>(a[i] & (0xff << (8 - (len - 8 * i))));
    }
    return out;
}

// names: by atom id (the ids ClassBuilder's own-atom lists hold).
std::string atom_names(const ClassBuilder& cb, const std::vector<AtomLabel>& names, uint32_t own_id)
{
    std::string s;
    for (uint32_t a : cb.own_atoms(own_id)) {
        if (!s.empty())
            s += ", ";
        s += a < names.size() ? names[a].str() : "atom " + std::to_string(a);
    }
    return s;
}

// One (prefix, atom) pair before distinct prefixes are merged.
struct V4Item {
    uint64_t key; // address << 8 | length: sorts by (address, length)
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

// One distinct IPv4 prefix: key = address << 8 | length, so sorting by key
// sorts by (address, length) and a prefix follows everything containing it.
struct V4Entry {
    uint64_t key;
    uint32_t own; // ClassBuilder own-atoms id
    bool operator<(const V4Entry& o) const { return key < o.key; }
};

uint64_t v4_key(uint32_t addr, unsigned len) { return (uint64_t{addr} << 8) | len; }
uint32_t key_addr(uint64_t key) { return static_cast<uint32_t>(key >> 8); }
unsigned key_len(uint64_t key) { return static_cast<unsigned>(key & 0xff); }

// Sorted (prefix, atom) items -> distinct prefixes with their own atoms.
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

// The DIR-24 contents of /24 blocks [b0, b1) before chunks get their ids:
// CHUNK entries hold indices into `chunks`.
struct PaintedV4 {
    PagedTable tbl24;             // b1 - b0 entries
    std::vector<uint32_t> chunks; // XDPFW_CHUNK_SLOTS per chunk
};

// The pair of host route addr in its bucket, or nullopt.
std::optional<size_t> host_find(const V4Table& t, uint32_t addr)
{
    const size_t b = size_t{xdpfw_host_bucket(addr, t.host_buckets)} * XDPFW_BLOCK_SLOTS;
    for (size_t k = 0; k < XDPFW_HOST_SLOTS; ++k)
        if (t.hosts[b + 2 * k] == addr && (t.hosts[b + 2 * k + 1] & XDPFW_HOST_VALID))
            return b + 2 * k;
    return std::nullopt;
}

// Puts host route addr -> cls in a free pair of its bucket; false if full.
bool host_insert(V4Table& t, uint32_t addr, uint32_t cls)
{
    const size_t b = size_t{xdpfw_host_bucket(addr, t.host_buckets)} * XDPFW_BLOCK_SLOTS;
    for (size_t k = 0; k < XDPFW_HOST_SLOTS; ++k)
        if (!(t.hosts[b + 2 * k + 1] & XDPFW_HOST_VALID)) {
            t.hosts.mut(b + 2 * k) = addr;
            t.hosts.mut(b + 2 * k + 1) = XDPFW_HOST_VALID | cls;
            ++t.n_hosts;
            return true;
        }
    return false;
}

void host_erase(V4Table& t, uint32_t addr)
{
    if (auto at = host_find(t, addr)) {
        t.hosts.mut(*at) = 0;
        t.hosts.mut(*at + 1) = 0;
        --t.n_hosts;
    }
}

// Buckets for a host table of n routes: a power of two, at least n / 2 (a
// quarter of the slots in use), within the map's room; 0 for none.
uint32_t host_buckets_for(size_t n, const CompileOptions& opts)
{
    if (n == 0)
        return 0;
    const size_t want = std::bit_ceil(n / 2 + 1);
    return static_cast<uint32_t>(std::min<size_t>(want, xdpfw_host_buckets(opts.max_v4_hosts)));
}

// An incremental update that would put more routes than this in a table of
// `buckets` buckets rebuilds it (with more buckets) instead.
size_t host_growth_limit(uint32_t buckets)
{
    return size_t{3} * buckets;
}

// Thrown by an update whose host routes outgrow the table's buckets: the
// caller rebuilds the tables, sized for the new count.
struct HostTableOutgrown {};

void init_hosts(V4Table& t, uint32_t buckets)
{
    t.host_buckets = buckets;
    t.hosts = PagedTable::uniform(size_t{buckets} * XDPFW_BLOCK_SLOTS, 0);
    t.n_hosts = 0;
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
size_t host_candidates(const std::vector<V4Entry>& entries, const CompileOptions& opts)
{
    size_t n = 0;
    for_each_long_block(entries.data(), entries.size(), [&](size_t i, size_t j, bool only_hosts) {
        if (only_hosts && j - i <= opts.host_block_limit)
            n += j - i;
    });
    return n;
}

// Paints blocks [b0, b1) from the prefixes [first, last): sorted, all inside
// the blocks, `outer` the class of the addresses none of them covers. The
// /32s of HOSTS blocks go straight into hosts_of's host table (at most
// opts.max_v4_hosts in all, CapacityError; more than host_limit,
// HostTableOutgrown); chunks into out, at most chunk_room (CapacityError).
void paint_v4(const V4Entry* first, const V4Entry* last, uint32_t b0, uint32_t b1, uint32_t outer,
              ClassBuilder& cb, const std::vector<AtomLabel>& names, const CompileOptions& opts,
              const std::string& key, size_t chunk_room, V4Table& hosts_of, size_t host_limit,
              PaintedV4& out)
{
    // Classes with a stack of enclosing prefixes: whatever left the stack
    // contains none of the rest.
    const size_t n = size_t(last - first);
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

    // Blocks: each written once. Prefixes up to /24 are disjoint or nested;
    // `open` holds the open ones with their end block. Appending touches each
    // entry once (no zero-fill first).
    out.tbl24 = PagedTable();
    out.chunks.clear();
    struct Open {
        uint32_t end, cls;
    };
    std::vector<Open> open;
    uint32_t pos = b0;
    auto fill = [&](uint32_t to, uint32_t c) {
        if (to > pos) {
            out.tbl24.append(to - pos, (XDPFW_TBL24_LEAF << XDPFW_TBL24_KIND_SHIFT) | c);
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

    // Blocks holding longer prefixes: up to host_block_limit /32s go to the
    // host table (unless a bucket is full), anything else is a 256-entry
    // chunk painted in sorted order (inner prefixes last).
    size_t overflowed = 0; // blocks of hosts made chunks: full buckets
    for_each_long_block(first, n, [&](size_t i, size_t j, bool only_hosts) {
        const uint32_t block = key_addr(first[i].key) >> 8;
        uint32_t& entry = out.tbl24.mut(block - b0);
        const uint32_t base = entry & XDPFW_TBL24_VALUE_MASK;
        bool in_hosts = false;
        if (only_hosts && j - i <= opts.host_block_limit) {
            if (hosts_of.n_hosts + (j - i) > opts.max_v4_hosts)
                throw CapacityError(atom_names(cb, names, first[i].own), key,
                                    "more than max_v4_hosts=" + std::to_string(opts.max_v4_hosts) +
                                        " IPv4 host routes (/32) in /24 blocks of host routes");
            if (hosts_of.n_hosts + (j - i) > host_limit)
                throw HostTableOutgrown{};
            size_t k = i;
            while (k < j && host_insert(hosts_of, key_addr(first[k].key), cls[k]))
                ++k;
            in_hosts = k == j;
            if (in_hosts) {
                entry = (XDPFW_TBL24_HOSTS << XDPFW_TBL24_KIND_SHIFT) | base;
            } else { // a full bucket: take back this block's hosts
                while (k-- > i)
                    host_erase(hosts_of, key_addr(first[k].key));
                ++overflowed;
            }
        }
        if (!in_hosts) {
            const size_t c = out.chunks.size() / XDPFW_CHUNK_SLOTS;
            if (c >= chunk_room)
                throw CapacityError(
                    atom_names(cb, names, first[i].own), key,
                    "more than max_v4_chunks=" + std::to_string(opts.max_v4_chunks) +
                        " IPv4 /24 blocks hold prefixes longer than /24" +
                        (overflowed ? " (" + std::to_string(overflowed) +
                                          " of them blocks of host routes whose host-table "
                                          "bucket was full)"
                                    : std::string()));
            out.chunks.resize(out.chunks.size() + XDPFW_CHUNK_SLOTS, base);
            auto chunk = out.chunks.begin() + ptrdiff_t(c * XDPFW_CHUNK_SLOTS);
            for (size_t k = i; k < j; ++k) {
                uint32_t lo = key_addr(first[k].key) & 0xff;
                uint32_t cnt = uint32_t{1} << (32 - key_len(first[k].key));
                std::fill(chunk + lo, chunk + lo + cnt, cls[k]);
            }
            entry = (XDPFW_TBL24_CHUNK << XDPFW_TBL24_KIND_SHIFT) | uint32_t(c);
        }
    });
}

// The whole table from scratch. No IPv4 prefix: an empty table (every
// address is class 0, V4Table::lookup).
void build_v4(const std::vector<V4Entry>& entries, ClassBuilder& cb,
              const std::vector<AtomLabel>& names, const CompileOptions& opts,
              const std::string& key, V4Table& out)
{
    out = V4Table{};
    if (entries.empty())
        return;
    PaintedV4 p;
    init_hosts(out, host_buckets_for(host_candidates(entries, opts), opts));
    paint_v4(entries.data(), entries.data() + entries.size(), 0, XDPFW_TBL24_SLOTS, 0, cb, names,
             opts, key, opts.max_v4_chunks, out, SIZE_MAX, p);
    out.tbl24 = std::move(p.tbl24);
    out.chunks = PagedTable(p.chunks);
}

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

// Applies changes to a table built from `entries`: the prefixes change, and
// only the /24 blocks under a changed prefix are painted again (chunk ids are
// freed and reused, host routes taken out of the host table and put back). Writes go through PagedTable::mut, so the
// pages of `table` the previous compile shared are copied, not changed.
// Throws CapacityError when the tables' room runs out (the caller then
// rebuilds from scratch, which reports the real shortage), HostTableOutgrown
// when the host routes need more buckets (the rebuild sizes them).
void update_v4(std::vector<V4Entry>& entries, std::vector<V4Change> changes, ClassBuilder& cb,
               const std::vector<AtomLabel>& names, const CompileOptions& opts,
               const std::string& key, V4Table& table, std::vector<uint32_t>& free_chunks)
{
    std::sort(changes.begin(), changes.end());
    // New own-atom lists of the changed prefixes, merged into the entries.
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
    std::vector<V4Entry> merged;
    merged.reserve(entries.size() + changed.size());
    size_t a = 0;
    for (const V4Entry& c : changed) {
        for (; a < entries.size() && entries[a].key < c.key; ++a)
            merged.push_back(entries[a]);
        if (a < entries.size() && entries[a].key == c.key)
            ++a;
        if (c.own != UINT32_MAX)
            merged.push_back(c);
    }
    merged.insert(merged.end(), entries.begin() + ptrdiff_t(a), entries.end());

    // Ranges to paint again: each changed prefix up to /24, or the /24 block
    // of a longer one; nested ranges are covered by the outermost.
    std::vector<uint64_t> ranges;
    for (const V4Entry& c : changed) {
        unsigned len = std::min(key_len(c.key), 24u);
        ranges.push_back(v4_key(key_addr(c.key) & v4_mask(len), len));
    }
    std::sort(ranges.begin(), ranges.end());
    ranges.erase(std::unique(ranges.begin(), ranges.end()), ranges.end());

    if (table.tbl24.empty()) {
        table.tbl24 = PagedTable::uniform(XDPFW_TBL24_SLOTS, 0);
        init_hosts(table, 0);
    }
    PaintedV4 p;
    uint64_t covered_end = 0; // first address after the last range painted
    for (uint64_t r : ranges) {
        const uint32_t addr = key_addr(r);
        const unsigned len = key_len(r);
        if (addr < covered_end)
            continue; // inside a range painted already
        const uint64_t span = uint64_t{1} << (32 - len);
        covered_end = addr + span;
        const uint32_t b0 = addr >> 8;
        const auto b1 = static_cast<uint32_t>(b0 + (span >> 8));

        // Free what the blocks held. A HOSTS block's routes are the /32s
        // the old prefix list has in it.
        for (uint32_t b = b0; b < b1; ++b) {
            const uint32_t e = table.tbl24[b];
            const uint32_t kind = e >> XDPFW_TBL24_KIND_SHIFT;
            if (kind == XDPFW_TBL24_CHUNK) {
                free_chunks.push_back(e & XDPFW_TBL24_VALUE_MASK);
            } else if (kind == XDPFW_TBL24_HOSTS) {
                auto it = std::lower_bound(entries.begin(), entries.end(), V4Entry{v4_key(b << 8, 0), 0});
                for (; it != entries.end() && key_addr(it->key) >> 8 == b; ++it)
                    if (key_len(it->key) == 32)
                        host_erase(table, key_addr(it->key));
            }
        }
        // The class outside the range's own prefixes: its enclosing prefixes.
        uint32_t outer = 0;
        for (unsigned l = 0; l < len; ++l) {
            uint64_t k = v4_key(addr & v4_mask(l), l);
            auto it = std::lower_bound(merged.begin(), merged.end(), V4Entry{k, 0});
            if (it != merged.end() && it->key == k)
                outer = cb.child(outer, it->own);
        }
        auto lo = std::lower_bound(merged.begin(), merged.end(), V4Entry{r, 0});
        auto hi = std::upper_bound(merged.begin(), merged.end(),
                                   V4Entry{v4_key(uint32_t(covered_end - 1), 32), 0});
        const size_t n_chunks = table.chunks.size() / XDPFW_CHUNK_SLOTS;
        paint_v4(&*lo, &*lo + (hi - lo), b0, b1, outer, cb, names, opts, key,
                 free_chunks.size() + (opts.max_v4_chunks - std::min<size_t>(n_chunks, opts.max_v4_chunks)),
                 table, host_growth_limit(table.host_buckets), p);

        // Give the range's chunks ids, then write it.
        auto take = [](std::vector<uint32_t>& free, PagedTable& t, size_t slots) {
            if (!free.empty()) {
                uint32_t id = free.back();
                free.pop_back();
                return id;
            }
            auto id = static_cast<uint32_t>(t.size() / slots);
            t.resize(t.size() + slots, 0);
            return id;
        };
        for (uint32_t i = 0; i < b1 - b0; ++i) {
            uint32_t e = p.tbl24[i];
            const uint32_t kind = e >> XDPFW_TBL24_KIND_SHIFT;
            const uint32_t local = e & XDPFW_TBL24_VALUE_MASK;
            if (kind == XDPFW_TBL24_CHUNK) {
                uint32_t id = take(free_chunks, table.chunks, XDPFW_CHUNK_SLOTS);
                for (uint32_t k = 0; k < XDPFW_CHUNK_SLOTS; ++k)
                    table.chunks.mut(size_t{id} * XDPFW_CHUNK_SLOTS + k) =
                        p.chunks[size_t{local} * XDPFW_CHUNK_SLOTS + k];
                e = (kind << XDPFW_TBL24_KIND_SHIFT) | id;
            }
            if (table.tbl24[b0 + i] != e)
                table.tbl24.mut(b0 + i) = e;
        }
    }
    entries = std::move(merged);
}

void build_v6(std::vector<V6Item>& items, ClassBuilder& cb, const std::vector<AtomLabel>& names,
              const CompileOptions& opts, const std::string& key, V6Table& out)
{
    std::sort(items.begin(), items.end());
    struct Open {
        std::array<uint8_t, 16> addr;
        uint8_t len;
        uint32_t cls;
    };
    std::vector<Open> stack;
    std::vector<uint32_t> own_atoms;
    size_t n = 0;
    out.by_len.clear();
    for (size_t i = 0; i < items.size();) {
        size_t j = i;
        own_atoms.clear();
        for (; j < items.size() && items[j].addr == items[i].addr && items[j].len == items[i].len;
             ++j)
            if (own_atoms.empty() || own_atoms.back() != items[j].atom)
                own_atoms.push_back(items[j].atom);
        const auto& addr = items[i].addr;
        while (!stack.empty() && !v6_contains(stack.back().addr, stack.back().len, addr))
            stack.pop_back();
        uint32_t own = cb.own(own_atoms);
        if (++n > opts.max_v6_prefixes)
            throw CapacityError(atom_names(cb, names, own), key,
                              "more than max_v6_prefixes=" + std::to_string(opts.max_v6_prefixes) +
                                  " distinct IPv6 prefixes");
        uint32_t cls = cb.child(stack.empty() ? 0 : stack.back().cls, own);
        auto& level = out.by_len[items[i].len];
        level.emplace_hint(level.end(), addr, cls);
        stack.push_back({addr, items[i].len, cls});
        i = j;
    }
}

void check_options(const CompileOptions& o)
{
    auto bad = [](const std::string& key, const std::string& problem) {
        return PolicyError("compile options", key, problem);
    };
    if (o.max_rules == 0 || o.max_rules % 64 || o.max_rules > XDPFW_MAX_RULES)
        throw bad("max_rules", "must be a non-zero multiple of 64 up to " +
                                   std::to_string(XDPFW_MAX_RULES) + ", got " +
                                   std::to_string(o.max_rules));
    if (o.max_bitmaps == 0)
        throw bad("max_bitmaps", "must be at least 1");
    if (o.max_addr_classes == 0 || o.max_addr_classes > XDPFW_TBL24_VALUE_MASK + 1)
        throw bad("max_addr_classes", "must be 1.." + std::to_string(XDPFW_TBL24_VALUE_MASK + 1));
    if (o.max_v4_chunks > XDPFW_TBL24_VALUE_MASK + 1)
        throw bad("max_v4_chunks", "must be at most " + std::to_string(XDPFW_TBL24_VALUE_MASK + 1));
    if (o.host_block_limit > XDPFW_HOST_BLOCK_MAX)
        throw bad("host_block_limit", "must be at most " + std::to_string(XDPFW_HOST_BLOCK_MAX) +
                                          " (the addresses of a /24)");
    if (o.max_v4_hosts > XDPFW_MAX_V4_HOSTS)
        throw bad("max_v4_hosts", "must be at most " + std::to_string(XDPFW_MAX_V4_HOSTS));
}

} // namespace

struct CompileCache {
    // Per direction: the inputs of the last compile and its tables, plus what
    // an incremental update needs: atom ids that stay put from compile to
    // compile (address classes are lists of them), the class builder, the
    // distinct IPv4 prefixes, and the chunk ids freed for reuse.
    struct Dir {
        uint64_t tables_id = 0; // 0: nothing valid (never built, or a build failed)
        std::vector<AtomKey> keys;
        std::vector<std::vector<Prefix>> set_contents; // per set atom, in key order
        std::array<uint32_t, 5> limits{};
        std::shared_ptr<const V4Table> v4;
        std::shared_ptr<const V6Table> v6;
        std::map<AtomKey, uint32_t> atom_id;
        std::vector<AtomLabel> names; // by atom id, for errors
        std::shared_ptr<ClassBuilder> cb;
        std::vector<V4Entry> v4_entries;
        std::vector<uint32_t> free_chunks;

        static std::array<uint32_t, 5> limits_of(const CompileOptions& o)
        {
            return {o.max_addr_classes, o.max_v4_chunks, o.max_v4_hosts, o.max_v6_prefixes,
                    o.host_block_limit};
        }
        bool same_inputs(const std::vector<AtomKey>& k, const Policy& p,
                         const CompileOptions& o) const
        {
            if (k != keys || limits_of(o) != limits)
                return false;
            size_t s = 0;
            for (const AtomKey& a : k) {
                if (!a.is_set)
                    continue;
                const auto& now = p.sets.at(a.set).prefixes;
                const auto& then = set_contents[s++];
                // Prefix is 18 bytes of plain data: compare as memory.
                if (now.size() != then.size() ||
                    (!now.empty() &&
                     std::memcmp(now.data(), then.data(), now.size() * sizeof(Prefix)) != 0))
                    return false;
            }
            return true;
        }
        void remember(const std::vector<AtomKey>& k, const Policy& p, const CompileOptions& o)
        {
            keys = k;
            set_contents.clear();
            for (const AtomKey& a : k)
                if (a.is_set)
                    set_contents.push_back(p.sets.at(a.set).prefixes);
            limits = limits_of(o);
            tables_id = next_tables_id();
        }
    };
    Dir dir[XDPFW_DIRECTIONS];
};
static_assert(sizeof(Prefix) == 18 && std::has_unique_object_representations_v<Prefix>,
              "CompileCache compares prefix vectors as memory");

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
        return policy.sets.at(k.set).prefixes;
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

// Address tables from scratch; atom ids restart at the atoms' indices.
void rebuild_tables(CompileCache::Dir& st, const std::vector<AtomKey>& keys,
                    const std::vector<Atom>& atoms, const Policy& policy,
                    const CompileOptions& opts, const std::string& key)
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
    st.cb = std::make_shared<ClassBuilder>(opts.max_addr_classes, key);
    std::vector<V4Item> v4;
    std::vector<Prefix> one;
    for (uint32_t a = 0; a < keys.size(); ++a)
        for (const Prefix& p : atom_prefixes(keys[a], policy, one))
            split_prefix(p, atoms[a].label, key, [&](uint64_t k) { v4.push_back({k, a}); },
                         [](const std::array<uint8_t, 16>&, unsigned) {});
    st.v4_entries = v4_entries(v4, *st.cb);
    auto v4t = std::make_shared<V4Table>();
    build_v4(st.v4_entries, *st.cb, st.names, opts, key, *v4t);
    std::vector<V6Item> v6 = v6_items(keys, ids, atoms, policy, key);
    auto v6t = std::make_shared<V6Table>();
    build_v6(v6, *st.cb, st.names, opts, key, *v6t);
    st.v4 = std::move(v4t);
    st.v6 = std::move(v6t);
    st.free_chunks.clear();
}

// Updates the tables of the last compile for the atoms and set contents that
// changed. False when the change is too large to be worth it (the caller
// rebuilds). CapacityError when the tables as kept have no room (dead
// classes, fragmented ids): the caller rebuilds too. The cache changes only
// on success, apart from append-only parts (atom ids, interned classes).
bool update_tables(CompileCache::Dir& st, const std::vector<AtomKey>& keys,
                   const std::vector<Atom>& atoms, const Policy& policy,
                   const CompileOptions& opts, const std::string& key)
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
    const size_t limit = std::max<size_t>(4096, st.v4_entries.size() / 4);
    std::vector<V4Change> v4;
    bool v6_changed = false;
    size_t n_changes = 0;
    auto change = [&](const Prefix& p, uint32_t atom, bool add, const AtomLabel& name) {
        split_prefix(p, name, key, [&](uint64_t k) { v4.push_back({k, atom, add}); },
                     [&](const std::array<uint8_t, 16>&, unsigned) { v6_changed = true; });
        return ++n_changes <= limit;
    };
    // Old and new atoms are both sorted by key: walk them side by side.
    std::vector<Prefix> one;
    size_t i = 0, j = 0, old_set = 0;
    while (i < st.keys.size() || j < keys.size()) {
        const bool old_only = j == keys.size() || (i < st.keys.size() && st.keys[i] < keys[j]);
        const bool new_only = i == st.keys.size() || (j < keys.size() && keys[j] < st.keys[i]);
        if (old_only) {
            const AtomKey& k = st.keys[i++];
            const uint32_t id = st.atom_id.at(k);
            const auto& was = k.is_set ? st.set_contents[old_set++] : (one.assign(1, k.prefix), one);
            for (const Prefix& p : was)
                if (!change(p, id, false, st.names[id]))
                    return false;
        } else if (new_only) {
            for (const Prefix& p : atom_prefixes(keys[j], policy, one))
                if (!change(p, ids[j], true, atoms[j].label))
                    return false;
            ++j;
        } else {
            if (keys[j].is_set) {
                const auto& was = st.set_contents[old_set++];
                const auto& now = policy.sets.at(keys[j].set).prefixes;
                std::vector<Prefix> diff;
                std::set_difference(was.begin(), was.end(), now.begin(), now.end(),
                                    std::back_inserter(diff));
                for (const Prefix& p : diff)
                    if (!change(p, ids[j], false, atoms[j].label))
                        return false;
                diff.clear();
                std::set_difference(now.begin(), now.end(), was.begin(), was.end(),
                                    std::back_inserter(diff));
                for (const Prefix& p : diff)
                    if (!change(p, ids[j], true, atoms[j].label))
                        return false;
            }
            ++i;
            ++j;
        }
    }

    std::vector<V4Entry> entries = st.v4_entries;
    std::vector<uint32_t> free_chunks = st.free_chunks;
    std::shared_ptr<const V4Table> v4t = st.v4;
    if (!v4.empty()) {
        auto t = std::make_shared<V4Table>(*st.v4); // shares every page
        update_v4(entries, std::move(v4), *st.cb, st.names, opts, key, *t, free_chunks);
        v4t = std::move(t);
    }
    std::shared_ptr<const V6Table> v6t = st.v6;
    if (v6_changed) {
        std::vector<V6Item> items = v6_items(keys, ids, atoms, policy, key);
        auto t = std::make_shared<V6Table>();
        build_v6(items, *st.cb, st.names, opts, key, *t);
        v6t = std::move(t);
    }
    st.v4_entries = std::move(entries);
    st.free_chunks = std::move(free_chunks);
    st.v4 = std::move(v4t);
    st.v6 = std::move(v6t);
    return true;
}

} // namespace

std::shared_ptr<CompileCache> make_compile_cache()
{
    return std::make_shared<CompileCache>();
}

PagedTable::PagedTable(const std::vector<uint32_t>& flat) : size_(flat.size())
{
    std::unordered_map<uint32_t, std::shared_ptr<Page>> uniform;
    pages_.reserve((flat.size() + page_slots - 1) / page_slots);
    for (size_t at = 0; at < flat.size(); at += page_slots) {
        const size_t n = std::min(page_slots, flat.size() - at);
        const uint32_t first = flat[at];
        const bool same = n == page_slots &&
                          std::all_of(flat.begin() + at, flat.begin() + at + n,
                                      [first](uint32_t v) { return v == first; });
        if (same) {
            auto& page = uniform[first];
            if (!page) {
                page = std::make_shared<Page>();
                page->fill(first);
            }
            pages_.push_back(page);
            continue;
        }
        auto page = std::make_shared<Page>();
        std::copy_n(flat.begin() + at, n, page->begin());
        std::fill(page->begin() + n, page->end(), 0);
        pages_.push_back(std::move(page));
    }
}

PagedTable PagedTable::uniform(size_t n, uint32_t value)
{
    PagedTable t;
    auto page = std::make_shared<Page>();
    page->fill(value);
    t.pages_.assign((n + page_slots - 1) / page_slots, page);
    t.size_ = n;
    return t;
}

uint32_t& PagedTable::mut(size_t i)
{
    auto& page = pages_[i / page_slots];
    if (page.use_count() > 1)
        page = std::make_shared<Page>(*page);
    return (*page)[i % page_slots];
}

void PagedTable::resize(size_t n, uint32_t fill)
{
    size_t old = size_;
    pages_.resize((n + page_slots - 1) / page_slots);
    for (auto& page : pages_)
        if (!page)
            page = std::make_shared<Page>();
    size_ = n;
    for (size_t i = old; i < n; ++i)
        mut(i) = fill;
}

void PagedTable::append(size_t n, uint32_t v)
{
    while (n) {
        const size_t off = size_ % page_slots;
        if (off == 0 && n >= page_slots) {
            auto& page = uniform_[v];
            if (!page) {
                page = std::make_shared<Page>();
                page->fill(v);
            }
            const size_t k = n / page_slots;
            pages_.insert(pages_.end(), k, page);
            size_ += k * page_slots;
            n -= k * page_slots;
            continue;
        }
        if (off == 0)
            pages_.push_back(std::make_shared<Page>());
        else if (pages_.back().use_count() > 1)
            pages_.back() = std::make_shared<Page>(*pages_.back());
        const size_t m = std::min(n, page_slots - off);
        std::fill_n(pages_.back()->begin() + ptrdiff_t(off), m, v);
        size_ += m;
        n -= m;
    }
}

std::vector<uint32_t> PagedTable::flat() const
{
    std::vector<uint32_t> out;
    out.reserve(size_);
    for (size_t at = 0; at < size_; at += page_slots) {
        const Page& page = *pages_[at / page_slots];
        out.insert(out.end(), page.begin(), page.begin() + std::min(page_slots, size_ - at));
    }
    return out;
}

uint32_t V4Table::lookup(uint32_t addr) const
{
    if (tbl24.empty())
        return 0;
    uint32_t e = tbl24[addr >> 8];
    uint32_t value = e & XDPFW_TBL24_VALUE_MASK;
    switch (e >> XDPFW_TBL24_KIND_SHIFT) {
    case XDPFW_TBL24_CHUNK: return chunks[size_t{value} * XDPFW_CHUNK_SLOTS + (addr & 0xff)];
    case XDPFW_TBL24_HOSTS: {
        const auto at = host_find(*this, addr);
        return at ? hosts[*at + 1] & XDPFW_TBL24_VALUE_MASK : value;
    }
    default: return value;
    }
}

size_t V6Table::size() const
{
    size_t n = 0;
    for (const auto& [len, m] : by_len)
        n += m.size();
    return n;
}

uint32_t V6Table::lookup(const std::array<uint8_t, 16>& addr) const
{
    for (const auto& [len, m] : by_len) {
        auto it = m.find(v6_masked(addr, len));
        if (it != m.end())
            return it->second;
    }
    return 0;
}

CompiledPolicy compile(const Policy& policy, const CompileOptions& opts)
{
    check_options(opts);
    CompiledPolicy out;
    std::vector<Rule> rules = policy.evaluation_order();
    if (rules.size() > opts.max_rules)
        throw CapacityError("policy", "", std::to_string(rules.size()) + " rules exceed max_rules=" +
                                            std::to_string(opts.max_rules));
    auto terminal_code = [](ActionType a, const std::string& what) {
        if (a != ActionType::drop && a != ActionType::pass)
            throw PolicyError("policy", what,
                              std::string("must be drop or pass, not ") + action_name(a));
        return action_code(a);
    };
    out.default_action = terminal_code(policy.default_action, "default_action");
    out.malformed_action = terminal_code(policy.malformed_action, "malformed_action");

    const auto n = static_cast<uint32_t>(rules.size());
    out.n_rules = n;
    out.n_words = (n + 63) / 64;
    out.n_summary = (out.n_words + 63) / 64;

    std::unordered_set<uint32_t> ids;
    out.rules.reserve(n);
    for (const Rule& r : rules) {
        if (r.id == 0 || r.id >= opts.max_rules)
            throw PolicyError(rule_where(r), "id",
                              "rule ids must be 1.." + std::to_string(opts.max_rules - 1) +
                                  " (they index the rule counters; max_rules=" +
                                  std::to_string(opts.max_rules) + ")");
        if (!ids.insert(r.id).second)
            throw PolicyError(rule_where(r), "id", "duplicate rule id");
        CompiledRule cr;
        cr.rule_id = r.id;
        cr.counter_slot = r.id;
        cr.action = action_code(r.action.type);
        if (r.action.type == ActionType::redirect)
            cr.redirect_ifindex = resolve_iface(opts, r, "action", r.action.redirect_iface);
        if (r.action.type == ActionType::xsk) {
            if (r.action.xsk_fallback != ActionType::pass &&
                r.action.xsk_fallback != ActionType::drop)
                throw PolicyError(rule_where(r), "fallback", "xsk fallback must be pass or drop");
            cr.xsk_fallback = action_code(r.action.xsk_fallback);
        }
        out.rules.push_back(cr);
    }

    BitmapPool pool(out.bitmaps, opts.max_bitmaps);
    const Bits empty(out.n_words, 0);
    Bits all = empty;
    for (uint32_t i = 0; i < n; ++i)
        set_bit(all, i);
    out.all_bitmap = pool.intern(all);

    // Bitmap of the rules that do not use a field: they admit every value.
    auto base_without = [&](auto uses) {
        Bits b = empty;
        for (uint32_t i = 0; i < n; ++i)
            if (!uses(rules[i].match))
                set_bit(b, i);
        return b;
    };
    auto use = [&](xdpfw_field f) { out.used_fields |= static_cast<uint16_t>(1u << f); };

    // Ingress interface.
    {
        Bits base = base_without([](const Match& m) { return m.iif.has_value(); });
        std::map<uint32_t, Bits> per_if;
        for (uint32_t i = 0; i < n; ++i) {
            const Match& m = rules[i].match;
            if (!m.iif)
                continue;
            use(XDPFW_FIELD_IFINDEX);
            uint32_t ifx = resolve_iface(opts, rules[i], "iif", *m.iif);
            set_bit(per_if.try_emplace(ifx, base).first->second, i);
        }
        for (const auto& [ifx, bits] : per_if)
            out.ifindex.emplace(ifx, pool.intern(bits));
        out.ifindex_default = pool.intern(base);
    }

    // VLAN: one value per rule; untagged frames (NONE) match no vlan= rule.
    {
        std::vector<Span> spans;
        for (uint32_t i = 0; i < n; ++i)
            if (const auto& v = rules[i].match.vlan) {
                use(XDPFW_FIELD_VLAN);
                if (*v < XDPFW_VLAN_NONE)
                    spans.push_back({*v, *v, i});
            }
        out.vlan = build_scalar(XDPFW_VLAN_SLOTS,
                                base_without([](const Match& m) { return m.vlan.has_value(); }),
                                spans, pool);
    }

    // Family and protocol: index family * 256 + proto; non-IP packets use
    // index 0 and carry no protocol, so a proto= rule never admits them.
    {
        auto uses = [](const Match& m) { return m.family.has_value() || m.proto.has_value(); };
        std::vector<Span> spans;
        for (uint32_t i = 0; i < n; ++i) {
            const Match& m = rules[i].match;
            if (!uses(m))
                continue;
            use(XDPFW_FIELD_PROTO);
            for (uint32_t f : {XDPFW_FAMILY_OTHER, XDPFW_FAMILY_IPV4, XDPFW_FAMILY_IPV6}) {
                if (m.family && static_cast<uint32_t>(*m.family) != f)
                    continue;
                if (f == XDPFW_FAMILY_OTHER) {
                    // Only an explicit family=other admits non-IP packets.
                    if (m.family && !m.proto)
                        spans.push_back({0, 0, i});
                } else if (m.proto) {
                    spans.push_back({f * 256 + *m.proto, f * 256 + *m.proto, i});
                } else {
                    spans.push_back({f * 256, f * 256 + 255, i});
                }
            }
        }
        out.proto = build_scalar(XDPFW_PROTO_SLOTS, base_without(uses), spans, pool);
    }

    // Ports: the packet's value is XDPFW_PORT_NONE unless TCP or UDP with an
    // L4 header, so a port rule implicitly requires TCP or UDP.
    auto port_table = [&](std::optional<PortRange> Match::*field, xdpfw_field f) {
        std::vector<Span> spans;
        for (uint32_t i = 0; i < n; ++i)
            if (const auto& r = rules[i].match.*field) {
                use(f);
                spans.push_back({r->lo, std::min<uint32_t>(r->hi, XDPFW_PORT_NONE - 1), i});
            }
        return build_scalar(XDPFW_PORT_SLOTS,
                            base_without([&](const Match& m) { return (m.*field).has_value(); }),
                            spans, pool);
    };
    out.sport = port_table(&Match::sport, XDPFW_FIELD_SPORT);
    out.dport = port_table(&Match::dport, XDPFW_FIELD_DPORT);

    // TCP flags: (flags & mask) == value over the 256 flag bytes; NONE (not
    // TCP, or no L4 header) matches no flags rule.
    {
        std::vector<Span> spans;
        for (uint32_t i = 0; i < n; ++i)
            if (const auto& t = rules[i].match.tcp_flags) {
                use(XDPFW_FIELD_TCP_FLAGS);
                TcpFlagsMatch fm = *t;
                add_byte_spans(spans, i, [fm](uint32_t v) { return (v & fm.mask) == fm.value; });
            }
        out.tcp_flags = build_scalar(
            XDPFW_FLAGS_SLOTS,
            base_without([](const Match& m) { return m.tcp_flags.has_value(); }), spans, pool);
    }

    // ICMP: index type << 8 | code; a type without code admits every code.
    {
        auto uses = [](const Match& m) { return m.icmp_type.has_value() || m.icmp_code.has_value(); };
        std::vector<Span> spans;
        for (uint32_t i = 0; i < n; ++i) {
            const Match& m = rules[i].match;
            if (!uses(m))
                continue;
            use(XDPFW_FIELD_ICMP);
            if (m.icmp_type && m.icmp_code) {
                uint32_t v = (uint32_t{*m.icmp_type} << 8) | *m.icmp_code;
                spans.push_back({v, v, i});
            } else if (m.icmp_type) {
                uint32_t t = uint32_t{*m.icmp_type} << 8;
                spans.push_back({t, t | 0xff, i});
            } else {
                for (uint32_t t = 0; t < 256; ++t)
                    spans.push_back({(t << 8) | *m.icmp_code, (t << 8) | *m.icmp_code, i});
            }
        }
        out.icmp = build_scalar(XDPFW_ICMP_SLOTS, base_without(uses), spans, pool);
    }

    // Addresses, per direction. Atoms (literal prefixes and named sets) are
    // numbered in a canonical order, so the address tables depend only on the
    // atoms and the sets' contents: when those did not change since the last
    // compile with the same cache, the tables are reused and only the class
    // bitmaps (which depend on the rules) are rebuilt.
    for (unsigned d = 0; d < XDPFW_DIRECTIONS; ++d) {
        const std::string key = d ? "dst" : "src";
        auto field = d ? &Match::dst : &Match::src;
        std::map<AtomKey, uint32_t> atom_ids;
        for (uint32_t i = 0; i < n; ++i) {
            const auto& am = rules[i].match.*field;
            if (!am)
                continue;
            use(d ? XDPFW_FIELD_DST : XDPFW_FIELD_SRC);
            AtomKey k{am->is_set(), am->is_set() ? am->set_name() : std::string(),
                      am->is_set() ? Prefix{} : am->prefix()};
            if (k.is_set && !policy.sets.count(k.set))
                throw PolicyError(rule_where(rules[i]), key, "unknown set @" + k.set);
            auto [it, fresh] = atom_ids.try_emplace(std::move(k), 0);
            (void)it;
            (void)fresh;
        }
        std::vector<Atom> atoms;
        std::vector<AtomKey> keys;
        for (auto& [k, id] : atom_ids) {
            id = static_cast<uint32_t>(atoms.size());
            atoms.push_back({AtomLabel{k, 0}, empty});
            keys.push_back(k);
        }
        for (uint32_t i = 0; i < n; ++i) {
            const auto& am = rules[i].match.*field;
            if (!am)
                continue;
            AtomKey k{am->is_set(), am->is_set() ? am->set_name() : std::string(),
                      am->is_set() ? Prefix{} : am->prefix()};
            uint32_t a = atom_ids.at(k);
            set_bit(atoms[a].rules, i);
            if (!k.is_set && !atoms[a].label.rule_id)
                atoms[a].label.rule_id = rules[i].id;
        }

        AddrTables& t = out.addr[d];
        CompileCache::Dir local;
        CompileCache::Dir& st = opts.cache ? opts.cache->dir[d] : local;
        if (!st.tables_id || !st.same_inputs(keys, policy, opts)) {
            bool updated = false;
            if (st.tables_id && st.limits == CompileCache::Dir::limits_of(opts)) {
                st.tables_id = 0; // until the update succeeds
                try {
                    updated = update_tables(st, keys, atoms, policy, opts, key);
                } catch (const CapacityError&) {
                    updated = false; // rebuilt below, which reports a real shortage
                } catch (const HostTableOutgrown&) {
                    updated = false; // rebuilt below with more buckets
                }
            }
            if (!updated)
                rebuild_tables(st, keys, atoms, policy, opts, key);
            st.remember(keys, policy, opts);
        }
        t.v4 = st.v4;
        t.v6 = st.v6;
        t.tables_id = st.tables_id;

        // Atom id -> index of the atom in this compile (absent: no rules).
        std::vector<int64_t> index_of(st.names.size(), -1);
        for (uint32_t a = 0; a < keys.size(); ++a)
            index_of[st.atom_id.at(keys[a])] = a;
        const std::vector<std::vector<uint32_t>>* classes = &st.cb->classes();
        Bits base = base_without([&](const Match& m) { return (m.*field).has_value(); });
        t.class_bitmap.reserve(classes->size());
        for (const auto& cls : *classes) {
            Bits b = base;
            for (uint32_t id : cls)
                if (index_of[id] >= 0)
                    or_into(b, atoms[size_t(index_of[id])].rules);
            t.class_bitmap.push_back(pool.intern(b));
        }
    }
    return out;
}

Verdict CompiledPolicy::evaluate(const PacketFields& pkt) const
{
    Verdict v;
    v.action = action_type(default_action);
    if (n_rules == 0)
        return v;

    Bits acc = bitmaps[all_bitmap];
    auto apply = [&](xdpfw_field f, auto index_of) {
        if (!(used_fields & (1u << f)))
            return;
        const Bits& b = bitmaps[index_of()];
        for (uint32_t w = 0; w < n_words; ++w)
            acc[w] &= b[w];
    };
    const bool v4 = pkt.family == Family::ipv4;
    const bool v6 = pkt.family == Family::ipv6;
    const bool ip = v4 || v6;

    apply(XDPFW_FIELD_IFINDEX, [&] {
        auto it = ifindex.find(pkt.ifindex);
        return it != ifindex.end() ? it->second : ifindex_default;
    });
    apply(XDPFW_FIELD_VLAN, [&] { return vlan[pkt.vlan ? *pkt.vlan : XDPFW_VLAN_NONE]; });
    apply(XDPFW_FIELD_PROTO, [&] {
        return proto[static_cast<uint32_t>(pkt.family) * 256 + (ip ? pkt.proto : 0)];
    });
    for (unsigned d = 0; d < XDPFW_DIRECTIONS; ++d) {
        apply(d ? XDPFW_FIELD_DST : XDPFW_FIELD_SRC, [&] {
            const auto& a = d ? pkt.dst : pkt.src;
            uint32_t cls = 0;
            if (v4)
                cls = addr[d].v4->lookup(load_v4(a));
            else if (v6)
                cls = addr[d].v6->lookup(a);
            return addr[d].class_bitmap[cls];
        });
    }
    const bool ports = ip && pkt.has_l4 && (pkt.proto == 6 || pkt.proto == 17);
    apply(XDPFW_FIELD_SPORT, [&] { return sport[ports ? pkt.sport : XDPFW_PORT_NONE]; });
    apply(XDPFW_FIELD_DPORT, [&] { return dport[ports ? pkt.dport : XDPFW_PORT_NONE]; });
    apply(XDPFW_FIELD_TCP_FLAGS, [&] {
        return tcp_flags[ip && pkt.has_l4 && pkt.proto == 6 ? pkt.tcp_flags : XDPFW_FLAGS_NONE];
    });
    apply(XDPFW_FIELD_ICMP, [&] {
        bool is_icmp = pkt.has_l4 && ((v4 && pkt.proto == 1) || (v6 && pkt.proto == 58));
        return icmp[is_icmp ? (uint32_t{pkt.icmp_type} << 8) | pkt.icmp_code : XDPFW_ICMP_NONE];
    });

    for (uint32_t w = 0; w < n_words; ++w) {
        for (uint64_t bits = acc[w]; bits; bits &= bits - 1) {
            uint32_t i = w * 64 + static_cast<uint32_t>(std::countr_zero(bits));
            const CompiledRule& r = rules[i];
            if (r.action == XDPFW_ACT_COUNT) {
                v.counted.push_back(r.rule_id);
                continue;
            }
            v.action = action_type(r.action);
            v.rule_index = static_cast<int>(i);
            v.rule_id = r.rule_id;
            return v;
        }
    }
    return v;
}

} // namespace xdpfw
