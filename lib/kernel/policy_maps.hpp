// SPDX-License-Identifier: GPL-2.0-only
// Writes a CompiledPolicy into the inactive generation of the policy maps and
// makes it live with one switch, then waits until no packet still uses the
// old generation. Reads the per-rule and per-reason counters.
#pragma once

#include "lib/kernel/loader.hpp"
#include "lib/tables/compiled_policy.hpp"

#include <xdpfw/abi.h>

#include <array>
#include <cstdint>
#include <vector>

namespace xdpfw {

class PolicyMaps {
public:
    // Opens (mmaps) the maps of a loaded object; checks key and value sizes.
    explicit PolicyMaps(const XdpfwObject& obj);
    ~PolicyMaps();
    PolicyMaps(const PolicyMaps&) = delete;
    PolicyMaps& operator=(const PolicyMaps&) = delete;

    // Validates capacities, writes everything into the inactive generation,
    // switches it live and waits for in-flight packets (an RCU grace period).
    // On any error the live generation is untouched; throws PolicyError or
    // BpfError.
    void commit(const CompiledPolicy& policy, uint64_t version);

    uint32_t active_gen() const;
    uint64_t live_version() const;
    bool committed() const;

    // Counters summed over CPUs.
    xdpfw_counter rule_counter(uint32_t counter_slot) const;
    // Every slot's counters in one batched read (index = counter slot).
    std::vector<xdpfw_counter> all_rule_counters() const;
    std::array<xdpfw_counter, XDPFW_REASON_COUNT> reason_counters() const;
    void reset_rule_counter(uint32_t counter_slot);

    // The last verdict (objects loaded with record_verdict only).
    xdpfw_last_verdict last_verdict() const;

private:
    struct Impl;
    Impl* impl_;
};

// Lower-case names of enum xdpfw_reason values ("rule_drop", "malformed_ipv4").
const char* reason_name(uint32_t reason);

} // namespace xdpfw
