// SPDX-License-Identifier: GPL-2.0-only
// The control protocol's commands (docs/PROTOCOL.md): argument checks,
// dispatch to the PolicyStore and the DataplaneView, result shapes.
#include "lib/control/commands.hpp"

#include "lib/lang/inspect_rules.hpp"
#include "lib/lang/policy_codec.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/protocol/protocol.hpp"
#include "lib/store/diff.hpp"
#include "lib/reference/lockout.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <system_error>

namespace xdpfw {

namespace {

using json = nlohmann::json;
using protocol::Command;

[[noreturn]] void bad_request(const std::string& message)
{
    throw CommandError(ErrorCode::bad_request, message);
}

// ---------------------------------------------------------------- arguments

const json* argument(const json& req, const char* key)
{
    auto it = req.find(key);
    return it == req.end() ? nullptr : &*it;
}

const std::string& string_arg(const json& req, const char* key)
{
    const json* v = argument(req, key);
    if (!v)
        bad_request(std::string("missing argument '") + key + "' (a string)");
    if (!v->is_string())
        bad_request(std::string("argument '") + key + "' must be a string, got " + v->type_name());
    return v->get_ref<const std::string&>();
}

uint64_t unsigned_value(const json& v, const std::string& name, uint64_t max)
{
    if (!v.is_number_integer())
        bad_request("argument '" + name + "' must be an integer, got " +
                    (v.is_number() ? v.dump() : std::string(v.type_name())));
    // A non-negative integer may be stored signed (json built in code
    // rather than parsed), so test the value, not the storage type.
    if ((!v.is_number_unsigned() && v.get<int64_t>() < 0) || v.get<uint64_t>() > max)
        bad_request("argument '" + name + "' must be 0.." + std::to_string(max) + ", got " +
                    v.dump());
    return v.get<uint64_t>();
}

std::vector<std::string> string_list(const json& v, const std::string& name)
{
    if (!v.is_array())
        bad_request("argument '" + name + "' must be an array of strings, got " + v.type_name());
    std::vector<std::string> out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string())
            bad_request("argument '" + name + "[" + std::to_string(i) +
                        "]' must be a string, got " + v[i].type_name());
        out.push_back(v[i].get<std::string>());
    }
    return out;
}

std::vector<std::string> string_list_arg(const json& req, const char* key)
{
    const json* v = argument(req, key);
    if (!v)
        bad_request(std::string("missing argument '") + key + "' (an array of strings)");
    return string_list(*v, key);
}

// The "load" argument: the same content as a YAML policy file, with rule
// ids taken from id= or, as in rule files, from the rule's position
// (policy_codec.hpp, the document form).
Policy policy_arg(const json& req)
{
    const json* pj = argument(req, "policy");
    if (!pj)
        bad_request("missing argument 'policy' (an object)");
    try {
        return policy_from_json(*pj, "policy", PolicyForm::document);
    } catch (const PolicyFieldError& e) {
        if (e.kind() == PolicyFieldError::Kind::type)
            bad_request("argument '" + e.where() + "' must be " + e.expected() + ", got " +
                        e.got());
        throw CommandError(e.code(), e.what());
    }
}

// ---------------------------------------------------------------- commands

struct Context {
    const json& req;
    PolicyStore& store;
    DataplaneView& view;
    bool* exit_after;
    CommitOptions opts = {};       // commands that change the policy
    std::optional<Policy> preview; // a dry run's candidate, once it ran

    // The policy after the command: the dry run's candidate, or the live one.
    const Policy& after()
    {
        if (opts.dry_run && !preview)
            preview = store.take_dry_run();
        return preview ? *preview : store.policy();
    }
};

// "dry_run" and "confirm" (protocol::ChangeOptions).
CommitOptions commit_options(const json& req)
{
    CommitOptions o;
    if (const json* v = argument(req, protocol::dry_run_key)) {
        if (!v->is_boolean())
            bad_request(std::string("argument 'dry_run' must be a boolean, got ") + v->type_name());
        o.dry_run = v->get<bool>();
    }
    if (const json* v = argument(req, protocol::confirm_key)) {
        const uint64_t s = unsigned_value(*v, protocol::confirm_key, max_confirm_seconds);
        if (s == 0)
            bad_request("argument 'confirm' must be 1.." + std::to_string(max_confirm_seconds) +
                        " seconds, got 0");
        o.confirm = std::chrono::seconds(s);
    }
    return o;
}

