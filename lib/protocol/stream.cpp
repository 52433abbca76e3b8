// SPDX-License-Identifier: GPL-2.0-only
// The monitor request: built by xdpfwctl, read by the daemon.
#include "lib/protocol/stream.hpp"

#include "lib/model/error.hpp"

namespace xdpfw::protocol {

nlohmann::json monitor_request(const MonitorRequest& m)
{
    nlohmann::json r = {{"cmd", monitor_command}};
    if (m.rule)
        r["rule"] = *m.rule;
    if (m.reason)
        r["reason"] = *m.reason;
    if (m.packets)
        r["packets"] = true;
    return r;
}

bool is_monitor_request(const nlohmann::json& request)
{
    if (!request.is_object())
        return false;
    const auto it = request.find("cmd");
    return it != request.end() && it->is_string() && it->get<std::string>() == monitor_command;
}

MonitorRequest parse_monitor_request(const nlohmann::json& request)
{
    MonitorRequest m;
    if (const auto it = request.find("rule"); it != request.end()) {
        if (!it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX)
            throw Error(ErrorCode::bad_request, "monitor: \"rule\" must be a rule id (a number)");
        m.rule = it->get<uint32_t>();
    }
    if (const auto it = request.find("reason"); it != request.end()) {
        if (!it->is_string())
            throw Error(ErrorCode::bad_request, "monitor: \"reason\" must be a reason name");
        m.reason = it->get<std::string>();
    }
    if (const auto it = request.find("packets"); it != request.end()) {
        if (!it->is_boolean())
            throw Error(ErrorCode::bad_request, "monitor: \"packets\" must be true or false");
        m.packets = it->get<bool>();
    }
    return m;
}

} // namespace xdpfw::protocol
