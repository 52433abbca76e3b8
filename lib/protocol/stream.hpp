// SPDX-License-Identifier: GPL-2.0-only
// The control protocol's one streaming command, `monitor` (docs/PROTOCOL.md,
// "Streams"): after its ok response the connection carries event lines
// until the client closes it. Not in enum Command: the transport
// (lib/control/server.hpp, StreamHandler) serves it, not execute_request.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace xdpfw::protocol {

inline constexpr const char* monitor_command = "monitor";

// What a monitor asks for: events of one rule id and/or one reason name
// (reason_name(): "rule_drop", "default_pass", ...), and whether each event
// carries its frame bytes ("data", hex; xdpfwctl capture).
struct MonitorRequest {
    std::optional<uint32_t> rule;
    std::optional<std::string> reason;
    bool packets = false;
};

// {"cmd":"monitor", "rule":ID, "reason":NAME, "packets":true} (defaults left out).
nlohmann::json monitor_request(const MonitorRequest& m);
// Whether a request object names the monitor command.
bool is_monitor_request(const nlohmann::json& request);
// The request's filter. Throws Error(bad_request) naming a bad argument.
MonitorRequest parse_monitor_request(const nlohmann::json& request);

} // namespace xdpfw::protocol
