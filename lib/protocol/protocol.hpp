// SPDX-License-Identifier: GPL-2.0-only
// The control protocol (docs/PROTOCOL.md) as types: the commands, and the
// request and response framing built and parsed in one place for both ends
// of the socket (xdpfwctl and lib/control). Error codes: lib/model/error.hpp.
//
// Its own library rather than part of lib/control: xdpfw_control holds the
// Boost.Asio server and runs commands against the policy store, neither of
// which a client needs; xdpfwctl links this and stays a small socket client
// (no libbpf, libxdp or Hyperscan).
#pragma once

#include "lib/model/error.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace xdpfw::protocol {

// The commands of docs/PROTOCOL.md, "Commands", in its order.
enum class Command : uint8_t {
    status,
    rule_add,
    rule_del,
    rule_replace,
    rule_list,
    set_create,
    set_add,
    set_del,
    set_load,
    set_destroy,
    set_list,
    inspect_add,
    inspect_del,
    inspect_list,
    load,
    policy_get,
    history,
    confirm,
    rollback,
    diff,
    stats,
    ct_list,
    ct_flush,
    detach,
};

inline constexpr size_t command_count = size_t(Command::detach) + 1;

const std::array<Command, command_count>& all_commands();

// The wire name: "status", "rule.add", ...
std::string_view command_name(Command cmd);

// nullopt for a name that is not a command.
std::optional<Command> command_from_name(std::string_view name);

// "detach, history, inspect.add, ...": every name, sorted, for messages.
std::string known_commands();

// ------------------------------------------------------------- requests

// The arguments every command that changes the policy takes
// (docs/PROTOCOL.md, "Dry run and commit confirmed"): "dry_run": true
// checks and reports without committing; "confirm": SECONDS commits and
// rolls back after that long unless `confirm` comes first.
struct ChangeOptions {
    bool dry_run = false;
    std::optional<uint64_t> confirm_seconds;
};
inline constexpr const char* dry_run_key = "dry_run";
inline constexpr const char* confirm_key = "confirm";
// Whether cmd takes ChangeOptions: rule.add/del, set.create/add/del/load,
// inspect.add/del, load, rollback.
bool changes_policy(Command cmd);
// Adds the options that differ from their defaults to req.
void add_change_options(nlohmann::json& req, const ChangeOptions& options);

// {"cmd": NAME}; the caller adds the command's arguments.
nlohmann::json make_request(Command cmd);

// The request as one line on the wire: req with "id" set to default_id when
// it has none, newline-terminated.
std::string request_line(nlohmann::json& req, int64_t default_id = 1);

// The id a response to this request echoes: its "id" when that is an
// integer, else 0.
nlohmann::json request_id(const nlohmann::json& request);

// The same for a raw line; 0 when the line is not a JSON object.
nlohmann::json line_request_id(const std::string& line);

// The request object on a line. Throws Error(bad_json) naming the parse error.
nlohmann::json parse_request_line(const std::string& line);

// The command a request object names. Throws Error: bad_json when it is not
// an object, bad_request when "cmd" is missing or not a string,
// unknown_command (listing the known ones) for any other name.
Command request_command(const nlohmann::json& request);

// ------------------------------------------------------------- responses

// {"id": id, "ok": true, ...result}
nlohmann::json success_response(const nlohmann::json& id, const nlohmann::json& result);

// {"id": id, "ok": false, "error": {"code": NAME, "message": message}}; bytes
// of message that are not UTF-8 become U+FFFD (messages may quote what a
// client sent), so the response always serialises.
nlohmann::json error_response(const nlohmann::json& id, ErrorCode code,
                              const std::string& message);

// The response as one line on the wire, newline-terminated. Never throws on
// strings that are not valid UTF-8: they are replaced.
std::string response_line(const nlohmann::json& response);

// A response as the client reads it.
struct Response {
    nlohmann::json id;
    bool ok = false;
    nlohmann::json full;            // the whole object, with id and ok
    std::string code_name;          // !ok: the code as sent
    std::optional<ErrorCode> code;  // !ok: that code, when this build knows it
    std::string message;            // !ok: "(no message)" when missing
};

// A line that is not a response as docs/PROTOCOL.md promises; what() says why.
class BadResponse : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws BadResponse: not JSON, not an object with a boolean "ok", or a
// failure without a string error code.
Response parse_response_line(const std::string& line);

// A response without its envelope: the result object, minus "id" and "ok".
nlohmann::json result_of(const nlohmann::json& response);

// nlohmann's exception text without its "[json.exception.parse_error.101] ".
std::string json_error_text(const std::exception& e);

} // namespace xdpfw::protocol
