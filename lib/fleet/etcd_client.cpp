// SPDX-License-Identifier: GPL-2.0-only
// The etcd JSON gateway client: HTTP/1.1 over TCP or TLS with Boost.Beast.
#include "lib/fleet/etcd_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstring>

namespace xdpfw::fleet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

Endpoint parse_endpoint(const std::string& url)
{
    Endpoint e;
    std::string rest;
    if (url.rfind("http://", 0) == 0) {
        rest = url.substr(7);
    } else if (url.rfind("https://", 0) == 0) {
        rest = url.substr(8);
        e.tls = true;
    } else {
        throw std::invalid_argument("etcd endpoint '" + url + "': must start with http:// or https://");
    }
    while (!rest.empty() && rest.back() == '/')
        rest.pop_back();
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos || colon + 1 == rest.size() || rest.find('/') != std::string::npos)
        throw std::invalid_argument("etcd endpoint '" + url + "': expected scheme://host:port");
    e.host = rest.substr(0, colon);
    e.port = rest.substr(colon + 1);
    if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']')
        e.host = e.host.substr(1, e.host.size() - 2);
    if (e.host.empty() || e.port.find_first_not_of("0123456789") != std::string::npos)
        throw std::invalid_argument("etcd endpoint '" + url + "': expected scheme://host:port");
    return e;
}

std::vector<Endpoint> parse_endpoints(const std::string& urls)
{
    std::vector<Endpoint> out;
    size_t start = 0;
    while (start <= urls.size()) {
        size_t comma = urls.find(',', start);
        if (comma == std::string::npos)
            comma = urls.size();
        if (comma > start)
            out.push_back(parse_endpoint(urls.substr(start, comma - start)));
        start = comma + 1;
    }
    if (out.empty())
        throw std::invalid_argument("etcd: no endpoint given");
    return out;
}

namespace {

// Runs the asynchronous operation start() begins to completion on ioc (the
// stream's own timer ends it at its deadline); its error code.
template <class Start>
beast::error_code run_op(asio::io_context& ioc, Start&& start)
{
    beast::error_code result;
    start([&](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
}

std::string where(const Endpoint& e)
{
    return endpoint_url(e);
}

// An error's words, and what to check when etcd refused our certificate
// (with TLS 1.3 its alert comes with the first answer, not the handshake).
std::string why(const beast::error_code& ec)
{
    std::string m = ec.message();
    if (m.find("alert") != std::string::npos && m.find("certificate") != std::string::npos)
        m += " (etcd refused the client certificate: --client-cert-auth wants --etcd-cert and "
             "--etcd-key, signed by its --trusted-ca-file CA)";
    return m;
}

// Loads one PEM file into ctx; an error names the option and the file.
template <class Load>
void load_pem(const char* option, const std::string& file, Load&& load)
{
    if (::access(file.c_str(), R_OK) != 0)
        throw std::invalid_argument(
            fmt::format("etcd TLS: {} {}: {}", option, file, std::strerror(errno)));
    beast::error_code ec;
    load(ec);
    if (ec)
        throw std::invalid_argument(fmt::format("etcd TLS: {} {}: not usable PEM ({})", option,
                                                file, ERR_error_string(ec.value(), nullptr)));
}

} // namespace

std::string endpoint_url(const Endpoint& e)
{
    const bool v6 = e.host.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}", e.tls ? "https" : "http", v6 ? "[" : "", e.host,
                       v6 ? "]" : "", e.port);
}

// One connection to one endpoint, plain or TLS.
struct Connection {
    asio::io_context ioc;
    std::optional<asio::ssl::context> ssl_ctx;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;
    Endpoint endpoint;
    std::string verify_error; // why etcd's certificate did not verify

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

