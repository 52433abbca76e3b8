// SPDX-License-Identifier: GPL-2.0-only
// The policies of the latest versions before the live one, kept in memory
// for `rollback` and `diff` (docs/DAEMON.md, "Rollback and diff"). Sets can
// hold millions of prefixes, so a set whose content did not change from one
// kept version to the next shares its prefixes with it (PrefixSet), and the
// prefixes kept in all (each shared set counted once) are bounded too.
#pragma once

#include "lib/model/policy.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace xdpfw {

class KeptPolicies {
public:
    // At most this many versions are kept...
    static constexpr size_t default_depth = 16;
    // ...and fewer when their sets hold more prefixes than this in all
    // (the newest kept version stays whatever its size).
    static constexpr size_t default_prefix_budget = 4'000'000;

    explicit KeptPolicies(size_t depth = default_depth,
                          size_t prefix_budget = default_prefix_budget)
        : depth_(depth), prefix_budget_(prefix_budget)
    {
    }

    // Keeps policy as version's, the newest kept (versions only grow). Sets
    // equal to the previous kept version's are shared with it.
    void keep(uint64_t version, Policy policy);
    // The policy of version, or nullopt when it is not kept.
    std::optional<Policy> get(uint64_t version) const;
    bool empty() const { return kept_.empty(); }
    size_t size() const { return kept_.size(); }
    uint64_t oldest() const { return kept_.empty() ? 0 : kept_.front().version; }
    uint64_t newest() const { return kept_.empty() ? 0 : kept_.back().version; }
    // Distinct prefixes held (a shared set once).
    size_t prefixes() const;
    void clear() { kept_.clear(); }

private:
    struct Entry {
        uint64_t version = 0;
        Policy policy;
    };
    void trim();

    size_t depth_, prefix_budget_;
    std::deque<Entry> kept_;
};

} // namespace xdpfw
