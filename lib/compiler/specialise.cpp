// SPDX-License-Identifier: GPL-2.0-only
// Compiled policy -> struct xdpfw_spec (specialise.hpp).
#include "lib/compiler/specialise.hpp"

#include "lib/base/hash64.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

namespace xdpfw {

namespace {

// A field's table as runs of equal rule words: [lo, hi] -> bits.
struct Run {
    uint32_t lo, hi;
    uint64_t bits;
};

class Reducer {
public:
    explicit Reducer(const CompiledPolicy& p) : p_(p) {}

    uint64_t word(uint32_t bitmap) const
    {
        if (bitmap >= p_.bitmaps.size() || p_.bitmaps[bitmap].empty())
            return 0;
        return p_.bitmaps[bitmap][0];
    }

    // Runs of a direct table (value -> bitmap index); an empty table (the
    // field is not compiled) admits every rule.
    std::vector<Run> runs(const std::vector<uint32_t>& table) const
    {
        std::vector<Run> out;
        // The compiler fills tables in spans of one bitmap index: a span
        // is found with one scan, its word read once (a commit of a small
        // policy spent half its time here reading 200,000 slots' words).
        for (auto it = table.begin(); it != table.end();) {
            const auto end = std::find_if_not(it, table.end(),
                                              [idx = *it](uint32_t b) { return b == idx; });
            const auto lo = static_cast<uint32_t>(it - table.begin());
            const auto hi = static_cast<uint32_t>(end - table.begin() - 1);
            const uint64_t w = word(*it);
            if (!out.empty() && out.back().bits == w && out.back().hi + 1 == lo)
                out.back().hi = hi;
            else
                out.push_back({lo, hi, w});
            it = end;
        }
        if (out.empty())
            out.push_back({0, ~0u, word(p_.all_bitmap)});
        return out;
    }

    // A keyed field (ingress interface, ethertype): the named values, the
    // default elsewhere.
    std::vector<Run> keyed_runs(const std::map<uint32_t, uint32_t>& named, uint32_t dflt) const
    {
        std::vector<Run> out;
        const uint64_t other = word(dflt);
        uint32_t next = 0;
        for (const auto& [ifx, bitmap] : named) {
            if (ifx > next)
                out.push_back({next, ifx - 1, other});
            out.push_back({ifx, ifx, word(bitmap)});
            next = ifx + 1;
            if (ifx == ~0u)
                return out;
        }
        out.push_back({next, ~0u, other});
        return out;
    }

    // The IPv4 table of one direction as runs of equal class words, or
    // false once it has more than `limit` runs (then more than
    // XDPFW_SPEC_MAX_RANGES of them differ from any `other`: two runs of one
    // word are never adjacent). Pages of the DIR-24 table that are one LEAF
    // value throughout (shared pages, most of them) are one run each,
    // checked once per distinct page.
    bool v4_runs(const AddrTables& t, size_t limit, std::vector<Run>& out) const
    {
        out.clear();
        auto cls_word = [&](uint32_t cls) {
            return cls < t.class_bitmap.size() ? word(t.class_bitmap[cls]) : 0;
        };
        auto emit = [&](uint32_t lo, uint32_t hi, uint64_t bits) {
            if (!out.empty() && out.back().bits == bits && out.back().hi + 1 == lo)
                out.back().hi = hi;
            else
                out.push_back({lo, hi, bits});
            return out.size() <= limit;
        };
        const V4Table& v4 = *t.v4;
        if (v4.tbl24.empty())
            return emit(0, ~0u, cls_word(0));
        constexpr size_t slots = PagedTable::page_slots;
        std::map<const PagedTable::Page*, std::optional<uint32_t>> uniform; // page -> its one entry
        const auto& pages = v4.tbl24.pages();
        for (size_t pg = 0; pg < pages.size(); pg++) {
            const PagedTable::Page& page = *pages[pg];
            auto [it, fresh] = uniform.try_emplace(&page);
            if (fresh && page[0] >> XDPFW_TBL24_KIND_SHIFT == XDPFW_TBL24_LEAF &&
                std::all_of(page.begin(), page.end(), [&](uint32_t e) { return e == page[0]; }))
                it->second = page[0];
            const auto b0 = static_cast<uint32_t>(pg * slots);
            if (it->second) {
                if (!emit(b0 << 8, ((b0 + uint32_t{slots}) << 8) - 1,
                          cls_word(*it->second & XDPFW_TBL24_VALUE_MASK)))
                    return false;
                continue;
            }
            for (uint32_t k = 0; k < slots; k++) {
                const uint32_t b = b0 + k, e = page[k];
                if (e >> XDPFW_TBL24_KIND_SHIFT == XDPFW_TBL24_LEAF) {
                    if (!emit(b << 8, (b << 8) | 0xff, cls_word(e & XDPFW_TBL24_VALUE_MASK)))
                        return false;
                    continue;
                }
                for (uint32_t low = 0; low < 256; low++) // a chunk or a HOSTS block
                    if (!emit((b << 8) | low, (b << 8) | low, cls_word(v4.lookup((b << 8) | low))))
                        return false;
            }
        }
        return true;
    }

