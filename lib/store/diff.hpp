// SPDX-License-Identifier: GPL-2.0-only
// What differs between two policies (rules and inspection rules by id, sets
// by name, default verdicts): the answer of `diff` and of a dry run.
#pragma once

#include "lib/model/policy.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xdpfw {

// One rule id: before empty when the rule is new, after empty when it went.
struct RuleDiff {
    uint32_t id = 0;
    std::string before, after;
};

struct SetDiff {
    std::string name;
    bool existed = false, exists = false; // before, after
    size_t size_before = 0, size_after = 0;
    size_t added = 0, removed = 0;        // prefix counts
    // The first few of each (diff_policies' sample), in set order.
    std::vector<Prefix> first_added, first_removed;
};

struct PolicyDiff {
    std::vector<RuleDiff> rules;   // by id
    std::vector<RuleDiff> inspect; // inspection rules, by id
    std::vector<SetDiff> sets;     // changed sets only, by name
    ActionType default_before = ActionType::pass, default_after = ActionType::pass;
    ActionType malformed_before = ActionType::drop, malformed_after = ActionType::drop;

    bool empty() const;
};

// Sets must be normalised (sorted, deduplicated), as the store keeps them.
// sample: how many added and removed prefixes each SetDiff names.
PolicyDiff diff_policies(const Policy& before, const Policy& after, size_t sample = 5);

// {"rules": {"added": [{"id","text"}], "removed": [...], "changed":
// [{"id","before","after"}]}, "inspect_rules": {same}, "sets": [{"name",
// "change": "created"|"removed"|"changed", "size_before", "size_after",
// "added", "removed", "first_added": [...], "first_removed": [...]}],
// "default": {"before","after"}, "malformed": {"before","after"}}
nlohmann::json diff_to_json(const PolicyDiff& d);

} // namespace xdpfw
