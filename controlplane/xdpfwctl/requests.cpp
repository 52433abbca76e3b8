// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl arguments to control protocol requests.
#include "controlplane/xdpfwctl/requests.hpp"

#include "controlplane/policy_file.hpp"
#include "controlplane/xdpfwctl/client.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace xdpfw::ctl {

namespace {

nlohmann::json command(const char* cmd)
{
    return {{"cmd", cmd}};
}

nlohmann::json prefix_strings(const PrefixSet& set)
{
    nlohmann::json out = nlohmann::json::array();
    for (const Prefix& p : set.prefixes)
        out.push_back(p.str());
    return out;
}

} // namespace

nlohmann::json status_request()
{
    return command("status");
}

nlohmann::json rule_add_request(const std::vector<std::string>& words)
{
    std::string text;
    for (const auto& w : words)
        text += (text.empty() ? "" : " ") + w;
    auto req = command("rule.add");
    req["rule"] = text;
    return req;
}

nlohmann::json rule_del_request(uint32_t rule_id)
{
    auto req = command("rule.del");
    req["rule_id"] = rule_id;
    return req;
}

nlohmann::json rule_list_request()
{
    return command("rule.list");
}

nlohmann::json set_create_request(const std::string& name)
{
    auto req = command("set.create");
    req["name"] = name;
    return req;
}

nlohmann::json set_add_request(const std::string& name, const std::vector<std::string>& prefixes)
{
    auto req = command("set.add");
    req["name"] = name;
    req["prefixes"] = prefixes;
    return req;
}

nlohmann::json set_del_request(const std::string& name, const std::vector<std::string>& prefixes)
{
    auto req = command("set.del");
    req["name"] = name;
    req["prefixes"] = prefixes;
    return req;
}

nlohmann::json set_load_request(const std::string& name, const std::filesystem::path& file)
{
    std::ifstream in(file);
    if (!in)
        throw ClientError(ClientError::Kind::local, "io_error",
                          "cannot open " + file.string() + ": " + std::strerror(errno));
    PrefixSet set;
    try {
        set = parse_prefix_lines(in, file.string());
    } catch (const PolicyError& e) {
        throw ClientError(ClientError::Kind::local, "invalid_prefix", e.what());
    }
    auto req = command("set.load");
    req["name"] = name;
    req["prefixes"] = prefix_strings(set);
    return req;
}

nlohmann::json set_list_request(const std::optional<std::string>& name)
{
    auto req = command("set.list");
    if (name)
        req["name"] = *name;
    return req;
}

nlohmann::json policy_to_json(const Policy& policy)
{
    nlohmann::json rules = nlohmann::json::array();
    for (const Rule& r : policy.rules)
        rules.push_back("id=" + std::to_string(r.id) + " " + r.text);
    nlohmann::json sets = nlohmann::json::object();
    for (const auto& [name, set] : policy.sets)
        sets[name] = prefix_strings(set);
    return {{"default", action_name(policy.default_action)},
            {"malformed", action_name(policy.malformed_action)},
            {"rules", rules},
            {"sets", sets}};
}

nlohmann::json load_request(const std::filesystem::path& file)
{
    // Checked here too so a missing file is an io_error like in set load,
    // not a policy problem.
    if (!std::ifstream(file))
        throw ClientError(ClientError::Kind::local, "io_error",
                          "cannot open " + file.string() + ": " + std::strerror(errno));
    Policy policy;
    try {
        policy = load_policy_file(file);
    } catch (const PolicyError& e) {
        throw ClientError(ClientError::Kind::local, "invalid_policy", e.what());
    }
    auto req = command("load");
    req["policy"] = policy_to_json(policy);
    return req;
}

nlohmann::json history_request(std::optional<unsigned> limit)
{
    auto req = command("history");
    if (limit)
        req["limit"] = *limit;
    return req;
}

nlohmann::json stats_request()
{
    return command("stats");
}

nlohmann::json detach_request()
{
    return command("detach");
}

} // namespace xdpfw::ctl
