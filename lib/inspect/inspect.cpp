// SPDX-License-Identifier: GPL-2.0-only
// RuleSet compilation (Hyperscan literal database, offset list, DNS name
// tables) and per-frame evaluation with first-match-by-priority semantics.
#include "lib/inspect/inspect.hpp"

#include "lib/inspect/dns.hpp"
#include "lib/inspect/frame.hpp"

#include <hs.h>

#include <algorithm>
#include <bitset>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace xdpfw::inspect {

namespace {

constexpr uint32_t no_rank = std::numeric_limits<uint32_t>::max();

std::string rule_where(const InspectRule& r)
{
    return "rule id " + std::to_string(r.id);
}

struct HsDatabaseFree {
    void operator()(hs_database_t* db) const { hs_free_database(db); }
};

// FNV-1a over the bytes of a wire name taken from its end backwards. Going
// backwards, one pass over a query name yields the hash of every suffix that
// starts at a label (see suffix_hashes), instead of hashing each suffix anew.
constexpr uint64_t fnv_basis = 0xcbf29ce484222325ull;
constexpr uint64_t fnv_prime = 0x100000001b3ull;

uint64_t reverse_hash(std::string_view wire)
{
    uint64_t h = fnv_basis;
    for (size_t i = wire.size(); i-- > 0;)
        h = (h ^ static_cast<uint8_t>(wire[i])) * fnv_prime;
    return h;
}

// hashes[i] = reverse_hash(q.suffix_from(i)) for every label i.
void suffix_hashes(const DnsQuestion& q, uint64_t* hashes)
{
    uint64_t h = fnv_basis;
    size_t pos = q.wire_len;
    for (size_t i = q.labels; i-- > 0;) {
        for (; pos > q.label_start[i]; --pos)
            h = (h ^ q.wire[pos - 1]) * fnv_prime;
        hashes[i] = h;
    }
}

// Wire-form DNS names -> ranks of the rules naming them, ascending. Lookups
// first check the length (a bit per possible length), then the hash, then
// the bytes.
class NameTable {
public:
    void add(const std::string& wire, uint32_t rank)
    {
        lengths_.set(wire.size());
        auto& bucket = by_hash_[reverse_hash(wire)];
        for (Entry& e : bucket)
            if (e.wire == wire) {
                e.ranks.push_back(rank);
                return;
            }
        bucket.push_back({wire, {rank}});
    }
    bool empty() const { return by_hash_.empty(); }
    const std::vector<uint32_t>* find(std::string_view wire, uint64_t hash) const
    {
        if (!lengths_.test(wire.size()))
            return nullptr;
        auto it = by_hash_.find(hash);
        if (it == by_hash_.end())
            return nullptr;
        for (const Entry& e : it->second)
            if (e.wire == wire)
                return &e.ranks;
        return nullptr;
    }

private:
    struct Entry {
        std::string wire;
        std::vector<uint32_t> ranks;
    };
    std::bitset<max_dns_wire_len + 1> lengths_;
    std::unordered_map<uint64_t, std::vector<Entry>> by_hash_;
};

} // namespace

struct RuleSet::Impl {
    std::vector<InspectRule> rules; // evaluation order; index = rank
    RuleSetOptions options;
    std::vector<uint32_t> fixed;    // ranks of fixed-offset patterns, ascending
    std::unique_ptr<hs_database_t, HsDatabaseFree> db; // anywhere-patterns, id = rank
    uint32_t min_anywhere_rank = no_rank;
    NameTable dns_exact, dns_suffix;
    bool has_dns = false;

    bool filters_pass(uint32_t rank, const L4View& v) const
    {
        const InspectRule& r = rules[rank];
        return (!r.proto || *r.proto == v.proto) && (!r.sport || r.sport->contains(v.sport)) &&
               (!r.dport || r.dport->contains(v.dport));
    }

    // Lowers best to the first rank in ranks (ascending) that passes the filters.
    void best_of(const std::vector<uint32_t>& ranks, const L4View& v, uint32_t& best) const
    {
        for (uint32_t rank : ranks) {
            if (rank >= best)
                return;
            if (filters_pass(rank, v)) {
                best = rank;
                return;
            }
        }
    }

};

namespace {

struct ScanContext {
    const RuleSet::Impl* impl;
    const L4View* view;
    uint32_t best;
};

int on_match(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx)
{
    auto* c = static_cast<ScanContext*>(ctx);
    if (id < c->best && c->impl->filters_pass(id, *c->view)) {
        c->best = id;
        // Nothing can beat the lowest anywhere-rank: stop scanning.
        if (id == c->impl->min_anywhere_rank)
            return 1;
    }
    return 0;
}

} // namespace

