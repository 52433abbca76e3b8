// SPDX-License-Identifier: GPL-2.0-only
// Lockout checks: would a policy cut the host off its neighbours (IPv6
// neighbour discovery dropped by `default: drop`, ARP by `default_non_ip:
// drop`)? Decided by the reference classifier on representative packets.
#pragma once

#include "lib/model/policy.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace xdpfw {

struct LockoutInterface {
    std::string name;
    uint32_t ifindex = 0;
};

// One sentence per problem found, empty when there is none:
// - default: drop, and some neighbour discovery packet (ICMPv6 router
//   solicitation/advertisement, neighbour solicitation/advertisement, types
//   133-136, link-local and DAD addresses) gets drop: no earlier rule passes it;
// - default_non_ip: drop, and an ARP frame gets drop.
// Evaluated once per interface (iif= rules resolve through the list); with
// no interfaces, once on an interface no iif= rule names. Sentences name the
// interfaces where the packets are dropped when that is not all of them.
std::vector<std::string> lockout_warnings(const Policy& policy,
                                          const std::vector<LockoutInterface>& interfaces);

} // namespace xdpfw
