// SPDX-License-Identifier: GPL-2.0-only
// Control socket client: blocking connect bounded by the timeout, then
// non-blocking write and read driven by poll() against one deadline.
#include "apps/xdpfwctl/client.hpp"
#include "lib/base/unique_fd.hpp"
#include "lib/protocol/protocol.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>

namespace xdpfw::ctl {

ClientError::ClientError(Kind kind, std::string code, std::string message)
    : std::runtime_error(code + ": " + message), kind_(kind), code_(std::move(code)),
      message_(std::move(message))
{
}

namespace {

using Clock = std::chrono::steady_clock;

// Longer timeouts are treated as this many seconds, which keeps the
// deadline arithmetic far away from overflowing the clock.
constexpr double max_timeout_seconds = 1e8;

using Fd = UniqueFd;

ClientError transport(std::string code, std::string message)
{
    return ClientError(ClientError::Kind::transport, std::move(code), std::move(message));
}

std::string errno_text(int err)
{
    return std::strerror(err);
}

ClientError timed_out(const std::string& socket, double timeout, const char* waiting_for)
{
    return transport("timeout", fmt::format("no {} from xdpfwd on {} within {:g} s", waiting_for,
                                            socket, timeout));
}

// Milliseconds left until deadline for poll(), rounded up so a wait never
// ends just before the deadline and spins.
int poll_ms(Clock::time_point deadline)
{
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return int(std::clamp<long long>(left, 0, INT_MAX));
}

// Waits for events on fd; false when the deadline passed first.
bool wait_for(int fd, short events, Clock::time_point deadline)
{
    for (;;) {
        int ms = poll_ms(deadline);
        if (ms == 0)
            return false;
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, ms);
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            throw transport("io_error", "poll: " + errno_text(errno));
    }
}

int connect_unix(const std::string& socket, double timeout)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket.empty())
        throw ClientError(ClientError::Kind::connect, "connect",
                          "cannot connect: the socket path is empty");
    if (socket.size() >= sizeof(addr.sun_path))
        throw ClientError(ClientError::Kind::connect, "connect",
                          "cannot connect to " + socket + ": " + errno_text(ENAMETOOLONG) +
                              " (socket paths are 1-" + std::to_string(sizeof(addr.sun_path) - 1) +
                              " bytes)");
    std::memcpy(addr.sun_path, socket.data(), socket.size());

    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw transport("io_error", "socket: " + errno_text(errno));
    // A Unix connect() waits while the listener's backlog is full (a daemon
    // that stopped accepting); SO_SNDTIMEO bounds that wait, and it then
    // fails with EAGAIN.
    timeval tv{};
    double whole = std::floor(timeout);
    tv.tv_sec = time_t(whole);
    tv.tv_usec = suseconds_t((timeout - whole) * 1e6);
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        tv.tv_usec = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc;
    do
        rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int err = errno;
        ::close(fd);
        if (err == EAGAIN)
            throw timed_out(socket, timeout, "accept");
        throw ClientError(ClientError::Kind::connect, "connect",
                          "cannot connect to " + socket + ": " + errno_text(err) +
                              " (is xdpfwd running?)");
    }
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        int err = errno;
        ::close(fd);
        throw transport("io_error", "fcntl: " + errno_text(err));
    }
    return fd;
}

// Sends the whole line. Returns false if the daemon closed its end first:
// it may still have written an answer (permission_denied), so the caller
// reads before reporting a broken connection.
bool send_all(int fd, const std::string& data, Clock::time_point deadline,
              const std::string& socket, double timeout)
{
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n >= 0) {
            off += size_t(n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET)
            return false;
        if (errno != EAGAIN)
            throw transport("io_error", "write to " + socket + ": " + errno_text(errno));
        if (!wait_for(fd, POLLOUT, deadline))
            throw timed_out(socket, timeout, "room for the request");
    }
    return true;
}

std::string read_line(int fd, Clock::time_point deadline, const std::string& socket,
                      double timeout, bool sent)
{
    std::string buf;
    char chunk[65536];
    for (;;) {
        ssize_t n = ::read(fd, chunk, sizeof(chunk));
        if (n > 0) {
            size_t old = buf.size();
            buf.append(chunk, size_t(n));
            if (auto nl = buf.find('\n', old); nl != std::string::npos) {
                buf.resize(nl);
                return buf;
            }
            if (buf.size() > max_response_bytes)
                throw transport("bad_response", fmt::format("response from {} exceeds {} bytes",
                                                            socket, max_response_bytes));
            continue;
        }
        if (n == 0) {
            if (!buf.empty())
                throw transport("bad_response",
                                "xdpfwd closed the connection in the middle of a response");
            throw transport("io_error", sent ? "xdpfwd closed the connection without answering"
                                             : "xdpfwd closed the connection before the "
                                               "request was sent");
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            throw transport("io_error", "read from " + socket + ": " + errno_text(errno));
        if (!wait_for(fd, POLLIN, deadline))
            throw timed_out(socket, timeout, "response");
    }
}

} // namespace

