// SPDX-License-Identifier: GPL-2.0-only
// The host setting action=syncookie rules need (net.ipv4.tcp_syncookies=2).
#pragma once

#include "lib/model/policy.hpp"

#include <optional>
#include <string>

namespace xdpfw {

// The warning for a policy with action=syncookie rules when
// tcp_syncookies (the sysctl's value; nullopt: unreadable) is not 2, else
// nullopt. Listeners accept a SYN cookie they did not send only with 2.
std::optional<std::string> syncookie_warning(const Policy& policy,
                                             std::optional<int> tcp_syncookies);

// The value of /proc/sys/net/ipv4/tcp_syncookies, nullopt if unreadable.
std::optional<int> read_tcp_syncookies();

} // namespace xdpfw
