// SPDX-License-Identifier: GPL-2.0-only
// Writes a CompiledPolicy into the inactive generation of the policy maps and
// makes it live with one switch; before a later commit reuses the retired
// generation, an RCU grace period has passed (rcu_barrier.hpp). Reads the
// per-rule and per-reason counters.
#pragma once

#include "lib/kernel/loader.hpp"
#include "lib/kernel/reason_totals.hpp"
#include "lib/tables/compiled_policy.hpp"

#include <xdpfw/abi.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace xdpfw {

// What the program samples into events besides sample= rules (abi.h,
// xdpfw_ctrl): 1 in N default and malformed verdicts (0: none), and how
// many frame bytes an event carries.
struct EventSampling {
    uint32_t sample_default = 0;
    uint32_t sample_malformed = 0;
    uint32_t snaplen = XDPFW_EVENT_SNAP_DEFAULT;
};

class PolicyMaps {
public:
    // Opens (mmaps) the maps of a loaded object; checks key and value sizes.
    explicit PolicyMaps(const XdpfwObject& obj);
    ~PolicyMaps();
    PolicyMaps(const PolicyMaps&) = delete;
    PolicyMaps& operator=(const PolicyMaps&) = delete;

    // Validates capacities, writes everything into the inactive generation,
    // and switches it live; the grace period after the switch runs in the
    // background (the next commit waits for it if it has not passed).
    // On any error the live generation is untouched; throws PolicyError or
    // BpfError.
    void commit(const CompiledPolicy& policy, uint64_t version);

    // What commit() checks before it writes anything: CapacityError when
    // policy does not fit the loaded program, PolicyError when it is
    // inconsistent. Writes nothing (a dry run).
    void check_capacity(const CompiledPolicy& policy) const;

    // Returns once the background work after the last switch is done: the
    // grace period passed and the retired generation's pages were released
    // (tests and memory figures; commit() does this itself).
    void wait_settled();

    uint32_t active_gen() const;
    uint64_t live_version() const;
    bool committed() const;
    // content_hash() of the live policy as its commit pinned it (0: none).
    uint64_t live_content_hash() const;
    // The live generation's rule array, as the program reads it.
    std::vector<xdpfw_rule> live_rules() const;

    // Counters summed over CPUs.
    xdpfw_counter rule_counter(uint32_t counter_slot) const;
    // Every slot's counters in one batched read (index = counter slot).
    std::vector<xdpfw_counter> all_rule_counters() const;
    // Every reason's total as operators see it: the rule_* reasons derived
    // from the counters of the live generation's rules, the rest as counted
    // (derive_reason_totals()). Deleting a rule takes its packets out of the
    // rule_* totals.
    ReasonCounters reason_counters() const;
    // xdpfw_reason_stats as the program counts it: rule_* stay 0.
    ReasonCounters raw_reason_counters() const;
    xdpfw_counter raw_reason_counter(uint32_t reason) const; // one of them
    void reset_rule_counter(uint32_t counter_slot);

    // Writes the event settings into xdpfw_ctrl; every later commit keeps
    // them. A read-modify-write of the control word: not while a commit runs.
    void set_event_sampling(const EventSampling& s);
    // xdpfw_event_stats summed over CPUs: [XDPFW_EVSTAT_SENT] events written
    // to the ring, [XDPFW_EVSTAT_LOST] lost to a full ring.
    std::array<xdpfw_counter, XDPFW_EVSTAT_COUNT> event_counters() const;

    // The last verdict (objects loaded with record_verdict only).
    xdpfw_last_verdict last_verdict() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Lower-case names of enum xdpfw_reason values ("rule_drop", "malformed_ipv4").
const char* reason_name(uint32_t reason);

} // namespace xdpfw
