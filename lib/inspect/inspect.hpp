// SPDX-License-Identifier: GPL-2.0-only
// Payload inspection for the AF_XDP workers: a compiled, immutable rule set
// shared by all workers, a publication slot to swap it atomically, and a
// per-worker Inspector (own Hyperscan scratch, own counters) that gives each
// frame a verdict. No sockets here; the engine feeds frames in.
//
// Typical use:
//   RuleSetSlot slot;                                  // shared
//   slot.publish(RuleSet::compile(rules, options));    // control thread, any time
//   Inspector insp(slot);                              // one per worker thread
//   loop: insp.refresh();                              // once per batch
//         for each frame: Result r = insp.inspect(frame); act on r.verdict
//   exporter: sum insp.counters().snapshot() over workers
//
// Semantics (docs/RULES.md, "Inspection rules"): the winning rule is the one
// with the lowest (priority, id) among all rules that match, whatever their
// kind (fixed-offset pattern, anywhere pattern, DNS name).
#pragma once

#include "lib/inspect/counters.hpp"
#include "lib/model/inspect_rule.hpp"
#include "lib/model/policy.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace xdpfw::inspect {

struct Result {
    Verdict verdict = Verdict::forward;
    Outcome outcome = Outcome::no_match;
    uint32_t rule_id = 0; // the deciding rule, 0 unless outcome == rule
};

class Scratch;

// A compiled rule set. Immutable once built: share it between threads with
// std::shared_ptr<const RuleSet>; a change builds a new one.
class RuleSet {
public:
    // Validates every rule (validate()), checks ids are unique and below
    // max_rules, and compiles the anywhere-patterns into one Hyperscan
    // literal database. Throws InspectError ("rule id 7: pattern: ...").
    static std::shared_ptr<const RuleSet> compile(std::vector<InspectRule> rules,
                                                  RuleSetOptions options = {});
    ~RuleSet();
    RuleSet(const RuleSet&) = delete;
    RuleSet& operator=(const RuleSet&) = delete;

    // Rules in evaluation order: by (priority, id).
    const std::vector<InspectRule>& rules() const;
    const RuleSetOptions& options() const;

    // Evaluates one frame. scratch must have been prepared for this set
    // (Scratch::prepare); counters may be null. Thread-safe for distinct
    // scratch objects. Inspector wraps this; use it directly only in tests
    // and benchmarks.
    Result evaluate(std::span<const uint8_t> frame, Scratch& scratch,
                    InspectCounters* counters) const;

    struct Impl;

private:
    friend class Scratch;
    explicit RuleSet(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Per-thread working memory for RuleSet::evaluate (a Hyperscan scratch).
class Scratch {
public:
    Scratch();
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    // Makes this scratch usable with set (grows it if needed; it stays
    // usable with the sets it was prepared for before). Not thread-safe:
    // call from the thread that owns the scratch. Throws InspectError when
    // out of memory.
    void prepare(const RuleSet& set);

private:
    friend class RuleSet;
    void* hs_ = nullptr; // hs_scratch_t*
};

// The place the current rule set is published. publish() from any thread;
// workers pick the new set up in Inspector::refresh(). An old set is freed
// when the last worker has moved off it; no set is ever changed in use.
class RuleSetSlot {
public:
    RuleSetSlot() = default;
    explicit RuleSetSlot(std::shared_ptr<const RuleSet> initial) { publish(std::move(initial)); }
    void publish(std::shared_ptr<const RuleSet> set);
    std::shared_ptr<const RuleSet> current() const;
    // Bumped by every publish(); a cheap check for "anything new?".
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const RuleSet> set_;
    std::atomic<uint64_t> generation_{0};
};

// One per worker thread: inspects frames with the worker's current rule set,
// its own scratch and its own counters. Not thread-safe except counters(),
// which any thread may read.
class Inspector {
public:
    // Follows slot: refresh() switches to what was last published.
    explicit Inspector(const RuleSetSlot& slot);
    // A fixed set (tests, benchmarks); set_rules() changes it.
    explicit Inspector(std::shared_ptr<const RuleSet> set);

    // Picks up a newly published set; returns true if it switched. A cheap
    // atomic load when nothing changed: call it once per batch.
    bool refresh();
    // Switches to set (worker thread only).
    void set_rules(std::shared_ptr<const RuleSet> set);

    // Verdict for one Ethernet frame; counts it. Without a rule set (nothing
    // published yet) every frame gets the default RuleSetOptions' verdicts.
    Result inspect(std::span<const uint8_t> frame);

    const InspectCounters& counters() const { return *counters_; }
    const std::shared_ptr<const RuleSet>& rules() const { return set_; }

private:
    const RuleSetSlot* slot_ = nullptr;
    uint64_t seen_generation_ = 0;
    std::shared_ptr<const RuleSet> set_;
    Scratch scratch_;
    std::unique_ptr<InspectCounters> counters_;
};

} // namespace xdpfw::inspect

namespace xdpfw {

// Compiles policy into a rule set, with Hyperscan or rule-set errors as
// PolicyError (so callers handle one error type).
std::shared_ptr<const inspect::RuleSet> compile_inspect_policy(const InspectPolicy& policy);

} // namespace xdpfw