// {"deadline", "version", "rollback_version"} of a pending confirmation.
json pending_json(const PendingConfirm& p)
{
    const double left =
        std::chrono::duration<double>(p.deadline - std::chrono::system_clock::now()).count();
    return {{"deadline", format_utc_time(p.deadline)},
            {"seconds_left", std::max(0.0, left)},
            {"version", p.version},
            {"rollback_version", p.rollback_version}};
}

// What a change command adds to its result: a dry run's "dry_run" and
// "diff" (its "version" is the live one, unchanged); a commit confirmed's
// "pending_confirm".
json change_result(Context& c, json result)
{
    if (c.opts.dry_run) {
        result["dry_run"] = true;
        result["diff"] = diff_to_json(diff_policies(c.store.policy(), c.after()));
    } else if (c.opts.confirm && c.store.pending()) {
        result["pending_confirm"] = pending_json(*c.store.pending());
    }
    return result;
}

json cmd_status(Context& c)
{
    json ifaces = json::array();
    for (const InterfaceStatus& i : c.view.interfaces())
        ifaces.push_back({{"name", i.name},
                          {"ifindex", i.ifindex},
                          {"mode", i.mode},
                          {"multiprog", i.multiprog}});
    const Policy& p = c.store.policy();
    json st = {{"instance", c.view.instance()},
            {"version", c.store.version()},
            {"rules", p.rules.size()},
            {"sets", p.sets.size()},
            {"inspect_rules", p.inspect.size()},
            {"default", action_name(p.default_action)},
            {"default_non_ip", action_name(p.default_non_ip_action)},
            {"malformed", action_name(p.malformed_action)},
            {"interfaces", std::move(ifaces)},
            {"adopted", c.view.adopted()},
            {"uptime_seconds", c.view.uptime_seconds()}};
    if (const auto& pending = c.store.pending())
        st["pending_confirm"] = pending_json(*pending);
    if (json mem = c.view.memory(); !mem.is_null())
        st["memory"] = std::move(mem);
    if (json ctl = c.view.control(); !ctl.is_null())
        st["control"] = std::move(ctl);
    if (json tier = c.view.tier(); !tier.is_null())
        st["tier"] = std::move(tier);
    if (json build = c.view.build_info(); !build.is_null())
        st["build"] = std::move(build);
    if (json fleet = c.view.fleet(); !fleet.is_null())
        st["fleet"] = std::move(fleet);
    return st;
}

// Without the AF_XDP engine an xsk rule's packets get its fallback verdict
// and inspection rules see nothing: committed (the engine may be started
// later), but said (docs/PROTOCOL.md, "warning").
constexpr const char* kNoEngine =
    "xdpfwd runs no AF_XDP engine (started without --xsk / xsk:)";

// An answer's warnings are one string, one line per warning.
void add_warning(json& result, const std::string& text)
{
    auto it = result.find("warning");
    if (it == result.end())
        result["warning"] = text;
    else
        *it = it->get<std::string>() + "\n" + text;
}

// xsk_rules / inspect_rules: what the change holds that needs the engine.
void warn_without_engine(Context& c, json& result, bool xsk_rules, bool inspect_rules)
{
    if (c.view.xsk_engine_running())
        return;
    if (inspect_rules)
        add_warning(result,
                    fmt::format("{}: inspection rules take effect only once it runs", kNoEngine));
    else if (xsk_rules)
        add_warning(result, fmt::format("{}: action=xsk packets get the rule's fallback verdict "
                                        "(pass unless fallback=drop)",
                                        kNoEngine));
}

// The committed policy would cut the host off its neighbours (IPv6
// neighbour discovery or ARP dropped by a default): committed, but said.
void warn_lockout(Context& c, json& result)
{
    const Policy& p = c.after(); // what was committed, or what a dry run would commit
    if (p.default_action != ActionType::drop && p.default_non_ip_action != ActionType::drop)
        return; // nothing to check (lockout_warnings() would find nothing)
    std::vector<LockoutInterface> ifaces;
    try {
        for (const InterfaceStatus& i : c.view.interfaces())
            ifaces.push_back({i.name, i.ifindex});
    } catch (const std::exception&) {
        // The change is committed; a warning without interface names will do.
    }
    for (const std::string& w : lockout_warnings(p, ifaces))
        add_warning(result, w);
}

bool has_xsk_rule(const std::vector<Rule>& rules, uint32_t only_id = 0)
{
    return std::any_of(rules.begin(), rules.end(), [&](const Rule& r) {
        return r.action.type == ActionType::xsk && (only_id == 0 || r.id == only_id);
    });
}