    // Connects (and shakes hands) within timeout; throws EtcdError.
    void open(const Endpoint& e, const EtcdOptions& o)
    {
        endpoint = e;
        tcp::resolver resolver(ioc);
        beast::error_code ec;
        const auto addrs = resolver.resolve(e.host, e.port, ec);
        if (ec)
            throw EtcdError(fmt::format("etcd {}: resolve: {}", where(e), ec.message()));
        if (e.tls) {
            start_tls(e, o);
        } else {
            plain.emplace(ioc);
        }
        lowest().expires_after(o.timeout);
        ec = run_op(ioc, [&](auto h) { lowest().async_connect(addrs, [h](auto ec, auto) { h(ec); }); });
        if (ec)
            throw EtcdError(fmt::format("etcd {}: connect: {}", where(e), ec.message()));
        if (tls) {
            ec = run_op(ioc, [&](auto h) { tls->async_handshake(asio::ssl::stream_base::client, h); });
            if (ec)
                throw EtcdError(fmt::format("etcd {}: TLS handshake: {}{}", where(e), why(ec),
                                            verify_error.empty() ? "" : ": " + verify_error));
        }
    }

    // The TLS context and stream: the CA to trust (or the system's), the
    // client certificate, and a check of etcd's certificate that says what
    // failed.
    void start_tls(const Endpoint& e, const EtcdOptions& o)
    {
        if (o.cert_file.empty() != o.key_file.empty())
            throw std::invalid_argument("etcd TLS: a client certificate (--etcd-cert, fleet.cert) "
                                        "needs its key (--etcd-key, fleet.key), and back");
        ssl_ctx.emplace(asio::ssl::context::tls_client);
        if (!o.ca_file.empty())
            load_pem("CA file (--etcd-ca, fleet.ca)", o.ca_file,
                     [&](auto& ec) { ssl_ctx->load_verify_file(o.ca_file, ec); });
        else
            ssl_ctx->set_default_verify_paths();
        if (!o.cert_file.empty()) {
            load_pem("client certificate (--etcd-cert, fleet.cert)", o.cert_file,
                     [&](auto& ec) { ssl_ctx->use_certificate_chain_file(o.cert_file, ec); });
            load_pem("client key (--etcd-key, fleet.key)", o.key_file, [&](auto& ec) {
                ssl_ctx->use_private_key_file(o.key_file, asio::ssl::context::pem, ec);
            });
        }
        ssl_ctx->set_verify_mode(asio::ssl::verify_peer);
        tls.emplace(ioc, *ssl_ctx);
        SSL_set_tlsext_host_name(tls->native_handle(), e.host.c_str());
        auto check = asio::ssl::host_name_verification(e.host);
        auto verify = [this, host = e.host, check](bool preverified,
                                                   asio::ssl::verify_context& ctx) mutable {
            if (!preverified) {
                const int err = X509_STORE_CTX_get_error(ctx.native_handle());
                verify_error = fmt::format("{} (not signed by the CA of --etcd-ca/fleet.ca, or "
                                           "the system's without one)",
                                           X509_verify_cert_error_string(err));
                return false;
            }
            if (!check(preverified, ctx)) {
                verify_error = "etcd's certificate does not name " + host +
                               " (its subjectAltName must hold the endpoint's host)";
                return false;
            }
            return true;
        };
        tls->set_verify_callback(verify);
    }

    template <class Msg>
    beast::error_code write(Msg& msg)
    {
        if (tls)
            return run_op(ioc, [&](auto h) { http::async_write(*tls, msg, h); });
        return run_op(ioc, [&](auto h) { http::async_write(*plain, msg, h); });
    }

    template <class Parser>
    beast::error_code read(Parser& p)
    {
        if (tls)
            return run_op(ioc, [&](auto h) { http::async_read(*tls, buffer, p, h); });
        return run_op(ioc, [&](auto h) { http::async_read(*plain, buffer, p, h); });
    }

    template <class Parser>
    beast::error_code read_header(Parser& p)
    {
        if (tls)
            return run_op(ioc, [&](auto h) { http::async_read_header(*tls, buffer, p, h); });
        return run_op(ioc, [&](auto h) { http::async_read_header(*plain, buffer, p, h); });
    }

