// SPDX-License-Identifier: GPL-2.0-only
// The tcp_syncookies check for action=syncookie rules (syncookie_check.hpp).
#include "apps/xdpfwd/syncookie_check.hpp"

#include <algorithm>
#include <fstream>

namespace xdpfw {

std::optional<std::string> syncookie_warning(const Policy& policy,
                                             std::optional<int> tcp_syncookies)
{
    const auto it = std::find_if(policy.rules.begin(), policy.rules.end(), [](const Rule& r) {
        return r.action.type == ActionType::syncookie;
    });
    if (it == policy.rules.end() || tcp_syncookies == 2)
        return std::nullopt;
    return "rule " + std::to_string(it->id) +
           " has action=syncookie but net.ipv4.tcp_syncookies is " +
           (tcp_syncookies ? std::to_string(*tcp_syncookies) : std::string("unreadable")) +
           ": listeners refuse the connections it lets through unless it is 2 "
           "(sysctl -w net.ipv4.tcp_syncookies=2, in the namespace the listeners run in)";
}

std::optional<int> read_tcp_syncookies()
{
    std::ifstream in("/proc/sys/net/ipv4/tcp_syncookies");
    int v = 0;
    if (!(in >> v))
        return std::nullopt;
    return v;
}

} // namespace xdpfw
