// SPDX-License-Identifier: GPL-2.0-only
// One control client (internal to server.cpp): the bounded line reader, the
// hand-off to the worker, ordered asynchronous writes with a cap on unread
// output, and what the server's limits need to know (idle time, buffered bytes).
#pragma once

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

inline constexpr size_t kReadChunk = 64 * 1024;
// Requests of one connection queued or running on the worker. Past this the
// connection is not read until answers come back, so one client pipelining
// without end cannot fill the worker queue (it fills its own socket buffer).
inline constexpr size_t kMaxInFlight = 64;
inline bool is_blank(std::string_view line)
{
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// Whether the JSON text nests deeper than max ([ and { outside strings). A
// linear scan, so a deep line is refused before the parser recurses into it.
inline bool json_deeper_than(std::string_view text, size_t max)
{
    size_t depth = 0;
    bool in_string = false, escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

using Clock = std::chrono::steady_clock;

class ControlConnection;

struct ControlServer::Shared {
    ServerOptions opts;
    RequestHandler handler;
    StreamHandler stream_handler; // may be empty
    asio::io_context* io = nullptr;

    // Guards everything below. Lock order: a connection's mutex, then this.
    std::mutex mu;
    bool stopped = false;
    asio::thread_pool* worker = nullptr; // null once stopped: nothing more is posted
    std::optional<stream_protocol::acceptor> acceptor;
    std::optional<asio::steady_timer> retry_timer;
    std::unordered_map<uint64_t, std::weak_ptr<ControlConnection>> conns;
    uint64_t next_conn = 1;
    std::optional<asio::steady_timer> idle_timer;
    size_t buffered = 0; // partial request bytes over all connections
    ServerCounters counters;
};

// One client. Every member is guarded by mu_, which makes close() safe from
// any thread (stop() may run while the io_context does, or after it has
// stopped). Completion handlers run on the connection's strand, so responses
// the worker posts there are written in the order they were produced.
class ControlConnection : public StreamOutput,
                          public std::enable_shared_from_this<ControlConnection> {
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

    // StreamOutput
    void begin_stream() override
    {
        std::lock_guard lock(mu_);
        if (stream_ == StreamState::none)
            stream_ = StreamState::accepted;
    }

    bool send_line(const std::string& line) override
    {
        std::lock_guard lock(mu_);
        if (closed_ || closing_ || stream_ != StreamState::open ||
            out_bytes_ + line.size() + 1 > kStreamQueueBytes)
            return false;
        bool sent = false;
        guarded("stream", [&] {
            enqueue(line + '\n');
            sent = !closed_;
        });
        return sent;
    }

    bool closed() const override { return closed_; }

    // When this connection became idle (nothing in flight, nothing to send,
    // no partial line), or nullopt while it is busy or closed.
    std::optional<Clock::time_point> idle_since()
    {
        std::lock_guard lock(mu_);
        if (closed_ || closing_ || in_flight_ > 0 || writing_ || !out_.empty() || !in_.empty() ||
            stream_ != StreamState::none) // a stream waits for events, not for its client
            return std::nullopt;
        return last_activity_;
    }

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
            last_activity_ = Clock::now();
            in_.append(chunk_.data(), n);
            process();
            if (!closed_ && !account())
                over_buffer();
        });
    }

    // Brings this connection's share of the server-wide buffered bytes up to
    // date; false when the total is past max_buffered_bytes.
    bool account()
    {
        const size_t now = closed_ ? 0 : in_.size();
        std::lock_guard lock(shared_->mu);
        shared_->buffered = shared_->buffered - accounted_ + now;
        accounted_ = now;
        return shared_->buffered <= shared_->opts.max_buffered_bytes;
    }

    void over_buffer()
    {
        spdlog::warn("event=control_too_large conn={} pid={} uid={} reason=total_buffered "
                     "limit={}",
                     id_, peer_.pid, peer_.uid, shared_->opts.max_buffered_bytes);
        {
            std::lock_guard lock(shared_->mu);
            ++shared_->counters.over_buffer;
        }
        refuse_line(protocol::error_response(
            0, ErrorCode::too_large,
            fmt::format("partial requests of all connections exceed max_buffered_bytes "
                        "({} bytes)",
                        shared_->opts.max_buffered_bytes)));
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
                dispatch_checked(std::move(line));
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
            dispatch_checked(std::move(rest));
        account();
        finish();
    }

    // A line nested too deep is answered with bad_json in its turn (through
    // the worker, so answers stay in request order) without being parsed.
    void dispatch_checked(std::string line)
    {
        const size_t max = shared_->opts.max_json_depth;
        if (!json_deeper_than(line, max)) {
            dispatch(std::move(line));
            return;
        }
        spdlog::warn("event=control_too_deep conn={} pid={} uid={} limit={}", id_, peer_.pid,
                     peer_.uid, max);
        {
            std::lock_guard lock(shared_->mu);
            ++shared_->counters.too_deep;
        }
        dispatch(std::move(line), protocol::error_response(
                                      0, ErrorCode::bad_json,
                                      fmt::format("request nests deeper than max_json_depth ({})",
                                                  max)));
    }

    // canned: the answer, when it is known without the handler.
    void dispatch(std::string line, std::optional<nlohmann::json> canned = std::nullopt)
    {
        std::lock_guard lock(shared_->mu);
        if (shared_->worker == nullptr)
            return; // stopping: stop() closes this connection next
        ++in_flight_;
        asio::post(*shared_->worker, [self = shared_from_this(), line = std::move(line),
                                      canned = std::move(canned)] {
            // An exception leaving here would end the worker thread.
            try {
                self->execute(line, canned);
            } catch (const std::exception& e) {
                spdlog::error("event=control_error conn={} during=execute error=\"{}\"",
                              self->id_, e.what());
                self->close("error");
            }
        });
    }

    // On the worker thread, without mu_ (a commit may take seconds; the
    // connection keeps reading and writing meanwhile).
    void execute(const std::string& line, const std::optional<nlohmann::json>& canned)
    {
        // A client that is gone gets nothing executed on its behalf.
        if (closed_)
            return;
        nlohmann::json response;
        try {
            std::optional<nlohmann::json> streamed;
            if (!canned && shared_->stream_handler)
                streamed = shared_->stream_handler(line, peer_, shared_from_this());
            response = canned ? *canned : streamed ? *streamed : shared_->handler(line, peer_);
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
        last_activity_ = Clock::now();
        if (closed_)
            return; // disconnected mid-request: the result is discarded
        guarded("respond", [&] {
            enqueue(std::move(text));
            if (stream_ == StreamState::accepted)
                stream_ = StreamState::open; // events follow the response
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
        refuse_line(protocol::error_response(
            0, ErrorCode::too_large,
            fmt::format("request line exceeds max_message_bytes ({} bytes)", max)));
    }

    // Stops reading, drops the partial line, answers what was dispatched,
    // then sends `error` and closes.
    void refuse_line(const nlohmann::json& error)
    {
        closing_ = true;
        in_.clear();
        in_.shrink_to_fit();
        head_ = scan_ = 0;
        account();
        final_line_ = protocol::response_line(error);
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
            shared_->buffered -= accounted_;
            accounted_ = 0;
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
    // A streaming command's connection: accepted by the stream handler, open
    // once its response is queued (lines before that would precede it).
    enum class StreamState : uint8_t { none, accepted, open };
    StreamState stream_ = StreamState::none;
    size_t in_flight_ = 0;
    std::optional<std::string> final_line_;

    std::vector<char> chunk_;
    std::string in_;
    size_t head_ = 0; // start of the first unconsumed line in in_
    size_t scan_ = 0; // in_[head_, scan_) holds no newline

    std::deque<std::string> out_;
    size_t out_bytes_ = 0;

    Clock::time_point last_activity_ = Clock::now();
    size_t accounted_ = 0; // in_'s bytes counted in shared_->buffered
};

} // namespace xdpfw