RuleSet::RuleSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleSet::~RuleSet() = default;

const std::vector<InspectRule>& RuleSet::rules() const
{
    return impl_->rules;
}

const RuleSetOptions& RuleSet::options() const
{
    return impl_->options;
}

std::shared_ptr<const RuleSet> RuleSet::compile(std::vector<InspectRule> rules, RuleSetOptions options)
{
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    std::set<uint32_t> ids;
    for (const InspectRule& r : rules) {
        if (r.id == 0 || r.id >= max_rules)
            throw InspectError(rule_where(r), "id",
                               "must be 1-" + std::to_string(max_rules - 1) +
                                   " (ids are counter slots)");
        if (!ids.insert(r.id).second)
            throw InspectError(rule_where(r), "id", "used by two rules");
        validate(r, rule_where(r));
    }
    std::stable_sort(rules.begin(), rules.end(), [](const InspectRule& a, const InspectRule& b) {
        return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
    });
    impl->rules = std::move(rules);

    std::vector<const char*> exprs;
    std::vector<size_t> lens;
    std::vector<unsigned> flags, hs_ids;
    for (uint32_t rank = 0; rank < impl->rules.size(); ++rank) {
        const InspectRule& r = impl->rules[rank];
        if (r.is_dns()) {
            NameTable& t = r.dns().suffix ? impl->dns_suffix : impl->dns_exact;
            t.add(dns_name_to_wire(r.dns().name), rank);
            impl->has_dns = true;
        } else if (r.pattern().offset) {
            impl->fixed.push_back(rank);
        } else {
            exprs.push_back(reinterpret_cast<const char*>(r.pattern().bytes.data()));
            lens.push_back(r.pattern().bytes.size());
            // One report per pattern and scan is all first-match needs.
            flags.push_back(HS_FLAG_SINGLEMATCH);
            hs_ids.push_back(rank);
            impl->min_anywhere_rank = std::min(impl->min_anywhere_rank, rank);
        }
    }
    if (!exprs.empty()) {
        hs_database_t* db = nullptr;
        hs_compile_error_t* err = nullptr;
        if (hs_compile_lit_multi(exprs.data(), flags.data(), hs_ids.data(), lens.data(),
                                 static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                                 &err) != HS_SUCCESS) {
            std::string msg = err && err->message ? err->message : "unknown error";
            std::string where = err && err->expression >= 0
                                    ? rule_where(impl->rules[hs_ids[static_cast<size_t>(err->expression)]])
                                    : std::string("rule set");
            hs_free_compile_error(err);
            throw InspectError(where, "pattern", "Hyperscan compile failed: " + msg);
        }
        impl->db.reset(db);
    }
    return std::shared_ptr<const RuleSet>(new RuleSet(std::move(impl)));
}

