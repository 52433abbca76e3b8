// SPDX-License-Identifier: GPL-2.0-only
// The policy compiler: rules become per-field rule bitmaps, address prefixes become
// DIR-24 / IPv6 tables of address classes, plus the software twin of the BPF walk.
#include "controlplane/compiler.hpp"

#include <atomic>
#include <cstring>
#include <type_traits>

#include <algorithm>
#include <bit>
#include <iterator>
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
struct Atom {
    std::string name; // for errors: "set @x" or "rule 5 (10.0.0.0/8)"
    Bits rules;       // rules using this atom in this direction
};

// The identity of an atom: a named set, or a literal prefix. Ordered, so
// atoms get canonical numbers whatever the rule order.
struct AtomKey {
    bool is_set = false;
    std::string set;
    Prefix prefix;
    auto operator<=>(const AtomKey&) const = default;
    bool operator==(const AtomKey&) const = default;
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

std::string atom_names(const ClassBuilder& cb, const std::vector<Atom>& atoms, uint32_t own_id)
{
    std::string s;
    for (uint32_t a : cb.own_atoms(own_id)) {
        if (!s.empty())
            s += ", ";
        s += atoms[a].name;
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

struct V4Prefix {
    uint32_t addr;
    uint8_t len;
    uint32_t own;
    uint32_t cls;
};

void build_v4(std::vector<V4Item>& items, ClassBuilder& cb, const std::vector<Atom>& atoms,
              const CompileOptions& opts, const std::string& key, V4Table& out)
{
    out.tbl24.clear();
    out.chunks.clear();
    out.sparse.clear();
    if (items.empty())
        return; // no IPv4 prefix: every address is class 0 (V4Table::lookup)
    std::sort(items.begin(), items.end());

    // Merge equal prefixes, then give each its class with a stack of enclosing
    // prefixes: sorted by (address, length), a prefix follows everything that
    // contains it, and whatever left the stack contains none of the rest.
    std::vector<V4Prefix> pfx;
    pfx.reserve(items.size());
    std::vector<uint32_t> own_atoms;
    std::vector<size_t> stack;
    for (size_t i = 0; i < items.size();) {
        size_t j = i;
        own_atoms.clear();
        for (; j < items.size() && items[j].key == items[i].key; ++j)
            if (own_atoms.empty() || own_atoms.back() != items[j].atom)
                own_atoms.push_back(items[j].atom);
        auto addr = static_cast<uint32_t>(items[i].key >> 8);
        auto len = static_cast<uint8_t>(items[i].key & 0xff);
        while (!stack.empty()) {
            const V4Prefix& top = pfx[stack.back()];
            if ((addr & v4_mask(top.len)) == top.addr)
                break;
            stack.pop_back();
        }
        uint32_t own = cb.own(own_atoms);
        uint32_t parent = stack.empty() ? 0 : pfx[stack.back()].cls;
        pfx.push_back({addr, len, own, cb.child(parent, own)});
        stack.push_back(pfx.size() - 1);
        i = j;
    }

    // tbl24: each block written once. Prefixes up to /24 are disjoint or
    // nested; the stack holds the open ones with their end block.
    // Appending touches each of the 64 MiB once (no zero-fill first).
    out.tbl24.clear();
    out.tbl24.reserve(XDPFW_TBL24_SLOTS);
    out.chunks.clear();
    out.sparse.clear();
    struct Open {
        uint32_t end, cls;
    };
    std::vector<Open> open;
    uint32_t pos = 0;
    auto fill = [&](uint32_t to, uint32_t cls) {
        if (to > pos) {
            out.tbl24.insert(out.tbl24.end(), to - pos,
                             (XDPFW_TBL24_LEAF << XDPFW_TBL24_KIND_SHIFT) | cls);
            pos = to;
        }
    };
    for (const V4Prefix& p : pfx) {
        if (p.len > 24)
            continue;
        uint32_t start = p.addr >> 8;
        while (!open.empty() && open.back().end <= start) {
            fill(open.back().end, open.back().cls);
            open.pop_back();
        }
        fill(start, open.empty() ? 0 : open.back().cls);
        open.push_back({start + (uint32_t{1} << (24 - p.len)), p.cls});
    }
    while (!open.empty()) {
        fill(open.back().end, open.back().cls);
        open.pop_back();
    }
    fill(XDPFW_TBL24_SLOTS, 0);

    // Blocks holding longer prefixes: a few /32s go to the host hash, anything
    // else gets a 256-entry chunk painted in sorted order (inner ones last).
    uint32_t n_chunks = 0;
    for (size_t i = 0; i < pfx.size();) {
        if (pfx[i].len <= 24) {
            ++i;
            continue;
        }
        uint32_t block = pfx[i].addr >> 8;
        size_t j = i;
        bool only_hosts = true;
        for (; j < pfx.size() && pfx[j].addr >> 8 == block; ++j)
            only_hosts = only_hosts && pfx[j].len == 32;
        uint32_t base = out.tbl24[block] & XDPFW_TBL24_VALUE_MASK;
        if (only_hosts && j - i <= opts.host_block_limit) {
            const size_t b = out.sparse.size() / XDPFW_BLOCK_SLOTS;
            if (b >= opts.max_v4_sparse)
                throw CapacityError(atom_names(cb, atoms, pfx[i].own), key,
                                  "more than max_v4_sparse=" + std::to_string(opts.max_v4_sparse) +
                                      " IPv4 /24 blocks hold a few host routes (/32)");
            out.sparse.resize(out.sparse.size() + XDPFW_BLOCK_SLOTS, 0);
            uint32_t* blk = &out.sparse[b * XDPFW_BLOCK_SLOTS];
            blk[0] = (uint32_t(j - i) << 24) | base;
            for (size_t k = i; k < j; ++k)
                blk[1 + (k - i)] = ((pfx[k].addr & 0xff) << 24) | pfx[k].cls;
            out.tbl24[block] = (XDPFW_TBL24_SPARSE << XDPFW_TBL24_KIND_SHIFT) | uint32_t(b);
        } else {
            if (n_chunks >= opts.max_v4_chunks)
                throw CapacityError(atom_names(cb, atoms, pfx[i].own), key,
                                  "more than max_v4_chunks=" + std::to_string(opts.max_v4_chunks) +
                                      " IPv4 /24 blocks hold prefixes longer than /24");
            uint32_t c = n_chunks++;
            out.chunks.resize(size_t{n_chunks} * XDPFW_CHUNK_SLOTS, base);
            auto chunk = out.chunks.begin() + size_t{c} * XDPFW_CHUNK_SLOTS;
            for (size_t k = i; k < j; ++k) {
                uint32_t lo = pfx[k].addr & 0xff;
                uint32_t n = uint32_t{1} << (32 - pfx[k].len);
                std::fill(chunk + lo, chunk + lo + n, pfx[k].cls);
            }
            out.tbl24[block] = (XDPFW_TBL24_CHUNK << XDPFW_TBL24_KIND_SHIFT) | c;
        }
        i = j;
    }
}

void build_v6(std::vector<V6Item>& items, ClassBuilder& cb, const std::vector<Atom>& atoms,
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
            throw CapacityError(atom_names(cb, atoms, own), key,
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
    if (o.host_block_limit > XDPFW_SPARSE_MAX_HOSTS)
        throw bad("host_block_limit", "must be at most " + std::to_string(XDPFW_SPARSE_MAX_HOSTS) +
                                          " (host routes in one sparse block)");
    if (o.max_v4_sparse > XDPFW_TBL24_VALUE_MASK + 1)
        throw bad("max_v4_sparse", "must be at most " + std::to_string(XDPFW_TBL24_VALUE_MASK + 1));
    if (o.max_addr_classes > XDPFW_SPARSE_CLASS_MASK + 1)
        throw bad("max_addr_classes", "must be at most " + std::to_string(XDPFW_SPARSE_CLASS_MASK + 1) +
                                          " (classes are 24 bits in sparse blocks)");
}

} // namespace

struct CompileCache {
    struct Dir {
        uint64_t tables_id = 0;
        std::vector<AtomKey> keys;
        std::vector<std::vector<Prefix>> set_contents; // per set atom, in key order
        std::array<uint32_t, 5> limits{};
        std::shared_ptr<const V4Table> v4;
        std::shared_ptr<const V6Table> v6;
        std::vector<std::vector<uint32_t>> classes;

        static std::array<uint32_t, 5> limits_of(const CompileOptions& o)
        {
            return {o.max_addr_classes, o.max_v4_chunks, o.max_v4_sparse, o.max_v6_prefixes,
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
        void remember(const std::vector<AtomKey>& k, const Policy& p, const CompileOptions& o,
                      const AddrTables& t, const std::vector<std::vector<uint32_t>>& c)
        {
            keys = k;
            set_contents.clear();
            for (const AtomKey& a : k)
                if (a.is_set)
                    set_contents.push_back(p.sets.at(a.set).prefixes);
            limits = limits_of(o);
            v4 = t.v4;
            v6 = t.v6;
            classes = c;
            tables_id = t.tables_id;
        }
    };
    Dir dir[XDPFW_DIRECTIONS];
};
static_assert(sizeof(Prefix) == 18 && std::has_unique_object_representations_v<Prefix>,
              "CompileCache compares prefix vectors as memory");

std::shared_ptr<CompileCache> make_compile_cache()
{
    return std::make_shared<CompileCache>();
}

uint32_t V4Table::lookup(uint32_t addr) const
{
    if (tbl24.empty())
        return 0;
    uint32_t e = tbl24[addr >> 8];
    uint32_t value = e & XDPFW_TBL24_VALUE_MASK;
    switch (e >> XDPFW_TBL24_KIND_SHIFT) {
    case XDPFW_TBL24_CHUNK: return chunks[size_t{value} * XDPFW_CHUNK_SLOTS + (addr & 0xff)];
    case XDPFW_TBL24_SPARSE: {
        const uint32_t* blk = &sparse[size_t{value} * XDPFW_BLOCK_SLOTS];
        for (uint32_t i = 1; i <= (blk[0] >> 24); ++i)
            if (blk[i] >> 24 == (addr & 0xff))
                return blk[i] & XDPFW_SPARSE_CLASS_MASK;
        return blk[0] & XDPFW_SPARSE_CLASS_MASK;
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
    std::vector<std::vector<uint32_t>> local_classes[XDPFW_DIRECTIONS];
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
            atoms.push_back({k.is_set ? "set @" + k.set : "prefix " + k.prefix.str(), empty});
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
            if (!k.is_set && atoms[a].name.rfind("prefix ", 0) == 0)
                atoms[a].name = rule_where(rules[i]) + " (" + k.prefix.str() + ")";
        }

        AddrTables& t = out.addr[d];
        CompileCache::Dir* cached = opts.cache ? &opts.cache->dir[d] : nullptr;
        const std::vector<std::vector<uint32_t>>* classes = nullptr;
        if (cached && cached->tables_id && cached->same_inputs(keys, policy, opts)) {
            t.v4 = cached->v4;
            t.v6 = cached->v6;
            t.tables_id = cached->tables_id;
            classes = &cached->classes;
        } else {
            std::vector<V4Item> v4;
            std::vector<V6Item> v6;
            auto add_prefix = [&](const Prefix& p, uint32_t atom) {
                if (p.family == Family::ipv4 && p.len <= 32)
                    v4.push_back({(uint64_t{load_v4(p.addr) & v4_mask(p.len)} << 8) | p.len, atom});
                else if (p.family == Family::ipv6 && p.len <= 128)
                    v6.push_back({v6_masked(p.addr, p.len), p.len, atom});
                else
                    throw PolicyError(atoms[atom].name, key,
                                      "prefix of family " + std::string(family_name(p.family)) +
                                          " with length " + std::to_string(p.len) +
                                          " is not an IPv4 or IPv6 prefix");
            };
            for (uint32_t a = 0; a < keys.size(); ++a) {
                if (keys[a].is_set)
                    for (const Prefix& p : policy.sets.at(keys[a].set).prefixes)
                        add_prefix(p, a);
                else
                    add_prefix(keys[a].prefix, a);
            }
            ClassBuilder cb(opts.max_addr_classes, key);
            auto v4t = std::make_shared<V4Table>();
            auto v6t = std::make_shared<V6Table>();
            build_v4(v4, cb, atoms, opts, key, *v4t);
            build_v6(v6, cb, atoms, opts, key, *v6t);
            t.v4 = std::move(v4t);
            t.v6 = std::move(v6t);
            t.tables_id = next_tables_id();
            if (cached) {
                cached->remember(keys, policy, opts, t, cb.classes());
                classes = &cached->classes;
            } else {
                local_classes[d] = cb.classes();
                classes = &local_classes[d];
            }
        }

        Bits base = base_without([&](const Match& m) { return (m.*field).has_value(); });
        t.class_bitmap.reserve(classes->size());
        for (const auto& cls : *classes) {
            Bits b = base;
            for (uint32_t a : cls)
                or_into(b, atoms[a].rules);
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
