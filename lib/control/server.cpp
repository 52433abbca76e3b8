// SPDX-License-Identifier: GPL-2.0-only
// Control socket transport: accepting with the peer check, a bounded line
// reader, one worker thread for all requests, ordered asynchronous writes
// with a cap on unread output. The socket file is listener.cpp's, the peer
// check peer.cpp's, the framing lib/protocol's.
#include "lib/control/server.hpp"

#include "lib/base/unique_fd.hpp"
#include "lib/control/listener.hpp"
#include "lib/protocol/protocol.hpp"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace xdpfw {

namespace asio = boost::asio;
using stream_protocol = asio::local::stream_protocol;
using Strand = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<stream_protocol, Strand>;

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Requests of one connection queued or running on the worker. Past this the
// connection is not read until answers come back, so one client pipelining
// without end cannot fill the worker queue (it fills its own socket buffer).
constexpr size_t kMaxInFlight = 64;
// After a failed accept (EMFILE, ENFILE, ENOMEM) retrying at once would spin.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

bool is_blank(std::string_view line)
{
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

} // namespace

class ControlConnection;

struct ControlServer::Shared {
    ServerOptions opts;
    RequestHandler handler;
    asio::io_context* io = nullptr;

    // Guards everything below. Lock order: a connection's mutex, then this.
    std::mutex mu;
    bool stopped = false;
    asio::thread_pool* worker = nullptr; // null once stopped: nothing more is posted
    std::optional<stream_protocol::acceptor> acceptor;
    std::optional<asio::steady_timer> retry_timer;
    std::unordered_map<uint64_t, std::weak_ptr<ControlConnection>> conns;
    uint64_t next_conn = 1;
};

// One client. Every member is guarded by mu_, which makes close() safe from
// any thread (stop() may run while the io_context does, or after it has
// stopped). Completion handlers run on the connection's strand, so responses
// the worker posts there are written in the order they were produced.
class ControlConnection : public std::enable_shared_from_this<ControlConnection> {
public:
    ControlConnection(std::shared_ptr<ControlServer::Shared> shared, Socket socket,
                      PeerCred peer, uint64_t id)
        : shared_(std::move(shared)), socket_(std::move(socket)),
          strand_(socket_.get_executor()), peer_(peer), id_(id), chunk_(kReadChunk)
    {
    }

    ControlConnection(const ControlConnection&) = delete;
    ControlConnection& operator=(const ControlConnection&) = delete;

    void start()
    {
        std::lock_guard lock(mu_);
        guarded("start", [&] { read(); });
    }

    // Sends one final error line, then closes; nothing is read.
    void refuse(const nlohmann::json& error)
    {
        std::lock_guard lock(mu_);
        guarded("refuse", [&] {
            closing_ = true;
            final_line_ = protocol::response_line(error);
            finish();
        });
    }

    void close(const char* why)
    {
        std::lock_guard lock(mu_);
        close_locked(why);
    }

    uint64_t id() const { return id_; }

private:
    // Runs f with mu_ held; an exception closes this connection instead of
    // leaving the Asio handler.
    template <typename F>
    void guarded(const char* during, F&& f)
    {
        try {
            f();
        } catch (const std::exception& e) {
            spdlog::error("event=control_error conn={} pid={} uid={} during={} error=\"{}\"", id_,
                          peer_.pid, peer_.uid, during, e.what());
            close_locked("error");
        }
    }

    void read()
    {
        reading_ = true;
        socket_.async_read_some(asio::buffer(chunk_),
                                [self = shared_from_this()](const boost::system::error_code& ec,
                                                            size_t n) { self->on_read(ec, n); });
    }

    void on_read(const boost::system::error_code& ec, size_t n)
    {
        std::lock_guard lock(mu_);
        reading_ = false;
        if (closed_)
            return;
        guarded("read", [&] {
            if (ec == asio::error::eof) {
                if (peer_gone()) {
                    // Closed, not just shut down for sending: nobody will read
                    // answers, so queued requests are not executed either.
                    close_locked("client disconnected");
                    return;
                }
                eof_ = true;
                process();
                return;
            }
            if (ec) {
                spdlog::debug("event=control_read_error conn={} error=\"{}\"", id_, ec.message());
                close_locked("read error");
                return;
            }
            in_.append(chunk_.data(), n);
            process();
        });
    }

    // Read EOF comes both from shutdown(SHUT_WR) and from close(); only after
    // close (or exit) does the socket also report hang-up.
    bool peer_gone()
    {
        pollfd p{socket_.native_handle(), 0, 0};
        return ::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0;
    }