Result RuleSet::evaluate(std::span<const uint8_t> frame, Scratch& scratch,
                         InspectCounters* counters) const
{
    const Impl& m = *impl_;
    Result res;
    L4View v;
    FrameError err = parse_frame(frame, v);
    if (err != FrameError::none) {
        res.verdict = m.options.malformed_verdict;
        res.outcome = Outcome::malformed_frame;
        if (counters) {
            counters->count_frame_malformed(err);
            counters->count_packet(frame.size(), res.verdict, res.outcome);
        }
        return res;
    }

    uint32_t best = no_rank;
    if (!v.has_l4) {
        if (counters)
            counters->count_no_payload();
    } else {
        const std::span<const uint8_t> pl = v.payload;
        for (uint32_t rank : m.fixed) {
            if (rank >= best)
                break;
            const BytePattern& p = m.rules[rank].pattern();
            // The first-byte test rejects most candidates without a call.
            if (*p.offset + p.bytes.size() <= pl.size() && pl[*p.offset] == p.bytes[0] &&
                std::memcmp(pl.data() + *p.offset, p.bytes.data(), p.bytes.size()) == 0 &&
                m.filters_pass(rank, v)) {
                best = rank;
                break;
            }
        }
        if (v.proto == proto_udp && v.dport == dns_port) {
            DnsQuestion q;
            DnsStatus st = parse_dns_query(pl, q);
            if (counters)
                counters->count_dns(st);
            if (st == DnsStatus::ok && m.has_dns) {
                // The root name (no labels) cannot be named by a rule.
                uint64_t hashes[max_dns_wire_len / 2 + 1];
                suffix_hashes(q, hashes);
                if (q.labels > 0)
                    if (auto* ranks = m.dns_exact.find(q.wire_view(), hashes[0]))
                        m.best_of(*ranks, v, best);
                if (!m.dns_suffix.empty())
                    for (size_t i = 0; i < q.labels; ++i)
                        if (auto* ranks = m.dns_suffix.find(q.suffix_from(i), hashes[i]))
                            m.best_of(*ranks, v, best);
            }
        }
        if (m.db && m.min_anywhere_rank < best && !pl.empty()) {
            ScanContext ctx{&m, &v, best};
            hs_error_t rc = hs_scan(m.db.get(), reinterpret_cast<const char*>(pl.data()),
                                    static_cast<unsigned>(pl.size()), 0,
                                    static_cast<hs_scratch_t*>(scratch.hs_), on_match, &ctx);
            // HS_SCAN_TERMINATED is the early stop in on_match. Any other
            // failure means a scratch not prepared for this set: a bug.
            if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED)
                throw InspectError("hs_scan", "", "failed with code " + std::to_string(rc) +
                                                      " (scratch not prepared for this rule set?)");
            best = ctx.best;
        }
    }

    if (best != no_rank) {
        const InspectRule& r = m.rules[best];
        res.verdict = r.action;
        res.outcome = Outcome::rule;
        res.rule_id = r.id;
        if (counters)
            counters->count_rule(r.id);
    } else {
        res.verdict = m.options.default_verdict;
        res.outcome = Outcome::no_match;
    }
    if (counters)
        counters->count_packet(frame.size(), res.verdict, res.outcome);
    return res;
}

Scratch::Scratch() = default;

Scratch::~Scratch()
{
    if (hs_)
        hs_free_scratch(static_cast<hs_scratch_t*>(hs_));
}

void Scratch::prepare(const RuleSet& set)
{
    if (!set.impl_->db)
        return;
    auto* s = static_cast<hs_scratch_t*>(hs_);
    if (hs_alloc_scratch(set.impl_->db.get(), &s) != HS_SUCCESS)
        throw InspectError("hs_alloc_scratch", "", "cannot allocate Hyperscan scratch space");
    hs_ = s;
}

void RuleSetSlot::publish(std::shared_ptr<const RuleSet> set)
{
    std::shared_ptr<const RuleSet> old;
    {
        std::lock_guard lock(mutex_);
        old = std::exchange(set_, std::move(set));
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    // old is released outside the lock; workers may still hold it.
}

std::shared_ptr<const RuleSet> RuleSetSlot::current() const
{
    std::lock_guard lock(mutex_);
    return set_;
}

namespace {

const std::shared_ptr<const RuleSet>& empty_rule_set()
{
    static const std::shared_ptr<const RuleSet> empty = RuleSet::compile({});
    return empty;
}

} // namespace

Inspector::Inspector(const RuleSetSlot& slot)
    : slot_(&slot), counters_(std::make_unique<InspectCounters>())
{
    refresh();
    if (!set_)
        set_rules(nullptr);
}

Inspector::Inspector(std::shared_ptr<const RuleSet> set)
    : counters_(std::make_unique<InspectCounters>())
{
    set_rules(std::move(set));
}

bool Inspector::refresh()
{
    if (!slot_)
        return false;
    uint64_t gen = slot_->generation();
    if (gen == seen_generation_)
        return false;
    seen_generation_ = gen;
    set_rules(slot_->current());
    return true;
}

void Inspector::set_rules(std::shared_ptr<const RuleSet> set)
{
    if (!set)
        set = empty_rule_set();
    // Grow the scratch before switching: on failure the old set stays.
    scratch_.prepare(*set);
    set_ = std::move(set);
}

Result Inspector::inspect(std::span<const uint8_t> frame)
{
    return set_->evaluate(frame, scratch_, counters_.get());
}

} // namespace xdpfw::inspect

namespace xdpfw {

std::shared_ptr<const inspect::RuleSet> compile_inspect_policy(const InspectPolicy& policy)
{
    try {
        return inspect::RuleSet::compile(policy.rules, policy.options);
    } catch (const inspect::InspectError& e) {
        throw PolicyError(e.where(), e.key(), e.problem());
    }
}

} // namespace xdpfw
