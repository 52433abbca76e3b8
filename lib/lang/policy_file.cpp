// SPDX-License-Identifier: GPL-2.0-only
// YAML policy files and set files: parsing, validation and writing back.
#include "lib/lang/policy_file.hpp"

#include "lib/lang/inspect_rules.hpp"

#include "lib/lang/rule_parser.hpp"
#include "lib/lang/yaml_nodes.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace xdpfw {

namespace {

ActionType parse_verdict(const YAML::Node& v, const std::string& source, const std::string& key)
{
    if (!v.IsScalar())
        throw PolicyError(yaml_at(source, v), key, "expected drop or pass, got " + yaml_kind(v));
    const std::string& s = v.Scalar();
    if (s == "drop")
        return ActionType::drop;
    if (s == "pass")
        return ActionType::pass;
    throw PolicyError(yaml_at(source, v), key, "'" + s + "' is not drop or pass");
}

void add_prefix_list(PrefixSet& set, const YAML::Node& list, const std::string& source,
                     const std::string& key)
{
    if (!list.IsSequence())
        throw PolicyError(yaml_at(source, list), key, "expected a list of prefixes, got " + yaml_kind(list));
    for (const YAML::Node& item : list) {
        if (!item.IsScalar())
            throw PolicyError(yaml_at(source, item), key, "expected a prefix, got " + yaml_kind(item));
        try {
            set.prefixes.push_back(Prefix::parse(item.Scalar()));
        } catch (const std::invalid_argument& e) {
            throw PolicyError(yaml_at(source, item), key, e.what());
        }
    }
}

void add_prefix_file(PrefixSet& set, const YAML::Node& file, const std::filesystem::path& base_dir,
                     const std::string& source, const std::string& key)
{
    if (!file.IsScalar() || file.Scalar().empty())
        throw PolicyError(yaml_at(source, file), key, "file: expected a file name, got " + yaml_kind(file));
    std::filesystem::path path = base_dir / file.Scalar();
    std::ifstream in(path);
    if (!in)
        throw PolicyError(yaml_at(source, file), key,
                          "cannot open set file " + path.string() + ": " + std::strerror(errno));
    try {
        PrefixSet from_file = parse_prefix_lines(in, path.string());
        set.prefixes.insert(set.prefixes.end(), from_file.prefixes.begin(),
                            from_file.prefixes.end());
    } catch (const PolicyError& e) {
        throw PolicyError(yaml_at(source, file), key, e.what());
    }
}

PrefixSet parse_set(const YAML::Node& value, const std::filesystem::path& base_dir,
                    const std::string& source, const std::string& key)
{
    PrefixSet set;
    if (value.IsNull())
        return set;
    if (value.IsSequence()) {
        add_prefix_list(set, value, source, key);
    } else if (value.IsMap()) {
        for (const auto& kv : value) {
            std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
            if (k == "file")
                add_prefix_file(set, kv.second, base_dir, source, key);
            else if (k == "prefixes")
                add_prefix_list(set, kv.second, source, key);
            else
                throw PolicyError(yaml_at(source, kv.first), key,
                                  "unknown key '" + k + "' (a set is a list, or {file: NAME}, "
                                  "{prefixes: [...]} or both)");
        }
    } else {
        throw PolicyError(yaml_at(source, value), key,
                          "expected a list of prefixes or {file: NAME}, got " + yaml_kind(value));
    }
    normalize_set(set);
    return set;
}

void check_set_refs(const Rule& rule, const Policy& policy, const std::string& where)
{
    for (auto [key, addr] : {std::pair{"src", &rule.match.src}, std::pair{"dst", &rule.match.dst}}) {
        if (*addr && (*addr)->is_set() && !policy.sets.contains((*addr)->set_name()))
            throw PolicyError(where, key, "unknown set '" + (*addr)->set_name() + "'",
                              ErrorCode::unknown_set);
    }
}

} // namespace

void normalize_set(PrefixSet& set)
{
    std::sort(set.prefixes.begin(), set.prefixes.end());
    set.prefixes.erase(std::unique(set.prefixes.begin(), set.prefixes.end()), set.prefixes.end());
}

