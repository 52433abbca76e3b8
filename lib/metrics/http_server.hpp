// SPDX-License-Identifier: GPL-2.0-only
// The metrics endpoint: GET /metrics over HTTP/1.1 (Boost.Beast), on the
// caller's io_context. One request per connection; the page is made on a
// worker thread of the server's own, so neither a slow scraper nor a slow
// page holds up anything else the io_context serves (the control socket).
#pragma once

#include "lib/metrics/listen_address.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace xdpfw::metrics {

struct HttpOptions {
    ListenAddress listen;
    // Connections at once; one more is closed as soon as it is accepted.
    size_t max_connections = 8;
    // For reading the whole request, and again for writing the response: a
    // scraper that stalls longer is disconnected.
    std::chrono::milliseconds timeout = std::chrono::seconds(10);
    // Request line and headers together; a request with a body is refused.
    uint32_t max_request_bytes = 8192;
};

// Makes the page (the exposition text). Runs on the server's worker thread,
// one at a time; an exception becomes a 500 response (and is logged).
using PageFn = std::function<std::string()>;

// What the server did since start (tests, logs).
struct HttpCounters {
    uint64_t served = 0;       // 200 responses
    uint64_t refused = 0;      // closed at accept: max_connections
    uint64_t timed_out = 0;    // read or write timeout
    uint64_t bad_requests = 0; // 400, 404, 405
};

class MetricsServer {
public:
    // The io_context must outlive the server; the caller runs it.
    MetricsServer(boost::asio::io_context& io, HttpOptions opts, PageFn page);
    ~MetricsServer(); // stop()
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // Binds and listens; throws std::system_error naming the address
    // ("metrics: listen on 127.0.0.1:9469: Address already in use").
    void start();
    // Closes the listener and every connection, lets a page being made
    // finish and drops the rest. Callable more than once, from any thread
    // but the worker's.
    void stop();
    // The bound port (the one asked for, or the kernel's pick for port 0).
    uint16_t port() const;
    HttpCounters counters() const;

    struct Shared; // state shared with connections and queued pages

private:
    std::shared_ptr<Shared> shared_;
    boost::asio::thread_pool worker_{1};
};

} // namespace xdpfw::metrics
