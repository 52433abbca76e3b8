// SPDX-License-Identifier: GPL-2.0-only
// Kept policies: sharing unchanged sets, bounding depth and prefixes.
#include "lib/store/kept_policies.hpp"

#include <set>

namespace xdpfw {

void KeptPolicies::keep(uint64_t version, Policy policy)
{
    Entry e;
    e.version = version;
    const Entry* prev = kept_.empty() ? nullptr : &kept_.back();
    for (auto& [name, set] : policy.sets) {
        std::shared_ptr<const PrefixSet> shared;
        if (prev) {
            auto it = prev->sets.find(name);
            // Sizes first: a changed set of a million prefixes usually
            // differs in size, and then costs nothing to tell apart.
            if (it != prev->sets.end() && same_prefixes(it->second->prefixes, set.prefixes))
                shared = it->second;
        }
        e.sets.emplace(name, shared ? shared : std::make_shared<const PrefixSet>(std::move(set)));
    }
    policy.sets.clear();
    e.rest = std::move(policy);
    kept_.push_back(std::move(e));
    trim();
}

size_t KeptPolicies::prefixes() const
{
    std::set<const PrefixSet*> seen;
    size_t n = 0;
    for (const Entry& e : kept_)
        for (const auto& [name, set] : e.sets)
            if (seen.insert(set.get()).second)
                n += set->prefixes.size();
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
    for (const Entry& e : kept_) {
        if (e.version != version)
            continue;
        Policy p = e.rest;
        for (const auto& [name, set] : e.sets)
            p.sets.emplace(name, *set);
        return p;
    }
    return std::nullopt;
}

} // namespace xdpfw