    // Dispatches every complete line in in_, then reads on if allowed.
    void process()
    {
        const size_t max = shared_->opts.max_message_bytes;
        while (!closing_ && !closed_ && in_flight_ < kMaxInFlight) {
            const size_t nl = in_.find('\n', scan_);
            if (nl == std::string::npos) {
                scan_ = in_.size();
                if (in_.size() - head_ > max) {
                    too_large();
                    return;
                }
                break;
            }
            if (nl - head_ > max) {
                too_large();
                return;
            }
            std::string line = in_.substr(head_, nl - head_);
            head_ = scan_ = nl + 1;
            if (!is_blank(line))
                dispatch(std::move(line));
        }
        if (head_ > 0) {
            in_.erase(0, head_);
            scan_ -= head_;
            head_ = 0;
        }
        if (closing_ || closed_ || in_flight_ >= kMaxInFlight)
            return;
        if (eof_)
            end_of_input();
        else if (!reading_)
            read();
    }

    // The client has finished sending (or is gone) and every complete line is
    // dispatched: answer what it sent, then close. A last line without its
    // newline is still a request, so `printf '{"cmd":"status"}' | socat -
    // UNIX:...` works. process() has already refused it if it was too long.
    void end_of_input()
    {
        std::string rest = std::move(in_);
        in_.clear();
        head_ = scan_ = 0;
        closing_ = true;
        if (!is_blank(rest))
            dispatch(std::move(rest));
        finish();
    }

    void dispatch(std::string line)
    {
        std::lock_guard lock(shared_->mu);
        if (shared_->worker == nullptr)
            return; // stopping: stop() closes this connection next
        ++in_flight_;
        asio::post(*shared_->worker, [self = shared_from_this(), line = std::move(line)] {
            // An exception leaving here would end the worker thread.
            try {
                self->execute(line);
            } catch (const std::exception& e) {
                spdlog::error("event=control_error conn={} during=execute error=\"{}\"",
                              self->id_, e.what());
                self->close("error");
            }
        });
    }

    // On the worker thread, without mu_ (a commit may take seconds; the
    // connection keeps reading and writing meanwhile).
    void execute(const std::string& line)
    {
        // A client that is gone gets nothing executed on its behalf.
        if (closed_)
            return;
        nlohmann::json response;
        try {
            response = shared_->handler(line, peer_);
        } catch (const std::exception& e) {
            spdlog::error("event=control_handler_error conn={} error=\"{}\"", id_, e.what());
            response = protocol::error_response(protocol::line_request_id(line),
                                                ErrorCode::internal,
                                                fmt::format("request handler failed: {}", e.what()));
        }
        std::string text;
        try {
            text = protocol::response_line(response);
        } catch (const std::exception& e) {
            spdlog::error("event=control_handler_error conn={} error=\"{}\"", id_, e.what());
            text = protocol::response_line(protocol::error_response(
                protocol::line_request_id(line), ErrorCode::internal,
                fmt::format("response not serializable: {}", e.what())));
        }
        asio::post(strand_, [self = shared_from_this(), text = std::move(text)]() mutable {
            self->on_response(std::move(text));
        });
    }

    void on_response(std::string text)
    {
        std::lock_guard lock(mu_);
        --in_flight_;
        if (closed_)
            return; // disconnected mid-request: the result is discarded
        guarded("respond", [&] {
            enqueue(std::move(text));
            if (closing_)
                finish();
            else
                process(); // resumes reading if kMaxInFlight had paused it
        });
    }

    void enqueue(std::string text)
    {
        if (closed_)
            return;
        const size_t cap = shared_->opts.max_queued_output_bytes;
        if (!out_.empty() && out_bytes_ + text.size() > cap) {
            spdlog::warn("event=control_client_dropped conn={} pid={} uid={} "
                         "reason=unread_output queued_bytes={} limit={}",
                         id_, peer_.pid, peer_.uid, out_bytes_ + text.size(), cap);
            close_locked("not reading");
            return;
        }
        out_bytes_ += text.size();
        out_.push_back(std::move(text));
        if (!writing_)
            write();
    }

