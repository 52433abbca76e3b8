// SPDX-License-Identifier: GPL-2.0-only
// The one codec for a whole Policy: JSON (the `load` request and the
// daemon's snapshot) and YAML (rule files), read and written field by field
// by the same code. Errors are PolicyFieldErrors naming the field.
#pragma once

#include "lib/lang/field_error.hpp"
#include "lib/model/policy.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace xdpfw {

// The two shapes a policy document has (docs/PROTOCOL.md, docs/DAEMON.md).
enum class PolicyForm {
    // What people write: every key optional (an empty policy by default),
    // unknown keys refused, rules and inspection rules as "[id=N ]text"
    // strings whose id is their position (from 1) unless id= says otherwise.
    // The `load` request and YAML rule files.
    document,
    // What the daemon saves: default, malformed, rules and sets required
    // (inspect and default_non_ip optional: older state has neither),
    // unknown keys ignored, rules
    // as {"id": N, "text": "..."} with 1 <= N < max_rules. The snapshot.
    state,
};

// JSON. Written: default, malformed, sets (name -> prefix strings), rules;
// default_non_ip only when it is drop (absent means pass);
// inspect always in the state form, only when there are any in the
// document form. Read: sets are normalised; where is the document's own
// path ("policy"), the start of every error's field. Does not run
// validate_policy() (callers decide what an invalid policy is), but refuses
// rules that name a missing set and duplicate rule ids.
nlohmann::json policy_to_json(const Policy& policy, PolicyForm form);
Policy policy_from_json(const nlohmann::json& doc, const std::string& where, PolicyForm form,
                        uint32_t max_rules = 0);

// YAML (the document form; docs/RULES.md). Sets may also be {file: NAME,
// prefixes: [...]} with NAME relative to base_dir; errors name source_name
// and the line. Written with sets inline and every rule's id, one prefix or
// rule per line, so that reading it back gives an equal policy.
std::string policy_to_yaml(const Policy& policy);
Policy policy_from_yaml(const std::string& yaml, const std::filesystem::path& base_dir,
                        const std::string& source_name);

// The pieces the daemon's journal shares with the snapshot: a rule as
// {"id", "text"} (the id range-checked against max_rules), an inspection
// rule the same way, a set's prefixes as an array of strings.
nlohmann::json rule_to_json(uint32_t id, const std::string& text);
// obj["id"], 1 <= id < max_rules (inspection rules: inspect::max_rules).
uint32_t rule_id_from_json(const nlohmann::json& obj, const std::string& where, uint32_t max_rules);
Rule rule_from_json(const nlohmann::json& obj, const std::string& where, uint32_t max_rules);
inspect::InspectRule inspect_rule_from_json(const nlohmann::json& obj, const std::string& where);
nlohmann::json prefixes_to_json(const PrefixSet& set);
PrefixSet prefixes_from_json(const nlohmann::json& list, const std::string& where);

} // namespace xdpfw