json cmd_rule_add(Context& c)
{
    uint32_t id = c.store.add_rule(string_arg(c.req, "rule"), c.opts);
    json result = {{"rule_id", id}, {"version", c.store.version()}};
    warn_without_engine(c, result, has_xsk_rule(c.after().rules, id), false);
    warn_lockout(c, result);
    return change_result(c, std::move(result));
}

uint32_t rule_id_arg(const json& req)
{
    const json* v = argument(req, "rule_id");
    if (!v)
        bad_request("missing argument 'rule_id' (an integer)");
    return static_cast<uint32_t>(unsigned_value(*v, "rule_id", std::numeric_limits<uint32_t>::max()));
}

json cmd_rule_del(Context& c)
{
    c.store.delete_rule(rule_id_arg(c.req), c.opts);
    json result = {{"version", c.store.version()}};
    warn_lockout(c, result); // the rule may have been what passed them
    return change_result(c, std::move(result));
}

json cmd_rule_replace(Context& c)
{
    const uint32_t id = rule_id_arg(c.req);
    c.store.replace_rule(id, string_arg(c.req, "rule"), c.opts);
    json result = {{"rule_id", id}, {"version", c.store.version()}};
    warn_without_engine(c, result, has_xsk_rule(c.after().rules, id), false);
    warn_lockout(c, result);
    return change_result(c, std::move(result));
}

json cmd_rule_list(Context& c)
{
    json rules = json::array();
    for (const Rule& r : c.store.policy().evaluation_order())
        rules.push_back({{"id", r.id},
                         {"priority", r.priority},
                         {"action", format_action(r.action)},
                         {"comment", r.comment},
                         {"text", r.text}});
    return {{"version", c.store.version()}, {"rules", std::move(rules)}};
}

json cmd_inspect_add(Context& c)
{
    uint32_t id = c.store.add_inspect_rule(string_arg(c.req, "rule"), c.opts);
    json result = {{"rule_id", id}, {"version", c.store.version()}};
    warn_without_engine(c, result, false, true);
    return change_result(c, std::move(result));
}

json cmd_inspect_del(Context& c)
{
    c.store.delete_inspect_rule(rule_id_arg(c.req), c.opts);
    return change_result(c, {{"version", c.store.version()}});
}

// Inspection rules by (priority, id), with the engine's counters for each
// (zero when no engine runs or the rule matched nothing yet).
json inspect_rules_json(const PolicyStore& store, const json& xsk)
{
    std::map<uint32_t, json> counters;
    if (xsk.is_object() && xsk.contains("rules"))
        for (const json& r : xsk["rules"])
            counters[r.value("id", 0u)] = r;
    std::vector<const inspect::InspectRule*> order;
    for (const inspect::InspectRule& r : store.policy().inspect)
        order.push_back(&r);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
        return std::pair(a->priority, a->id) < std::pair(b->priority, b->id);
    });
    json rules = json::array();
    for (const inspect::InspectRule* r : order) {
        auto it = counters.find(r->id);
        const json k = it == counters.end() ? json::object() : it->second;
        rules.push_back({{"id", r->id},
                         {"priority", r->priority},
                         {"action", inspect::verdict_name(r->action)},
                         {"text", r->text},
                         {"packets", k.value("packets", uint64_t(0))},
                         {"bytes", k.value("bytes", uint64_t(0))},
                         {"dropped", k.value("dropped", uint64_t(0))},
                         {"forwarded", k.value("forwarded", uint64_t(0))}});
    }
    return rules;
}

json cmd_inspect_list(Context& c)
{
    return {{"version", c.store.version()},
            {"rules", inspect_rules_json(c.store, c.view.xsk_stats())}};
}

size_t set_size(Context& c, const std::string& name)
{
    return c.after().sets.at(name).prefixes().size();
}

json cmd_set_create(Context& c)
{
    c.store.create_set(string_arg(c.req, "name"), c.opts);
    return change_result(c, {{"version", c.store.version()}});
}

json cmd_set_add(Context& c)
{
    const std::string& name = string_arg(c.req, "name");
    size_t added = c.store.add_to_set(name, string_list_arg(c.req, "prefixes"), c.opts);
    return change_result(
        c, {{"version", c.store.version()}, {"added", added}, {"size", set_size(c, name)}});
}

json cmd_set_del(Context& c)
{
    const std::string& name = string_arg(c.req, "name");
    size_t removed = c.store.delete_from_set(name, string_list_arg(c.req, "prefixes"), c.opts);
    return change_result(
        c, {{"version", c.store.version()}, {"removed", removed}, {"size", set_size(c, name)}});
}

json cmd_set_load(Context& c)
{
    const std::string& name = string_arg(c.req, "name");
    size_t size = c.store.load_set(name, string_list_arg(c.req, "prefixes"), c.opts);
    return change_result(c, {{"version", c.store.version()}, {"size", size}});
}