    void write()
    {
        writing_ = true;
        // out_.front() stays put while more is pushed (deque) and is popped
        // only in on_write.
        asio::async_write(socket_, asio::buffer(out_.front()),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t) { self->on_write(ec); });
    }

    void on_write(const boost::system::error_code& ec)
    {
        std::lock_guard lock(mu_);
        writing_ = false;
        if (closed_)
            return;
        guarded("write", [&] {
            if (ec) {
                spdlog::debug("event=control_write_error conn={} error=\"{}\"", id_, ec.message());
                close_locked("write error");
                return;
            }
            out_bytes_ -= out_.front().size();
            out_.pop_front();
            if (!out_.empty())
                write();
            else if (closing_)
                finish();
        });
    }

    // Closing: once every dispatched request is answered, send the final
    // error line (if any), and close when everything has been written.
    void finish()
    {
        if (closed_ || in_flight_ > 0)
            return;
        if (final_line_) {
            std::string line = std::move(*final_line_);
            final_line_.reset();
            enqueue(std::move(line));
            return;
        }
        if (!writing_ && out_.empty())
            close_locked("done");
    }

    void too_large()
    {
        const size_t max = shared_->opts.max_message_bytes;
        spdlog::warn("event=control_too_large conn={} pid={} uid={} limit={}", id_, peer_.pid,
                     peer_.uid, max);
        closing_ = true;
        in_.clear();
        in_.shrink_to_fit();
        head_ = scan_ = 0;
        final_line_ = protocol::response_line(protocol::error_response(
            0, ErrorCode::too_large,
            fmt::format("request line exceeds max_message_bytes ({} bytes)", max)));
        finish();
    }

    void close_locked(const char* why)
    {
        if (closed_)
            return;
        closed_ = true;
        // Buffers stay allocated: operations being cancelled may still refer
        // to them until their handlers (which hold this object) have run.
        boost::system::error_code ignored;
        socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
        socket_.close(ignored);
        {
            std::lock_guard lock(shared_->mu);
            shared_->conns.erase(id_);
        }
        spdlog::debug("event=control_disconnect conn={} pid={} uid={} reason=\"{}\"", id_,
                      peer_.pid, peer_.uid, why);
    }

    const std::shared_ptr<ControlServer::Shared> shared_;
    std::mutex mu_;
    Socket socket_;
    const Strand strand_;
    const PeerCred peer_;
    const uint64_t id_;

    std::atomic<bool> closed_{false}; // also read by the worker without mu_
    bool closing_ = false;            // no more reading; close once answered
    bool reading_ = false;
    bool writing_ = false;
    bool eof_ = false;                // the client shut down its sending side
    size_t in_flight_ = 0;
    std::optional<std::string> final_line_;

    std::vector<char> chunk_;
    std::string in_;
    size_t head_ = 0; // start of the first unconsumed line in in_
    size_t scan_ = 0; // in_[head_, scan_) holds no newline

    std::deque<std::string> out_;
    size_t out_bytes_ = 0;
};

namespace {

void accept_next(const std::shared_ptr<ControlServer::Shared>& s);

void on_accept(const std::shared_ptr<ControlServer::Shared>& s, const boost::system::error_code& ec,
               Socket socket)
{
    std::shared_ptr<ControlConnection> conn;
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
        } catch (const std::exception& e) {
            spdlog::error("event=control_accept_error error=\"{}\"", e.what());
            conn.reset();
        }
        accept_next(s);
    }
    if (!conn)
        return;
    // Outside s->mu: group lookups may go to NSS.
    try {
        const bool allowed = peer_allowed(peer, s->opts.group);
        spdlog::debug("event=control_connect conn={} pid={} uid={} gid={} allowed={}", conn->id(),
                      peer.pid, peer.uid, peer.gid, allowed);
        if (allowed) {
            conn->start();
            return;
        }
        conn->refuse(protocol::error_response(0, ErrorCode::permission_denied,
                                              peer_refusal(peer, s->opts.group)));
    } catch (const std::exception& e) {
        spdlog::error("event=control_accept_error conn={} error=\"{}\"", conn->id(), e.what());
        conn->close("error");
    }
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

ControlServer::ControlServer(asio::io_context& io, ServerOptions opts, RequestHandler handler)
    : io_(io), shared_(std::make_shared<Shared>())
{
    if (!handler)
        throw std::invalid_argument("control server needs a request handler");
    if (opts.max_message_bytes == 0)
        throw std::invalid_argument("control server max_message_bytes must be positive");
    shared_->opts = std::move(opts);
    shared_->handler = std::move(handler);
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
    bound_dev_ = sock.dev;
    bound_ino_ = sock.ino;
    started_ = true;
    accept_next(shared_);
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

size_t ControlServer::connections() const
{
    std::lock_guard lock(shared_->mu);
    // Entries go when a connection closes; one whose handlers were dropped
    // unrun (io_context destroyed first) just expires.
    return size_t(std::count_if(shared_->conns.begin(), shared_->conns.end(),
                                [](const auto& e) { return !e.second.expired(); }));
}

} // namespace xdpfw
