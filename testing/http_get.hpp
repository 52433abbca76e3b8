// SPDX-License-Identifier: GPL-2.0-only
// A small blocking HTTP/1.1 client for tests (Boost.Beast): the metrics
// endpoint, Prometheus' query API, and requests a scraper would never send.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace xdpfw::test {

struct HttpReply {
    int status = 0; // 0: no response (connection refused, closed, timed out)
    std::string content_type;
    std::string allow;
    std::string body;
    std::string error; // why status is 0
};

// METHOD host:port target; never throws. `raw`, when not empty, is sent
// instead of a request built from method and target.
HttpReply http_request(const std::string& host, uint16_t port, const std::string& method,
                       const std::string& target,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5),
                       const std::string& raw = {});

inline HttpReply http_get(const std::string& host, uint16_t port, const std::string& target,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5))
{
    return http_request(host, port, "GET", target, timeout);
}

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0,
// then closed).
uint16_t free_tcp_port();

// "a b&c" -> "a%20b%26c" for a query string.
std::string url_encode(const std::string& text);

} // namespace xdpfw::test
