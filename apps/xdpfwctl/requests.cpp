// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl arguments to control protocol requests.
#include "apps/xdpfwctl/requests.hpp"

#include "lib/lang/policy_codec.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_words.hpp"
#include "apps/xdpfwctl/client.hpp"
#include "lib/protocol/protocol.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace xdpfw::ctl {

namespace {

using protocol::Command;

nlohmann::json command(Command cmd)
{
    return protocol::make_request(cmd);
}

} // namespace

nlohmann::json status_request()
{
    return command(Command::status);
}

namespace {

// "rule.add"/"inspect.add": the words joined into rule text, values the
// shell unquoted quoted again (join_rule_words).
nlohmann::json add_request(Command cmd, const std::vector<std::string>& words)
{
    auto req = command(cmd);
    req["rule"] = join_rule_words(words);
    return req;
}

nlohmann::json del_request(Command cmd, uint32_t rule_id)
{
    auto req = command(cmd);
    req["rule_id"] = rule_id;
    return req;
}

} // namespace

nlohmann::json rule_add_request(const std::vector<std::string>& words)
{
    return add_request(Command::rule_add, words);
}

nlohmann::json rule_del_request(uint32_t rule_id)
{
    return del_request(Command::rule_del, rule_id);
}

nlohmann::json rule_replace_request(uint32_t rule_id, const std::vector<std::string>& words)
{
    auto req = add_request(Command::rule_replace, words);
    req["rule_id"] = rule_id;
    return req;
}

nlohmann::json inspect_add_request(const std::vector<std::string>& words)
{
    return add_request(Command::inspect_add, words);
}

nlohmann::json inspect_del_request(uint32_t rule_id)
{
    return del_request(Command::inspect_del, rule_id);
}

nlohmann::json inspect_list_request()
{
    return command(Command::inspect_list);
}

nlohmann::json rule_list_request()
{
    return command(Command::rule_list);
}

nlohmann::json set_create_request(const std::string& name)
{
    auto req = command(Command::set_create);
    req["name"] = name;
    return req;
}

nlohmann::json set_add_request(const std::string& name, const std::vector<std::string>& prefixes)
{
    auto req = command(Command::set_add);
    req["name"] = name;
    req["prefixes"] = prefixes;
    return req;
}

nlohmann::json set_del_request(const std::string& name, const std::vector<std::string>& prefixes)
{
    auto req = command(Command::set_del);
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
    auto req = command(Command::set_load);
    req["name"] = name;
    req["prefixes"] = prefixes_to_json(set);
    return req;
}

nlohmann::json set_destroy_request(const std::string& name)
{
    auto req = command(Command::set_destroy);
    req["name"] = name;
    return req;
}

nlohmann::json policy_get_request()
{
    return command(Command::policy_get);
}

nlohmann::json set_list_request(const std::optional<std::string>& name)
{
    auto req = command(Command::set_list);
    if (name)
        req["name"] = *name;
    return req;
}

nlohmann::json policy_to_json(const Policy& policy)
{
    return xdpfw::policy_to_json(policy, PolicyForm::document);
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
    auto req = command(Command::load);
    req["policy"] = policy_to_json(policy);
    return req;
}

nlohmann::json history_request(std::optional<unsigned> limit)
{
    auto req = command(Command::history);
    if (limit)
        req["limit"] = *limit;
    return req;
}

nlohmann::json stats_request()
{
    return command(Command::stats);
}

nlohmann::json confirm_request()
{
    return command(Command::confirm);
}

nlohmann::json rollback_request(std::optional<uint64_t> version)
{
    auto req = command(Command::rollback);
    if (version)
        req["version"] = *version;
    return req;
}

nlohmann::json diff_request(uint64_t from, std::optional<uint64_t> to)
{
    auto req = command(Command::diff);
    req["from"] = from;
    if (to)
        req["to"] = *to;
    return req;
}

nlohmann::json ct_list_request(std::optional<unsigned> limit)
{
    auto req = command(Command::ct_list);
    if (limit)
        req["limit"] = *limit;
    return req;
}

nlohmann::json ct_flush_request()
{
    return command(Command::ct_flush);
}

nlohmann::json detach_request()
{
    return command(Command::detach);
}

} // namespace xdpfw::ctl