PrefixSet parse_prefix_lines(std::istream& in, const std::string& source)
{
    PrefixSet set;
    std::string line;
    size_t lineno = 0;
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; };
    while (std::getline(in, line)) {
        ++lineno;
        if (auto hash = line.find('#'); hash != std::string::npos)
            line.erase(hash);
        auto first = std::find_if_not(line.begin(), line.end(), blank);
        auto last = std::find_if_not(line.rbegin(), line.rend(), blank).base();
        if (first >= last)
            continue;
        std::string text(first, last);
        std::string where = source + ":" + std::to_string(lineno);
        if (std::any_of(text.begin(), text.end(), blank))
            throw PolicyError(where, "", "one prefix per line, found '" + text + "'");
        try {
            set.prefixes.push_back(Prefix::parse(text));
        } catch (const std::invalid_argument& e) {
            throw PolicyError(where, "", e.what());
        }
    }
    if (in.bad())
        throw PolicyError(source, "", "read error after line " + std::to_string(lineno));
    normalize_set(set);
    return set;
}

Policy parse_policy_yaml(const std::string& yaml, const std::filesystem::path& base_dir,
                         const std::string& source_name)
{
    YAML::Node root = yaml_load(yaml, source_name);
    Policy policy;
    // Sets first: rules refer to them, and YAML key order is the user's choice.
    YAML::Node rules_node, inspect_node;
    yaml_for_each_top_key(
        root, source_name, "a mapping with default, malformed, sets, rules and inspect",
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
            if (key == "default") {
                policy.default_action = parse_verdict(value, source_name, key);
            } else if (key == "malformed") {
                policy.malformed_action = parse_verdict(value, source_name, key);
            } else if (key == "sets") {
                if (value.IsNull())
                    return;
                if (!value.IsMap())
                    throw PolicyError(yaml_at(source_name, value), key,
                                      "expected a mapping of set names, got " + yaml_kind(value));
                for (const auto& set_kv : value) {
                    std::string name = set_kv.first.IsScalar() ? set_kv.first.Scalar() : "";
                    if (!valid_set_name(name))
                        throw PolicyError(yaml_at(source_name, set_kv.first), "sets",
                                          "'" + name +
                                              "' is not a valid set name ([A-Za-z_][A-Za-z0-9_.-]*)");
                    if (policy.sets.contains(name))
                        throw PolicyError(yaml_at(source_name, set_kv.first), "set " + name,
                                          "defined twice");
                    policy.sets[name] =
                        parse_set(set_kv.second, base_dir, source_name, "set " + name);
                }
            } else if (key == "rules") {
                rules_node = value;
            } else if (key == "inspect") {
                inspect_node = value;
            } else {
                throw PolicyError(yaml_at(source_name, key_node), key,
                                  "unknown top-level key (known: default, malformed, sets, rules, "
                                  "inspect)");
            }
        });

    std::map<uint32_t, size_t> id_owner; // id -> rule number, for the duplicate message
    yaml_for_each_rule_string(
        rules_node, source_name, [&](const std::string& text, const std::string& where, size_t number) {
            Rule rule = parse_rule(text, where);
            if (rule.id == 0)
                rule.id = static_cast<uint32_t>(number);
            if (auto [it, fresh] = id_owner.emplace(rule.id, number); !fresh)
                throw PolicyError(where, "id",
                                  std::to_string(rule.id) + " is already used by rule " +
                                      std::to_string(it->second));
            check_set_refs(rule, policy, where);
            policy.rules.push_back(std::move(rule));
        });
    // Inspection rules: the same list form, numbered on their own.
    std::map<uint32_t, size_t> inspect_owner;
    yaml_for_each_rule_string(
        inspect_node, source_name,
        [&](const std::string& text, const std::string& where, size_t number) {
            const std::string iwhere = "inspect " + where;
            inspect::InspectRule rule = parse_inspect_rule(text, iwhere);
            if (rule.id == 0)
                rule.id = static_cast<uint32_t>(number);
            if (auto [it, fresh] = inspect_owner.emplace(rule.id, number); !fresh)
                throw PolicyError(iwhere, "id",
                                  std::to_string(rule.id) + " is already used by inspection rule " +
                                      std::to_string(it->second));
            policy.inspect.push_back(std::move(rule));
        });
    validate_policy(policy);
    return policy;
}

