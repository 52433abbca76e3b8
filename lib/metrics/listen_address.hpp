// SPDX-License-Identifier: GPL-2.0-only
// The metrics endpoint's address, as the config key `metrics:` and the flag
// --metrics give it: IPV4:PORT or [IPV6]:PORT, numeric (no name lookups at
// start).
#pragma once

#include <cstdint>
#include <string>

namespace xdpfw::metrics {

struct ListenAddress {
    std::string host; // numeric, without brackets
    uint16_t port = 0;
    std::string str() const; // as it would be written: "[::1]:9469"
    bool operator==(const ListenAddress&) const = default;
};

// Throws std::invalid_argument saying what is wrong with text ("'9469' has
// no host: ...", "port '0' is not 1..65535", "'localhost' is not a numeric
// IPv4 or [IPv6] address").
ListenAddress parse_listen_address(const std::string& text);

} // namespace xdpfw::metrics