    http::request<http::string_body> request(const std::string& path, std::string body,
                                             const std::string& token) const
    {
        http::request<http::string_body> req{http::verb::post, path, 11};
        req.set(http::field::host, endpoint.host + ":" + endpoint.port);
        req.set(http::field::content_type, "application/json");
        if (!token.empty())
            req.set(http::field::authorization, token);
        req.body() = std::move(body);
        req.prepare_payload();
        return req;
    }
};

struct EtcdClient::Conn : Connection {};

EtcdClient::EtcdClient(EtcdOptions opts) : opts_(std::move(opts))
{
    if (opts_.endpoints.empty())
        throw std::invalid_argument("etcd: no endpoint given");
}

EtcdClient::~EtcdClient() = default;

json EtcdClient::call_once(const std::string& path, const std::string& body)
{
    if (!conn_) {
        auto c = std::make_unique<Conn>();
        c->open(opts_.endpoints[next_endpoint_ % opts_.endpoints.size()], opts_);
        conn_ = std::move(c);
    }
    auto req = conn_->request(path, body, token_);
    conn_->lowest().expires_after(opts_.timeout);
    if (auto ec = conn_->write(req))
        throw EtcdError(fmt::format("etcd {}: send: {}", where(conn_->endpoint), ec.message()));
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    if (auto ec = conn_->read(parser))
        throw EtcdError(fmt::format("etcd {}: receive: {}", where(conn_->endpoint), why(ec)));
    auto& res = parser.get();
    if (!res.keep_alive())
        conn_.reset();
    if (res.result() != http::status::ok)
        throw error_from_body(res.result_int(), res.body());
    json j = json::parse(res.body(), nullptr, false);
    if (j.is_discarded())
        throw EtcdError("etcd: an answer that is not JSON: " + res.body().substr(0, 200));
    return j;
}

void EtcdClient::authenticate()
{
    token_.clear();
    const json r = call_once("/v3/auth/authenticate",
                             json{{"name", opts_.user}, {"password", opts_.password}}.dump());
    token_ = r.value("token", "");
    if (token_.empty())
        throw EtcdError("etcd: authentication gave no token");
}

json EtcdClient::call(const std::string& path, const json& body)
{
    const std::string text = body.dump();
    // A connection the server closed while idle, or an endpoint that is
    // down: one more try on the next endpoint (all of them, at most).
    const size_t tries = opts_.endpoints.size() + 1;
    for (size_t attempt = 0;; ++attempt) {
        try {
            if (!opts_.user.empty() && token_.empty())
                authenticate();
            return call_once(path, text);
        } catch (const EtcdError& e) {
            // 16 (unauthenticated): the token expired; once more with a new one.
            if (e.grpc_code() == 16 && !opts_.user.empty() && attempt + 1 < tries) {
                token_.clear();
                continue;
            }
            if (e.grpc_code() != 0 || attempt + 1 >= tries)
                throw;
            conn_.reset();
            if (attempt > 0)
                ++next_endpoint_;
        }
    }
}

RangeResult EtcdClient::range(std::string_view key, const RangeOptions& o)
{
    return parse_range(call("/v3/kv/range", range_request(key, o)));
}

std::optional<KeyValue> EtcdClient::get(std::string_view key, int64_t revision)
{
    RangeOptions o;
    o.revision = revision;
    RangeResult r = range(key, o);
    if (r.kvs.empty())
        return std::nullopt;
    return std::move(r.kvs.front());
}

int64_t EtcdClient::put(std::string_view key, std::string_view value, int64_t lease)
{
    return header_revision(call("/v3/kv/put", put_request(key, value, lease)));
}

int64_t EtcdClient::del(std::string_view key, std::string_view range_end)
{
    return header_revision(call("/v3/kv/deleterange", delete_request(key, range_end)));
}

TxnResult EtcdClient::txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                          const std::vector<TxnOp>& failure)
{
    return parse_txn(call("/v3/kv/txn", txn_request(compares, success, failure)));
}

int64_t EtcdClient::lease_grant(int64_t ttl_seconds)
{
    const json r = call("/v3/lease/grant", json{{"TTL", std::to_string(ttl_seconds)}});
    const int64_t id = json_int(r, "ID");
    if (!id)
        throw EtcdError("etcd: lease grant: " + r.value("error", r.dump()));
    return id;
}