nlohmann::json request(const std::string& socket, nlohmann::json req, double timeout)
{
    if (!(timeout > 0))
        throw std::invalid_argument("timeout must be a positive number of seconds");
    timeout = std::min(timeout, max_timeout_seconds);
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(timeout));
    if (!req.is_object())
        throw std::invalid_argument("a request must be a JSON object");
    const std::string out = protocol::request_line(req);

    Fd fd(connect_unix(socket, timeout));
    bool sent = send_all(fd.get(), out, deadline, socket, timeout);
    std::string line = read_line(fd.get(), deadline, socket, timeout, sent);

    protocol::Response resp;
    try {
        resp = protocol::parse_response_line(line);
    } catch (const protocol::BadResponse& e) {
        throw transport("bad_response", e.what());
    }
    // The daemon's code as sent, also one this build does not know (a newer
    // daemon's): it is printed, not interpreted.
    if (!resp.ok)
        throw ClientError(ClientError::Kind::daemon, resp.code_name, resp.message);
    // A permission_denied or too_large answer may carry id 0 because the
    // daemon never read the request; those are errors and handled above.
    if (resp.id != req["id"])
        throw transport("bad_response", "response id " + resp.id.dump() +
                                            " does not match request id " + req["id"].dump());
    return std::move(resp.full);
}

Stream::Stream(const std::string& socket, nlohmann::json req, double timeout) : socket_(socket)
{
    timeout = std::min(timeout, max_timeout_seconds);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(timeout));
    const std::string out = protocol::request_line(req);
    fd_ = Fd(connect_unix(socket, timeout));
    const bool sent = send_all(fd_.get(), out, deadline, socket, timeout);
    // The first line is the response; events may follow in the same read.
    std::optional<std::string> line;
    while (!(line = take_line())) {
        if (!next_chunk(deadline, sent))
            throw timed_out(socket, timeout, "response");
    }
    protocol::Response resp;
    try {
        resp = protocol::parse_response_line(*line);
    } catch (const protocol::BadResponse& e) {
        throw transport("bad_response", e.what());
    }
    if (!resp.ok)
        throw ClientError(ClientError::Kind::daemon, resp.code_name, resp.message);
    response_ = std::move(resp.full);
}

std::optional<std::string> Stream::take_line()
{
    const size_t nl = buf_.find('\n');
    if (nl == std::string::npos)
        return std::nullopt;
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    return line;
}

// Reads what is there into buf_; false when the deadline passed first.
bool Stream::next_chunk(Clock::time_point deadline, bool sent)
{
    char chunk[65536];
    for (;;) {
        const ssize_t n = ::read(fd_.get(), chunk, sizeof(chunk));
        if (n > 0) {
            buf_.append(chunk, size_t(n));
            return true;
        }
        if (n == 0)
            throw transport("io_error", sent ? "xdpfwd closed the stream"
                                             : "xdpfwd closed the connection before the "
                                               "request was sent");
        if (errno != EAGAIN && errno != EINTR)
            throw transport("io_error", "read from " + socket_ + ": " + errno_text(errno));
        if (errno == EINTR)
            return false;
        pollfd p{fd_.get(), POLLIN, 0};
        const int r = ::poll(&p, 1, poll_ms(deadline));
        if (r == 0 || (r < 0 && errno == EINTR))
            return false;
    }
}

std::optional<nlohmann::json> Stream::next(double wait_seconds)
{
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(wait_seconds));
    std::optional<std::string> line;
    while (!(line = take_line()))
        if (!next_chunk(deadline, true))
            return std::nullopt;
    try {
        return nlohmann::json::parse(*line);
    } catch (const nlohmann::json::exception& e) {
        throw transport("bad_response", std::string("stream line is not JSON: ") + e.what());
    }
}

nlohmann::json result_of(const nlohmann::json& response)
{
    return protocol::result_of(response);
}

std::string format_error(const ClientError& e)
{
    if (e.kind() == ClientError::Kind::connect)
        return "xdpfwctl: " + e.message();
    return "xdpfwctl: " + e.code() + ": " + e.message();
}

int exit_code(const ClientError& e)
{
    return e.kind() == ClientError::Kind::connect ? 2 : 1;
}

} // namespace xdpfw::ctl
