// SPDX-License-Identifier: GPL-2.0-only
// The tests' HTTP client: one request per connection, a deadline on all of it.
#include "testing/http_get.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>

namespace xdpfw::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

HttpReply http_request(const std::string& host, uint16_t port, const std::string& method,
                       const std::string& target, std::chrono::milliseconds timeout,
                       const std::string& raw)
{
    HttpReply out;
    try {
        asio::io_context io;
        beast::tcp_stream stream(io);
        stream.expires_after(timeout);
        stream.connect(tcp::endpoint(asio::ip::make_address(host), port));
        if (raw.empty()) {
            http::request<http::empty_body> req(http::string_to_verb(method), target, 11);
            req.set(http::field::host, fmt::format("{}:{}", host, port));
            req.set(http::field::connection, "close");
            http::write(stream, req);
        } else {
            asio::write(stream, asio::buffer(raw));
        }
        beast::flat_buffer buf;
        http::response_parser<http::string_body> parser;
        parser.body_limit(256u << 20);
        http::read(stream, buf, parser);
        const auto& res = parser.get();
        out.status = res.result_int();
        out.content_type = std::string(res[http::field::content_type]);
        out.allow = std::string(res[http::field::allow]);
        out.body = res.body();
    } catch (const std::exception& e) {
        out = {};
        out.error = e.what();
    }
    return out;
}

uint16_t free_tcp_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error("socket() for a free port failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("bind() for a free port failed");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

std::string url_encode(const std::string& text)
{
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            out += char(c);
        else
            out += fmt::format("%{:02X}", c);
    }
    return out;
}

} // namespace xdpfw::test
