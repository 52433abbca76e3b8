// SPDX-License-Identifier: GPL-2.0-only
// Parsing the metrics endpoint's HOST:PORT.
#include "lib/metrics/listen_address.hpp"

#include <arpa/inet.h>

#include <fmt/format.h>

#include <stdexcept>

namespace xdpfw::metrics {

namespace {

constexpr const char* kForm = "expected IPV4:PORT or [IPV6]:PORT, e.g. 127.0.0.1:9469";

[[noreturn]] void bad(const std::string& what)
{
    throw std::invalid_argument(what);
}

uint16_t port_of(const std::string& text, const std::string& port)
{
    if (port.empty())
        bad(fmt::format("'{}' has no port ({})", text, kForm));
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) < 1 || std::stoul(port) > 65535)
        bad(fmt::format("port '{}' in '{}' is not a number 1..65535", port, text));
    return uint16_t(std::stoul(port));
}

} // namespace

std::string ListenAddress::str() const
{
    return host.find(':') == std::string::npos ? fmt::format("{}:{}", host, port)
                                               : fmt::format("[{}]:{}", host, port);
}

ListenAddress parse_listen_address(const std::string& text)
{
    if (text.empty())
        bad(fmt::format("empty address ({})", kForm));
    ListenAddress a;
    std::string port;
    if (text[0] == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos)
            bad(fmt::format("'{}' has no ']' after the IPv6 address ({})", text, kForm));
        a.host = text.substr(1, close - 1);
        if (close + 1 >= text.size() || text[close + 1] != ':')
            bad(fmt::format("'{}' has no port ({})", text, kForm));
        port = text.substr(close + 2);
        in6_addr v6{};
        if (inet_pton(AF_INET6, a.host.c_str(), &v6) != 1)
            bad(fmt::format("'{}' in '{}' is not an IPv6 address", a.host, text));
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos)
            bad(fmt::format("'{}' has no port ({})", text, kForm));
        if (text.find(':') != colon)
            bad(fmt::format("'{}': an IPv6 address goes in brackets ({})", text, kForm));
        a.host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (a.host.empty())
            bad(fmt::format("'{}' has no host ({})", text, kForm));
        in_addr v4{};
        if (inet_pton(AF_INET, a.host.c_str(), &v4) != 1)
            bad(fmt::format("'{}' in '{}' is not a numeric IPv4 address ({})", a.host, text, kForm));
    }
    a.port = port_of(text, port);
    return a;
}

} // namespace xdpfw::metrics
