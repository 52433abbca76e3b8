// SPDX-License-Identifier: GPL-2.0-only
// The command table and the framing of requests and responses.
#include "lib/protocol/protocol.hpp"

#include "lib/base/enum_names.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace xdpfw::protocol {

namespace {

using json = nlohmann::json;

// In enum order (static_assert below).
constexpr EnumNames<Command, command_count> command_names = {{{
    {Command::status, "status"},
    {Command::rule_add, "rule.add"},
    {Command::rule_del, "rule.del"},
    {Command::rule_replace, "rule.replace"},
    {Command::rule_list, "rule.list"},
    {Command::set_create, "set.create"},
    {Command::set_add, "set.add"},
    {Command::set_del, "set.del"},
    {Command::set_load, "set.load"},
    {Command::set_destroy, "set.destroy"},
    {Command::set_list, "set.list"},
    {Command::inspect_add, "inspect.add"},
    {Command::inspect_del, "inspect.del"},
    {Command::inspect_list, "inspect.list"},
    {Command::load, "load"},
    {Command::policy_get, "policy.get"},
    {Command::history, "history"},
    {Command::confirm, "confirm"},
    {Command::rollback, "rollback"},
    {Command::diff, "diff"},
    {Command::stats, "stats"},
    {Command::ct_list, "ct.list"},
    {Command::ct_flush, "ct.flush"},
    {Command::detach, "detach"},
}}};
static_assert(command_names.in_order(), "command_names must list the commands in enum order");

constexpr std::array<Command, command_count> commands = command_names.values();

// Error messages may quote what the client sent (the JSON parser's "last
// read" does, byte for byte); invalid UTF-8 there would make the response
// itself unserialisable, so such bytes become U+FFFD.
std::string valid_utf8(const std::string& s)
{
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80           ? 1
                   : (c >> 5) == 0x6  ? 2
                   : (c >> 4) == 0xe  ? 3
                   : (c >> 3) == 0x1e ? 4
                                      : 0;
        bool ok = n > 0 && i + n <= s.size();
        uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; ok && k < n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xc0) == 0x80;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, surrogates and values past U+10FFFF are invalid too.
        if (ok && ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
                   (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
            ok = false;
        if (ok) {
            out.append(s, i, n);
            i += n;
        } else {
            out += "\xef\xbf\xbd";
            ++i;
        }
    }
    return out;
}

} // namespace

const std::array<Command, command_count>& all_commands()
{
    return commands;
}

std::string_view command_name(Command cmd)
{
    return command_names.name(cmd, "unknown");
}

std::optional<Command> command_from_name(std::string_view name)
{
    return command_names.find(name);
}

std::string known_commands()
{
    std::vector<std::string_view> names;
    for (const auto& [cmd, name] : command_names.entries)
        names.push_back(name);
    std::sort(names.begin(), names.end());
    std::string out;
    for (std::string_view n : names) {
        if (!out.empty())
            out += ", ";
        out += n;
    }
    return out;
}

bool changes_policy(Command cmd)
{
    switch (cmd) {
    case Command::rule_add:
    case Command::rule_del:
    case Command::rule_replace:
    case Command::set_create:
    case Command::set_add:
    case Command::set_del:
    case Command::set_load:
    case Command::set_destroy:
    case Command::inspect_add:
    case Command::inspect_del:
    case Command::load:
    case Command::rollback: return true;
    default: return false;
    }
}

void add_change_options(json& req, const ChangeOptions& options)
{
    if (options.dry_run)
        req[dry_run_key] = true;
    if (options.confirm_seconds)
        req[confirm_key] = *options.confirm_seconds;
}

json make_request(Command cmd)
{
    return {{"cmd", command_name(cmd)}};
}

std::string request_line(json& req, int64_t default_id)
{
    if (!req.contains("id"))
        req["id"] = default_id;
    return req.dump() + "\n";
}

json request_id(const json& request)
{
    if (request.is_object()) {
        auto it = request.find("id");
        if (it != request.end() && it->is_number_integer())
            return *it;
    }
    return 0;
}

json line_request_id(const std::string& line)
{
    return request_id(json::parse(line, nullptr, false));
}

std::string json_error_text(const std::exception& e)
{
    std::string msg = e.what();
    if (msg.rfind("[json.exception.", 0) == 0)
        if (auto p = msg.find("] "); p != std::string::npos)
            msg.erase(0, p + 2);
    return msg;
}

json parse_request_line(const std::string& line)
{
    try {
        return json::parse(line);
    } catch (const json::exception& e) {
        throw Error(ErrorCode::bad_json, "not JSON: " + json_error_text(e));
    }
}

Command request_command(const json& request)
{
    if (!request.is_object())
        throw Error(ErrorCode::bad_json,
                    std::string("a request must be a JSON object, got ") + request.type_name());
    auto it = request.find("cmd");
    if (it == request.end())
        throw Error(ErrorCode::bad_request, "missing argument 'cmd' (a string)");
    if (!it->is_string())
        throw Error(ErrorCode::bad_request,
                    std::string("argument 'cmd' must be a string, got ") + it->type_name());
    const std::string& name = it->get_ref<const std::string&>();
    if (auto cmd = command_from_name(name))
        return *cmd;
    throw Error(ErrorCode::unknown_command,
                "unknown command '" + name + "' (known: " + known_commands() + ")");
}

json success_response(const json& id, const json& result)
{
    json response = {{"id", id}, {"ok", true}};
    response.update(result);
    return response;
}

json error_response(const json& id, ErrorCode code, const std::string& message)
{
    return {{"id", id},
            {"ok", false},
            {"error", {{"code", error_name(code)}, {"message", valid_utf8(message)}}}};
}

std::string response_line(const json& response)
{
    std::string s = response.dump(-1, ' ', false, json::error_handler_t::replace);
    s.push_back('\n');
    return s;
}

Response parse_response_line(const std::string& line)
{
    Response r;
    try {
        r.full = json::parse(line);
    } catch (const json::parse_error& e) {
        throw BadResponse(std::string("response is not JSON: ") + e.what());
    }
    const json& j = r.full;
    if (!j.is_object() || !j.contains("ok") || !j["ok"].is_boolean())
        throw BadResponse("response is not an object with a boolean \"ok\"");
    r.ok = j["ok"].get<bool>();
    r.id = j.value("id", json());
    if (r.ok)
        return r;
    const json err = j.value("error", json::object());
    if (!err.is_object() || !err.contains("code") || !err["code"].is_string())
        throw BadResponse("error response without an error code: " + line);
    r.code_name = err["code"].get<std::string>();
    r.code = error_code_from_name(r.code_name);
    r.message = err.contains("message") && err["message"].is_string()
                    ? err["message"].get<std::string>()
                    : std::string("(no message)");
    return r;
}

json result_of(const json& response)
{
    json r = response;
    r.erase("id");
    r.erase("ok");
    return r;
}

} // namespace xdpfw::protocol
