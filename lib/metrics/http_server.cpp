// SPDX-License-Identifier: GPL-2.0-only
// The metrics endpoint: accept with a connection cap, read one request
// under a deadline (Beast's parser, header size capped), route it, make
// the page on the worker, write it under a deadline, close.
#include "lib/metrics/http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <optional>
#include <system_error>

namespace xdpfw::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
class Session;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
} // namespace

struct MetricsServer::Shared {
    HttpOptions opts;
    PageFn page;
    asio::io_context* io = nullptr;
    std::mutex mu;
    bool stopped = false;
    asio::thread_pool* worker = nullptr; // null once stopped
    std::optional<tcp::acceptor> acceptor;
    std::optional<asio::steady_timer> retry_timer;
    std::map<uint64_t, std::weak_ptr<Session>> sessions;
    uint64_t next_id = 1;
    HttpCounters counters;
};

namespace {

using Shared = MetricsServer::Shared;

// One connection: one request, one response, then closed.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(std::shared_ptr<Shared> s, tcp::socket socket, uint64_t id)
        : s_(std::move(s)), stream_(std::move(socket)), id_(id)
    {
    }

    void start()
    {
        parser_.emplace();
        parser_->header_limit(s_->opts.max_request_bytes);
        parser_->body_limit(0);
        stream_.expires_after(s_->opts.timeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code ec, size_t) {
                             self->on_read(ec);
                         });
    }

    // From any thread: closes the socket on the connection's own executor.
    void close()
    {
        asio::post(stream_.get_executor(), [self = shared_from_this()] { self->shut(); });
    }

private:
    void count(uint64_t HttpCounters::*what)
    {
        std::lock_guard lock(s_->mu);
        ++(s_->counters.*what);
    }

    void on_read(beast::error_code ec)
    {
        if (ec == beast::error::timeout)
            count(&HttpCounters::timed_out);
        if (ec == beast::error::timeout || ec == http::error::end_of_stream ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
            ec == asio::error::eof)
            return shut();
        if (ec)
            return reply(http::status::bad_request, fmt::format("bad request: {}\n", ec.message()));
        const auto& req = parser_->get();
        const std::string_view target(req.target().data(), req.target().size());
        if (target.substr(0, target.find('?')) != "/metrics")
            return reply(http::status::not_found, "not found: the metrics are at /metrics\n");
        if (req.method() != http::verb::get)
            return reply(http::status::method_not_allowed, "method not allowed: use GET\n");
        make_page();
    }

    // The page is made on the worker; the answer goes out on this
    // connection's executor.
    void make_page()
    {
        std::lock_guard lock(s_->mu);
        if (!s_->worker)
            return;
        asio::post(*s_->worker, [self = shared_from_this()] {
            http::status status = http::status::ok;
            std::string body;
            try {
                body = self->s_->page();
            } catch (const std::exception& e) {
                spdlog::error("event=metrics_page_failed error=\"{}\"", e.what());
                status = http::status::internal_server_error;
                body = fmt::format("internal error: {}\n", e.what());
            }
            asio::post(self->stream_.get_executor(),
                       [self, status, body = std::move(body)]() mutable {
                           self->reply(status, std::move(body));
                       });
        });
    }

    void reply(http::status status, std::string body)
    {
        if (status == http::status::ok)
            count(&HttpCounters::served);
        else if (status != http::status::internal_server_error)
            count(&HttpCounters::bad_requests);
        res_.result(status);
        res_.version(11);
        res_.set(http::field::server, "xdpfwd");
        res_.set(http::field::content_type,
                 status == http::status::ok ? kContentType : "text/plain; charset=utf-8");
        if (status == http::status::method_not_allowed)
            res_.set(http::field::allow, "GET");
        res_.keep_alive(false);
        res_.body() = std::move(body);
        res_.prepare_payload();
        stream_.expires_after(s_->opts.timeout);
        http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec == beast::error::timeout)
                self->count(&HttpCounters::timed_out);
            self->shut();
        });
    }

    void shut()
    {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
        std::lock_guard lock(s_->mu);
        s_->sessions.erase(id_);
    }

    std::shared_ptr<Shared> s_;
    beast::tcp_stream stream_;
    uint64_t id_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::empty_body>> parser_;
    http::response<http::string_body> res_;
};

void accept_next(const std::shared_ptr<Shared>& s);

