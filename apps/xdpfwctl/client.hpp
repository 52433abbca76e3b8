// SPDX-License-Identifier: GPL-2.0-only
// The xdpfwctl side of the control protocol (docs/PROTOCOL.md): one request
// line out, one response line back, over a Unix stream socket.
#pragma once

#include "lib/base/unique_fd.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

namespace xdpfw::ctl {

// Everything that can go wrong between xdpfwctl and the daemon, and the local
// checks done before sending. kind decides the exit code (connect: 2, the
// rest: 1); code is a protocol error code (docs/PROTOCOL.md) when the daemon
// answered ok=false, else one of the client's own codes:
//   timeout       no complete response within the timeout
//   io_error      the connection broke, or a local file could not be read
//   bad_response  the daemon's answer is not a protocol response
//   invalid_policy / invalid_prefix  a local file did not parse
class ClientError : public std::runtime_error {
public:
    enum class Kind { connect, transport, daemon, local };
    ClientError(Kind kind, std::string code, std::string message);
    Kind kind() const { return kind_; }
    const std::string& code() const { return code_; }
    const std::string& message() const { return message_; }

private:
    Kind kind_;
    std::string code_, message_;
};

// A response longer than this is refused (bad_response) rather than read
// without end. Large enough for set.list of a million IPv6 prefixes.
inline constexpr size_t max_response_bytes = size_t(512) << 20;

// Connects to socket, sends req as one line (an "id" is added when missing)
// and waits up to timeout seconds in total for the response line. Returns
// the whole response object (with "id" and "ok") when ok is true; throws
// ClientError otherwise: Kind::connect when nothing listens on socket,
// Kind::daemon with the daemon's code and message when ok is false,
// Kind::transport for timeouts, broken connections and malformed answers.
nlohmann::json request(const std::string& socket, nlohmann::json req, double timeout);

// A streaming request (`monitor`, docs/PROTOCOL.md "Streams"): connects,
// sends req and reads its response as request() does (same errors), then
// hands out the lines the daemon streams after it.
class Stream {
public:
    Stream(const std::string& socket, nlohmann::json req, double timeout);
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    const nlohmann::json& response() const { return response_; }
    // The next streamed line, waiting at most wait_seconds; nullopt when
    // that passed first (or a signal came). Throws ClientError (transport)
    // when the daemon closed the stream or sent something not JSON.
    std::optional<nlohmann::json> next(double wait_seconds);

private:
    std::optional<std::string> take_line();
    bool next_chunk(std::chrono::steady_clock::time_point deadline, bool sent);
    UniqueFd fd_;
    std::string socket_, buf_;
    nlohmann::json response_;
};

// A response without its envelope: the result object the daemon sent, minus
// "id" and "ok". This is what --json prints.
nlohmann::json result_of(const nlohmann::json& response);

// "xdpfwctl: <code>: <message>", or for connection failures
// "xdpfwctl: cannot connect to PATH: <errno text> (is xdpfwd running?)".
std::string format_error(const ClientError& e);

// Exit code for the error: 2 when the daemon could not be reached, else 1.
int exit_code(const ClientError& e);

} // namespace xdpfw::ctl