Policy load_policy_file(const std::filesystem::path& path)
{
    std::string text = read_policy_text(path);
    std::filesystem::path dir = path.parent_path();
    return parse_policy_yaml(text, dir.empty() ? std::filesystem::path(".") : dir,
                             path.string());
}

void validate_policy(const Policy& policy)
{
    for (auto [key, verdict] : {std::pair{"default", policy.default_action},
                                std::pair{"malformed", policy.malformed_action}}) {
        if (verdict != ActionType::drop && verdict != ActionType::pass)
            throw PolicyError("policy", key,
                              std::string("must be drop or pass, not ") + action_name(verdict),
                              ErrorCode::invalid_policy);
    }
    for (const auto& [name, set] : policy.sets) {
        if (!valid_set_name(name))
            throw PolicyError("set '" + name + "'", "",
                              "not a valid set name ([A-Za-z_][A-Za-z0-9_.-]*)",
                              ErrorCode::invalid_policy);
    }
    std::set<uint32_t> ids;
    for (size_t i = 0; i < policy.rules.size(); ++i) {
        const Rule& rule = policy.rules[i];
        if (rule.id == 0)
            throw PolicyError("rule at position " + std::to_string(i + 1), "id",
                              "must be at least 1", ErrorCode::invalid_policy);
        std::string where = "rule " + std::to_string(rule.id);
        if (!ids.insert(rule.id).second)
            throw PolicyError(where, "id", "used by more than one rule",
                              ErrorCode::invalid_policy);
        validate_rule(rule, where);
        check_set_refs(rule, policy, where);
    }
    std::set<uint32_t> inspect_ids;
    for (const inspect::InspectRule& rule : policy.inspect) {
        const std::string where = "inspect rule " + std::to_string(rule.id);
        if (rule.id == 0 || rule.id >= inspect::max_rules)
            throw PolicyError(where, "id", "must be 1.." + std::to_string(inspect::max_rules - 1),
                              ErrorCode::invalid_policy);
        if (!inspect_ids.insert(rule.id).second)
            throw PolicyError(where, "id", "used by more than one inspection rule",
                              ErrorCode::invalid_policy);
        try {
            inspect::validate(rule, where);
        } catch (const inspect::InspectError& e) {
            throw PolicyError(e.where(), e.key(), e.problem());
        }
    }
}

std::string format_policy_yaml(const Policy& policy)
{
    // Written by hand rather than with YAML::Emitter so the output is stable
    // and one prefix or rule per line (diffable saved state). Nothing quoted
    // here can contain '"' or '\': prefixes, set names and validated rule text.
    std::string out;
    out += "default: ";
    out += action_name(policy.default_action);
    out += "\nmalformed: ";
    out += action_name(policy.malformed_action);
    out += "\nsets:";
    if (policy.sets.empty())
        out += " {}";
    out += "\n";
    for (const auto& [name, set] : policy.sets) {
        // Quoted: a set named e.g. "null" or "true" would otherwise read back
        // as a YAML null or boolean key.
        out += "  \"" + name + "\":";
        if (set.prefixes.empty())
            out += " []";
        out += "\n";
        for (const Prefix& p : set.prefixes)
            out += "    - \"" + p.str() + "\"\n";
    }
    out += "rules:";
    if (policy.rules.empty())
        out += " []";
    out += "\n";
    for (const Rule& rule : policy.rules)
        out += "  - \"id=" + std::to_string(rule.id) + " " + format_rule(rule) + "\"\n";
    if (!policy.inspect.empty()) {
        // Single-quoted: text patterns carry double quotes ('' escapes ').
        out += "inspect:\n";
        for (const inspect::InspectRule& rule : policy.inspect) {
            std::string text = "id=" + std::to_string(rule.id) + " " + format_inspect_rule(rule);
            std::string quoted;
            for (char c : text)
                quoted += c == '\'' ? std::string("''") : std::string(1, c);
            out += "  - '" + quoted + "'\n";
        }
    }
    return out;
}

} // namespace xdpfw
