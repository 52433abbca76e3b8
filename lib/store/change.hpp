// SPDX-License-Identifier: GPL-2.0-only
// One committed change as the journal records it ("rule.add id=3 ...",
// "set.add s [...]"), applied by the same code to a live commit's candidate
// and to the policy a restore rebuilds.
#pragma once

#include "lib/model/policy.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace xdpfw {

struct PolicyChange {
    enum class Op {
        rule_add, rule_del, set_create, set_add, set_del, set_load, recommit, inspect_add,
        inspect_del, rule_replace, set_destroy
    };
    Op op = Op::recommit;
    Rule rule;                    // rule_add, rule_replace (with its id)
    inspect::InspectRule inspect; // inspect_add (with its id)
    uint32_t id = 0;              // rule_del, inspect_del
    std::string name;             // set_*
    PrefixSet prefixes;           // set_add, set_del, set_load
};

// Applies c to p. Checks references (the rule or set must exist, or must
// not), not the policy as a whole (validate_policy() does); throws
// CommandError with the protocol's code (unknown_rule, rule_exists, ...).
void apply_change(Policy& p, const PolicyChange& c);

// The journal's "change" object: {"op": "rule.add", "id": 3, "text": ...}.
nlohmann::json change_to_json(const PolicyChange& c);
// Reads it back; PolicyFieldError naming where ("line 3.change.id") when it
// cannot. max_rules bounds rule ids as in the snapshot.
PolicyChange change_from_json(const nlohmann::json& j, const std::string& where,
                              uint32_t max_rules);

// Lookups the store's commands share with apply_change().
const Rule* find_rule(const Policy& p, uint32_t id);
const inspect::InspectRule* find_inspect_rule(const Policy& p, uint32_t id);
// bad_request unless name is a valid set name.
void check_set_name(const std::string& name);
// The set, or CommandError unknown_set.
PrefixSet& existing_set(Policy& policy, const std::string& name);

} // namespace xdpfw
