// SPDX-License-Identifier: GPL-2.0-only
// Inspection rules (lib/inspect) as the engine's Inspector: each worker
// gets an inspect::Inspector that follows one published rule set, and the
// inspection counters of every worker (also of stopped ones) stay readable.
#pragma once

#include "lib/inspect/inspect.hpp"
#include "lib/xsk/inspector.hpp"

#include <memory>
#include <mutex>
#include <vector>

namespace xdpfw::xsk {

class RuleInspection {
public:
    RuleInspection() = default;
    RuleInspection(const RuleInspection&) = delete;
    RuleInspection& operator=(const RuleInspection&) = delete;

    // Makes set the rules of every worker from its next batch on.
    void publish(std::shared_ptr<const inspect::RuleSet> set) { slot_.publish(std::move(set)); }
    std::shared_ptr<const inspect::RuleSet> current() const { return slot_.current(); }

    // For the Engine; this object must outlive every inspector it makes.
    InspectorFactory factory();

    // Inspection counters summed over every worker inspector made so far.
    inspect::InspectStats stats() const;

private:
    class Worker;
    inspect::RuleSetSlot slot_;
    mutable std::mutex mu_;
    std::vector<std::shared_ptr<inspect::Inspector>> live_;
    inspect::InspectStats retired_; // counters of inspectors already gone
};

} // namespace xdpfw::xsk
