// SPDX-License-Identifier: GPL-2.0-only
// Kept policies: sharing unchanged sets, bounding depth and prefixes.
#include "lib/store/kept_policies.hpp"

#include <set>

namespace xdpfw {

void KeptPolicies::keep(uint64_t version, Policy policy)
{
    if (!kept_.empty()) {
        // A set the commit did not change shares its prefixes with the
        // previous version's already (PrefixSet); one changed back to what
        // it was is made to (== compares sizes first, then memory).
        const auto& prev = kept_.back().policy.sets;
        for (auto& [name, set] : policy.sets)
            if (auto it = prev.find(name); it != prev.end() && it->second == set)
                set = it->second;
    }
    kept_.push_back({version, std::move(policy)});
    trim();
}

size_t KeptPolicies::prefixes() const
{
    std::set<const void*> seen;
    size_t n = 0;
    for (const Entry& e : kept_)
        for (const auto& [name, set] : e.policy.sets)
            if (seen.insert(set.storage()).second)
                n += set.prefixes().size();
    return n;
}

void KeptPolicies::trim()
{
    while (kept_.size() > depth_)
        kept_.pop_front();
    while (kept_.size() > 1 && prefixes() > prefix_budget_)
        kept_.pop_front();
}

std::optional<Policy> KeptPolicies::get(uint64_t version) const
{
    for (const Entry& e : kept_)
        if (e.version == version)
            return e.policy;
    return std::nullopt;
}

} // namespace xdpfw
