// SPDX-License-Identifier: GPL-2.0-only
// The metrics endpoint over loopback: routing (200, 404, 405, 400), the
// request size cap, the read timeout, the connection cap, and a slow page
// that holds up nothing else on the io_context.
#include "lib/metrics/http_server.hpp"
#include "testing/http_get.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace xdpfw::metrics {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using test::http_get;
using test::http_request;

constexpr const char* kHost = "127.0.0.1";

// A MetricsServer on 127.0.0.1:<kernel's pick>, its io_context run by a thread.
class Endpoint {
public:
    Endpoint(PageFn page, size_t max_connections = 8, std::chrono::milliseconds timeout = 2s)
    {
        HttpOptions o;
        o.listen = {kHost, 0};
        o.max_connections = max_connections;
        o.timeout = timeout;
        o.max_request_bytes = 1024;
        server_.emplace(io_, o, std::move(page));
        server_->start();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~Endpoint()
    {
        server_->stop();
        work_.reset();
        io_.stop();
        thread_.join();
    }
    uint16_t port() const { return server_->port(); }
    HttpCounters counters() const { return server_->counters(); }

private:
    asio::io_context io_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
        asio::make_work_guard(io_)};
    std::optional<MetricsServer> server_;
    std::thread thread_;
};

// A raw client connection.
struct RawClient {
    asio::io_context io;
    tcp::socket socket{io};
    explicit RawClient(uint16_t port) { socket.connect({asio::ip::make_address(kHost), port}); }
    // True when the server closed the connection within wait.
    bool closed_within(std::chrono::milliseconds wait)
    {
        socket.non_blocking(true);
        const auto until = std::chrono::steady_clock::now() + wait;
        char c;
        while (std::chrono::steady_clock::now() < until) {
            boost::system::error_code ec;
            const size_t n = socket.read_some(asio::buffer(&c, 1), ec);
            if (ec == asio::error::would_block) {
                std::this_thread::sleep_for(10ms);
                continue;
            }
            if (ec || n == 0)
                return true;
        }
        return false;
    }
};

TEST(MetricsHttp, Routes)
{
    Endpoint ep([] { return std::string("xdpfw_up 1\n"); });
    const auto ok = http_get(kHost, ep.port(), "/metrics");
    EXPECT_EQ(ok.status, 200) << ok.error;
    EXPECT_EQ(ok.content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(ok.body, "xdpfw_up 1\n");
    EXPECT_EQ(http_get(kHost, ep.port(), "/metrics?name[]=x").status, 200);
    EXPECT_EQ(http_get(kHost, ep.port(), "/").status, 404);
    EXPECT_EQ(http_get(kHost, ep.port(), "/metricsx").status, 404);
    for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
        const auto r = http_request(kHost, ep.port(), method, "/metrics");
        EXPECT_EQ(r.status, 405) << method << " " << r.error;
        EXPECT_EQ(r.allow, "GET");
    }
    EXPECT_EQ(ep.counters().served, 2u);
}

TEST(MetricsHttp, RefusesOversizeRequestsAndBodies)
{
    Endpoint ep([] { return std::string("x 1\n"); });
    const std::string big = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(4096, 'a') +
                            "\r\n\r\n";
    EXPECT_EQ(http_request(kHost, ep.port(), "", "", 2s, big).status, 400);
    const std::string body = "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    EXPECT_EQ(http_request(kHost, ep.port(), "", "", 2s, body).status, 400);
    EXPECT_EQ(http_request(kHost, ep.port(), "", "", 2s, "NONSENSE\r\n\r\n").status, 400);
}

TEST(MetricsHttp, StalledClientTimesOutAndBlocksNobody)
{
    Endpoint ep([] { return std::string("x 1\n"); }, 8, 1500ms);
    RawClient stalled(ep.port());
    asio::write(stalled.socket, asio::buffer(std::string("GET /metr")));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(http_get(kHost, ep.port(), "/metrics").status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms) << "waited for the stalled client";
    EXPECT_TRUE(stalled.closed_within(5s));
    // Beast's timer closes the socket, then the read's handler counts the
    // timeout: the client can see the close first (a loaded CI host did).
    const auto counted_by = std::chrono::steady_clock::now() + 2s;
    while (ep.counters().timed_out == 0 && std::chrono::steady_clock::now() < counted_by)
        std::this_thread::sleep_for(10ms);
    EXPECT_GE(ep.counters().timed_out, 1u);
}

TEST(MetricsHttp, ConnectionCap)
{
    Endpoint ep([] { return std::string("x 1\n"); }, 2, 500ms);
    RawClient a(ep.port()), b(ep.port());
    std::this_thread::sleep_for(50ms); // both accepted
    RawClient c(ep.port());
    EXPECT_TRUE(c.closed_within(1s)) << "over the cap: closed at once";
    EXPECT_GE(ep.counters().refused, 1u);
    EXPECT_TRUE(a.closed_within(3s));
    EXPECT_TRUE(b.closed_within(3s));
    EXPECT_EQ(http_get(kHost, ep.port(), "/metrics").status, 200) << "room again";
}

TEST(MetricsHttp, SlowPageHoldsUpNothingElse)
{
    std::atomic<bool> making{false};
    Endpoint ep([&] {
        making = true;
        std::this_thread::sleep_for(1500ms);
        return std::string("x 1\n");
    });
    std::thread slow([&] { EXPECT_EQ(http_get(kHost, ep.port(), "/metrics").status, 200); });
    while (!making)
        std::this_thread::sleep_for(5ms);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(http_get(kHost, ep.port(), "/nothing").status, 404);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms) << "waited for the page";
    slow.join();
}

TEST(MetricsHttp, PageErrorIs500)
{
    Endpoint ep([]() -> std::string { throw std::runtime_error("maps gone"); });
    const auto r = http_get(kHost, ep.port(), "/metrics");
    EXPECT_EQ(r.status, 500);
    EXPECT_NE(r.body.find("maps gone"), std::string::npos);
}

TEST(MetricsHttp, ListenErrorNamesTheAddress)
{
    asio::io_context io;
    Endpoint ep([] { return std::string(); });
    HttpOptions o;
    o.listen = {kHost, ep.port()};
    MetricsServer second(io, o, [] { return std::string(); });
    try {
        second.start();
        ADD_FAILURE() << "a second server bound the same port";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("metrics: listen on 127.0.0.1:" +
                                             std::to_string(ep.port())),
                  std::string::npos)
            << e.what();
    }
}

} // namespace
} // namespace xdpfw::metrics
