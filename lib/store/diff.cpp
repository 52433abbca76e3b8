// SPDX-License-Identifier: GPL-2.0-only
// Policy differences and their JSON.
#include "lib/store/diff.hpp"

#include <algorithm>
#include <map>

namespace xdpfw {

namespace {

using json = nlohmann::json;

// Rules of either kind by id, compared by their canonical text (which holds
// priority, match and action).
template <class R>
std::vector<RuleDiff> diff_rules(const std::vector<R>& before, const std::vector<R>& after)
{
    std::map<uint32_t, RuleDiff> by_id;
    for (const R& r : before)
        by_id[r.id].before = r.text;
    for (const R& r : after)
        by_id[r.id].after = r.text;
    std::vector<RuleDiff> out;
    for (auto& [id, d] : by_id) {
        if (d.before == d.after)
            continue;
        d.id = id;
        out.push_back(std::move(d));
    }
    return out;
}

// Walks both sorted prefix lists once: counts what only one side has and
// keeps the first `sample` of each.
SetDiff diff_set(const std::string& name, const PrefixSet* before, const PrefixSet* after,
                 size_t sample)
{
    static const PrefixSet none;
    const auto& a = (before ? before : &none)->prefixes();
    const auto& b = (after ? after : &none)->prefixes();
    SetDiff d;
    d.name = name;
    d.existed = before != nullptr;
    d.exists = after != nullptr;
    d.size_before = a.size();
    d.size_after = b.size();
    auto removed = [&](const Prefix& p) {
        if (d.removed++ < sample)
            d.first_removed.push_back(p);
    };
    auto added = [&](const Prefix& p) {
        if (d.added++ < sample)
            d.first_added.push_back(p);
    };
    size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
        if (j == b.size() || (i < a.size() && a[i] < b[j]))
            removed(a[i++]);
        else if (i == a.size() || b[j] < a[i])
            added(b[j++]);
        else
            ++i, ++j;
    }
    return d;
}

json rule_list(const std::vector<RuleDiff>& diffs)
{
    json added = json::array(), removed = json::array(), changed = json::array();
    for (const RuleDiff& d : diffs) {
        if (d.before.empty())
            added.push_back({{"id", d.id}, {"text", d.after}});
        else if (d.after.empty())
            removed.push_back({{"id", d.id}, {"text", d.before}});
        else
            changed.push_back({{"id", d.id}, {"before", d.before}, {"after", d.after}});
    }
    return {{"added", std::move(added)}, {"removed", std::move(removed)},
            {"changed", std::move(changed)}};
}

json prefix_strings(const std::vector<Prefix>& prefixes)
{
    json out = json::array();
    for (const Prefix& p : prefixes)
        out.push_back(p.str());
    return out;
}

json before_after(ActionType before, ActionType after)
{
    return {{"before", action_name(before)}, {"after", action_name(after)}};
}

} // namespace

bool PolicyDiff::empty() const
{
    return rules.empty() && inspect.empty() && sets.empty() && default_before == default_after &&
           malformed_before == malformed_after;
}

PolicyDiff diff_policies(const Policy& before, const Policy& after, size_t sample)
{
    PolicyDiff d;
    d.rules = diff_rules(before.rules, after.rules);
    d.inspect = diff_rules(before.inspect, after.inspect);
    std::map<std::string, std::pair<const PrefixSet*, const PrefixSet*>> names;
    for (const auto& [name, set] : before.sets)
        names[name].first = &set;
    for (const auto& [name, set] : after.sets)
        names[name].second = &set;
    for (const auto& [name, sides] : names) {
        const auto [b, a] = sides;
        if (b && a && *b == *a)
            continue;
        d.sets.push_back(diff_set(name, b, a, sample));
    }
    d.default_before = before.default_action;
    d.default_after = after.default_action;
    d.malformed_before = before.malformed_action;
    d.malformed_after = after.malformed_action;
    return d;
}

json diff_to_json(const PolicyDiff& d)
{
    json sets = json::array();
    for (const SetDiff& s : d.sets)
        sets.push_back({{"name", s.name},
                        {"change", !s.existed ? "created" : !s.exists ? "removed" : "changed"},
                        {"size_before", s.size_before},
                        {"size_after", s.size_after},
                        {"added", s.added},
                        {"removed", s.removed},
                        {"first_added", prefix_strings(s.first_added)},
                        {"first_removed", prefix_strings(s.first_removed)}});
    return {{"rules", rule_list(d.rules)},
            {"inspect_rules", rule_list(d.inspect)},
            {"sets", std::move(sets)},
            {"default", before_after(d.default_before, d.default_after)},
            {"malformed", before_after(d.malformed_before, d.malformed_after)}};
}

} // namespace xdpfw
