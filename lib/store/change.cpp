// SPDX-License-Identifier: GPL-2.0-only
// Policy changes: applying them, and their journal JSON.
#include "lib/store/change.hpp"

#include "lib/lang/json_fields.hpp"
#include "lib/lang/policy_codec.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/store/policy_store.hpp"

#include <algorithm>
#include <iterator>

namespace xdpfw {

namespace {

using Op = PolicyChange::Op;

constexpr std::pair<Op, const char*> op_names[] = {
    {Op::rule_add, "rule.add"},     {Op::rule_del, "rule.del"},
    {Op::set_create, "set.create"}, {Op::set_add, "set.add"},
    {Op::set_del, "set.del"},       {Op::set_load, "set.load"},
    {Op::recommit, "recommit"},     {Op::inspect_add, "inspect.add"},
    {Op::inspect_del, "inspect.del"}, {Op::rule_replace, "rule.replace"},
    {Op::set_destroy, "set.destroy"},
};

const char* op_name(Op op)
{
    for (const auto& [o, name] : op_names)
        if (o == op)
            return name;
    return "?";
}

// set.add / set.del: the union or the difference of two sorted sets, which
// remembers what changed (the compile cache updates the tables by that).
void merge_into_set(Policy& p, const PolicyChange& c)
{
    PrefixSet& set = existing_set(p, c.name);
    set = c.op == Op::set_add ? set.with(c.prefixes.prefixes()) : set.without(c.prefixes.prefixes());
}

template <class R>
void erase_rule(std::vector<R>& rules, uint32_t id, const char* what)
{
    auto it = std::find_if(rules.begin(), rules.end(), [&](const R& r) { return r.id == id; });
    if (it == rules.end())
        throw CommandError(ErrorCode::unknown_rule, std::string("no ") + what + " with id " + std::to_string(id));
    rules.erase(it);
}

// set.destroy: refused while a rule names the set (the rule would lose its
// meaning); the message lists the rules to change first.
void destroy_set(Policy& p, const std::string& name)
{
    existing_set(p, name);
    std::string users;
    for (const Rule& r : p.evaluation_order()) {
        const auto& m = r.match;
        if ((m.src && m.src->is_set() && m.src->set_name() == name) ||
            (m.dst && m.dst->is_set() && m.dst->set_name() == name))
            users += (users.empty() ? "" : ", ") + std::to_string(r.id);
    }
    if (!users.empty())
        throw CommandError(ErrorCode::set_in_use, "set '" + name + "' is used by rule" +
                                                      (users.find(',') == std::string::npos ? " " : "s ") +
                                                      users + "; delete or replace them first");
    p.sets.erase(name);
}

} // namespace

const Rule* find_rule(const Policy& p, uint32_t id)
{
    auto it = std::find_if(p.rules.begin(), p.rules.end(), [id](const Rule& r) { return r.id == id; });
    return it == p.rules.end() ? nullptr : &*it;
}

const inspect::InspectRule* find_inspect_rule(const Policy& p, uint32_t id)
{
    auto it = std::find_if(p.inspect.begin(), p.inspect.end(),
                           [id](const inspect::InspectRule& r) { return r.id == id; });
    return it == p.inspect.end() ? nullptr : &*it;
}

void check_set_name(const std::string& name)
{
    if (!valid_set_name(name))
        throw CommandError(ErrorCode::bad_request, "'" + name +
                                              "' is not a valid set name "
                                              "([A-Za-z_][A-Za-z0-9_.-]*)");
}

PrefixSet& existing_set(Policy& policy, const std::string& name)
{
    check_set_name(name);
    auto it = policy.sets.find(name);
    if (it == policy.sets.end())
        throw CommandError(ErrorCode::unknown_set, "no set named '" + name + "'");
    return it->second;
}

void apply_change(Policy& p, const PolicyChange& c)
{
    switch (c.op) {
    case Op::rule_add:
        if (const Rule* holder = find_rule(p, c.rule.id))
            throw CommandError(ErrorCode::rule_exists, "rule id " + std::to_string(c.rule.id) +
                                                  " is taken by: " + holder->text);
        p.rules.push_back(c.rule);
        break;
    case Op::rule_del: erase_rule(p.rules, c.id, "rule"); break;
    case Op::rule_replace: {
        auto it = std::find_if(p.rules.begin(), p.rules.end(),
                               [&](const Rule& r) { return r.id == c.rule.id; });
        if (it == p.rules.end())
            throw CommandError(ErrorCode::unknown_rule, "no rule with id " + std::to_string(c.rule.id));
        *it = c.rule;
        break;
    }
    case Op::set_destroy: destroy_set(p, c.name); break;
    case Op::set_create:
        check_set_name(c.name);
        if (p.sets.contains(c.name))
            throw CommandError(ErrorCode::set_exists, "set '" + c.name + "' already exists");
        p.sets[c.name];
        break;
    case Op::set_add:
    case Op::set_del: merge_into_set(p, c); break;
    case Op::set_load:
        check_set_name(c.name);
        p.sets[c.name] = c.prefixes;
        break;
    case Op::inspect_add:
        if (const inspect::InspectRule* holder = find_inspect_rule(p, c.inspect.id))
            throw CommandError(ErrorCode::rule_exists, "inspection rule id " + std::to_string(c.inspect.id) +
                                                  " is taken by: " + holder->text);
        p.inspect.push_back(c.inspect);
        break;
    case Op::inspect_del: erase_rule(p.inspect, c.id, "inspection rule"); break;
    case Op::recommit: break;
    }
}

nlohmann::json change_to_json(const PolicyChange& c)
{
    nlohmann::json j = {{"op", op_name(c.op)}};
    switch (c.op) {
    case Op::rule_add:
    case Op::rule_replace: j.update(rule_to_json(c.rule.id, c.rule.text)); break;
    case Op::inspect_add: j.update(rule_to_json(c.inspect.id, c.inspect.text)); break;
    case Op::rule_del:
    case Op::inspect_del: j["id"] = c.id; break;
    case Op::set_create:
    case Op::set_destroy: j["name"] = c.name; break;
    case Op::set_add:
    case Op::set_del:
    case Op::set_load:
        j["name"] = c.name;
        j["prefixes"] = prefixes_to_json(c.prefixes);
        break;
    case Op::recommit: break;
    }
    return j;
}

PolicyChange change_from_json(const nlohmann::json& j, const std::string& where,
                              uint32_t max_rules)
{
    using namespace json_fields;
    object(j, where);
    const std::string& op = string(field(j, where, "op"), join(where, "op"));
    auto known = std::find_if(std::begin(op_names), std::end(op_names),
                              [&](const auto& entry) { return op == entry.second; });
    if (known == std::end(op_names))
        fail(join(where, "op"), "unknown operation '" + op + "'");
    PolicyChange c;
    c.op = known->first;
    switch (c.op) {
    case Op::rule_add:
    case Op::rule_replace: c.rule = rule_from_json(j, where, max_rules); break;
    case Op::inspect_add: c.inspect = inspect_rule_from_json(j, where); break;
    case Op::rule_del: c.id = rule_id_from_json(j, where, max_rules); break;
    case Op::inspect_del: c.id = rule_id_from_json(j, where, inspect::max_rules); break;
    case Op::set_create:
    case Op::set_destroy:
    case Op::set_add:
    case Op::set_del:
    case Op::set_load:
        c.name = string(field(j, where, "name"), join(where, "name"));
        if (!valid_set_name(c.name))
            fail(join(where, "name"), "'" + c.name + "' is not a valid set name");
        if (c.op != Op::set_create && c.op != Op::set_destroy)
            c.prefixes = prefixes_from_json(field(j, where, "prefixes"), join(where, "prefixes"));
        break;
    case Op::recommit: break;
    }
    return c;
}

} // namespace xdpfw
