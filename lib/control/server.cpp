// SPDX-License-Identifier: GPL-2.0-only
// Control socket transport: accepting with the peer check and the connection
// limit, idle sweeping, one worker thread for all requests. A connection is
// connection.hpp's, the socket file listener.cpp's, the peer check peer.cpp's,
// the framing lib/protocol's.
#include "lib/control/server.hpp"

#include "lib/control/connection.hpp"
#include "lib/control/listener.hpp"
#include "lib/protocol/protocol.hpp"

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace xdpfw {

namespace {

// After a failed accept (EMFILE, ENFILE, ENOMEM) retrying at once would spin.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

void accept_next(const std::shared_ptr<ControlServer::Shared>& s);

// Open connections other than `except`, with s->mu held.
std::vector<std::shared_ptr<ControlConnection>> open_connections(ControlServer::Shared& s,
                                                                 uint64_t except = 0)
{
    std::vector<std::shared_ptr<ControlConnection>> out;
    for (auto& [id, weak] : s.conns)
        if (id != except)
            if (auto c = weak.lock())
                out.push_back(std::move(c));
    return out;
}

// At max_connections: closes the connection idle longest; false if none is
// idle. Without s->mu (each connection's own lock is taken).
bool evict_idle(const std::shared_ptr<ControlServer::Shared>& s,
                const std::vector<std::shared_ptr<ControlConnection>>& others)
{
    std::shared_ptr<ControlConnection> victim;
    Clock::time_point oldest = Clock::time_point::max();
    for (const auto& c : others)
        if (const auto since = c->idle_since(); since && *since < oldest) {
            oldest = *since;
            victim = c;
        }
    if (!victim)
        return false;
    victim->close("evicted: connection limit");
    std::lock_guard lock(s->mu);
    if ((++s->counters.evicted_idle & (s->counters.evicted_idle - 1)) == 0)
        spdlog::warn("event=control_evicted conn={} evicted_total={} limit={}", victim->id(),
                     s->counters.evicted_idle, s->opts.max_connections);
    return true;
}

// Admits a new connection: the peer check, and room under max_connections.
void admit(const std::shared_ptr<ControlServer::Shared>& s,
           const std::shared_ptr<ControlConnection>& conn, const PeerCred& peer,
           std::vector<std::shared_ptr<ControlConnection>> others)
{
    // Outside s->mu: group lookups may go to NSS.
    const bool allowed = peer_allowed(peer, s->opts.group);
    spdlog::debug("event=control_connect conn={} pid={} uid={} gid={} allowed={}", conn->id(),
                  peer.pid, peer.uid, peer.gid, allowed);
    if (!allowed) {
        conn->refuse(protocol::error_response(0, ErrorCode::permission_denied,
                                              peer_refusal(peer, s->opts.group)));
        return;
    }
    if (others.size() >= s->opts.max_connections && !evict_idle(s, others)) {
        {
            std::lock_guard lock(s->mu);
            ++s->counters.refused_busy;
        }
        spdlog::warn("event=control_busy conn={} pid={} uid={} limit={}", conn->id(), peer.pid,
                     peer.uid, s->opts.max_connections);
        conn->refuse(protocol::error_response(
            0, ErrorCode::busy,
            fmt::format("{} connections are open and none is idle (max_connections)",
                        others.size())));
        return;
    }
    conn->start();
}

void on_accept(const std::shared_ptr<ControlServer::Shared>& s, const boost::system::error_code& ec,
               Socket socket)
{
    std::shared_ptr<ControlConnection> conn;
    std::vector<std::shared_ptr<ControlConnection>> others;
    PeerCred peer;
    {
        std::lock_guard lock(s->mu);
        if (s->stopped || ec == asio::error::operation_aborted)
            return;
        if (ec) {
            spdlog::warn("event=control_accept_error error=\"{}\"", ec.message());
            s->retry_timer->expires_after(kAcceptRetry);
            s->retry_timer->async_wait([s](const boost::system::error_code& e) {
                std::lock_guard relock(s->mu);
                if (!e && !s->stopped)
                    accept_next(s);
            });
            return;
        }
        try {
            peer = peer_credentials(socket.native_handle());
            const uint64_t id = s->next_conn++;
            conn = std::make_shared<ControlConnection>(s, std::move(socket), peer, id);
            s->conns.emplace(id, conn);
            ++s->counters.accepted;
            if (s->conns.size() > s->opts.max_connections)
                others = open_connections(*s, id);
        } catch (const std::exception& e) {
            spdlog::error("event=control_accept_error error=\"{}\"", e.what());
            conn.reset();
        }
        accept_next(s);
    }
    if (!conn)
        return;
    try {
        admit(s, conn, peer, std::move(others));
    } catch (const std::exception& e) {
        spdlog::error("event=control_accept_error conn={} error=\"{}\"", conn->id(), e.what());
        conn->close("error");
    }
}

// Closes connections idle for longer than idle_timeout; runs every half of it
// (at most every second).
void sweep_idle(const std::shared_ptr<ControlServer::Shared>& s)
{
    const auto timeout = s->opts.idle_timeout;
    std::vector<std::shared_ptr<ControlConnection>> all;
    {
        std::lock_guard lock(s->mu);
        if (s->stopped || timeout.count() <= 0)
            return;
        all = open_connections(*s);
    }
    const auto now = Clock::now();
    for (const auto& c : all)
        if (const auto since = c->idle_since(); since && now - *since >= timeout) {
            c->close("idle timeout");
            std::lock_guard lock(s->mu);
            ++s->counters.closed_idle;
        }
    std::lock_guard lock(s->mu);
    if (s->stopped)
        return;
    s->idle_timer->expires_after(
        std::min<std::chrono::milliseconds>(timeout / 2, std::chrono::seconds(1)));
    s->idle_timer->async_wait([s](const boost::system::error_code& e) {
        if (!e)
            sweep_idle(s);
    });
}

// With s->mu held.
void accept_next(const std::shared_ptr<ControlServer::Shared>& s)
{
    s->acceptor->async_accept(asio::make_strand(*s->io),
                              [s](const boost::system::error_code& ec, Socket socket) {
                                  try {
                                      on_accept(s, ec, std::move(socket));
                                  } catch (const std::exception& e) {
                                      spdlog::error("event=control_accept_error error=\"{}\"",
                                                    e.what());
                                  }
                              });
}

} // namespace

ControlServer::ControlServer(asio::io_context& io, ServerOptions opts, RequestHandler handler,
                             StreamHandler stream)
    : io_(io), shared_(std::make_shared<Shared>())
{
    if (!handler)
        throw std::invalid_argument("control server needs a request handler");
    if (opts.max_message_bytes == 0)
        throw std::invalid_argument("control server max_message_bytes must be positive");
    shared_->opts = std::move(opts);
    shared_->handler = std::move(handler);
    shared_->stream_handler = std::move(stream);
    shared_->io = &io_;
    shared_->worker = &worker_;
}

ControlServer::~ControlServer()
{
    stop();
    worker_.join();
}

void ControlServer::start()
{
    const std::string& path = shared_->opts.path;
    std::lock_guard lock(shared_->mu);
    if (shared_->stopped)
        throw std::logic_error(fmt::format("control server on {} was stopped", path));
    if (started_)
        throw std::logic_error(fmt::format("control server on {} already started", path));
    const ListeningSocket sock = listen_unix(path, shared_->opts.mode, shared_->opts.group);
    UniqueFd fd(sock.fd);
    boost::system::error_code ec;
    shared_->acceptor.emplace(io_);
    shared_->acceptor->assign(stream_protocol(), fd.get(), ec);
    if (ec) {
        shared_->acceptor.reset();
        ::unlink(path.c_str());
        throw std::system_error(ec.value(), std::system_category(),
                                fmt::format("listen on socket {}", path));
    }
    fd.release();
    shared_->retry_timer.emplace(io_);
    shared_->idle_timer.emplace(io_);
    bound_dev_ = sock.dev;
    bound_ino_ = sock.ino;
    started_ = true;
    accept_next(shared_);
    if (shared_->opts.idle_timeout.count() > 0) {
        shared_->idle_timer->expires_after(std::min<std::chrono::milliseconds>(
            shared_->opts.idle_timeout / 2, std::chrono::seconds(1)));
        shared_->idle_timer->async_wait([s = shared_](const boost::system::error_code& e) {
            if (!e)
                sweep_idle(s);
        });
    }
    spdlog::debug("event=control_listen socket={} mode={:04o} group={}", path,
                  shared_->opts.mode,
                  shared_->opts.group ? std::to_string(*shared_->opts.group) : "none");
}

void ControlServer::stop()
{
    std::vector<std::shared_ptr<ControlConnection>> open;
    bool remove_file = false;
    {
        std::lock_guard lock(shared_->mu);
        if (!shared_->stopped) {
            shared_->stopped = true;
            shared_->worker = nullptr;
            boost::system::error_code ignored;
            if (shared_->acceptor)
                shared_->acceptor->close(ignored);
            if (shared_->retry_timer)
                shared_->retry_timer->cancel();
            if (shared_->idle_timer)
                shared_->idle_timer->cancel();
            remove_file = started_;
        }
        for (auto& [id, weak] : shared_->conns)
            if (auto c = weak.lock())
                open.push_back(std::move(c));
    }
    for (auto& c : open)
        c->close("server stopping");
    open.clear();

    if (remove_file) {
        // Only our own socket: a newer daemon may have replaced it.
        remove_socket_if_ours(shared_->opts.path, bound_dev_, bound_ino_);
    }

    // Queued requests are dropped (their clients are gone); the one running
    // is finished. From the handler itself this cannot wait; the destructor
    // joins.
    worker_.stop();
    if (!worker_.get_executor().running_in_this_thread())
        worker_.join();
}

ServerCounters ControlServer::counters() const
{
    std::lock_guard lock(shared_->mu);
    return shared_->counters;
}

size_t ControlServer::connections() const
{
    std::lock_guard lock(shared_->mu);
    // Entries go when a connection closes; one whose handlers were dropped
    // unrun (io_context destroyed first) just expires.
    return size_t(std::count_if(shared_->conns.begin(), shared_->conns.end(),
                                [](const auto& e) { return !e.second.expired(); }));
}

} // namespace xdpfw
