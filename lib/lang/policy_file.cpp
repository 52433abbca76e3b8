// SPDX-License-Identifier: GPL-2.0-only
// Policy files (through the codec), set files and whole-policy validation.
#include "lib/lang/policy_file.hpp"

#include "lib/lang/inspect_rules.hpp"
#include "lib/lang/policy_codec.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/lang/yaml_nodes.hpp"

#include <algorithm>
#include <set>

namespace xdpfw {

void check_set_refs(const Rule& rule, const Policy& policy, const std::string& where)
{
    for (auto [key, addr] : {std::pair{"src", &rule.match.src}, std::pair{"dst", &rule.match.dst}}) {
        if (*addr && (*addr)->is_set() && !policy.sets.contains((*addr)->set_name()))
            throw PolicyFieldError(PolicyFieldError::Kind::unknown_set, where, key,
                                   "unknown set '" + (*addr)->set_name() + "'");
    }
}

void normalize_set(PrefixSet& set)
{
    set.edit([](std::vector<Prefix>& v) {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
    });
}

PrefixSet parse_prefix_lines(std::istream& in, const std::string& source)
{
    std::vector<Prefix> set;
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
            set.push_back(Prefix::parse(text));
        } catch (const std::invalid_argument& e) {
            throw PolicyError(where, "", e.what());
        }
    }
    if (in.bad())
        throw PolicyError(source, "", "read error after line " + std::to_string(lineno));
    PrefixSet out(std::move(set));
    normalize_set(out);
    return out;
}

Policy parse_policy_yaml(const std::string& yaml, const std::filesystem::path& base_dir,
                         const std::string& source_name)
{
    Policy policy = policy_from_yaml(yaml, base_dir, source_name);
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
                                std::pair{"default_non_ip", policy.default_non_ip_action},
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
    // The first position whose id an earlier rule has (a sorted copy, not
    // a set: every commit validates the whole policy).
    size_t first_repeat = policy.rules.size();
    {
        std::vector<std::pair<uint32_t, size_t>> by_id;
        by_id.reserve(policy.rules.size());
        for (size_t i = 0; i < policy.rules.size(); ++i)
            by_id.emplace_back(policy.rules[i].id, i);
        std::sort(by_id.begin(), by_id.end());
        for (size_t k = 1; k < by_id.size(); ++k)
            if (by_id[k].first == by_id[k - 1].first)
                first_repeat = std::min(first_repeat, by_id[k].second);
    }
    for (size_t i = 0; i < policy.rules.size(); ++i) {
        const Rule& rule = policy.rules[i];
        if (rule.id == 0)
            throw PolicyError("rule at position " + std::to_string(i + 1), "id",
                              "must be at least 1", ErrorCode::invalid_policy);
        std::string where = "rule " + std::to_string(rule.id);
        if (i == first_repeat)
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
    return policy_to_yaml(policy);
}

} // namespace xdpfw
