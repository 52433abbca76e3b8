// SPDX-License-Identifier: GPL-2.0-only
// The xdpfwd control socket transport: a Unix stream socket speaking
// newline-framed JSON (docs/PROTOCOL.md), peer credentials checked at accept,
// requests executed one at a time on a single worker thread.
#pragma once

#include "lib/control/peer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace xdpfw {


struct ServerOptions {
    std::string path;            // Unix socket path; parent dir created (0755) if missing
    mode_t mode = 0660;          // chmod after bind
    std::optional<gid_t> group;  // chown to this group after bind; also allowed to connect
    size_t max_message_bytes = 32u << 20;
    // Responses a client has not read yet, per connection. A client that lets
    // more pile up is disconnected, so a peer that stops reading costs bounded
    // memory. One response is always accepted into an empty queue, whatever
    // its size, so a large answer (set.list of a big set) still goes out.
    size_t max_queued_output_bytes = 64u << 20;
    // Open connections at most. At the limit a new connection evicts the one
    // idle longest (nothing in flight, nothing unsent, no partial line); with
    // none idle it is refused with `busy`. Keeps idle clients from using up
    // the daemon's descriptors (each costs one) so `status` always gets in.
    size_t max_connections = 256;
    // An idle connection (as above) that sends nothing for this long is
    // closed; zero: never.
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
    // A request nested deeper than this ([ and { levels) is answered with
    // bad_json without being parsed: parsing a deep line costs the one worker
    // thread (and memory) out of proportion to its size.
    size_t max_json_depth = 64;
    // Partial request lines buffered over all connections together; the
    // connection whose bytes would pass it gets too_large and is closed.
    size_t max_buffered_bytes = 256u << 20;
};

// What the limits above did since start (`status`, docs/PROTOCOL.md).
struct ServerCounters {
    uint64_t accepted = 0;
    uint64_t refused_busy = 0;  // at max_connections, none idle
    uint64_t evicted_idle = 0;  // closed to make room for a new connection
    uint64_t closed_idle = 0;   // idle_timeout
    uint64_t too_deep = 0;      // max_json_depth
    uint64_t over_buffer = 0;   // max_buffered_bytes
};

// Runs on the server's single worker thread, one request at a time, in
// arrival order across all connections. Gets the raw request line (no
// newline) and returns the response JSON object. Should not throw: an
// exception becomes an `internal` error response (and is logged).
using RequestHandler =
    std::function<nlohmann::json(const std::string& line, const PeerCred& peer)>;

// A connection that a streaming command (protocol/stream.hpp, `monitor`)
// turned into a stream: lines pushed from any thread. Never blocks: a line
// that would put more than kStreamQueueBytes of unread output on the
// connection is not queued (the caller counts it as lost), so a client that
// reads slowly loses lines and holds up nobody.
class StreamOutput {
public:
    static constexpr size_t kStreamQueueBytes = 1u << 20;
    virtual ~StreamOutput() = default;
    // Called by the stream handler when it accepts the request: lines sent
    // from now on follow its response on the wire.
    virtual void begin_stream() = 0;
    // line without its newline. False when it was not queued: the client is
    // slow, or gone (then closed() is true), or the response has not gone out.
    virtual bool send_line(const std::string& line) = 0;
    virtual bool closed() const = 0;
};

// Gets every request line first (on the worker thread). Returns the
// response when the line is a streaming command (having called
// out->begin_stream() when it accepted it), nullopt for any other line,
// which then goes to the RequestHandler.
using StreamHandler = std::function<std::optional<nlohmann::json>(
    const std::string& line, const PeerCred& peer, const std::shared_ptr<StreamOutput>& out)>;

// The io_context passed in carries accepting, reading and writing; the caller
// runs it (any number of threads) and must keep it alive longer than the
// server. The handler runs on a worker thread the server owns, so a slow
// commit never holds up accepting or reading.
class ControlServer {
public:
    ControlServer(boost::asio::io_context& io, ServerOptions opts, RequestHandler handler,
                  StreamHandler stream = {});
    // Stops, joins the worker, removes the socket file (if it is still ours).
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Removes a stale socket file, binds, sets mode and group, listens and
    // starts accepting. Throws std::system_error naming the path, e.g. when
    // another live xdpfwd answers on it or the path is not a socket.
    void start();
    // Closes the acceptor and every connection; a request being executed is
    // finished (its response discarded), queued ones are dropped. Callable
    // from any thread, also from the handler itself, and more than once.
    void stop();
    // Open client connections.
    size_t connections() const;
    ServerCounters counters() const;

    struct Shared; // state shared with connections and pending handlers

private:
    boost::asio::io_context& io_;
    std::shared_ptr<Shared> shared_;
    boost::asio::thread_pool worker_{1};
    bool started_ = false;
    // Identity of the file we bound, so the destructor removes only our own
    // socket and not one a newer daemon put in its place.
    dev_t bound_dev_ = 0;
    ino_t bound_ino_ = 0;
};

} // namespace xdpfw