    // Reduces runs to `other` (the word of the most runs) plus ranges.
    // False when more than XDPFW_SPEC_MAX_RANGES ranges remain.
    static bool reduce(const std::vector<Run>& runs, xdpfw_spec_field& f)
    {
        std::map<uint64_t, size_t> count;
        for (const Run& r : runs)
            count[r.bits]++;
        auto most = count.begin();
        for (auto it = count.begin(); it != count.end(); ++it)
            if (it->second > most->second)
                most = it;
        f = {};
        f.other = most->first;
        for (const Run& r : runs) {
            if (r.bits == f.other)
                continue;
            if (f.n_ranges == XDPFW_SPEC_MAX_RANGES)
                return false;
            f.r[f.n_ranges++] = {r.lo, r.hi - r.lo, r.bits};
        }
        return true;
    }

private:
    const CompiledPolicy& p_;
};

const char* field_name(unsigned f)
{
    static const char* const names[XDPFW_FIELD_COUNT] = {
        "iif", "vlan", "proto", "src", "dst", "sport", "dport", "tcp_flags", "icmp", "ether", "ct"};
    return f < XDPFW_FIELD_COUNT ? names[f] : "?";
}

// The key covers everything a program takes from the spec.
void set_key(xdpfw_spec& s)
{
    const uint64_t key = Hash64().bytes(&s, sizeof(s)).digest();
    s.key = key ? key : 1;
}

// The bitmaps spec (abi.h, xdpfw_spec.bitmaps) of a policy whose rules and
// fields do not fit the one-word spec, or null with why: the generated
// program reads the fields it takes and no others; it takes the rule a
// word's first bit names (so no count rule may come before it) and leaves
// rate limits to the general program.
std::shared_ptr<const xdpfw_spec> bitmaps_spec(const CompiledPolicy& p, std::string& why)
{
    constexpr uint32_t kRead = 1u << XDPFW_FIELD_IFINDEX | 1u << XDPFW_FIELD_VLAN | 1u << XDPFW_FIELD_PROTO |
                               1u << XDPFW_FIELD_SRC | 1u << XDPFW_FIELD_DST | 1u << XDPFW_FIELD_SPORT |
                               1u << XDPFW_FIELD_DPORT | 1u << XDPFW_FIELD_TCP_FLAGS |
                               1u << XDPFW_FIELD_ICMP | 1u << XDPFW_FIELD_ETHER;
    if (p.n_rules == 0 || p.rules.size() != p.n_rules) {
        why = "no rules";
        return nullptr;
    }
    if (p.used_fields & XDPFW_USED_LIMITS) {
        why = "a rule has a rate limit (limit=)";
        return nullptr;
    }
    if (p.used_fields & ((1u << XDPFW_FIELD_COUNT) - 1) & ~kRead) {
        why = "a rule matches connection state (ct=)";
        return nullptr;
    }
    for (const xdpfw_rule& r : p.rules)
        if (r.action == XDPFW_ACT_COUNT) {
            why = fmt::format("rule {} counts (action=count)", r.rule_id);
            return nullptr;
        }
    auto s = std::make_shared<xdpfw_spec>();
    s->bitmaps = 1;
    s->n_rules = p.n_rules;
    xdpfw_spec_bitmaps& bm = s->bm;
    bm.n_words = p.n_words;
    bm.n_summary = p.n_summary;
    bm.stride = xdpfw_bitmap_stride(p.n_summary, p.n_words);
    bm.used_fields = p.used_fields & ((1u << XDPFW_FIELD_COUNT) - 1);
    bm.all_bitmap = p.bitmap_ref(p.all_bitmap);
    bm.pages = static_cast<uint32_t>((uint64_t{bm.stride} * p.bitmaps.size() + XDPFW_KPAGE_WORDS - 1) /
                                     XDPFW_KPAGE_WORDS);
    auto ip = p.ether.find(0x0800);
    bm.ether_ipv4 = p.bitmap_ref(ip == p.ether.end() ? p.ether_default : ip->second);
    set_key(*s);
    return s;
}

} // namespace

std::shared_ptr<const xdpfw_spec> specialise(const CompiledPolicy& p, std::string* why_not)
{
    auto fail = [&](std::string why) -> std::shared_ptr<const xdpfw_spec> {
        // Too big for one word's spec: the bitmaps spec, if it fits that.
        std::string why_bitmaps;
        if (auto s = bitmaps_spec(p, why_bitmaps))
            return s;
        if (why_not)
            *why_not = why + "; and for the bitmaps: " + why_bitmaps;
        return nullptr;
    };
    if (p.n_rules > XDPFW_SPEC_MAX_RULES || p.rules.size() != p.n_rules)
        return fail(fmt::format("{} rules (the specialised tier takes up to {})", p.n_rules,
                                XDPFW_SPEC_MAX_RULES));
    // Rate limits charge a bucket per rule the walk reaches; the specialised
    // walk takes the winner by one bit scan, so it would need the general
    // walk's rule-by-rule loop back: limited policies stay general.
    for (uint32_t i = 0; i < p.n_rules; i++)
        if (p.rules[i].flags & XDPFW_RULE_LIMIT) {
            if (why_not)
                *why_not = fmt::format("rule {} has a rate limit (limit=)", p.rules[i].rule_id);
            return nullptr;
        }
    auto s = std::make_shared<xdpfw_spec>();
    const Reducer red(p);
    const std::pair<unsigned, const std::vector<uint32_t>*> tables[] = {
        {XDPFW_FIELD_VLAN, &p.vlan},   {XDPFW_FIELD_PROTO, &p.proto},
        {XDPFW_FIELD_SPORT, &p.sport}, {XDPFW_FIELD_DPORT, &p.dport},
        {XDPFW_FIELD_ICMP, &p.icmp},   {XDPFW_FIELD_CT, &p.ct}};
    s->base = p.n_rules == 64 ? ~0ull : (1ull << p.n_rules) - 1;
    auto add = [&](unsigned f, const std::vector<Run>& runs) {
        if (!Reducer::reduce(runs, s->f[f]))
            return false;
        if (!s->f[f].n_ranges)
            s->base &= s->f[f].other;
        else
            s->ranged |= 1u << f;
        return true;
    };
    const std::pair<unsigned, std::vector<Run>> keyed[] = {
        {XDPFW_FIELD_IFINDEX, red.keyed_runs(p.ifindex, p.ifindex_default)},
        {XDPFW_FIELD_ETHER, red.keyed_runs(p.ether, p.ether_default)}};
    for (const auto& [f, runs] : keyed)
        if (!add(f, runs))
            return fail(fmt::format("field {} has more than {} distinct ranges", field_name(f),
                                    XDPFW_SPEC_MAX_RANGES));
    for (const auto& [f, table] : tables)
        if (!add(f, red.runs(*table)))
            return fail(fmt::format("field {} has more than {} distinct ranges", field_name(f),
                                    XDPFW_SPEC_MAX_RANGES));
    // A flags rule admits the values that hold its mask's bits as asked:
    // scattered values, so not ranges but a table of 257 words.
    const std::vector<Run> flags = red.runs(p.tcp_flags);
    if (flags.size() == 1) {
        s->base &= flags[0].bits;
    } else {
        s->flags_table = 1;
        for (const Run& r : flags)
            for (uint32_t v = r.lo; v <= r.hi && v < XDPFW_FLAGS_SLOTS; v++)
                s->tcp_flags[v] = r.bits;
    }
    // Address fields: IPv4 as ranges of host-order addresses when the
    // direction's table has few enough (a few prefixes), so the program
    // compares instead of looking up; IPv6 (and a direction with too many
    // IPv4 ranges) through the live tables.
    std::vector<Run> runs;
    for (unsigned d = 0; d < XDPFW_DIRECTIONS; d++) {
        const unsigned f = XDPFW_FIELD_SRC + d;
        if (!(p.used_fields & (1u << f)))
            continue;
        s->lookup |= 1u << f;
        // Few address classes (a few prefixes or small sets, whatever their
        // size in prefixes): their words go into the spec, so a lookup ends
        // at the class instead of reading the class's bitmap from the
        // tables. The key then follows the class numbering and words.
        const std::vector<uint32_t>& cb = p.addr[d].class_bitmap;
        if (!cb.empty() && cb.size() <= XDPFW_SPEC_MAX_CLASSES) {
            s->class_table |= 1u << d;
            s->n_classes[d] = static_cast<uint32_t>(cb.size());
            for (size_t c = 0; c < cb.size(); c++)
                s->class_bits[d][c] = red.word(cb[c]);
        }
        if (red.v4_runs(p.addr[d], 2 * XDPFW_SPEC_MAX_RANGES + 1, runs) &&
            Reducer::reduce(runs, s->f[f]))
            s->v4_inline |= 1u << f;
        else
            s->f[f] = {};
    }
    s->n_rules = p.n_rules;
    for (uint32_t i = 0; i < p.n_rules; i++) {
        s->rules[i] = p.rules[i];
        if (p.rules[i].action == XDPFW_ACT_COUNT)
            s->n_count++;
        else
            s->terminal |= 1ull << i;
    }
    // The lean lane (spec.h): nothing it decides needs the packet record
    // in memory, a table or a helper past the counters. lean_rules: the
    // same but for looked-up addresses (lib/kernel/gen_program.hpp).
    bool lean_rules = !(p.used_fields & (1u << XDPFW_FIELD_CT));
    for (uint32_t i = 0; i < p.n_rules; i++)
        if (s->terminal & (1ull << i))
            lean_rules = lean_rules && p.rules[i].sample == 0 &&
                         (p.rules[i].action == XDPFW_ACT_DROP || p.rules[i].action == XDPFW_ACT_PASS);
    s->lean_rules = lean_rules;
    s->lean = lean_rules && (s->lookup & ~s->v4_inline) == 0;
    if (s->terminal && !(s->terminal & (s->terminal - 1)))
        s->one_terminal = static_cast<uint32_t>(__builtin_ctzll(s->terminal)) + 1;
    // The header's default and malformed actions are read live.
    set_key(*s);
    return s;
}

} // namespace xdpfw