int64_t EtcdClient::lease_keepalive(int64_t id)
{
    // A stream in gRPC; through the gateway one request, one answer.
    const json r = call("/v3/lease/keepalive", json{{"ID", std::to_string(id)}});
    if (auto e = r.find("error"); e != r.end())
        throw EtcdError("etcd: lease keepalive: " + e->value("message", e->dump()),
                        e->value("grpc_code", 0));
    auto res = r.find("result");
    return res == r.end() ? 0 : json_int(*res, "TTL");
}

void EtcdClient::lease_revoke(int64_t id)
{
    call("/v3/lease/revoke", json{{"ID", std::to_string(id)}});
}

// ---------------------------------------------------------------- watch

struct EtcdWatch::Stream : Connection {
    http::response_parser<http::buffer_body> parser;
    std::array<char, 65536> chunk{};
    std::string pending;        // bytes of a message not yet complete
    bool reading = false;       // an async_read is outstanding
    bool done = false;          // it completed
    beast::error_code result;

    void start_read()
    {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        reading = true;
        done = false;
        auto h = [this](beast::error_code ec, size_t) {
            result = ec;
            done = true;
        };
        // read_some: a message is a few bytes of a chunk; async_read would
        // wait for the whole buffer to fill.
        if (tls)
            http::async_read_some(*tls, buffer, parser, h);
        else
            http::async_read_some(*plain, buffer, parser, h);
    }
};

EtcdWatch::EtcdWatch(const EtcdOptions& opts, std::string_view key, std::string_view range_end,
                     int64_t start_revision)
    : s_(std::make_unique<Stream>())
{
    std::string token;
    if (!opts.user.empty()) {
        EtcdClient c(opts);
        token = c.call("/v3/auth/authenticate", json{{"name", opts.user}, {"password", opts.password}})
                    .value("token", "");
    }
    std::string last_error;
    for (const Endpoint& e : opts.endpoints) {
        try {
            s_->open(e, opts);
            last_error.clear();
            break;
        } catch (const EtcdError& err) {
            last_error = err.what();
            s_ = std::make_unique<Stream>();
        }
    }
    if (!last_error.empty())
        throw EtcdError(last_error);
    auto req = s_->request("/v3/watch", watch_create_request(key, range_end, start_revision).dump(),
                           token);
    s_->lowest().expires_after(opts.timeout);
    if (auto ec = s_->write(req))
        throw EtcdError(fmt::format("etcd watch: send: {}", ec.message()));
    s_->parser.body_limit(boost::none);
    if (auto ec = s_->read_header(s_->parser))
        throw EtcdError(fmt::format("etcd watch: receive: {}", why(ec)));
    if (s_->parser.get().result() != http::status::ok)
        throw EtcdError(fmt::format("etcd watch: HTTP {}", s_->parser.get().result_int()));
    s_->lowest().expires_never();
}

EtcdWatch::~EtcdWatch() = default;

std::optional<WatchMessage> EtcdWatch::next(std::chrono::milliseconds wait)
{
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        // The gateway ends each message with a newline.
        if (size_t nl = s_->pending.find('\n'); nl != std::string::npos) {
            const std::string line = s_->pending.substr(0, nl);
            s_->pending.erase(0, nl + 1);
            if (line.find_first_not_of(" \r\t") == std::string::npos)
                continue;
            const json j = json::parse(line, nullptr, false);
            if (j.is_discarded())
                throw EtcdError("etcd watch: a message that is not JSON: " + line.substr(0, 200));
            return parse_watch_message(j);
        }
        if (!s_->reading) {
            if (s_->parser.is_done())
                throw EtcdError("etcd watch: the stream ended");
            s_->start_read();
            s_->ioc.restart();
        }
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero())
            return std::nullopt;
        s_->ioc.run_one_for(left);
        if (!s_->done)
            continue;
        s_->reading = false;
        if (s_->result && s_->result != http::error::need_buffer)
            throw EtcdError("etcd watch: " + why(s_->result));
        const size_t got = s_->chunk.size() - s_->parser.get().body().size;
        s_->pending.append(s_->chunk.data(), got);
    }
}

} // namespace xdpfw::fleet
