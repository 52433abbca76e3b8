// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd's metric families (docs/DAEMON.md, "Metrics"): what the exporter
// keeps between scrapes (the live policy's labels, the commit duration
// histogram) and the exposition of one scrape.
#pragma once

#include "lib/control/commands.hpp"
#include "lib/metrics/histogram.hpp"
#include "lib/model/inspect_rule.hpp"
#include "lib/model/policy.hpp"
#include "lib/inspect/counters.hpp"
#include "lib/xsk/engine.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xdpfw::metrics {

// The parts of the live policy the metrics label, copied from it (under
// the store's lock) so that a scrape never reads the store while a commit
// changes it.
struct LivePolicy {
    struct RuleLabels {
        uint32_t id = 0;
        int32_t priority = 0;
        Action action;
        std::string comment;
    };
    struct InspectLabels {
        uint32_t id = 0;
        int32_t priority = 0;
        inspect::Verdict action = inspect::Verdict::drop;
    };
    uint64_t version = 0;
    std::vector<RuleLabels> rules;             // evaluation order: (priority, id)
    std::vector<InspectLabels> inspect_rules;  // (priority, id)
    std::vector<std::pair<std::string, size_t>> sets; // name, prefixes
};
LivePolicy live_policy_of(const Policy& policy, uint64_t version);

// The AF_XDP engine's counters at a scrape (absent without the engine).
struct EngineSample {
    xsk::EngineStats engine;
    inspect::InspectStats inspect;
};

// Upper bounds of xdpfw_commit_duration_seconds: a small change commits in
// well under a millisecond, a large set load in seconds.
std::vector<double> commit_duration_bounds();

// Calls f with the live policy and its version, under the lock commits
// hold (the daemon's store lock).
using PolicyReader = std::function<void(const std::function<void(const Policy&, uint64_t)>& f)>;

class DaemonMetrics {
public:
    DaemonMetrics();
    // A policy went live: committed in commit_seconds, or found live at
    // start (adopted, nothing committed: no duration).
    void live(const Policy& policy, uint64_t version,
              std::optional<double> commit_seconds = std::nullopt);
    // A commit went live: only its version and duration are kept; the next
    // scrape copies the labels through the reader, so a commit does not
    // copy every rule for a scrape that may never come (set_reader first).
    void committed(uint64_t version, double commit_seconds);
    void set_reader(PolicyReader reader) { reader_ = std::move(reader); }
    // One scrape: the counters are read now through view (rule and reason
    // counters, memory). Callable from any thread.
    std::string render(const DataplaneView& view, const std::vector<InterfaceStatus>& interfaces,
                       const EngineSample* engine) const;

private:
    // The labels of version_, copied through reader_ when a scrape finds
    // live_ older.
    std::shared_ptr<const LivePolicy> current() const;

    Histogram commit_seconds_;
    PolicyReader reader_;
    mutable std::mutex mu_;
    mutable std::shared_ptr<const LivePolicy> live_ = std::make_shared<LivePolicy>();
    uint64_t version_ = 0; // the live version (live_ may be older)
};

} // namespace xdpfw::metrics