void on_accept(const std::shared_ptr<Shared>& s, const beast::error_code& ec, tcp::socket socket)
{
    std::shared_ptr<Session> session;
    {
        std::lock_guard lock(s->mu);
        if (s->stopped || ec == asio::error::operation_aborted)
            return;
        if (ec) {
            // EMFILE and the like: retrying at once would spin.
            spdlog::warn("event=metrics_accept_error error=\"{}\"", ec.message());
            s->retry_timer->expires_after(kAcceptRetry);
            s->retry_timer->async_wait([s](const beast::error_code& e) {
                std::lock_guard relock(s->mu);
                if (!e && !s->stopped)
                    accept_next(s);
            });
            return;
        }
        if (s->sessions.size() >= s->opts.max_connections) {
            ++s->counters.refused;
            spdlog::debug("event=metrics_busy limit={}", s->opts.max_connections);
            beast::error_code ignored;
            socket.close(ignored);
        } else {
            const uint64_t id = s->next_id++;
            session = std::make_shared<Session>(s, std::move(socket), id);
            s->sessions.emplace(id, session);
        }
        accept_next(s);
    }
    if (session)
        session->start();
}

// With s->mu held.
void accept_next(const std::shared_ptr<Shared>& s)
{
    s->acceptor->async_accept(asio::make_strand(*s->io),
                              [s](const beast::error_code& ec, tcp::socket socket) {
                                  try {
                                      on_accept(s, ec, std::move(socket));
                                  } catch (const std::exception& e) {
                                      spdlog::error("event=metrics_accept_error error=\"{}\"",
                                                    e.what());
                                  }
                              });
}

} // namespace

MetricsServer::MetricsServer(asio::io_context& io, HttpOptions opts, PageFn page)
    : shared_(std::make_shared<Shared>())
{
    if (!page)
        throw std::invalid_argument("metrics server needs a page function");
    shared_->opts = std::move(opts);
    shared_->page = std::move(page);
    shared_->io = &io;
    shared_->worker = &worker_;
}

MetricsServer::~MetricsServer()
{
    stop();
}

void MetricsServer::start()
{
    auto& s = *shared_;
    std::lock_guard lock(s.mu);
    if (s.stopped || s.acceptor)
        throw std::logic_error("metrics server started twice or after stop");
    const std::string where = s.opts.listen.str();
    auto fail = [&](const beast::error_code& ec) {
        s.acceptor.reset();
        throw std::system_error(ec.value(), std::system_category(),
                                fmt::format("metrics: listen on {}", where));
    };
    beast::error_code ec;
    const auto addr = asio::ip::make_address(s.opts.listen.host, ec);
    if (ec)
        fail(ec);
    const tcp::endpoint ep(addr, s.opts.listen.port);
    s.acceptor.emplace(*s.io);
    if (s.acceptor->open(ep.protocol(), ec); ec)
        fail(ec);
    if (s.acceptor->set_option(asio::socket_base::reuse_address(true), ec); ec)
        fail(ec);
    if (s.acceptor->bind(ep, ec); ec)
        fail(ec);
    if (s.acceptor->listen(asio::socket_base::max_listen_connections, ec); ec)
        fail(ec);
    s.retry_timer.emplace(*s.io);
    accept_next(shared_);
    spdlog::info("event=metrics_listen address={}:{}", s.opts.listen.host,
                 s.acceptor->local_endpoint().port());
}

void MetricsServer::stop()
{
    std::vector<std::shared_ptr<Session>> open;
    {
        std::lock_guard lock(shared_->mu);
        if (!shared_->stopped) {
            shared_->stopped = true;
            shared_->worker = nullptr;
            beast::error_code ignored;
            if (shared_->acceptor)
                shared_->acceptor->close(ignored);
            if (shared_->retry_timer)
                shared_->retry_timer->cancel();
        }
        for (auto& [id, weak] : shared_->sessions)
            if (auto c = weak.lock())
                open.push_back(std::move(c));
    }
    for (auto& c : open)
        c->close();
    // A page being made is finished (its answer has nowhere to go once the
    // io_context stops); queued ones are dropped.
    worker_.stop();
    worker_.join();
}

uint16_t MetricsServer::port() const
{
    std::lock_guard lock(shared_->mu);
    beast::error_code ec;
    return shared_->acceptor ? shared_->acceptor->local_endpoint(ec).port() : 0;
}

HttpCounters MetricsServer::counters() const
{
    std::lock_guard lock(shared_->mu);
    return shared_->counters;
}

} // namespace xdpfw::metrics