json cmd_set_destroy(Context& c)
{
    c.store.destroy_set(string_arg(c.req, "name"), c.opts);
    return change_result(c, {{"version", c.store.version()}});
}

json cmd_set_list(Context& c)
{
    const auto& sets = c.store.policy().sets;
    if (!argument(c.req, "name")) {
        json list = json::array();
        for (const auto& [name, set] : sets)
            list.push_back({{"name", name}, {"size", set.prefixes().size()}});
        return {{"sets", std::move(list)}};
    }
    const std::string& name = string_arg(c.req, "name");
    auto it = sets.find(name);
    if (it == sets.end())
        throw CommandError(ErrorCode::unknown_set, "no set named '" + name + "'");
    json prefixes = json::array();
    prefixes.get_ref<json::array_t&>().reserve(it->second.prefixes().size());
    for (const Prefix& p : it->second.prefixes())
        prefixes.push_back(p.str());
    return {
        {"name", name}, {"size", it->second.prefixes().size()}, {"prefixes", std::move(prefixes)}};
}

json cmd_load(Context& c)
{
    Policy policy = policy_arg(c.req);
    const size_t rules = policy.rules.size(), sets = policy.sets.size(),
                 inspect_rules = policy.inspect.size();
    std::string summary =
        "load: " + std::to_string(rules) + " rules, " + std::to_string(sets) + " sets";
    if (inspect_rules)
        summary += ", " + std::to_string(inspect_rules) + " inspection rules";
    c.store.replace(std::move(policy), summary, c.opts);
    json result = {{"version", c.store.version()},
                   {"rules", rules},
                   {"sets", sets},
                   {"inspect_rules", inspect_rules}};
    const Policy& live = c.after();
    warn_without_engine(c, result, has_xsk_rule(live.rules), !live.inspect.empty());
    warn_lockout(c, result);
    return change_result(c, std::move(result));
}

// The live policy in the `load` request's form, so that what `xdpfwctl save`
// writes loads back into the same policy.
json cmd_policy_get(Context& c)
{
    return {{"version", c.store.version()},
            {"policy", policy_to_json(c.store.policy(), PolicyForm::document)}};
}

json cmd_history(Context& c)
{
    uint64_t limit = 50;
    if (const json* v = argument(c.req, "limit"))
        limit = unsigned_value(*v, "limit", std::numeric_limits<uint64_t>::max());
    json out = json::array();
    const auto& h = c.store.history();
    for (auto it = h.rbegin(); it != h.rend() && out.size() < limit; ++it)
        out.push_back({{"version", it->version},
                       {"time", format_utc_time(it->time)},
                       {"summary", it->summary}});
    return {{"history", std::move(out)}};
}

// A version argument: an integer >= 1.
std::optional<uint64_t> version_arg(const json& req, const char* key)
{
    const json* v = argument(req, key);
    if (!v || v->is_null())
        return std::nullopt;
    const uint64_t n = unsigned_value(*v, key, std::numeric_limits<uint64_t>::max());
    if (n == 0)
        bad_request(std::string("argument '") + key + "' must be a version (1 or more), got 0");
    return n;
}

json cmd_confirm(Context& c)
{
    const uint64_t confirmed = c.store.confirm();
    return {{"version", c.store.version()}, {"confirmed", confirmed}};
}

json cmd_rollback(Context& c)
{
    const uint64_t target = c.store.rollback(version_arg(c.req, "version"), c.opts);
    return change_result(c, {{"version", c.store.version()}, {"rolled_back_to", target}});
}

// diff FROM [TO]: TO defaults to the live version.
json cmd_diff(Context& c)
{
    const std::optional<uint64_t> from = version_arg(c.req, "from");
    if (!from)
        bad_request("missing argument 'from' (a version)");
    const uint64_t to = version_arg(c.req, "to").value_or(c.store.version());
    json out = diff_to_json(diff_policies(c.store.policy_at(*from), c.store.policy_at(to)));
    out["from"] = *from;
    out["to"] = to;
    return out;
}

json counter_json(const CounterSample& s)
{
    return {{"packets", s.packets}, {"bytes", s.bytes}, {"pps", s.pps}, {"bps", s.bps}};
}

json cmd_stats(Context& c)
{
    json rules = json::array();
    for (const Rule& r : c.store.policy().evaluation_order()) {
        json e = counter_json(c.view.rule_counter(r.id));
        e["id"] = r.id;
        e["priority"] = r.priority;
        e["action"] = format_action(r.action);
        e["rule"] = r.text;
        e["comment"] = r.comment;
        rules.push_back(std::move(e));
    }
    json reasons = json::object();
    for (const auto& [name, sample] : c.view.reason_counters())
        reasons[name] = counter_json(sample);
    json out = {{"version", c.store.version()},
                {"time", format_utc_time(std::chrono::system_clock::now())},
                {"rules", std::move(rules)},
                {"reasons", std::move(reasons)}};
    if (json ev = c.view.events(); !ev.is_null())
        out["events"] = std::move(ev);
    if (json ct = c.view.ct_stats(); !ct.is_null())
        out["ct"] = std::move(ct);
    json xsk = c.view.xsk_stats();
    if (!xsk.is_null()) {
        xsk["rules"] = inspect_rules_json(c.store, xsk);
        out["xsk"] = std::move(xsk);
    }
    return out;
}

json cmd_ct_list(Context& c)
{
    const json* limit = argument(c.req, "limit");
    return c.view.ct_list(limit ? unsigned_value(*limit, "limit", 10000000) : 100000);
}

json cmd_ct_flush(Context& c)
{
    return c.view.ct_flush();
}

json cmd_detach(Context& c)
{
    std::vector<std::string> names = c.view.detach();
    if (c.exit_after)
        *c.exit_after = true;
    return {{"detached", names}};
}

// A switch rather than a table, so a Command without a handler does not
// compile (-Wswitch).
json run_command(Command cmd, Context& c)
{
    switch (cmd) {
    case Command::status: return cmd_status(c);
    case Command::rule_add: return cmd_rule_add(c);
    case Command::rule_del: return cmd_rule_del(c);
    case Command::rule_replace: return cmd_rule_replace(c);
    case Command::rule_list: return cmd_rule_list(c);
    case Command::set_create: return cmd_set_create(c);
    case Command::set_add: return cmd_set_add(c);
    case Command::set_del: return cmd_set_del(c);
    case Command::set_destroy: return cmd_set_destroy(c);
    case Command::set_load: return cmd_set_load(c);
    case Command::set_list: return cmd_set_list(c);
    case Command::inspect_add: return cmd_inspect_add(c);
    case Command::inspect_del: return cmd_inspect_del(c);
    case Command::inspect_list: return cmd_inspect_list(c);
    case Command::load: return cmd_load(c);
    case Command::policy_get: return cmd_policy_get(c);
    case Command::history: return cmd_history(c);
    case Command::confirm: return cmd_confirm(c);
    case Command::rollback: return cmd_rollback(c);
    case Command::diff: return cmd_diff(c);
    case Command::stats: return cmd_stats(c);
    case Command::ct_list: return cmd_ct_list(c);
    case Command::ct_flush: return cmd_ct_flush(c);
    case Command::detach: return cmd_detach(c);
    }
    throw CommandError(ErrorCode::internal, "command without a handler");
}

} // namespace

json DataplaneView::ct_list(size_t) const
{
    throw CommandError(ErrorCode::bad_request, "this daemon has no connection tracking");
}

json DataplaneView::ct_flush()
{
    throw CommandError(ErrorCode::bad_request, "this daemon has no connection tracking");
}

json execute_request(const json& request, PolicyStore& store, DataplaneView& view, bool* exit_after)
{
    json id = protocol::request_id(request);
    try {
        const Command cmd = protocol::request_command(request);
        Context ctx{request, store, view, exit_after, {}, std::nullopt};
        if (protocol::changes_policy(cmd))
            ctx.opts = commit_options(request);
        return protocol::success_response(id, run_command(cmd, ctx));
    } catch (const Error& e) {
        return protocol::error_response(id, e.code(), e.what());
    } catch (const std::system_error& e) {
        return protocol::error_response(id, ErrorCode::kernel_error, e.what());
    } catch (const json::exception& e) {
        return protocol::error_response(id, ErrorCode::internal,
                                        "JSON: " + protocol::json_error_text(e));
    } catch (const std::exception& e) {
        return protocol::error_response(id, ErrorCode::internal, e.what());
    } catch (...) {
        return protocol::error_response(id, ErrorCode::internal, "unknown exception");
    }
}

json execute_line(const std::string& line, PolicyStore& store, DataplaneView& view,
                  bool* exit_after)
{
    json request;
    try {
        request = protocol::parse_request_line(line);
    } catch (const Error& e) {
        return protocol::error_response(0, e.code(), e.what());
    } catch (const std::exception& e) {
        return protocol::error_response(0, ErrorCode::internal, e.what());
    }
    return execute_request(request, store, view, exit_after);
}

} // namespace xdpfw
