// SPDX-License-Identifier: GPL-2.0-only
// A small etcd v3 client over the JSON gateway (HTTP/1.1, Boost.Beast):
// range, put, delete, txn, leases, and watches streamed over one long
// response. Blocking calls with timeouts; one object per thread. Several
// endpoints: a call that cannot reach one tries the next.
#pragma once

#include "lib/fleet/etcd_codec.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xdpfw::fleet {

struct Endpoint {
    std::string host, port;
    bool tls = false;
};
// "http://host:port" or "https://host:port" (IPv6 hosts in brackets);
// throws std::invalid_argument otherwise.
Endpoint parse_endpoint(const std::string& url);
// The URL again (parse_endpoint's inverse).
std::string endpoint_url(const Endpoint& e);
// A comma-separated list of them.
std::vector<Endpoint> parse_endpoints(const std::string& urls);

struct EtcdOptions {
    std::vector<Endpoint> endpoints;
    // User/password authentication (/v3/auth/authenticate); empty: none.
    std::string user, password;
    // Client TLS (https endpoints): the CA to trust, and a client
    // certificate and key when etcd asks for one (--client-cert-auth).
    std::string ca_file, cert_file, key_file;
    std::chrono::milliseconds timeout{5000}; // one call
};

class EtcdClient {
public:
    explicit EtcdClient(EtcdOptions opts);
    ~EtcdClient();
    EtcdClient(const EtcdClient&) = delete;
    EtcdClient& operator=(const EtcdClient&) = delete;

    RangeResult range(std::string_view key, const RangeOptions& o = {});
    std::optional<KeyValue> get(std::string_view key, int64_t revision = 0);
    int64_t put(std::string_view key, std::string_view value, int64_t lease = 0);
    int64_t del(std::string_view key, std::string_view range_end = {}); // the revision
    TxnResult txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                  const std::vector<TxnOp>& failure = {});
    int64_t lease_grant(int64_t ttl_seconds); // the lease id
    // The TTL left after the refresh; 0 when the lease no longer exists.
    int64_t lease_keepalive(int64_t id);
    void lease_revoke(int64_t id);

    // One call: POST path with body; the answer's JSON. Throws EtcdError.
    nlohmann::json call(const std::string& path, const nlohmann::json& body);

    const EtcdOptions& options() const { return opts_; }

private:
    struct Conn;
    nlohmann::json call_once(const std::string& path, const std::string& body);
    void authenticate();

    EtcdOptions opts_;
    std::unique_ptr<Conn> conn_;
    size_t next_endpoint_ = 0;
    std::string token_;
};

// One watch: a long POST /v3/watch whose response streams one JSON object
// per message. Throws EtcdError when the stream ends or breaks (reopen it
// from the last revision seen + 1).
class EtcdWatch {
public:
    EtcdWatch(const EtcdOptions& opts, std::string_view key, std::string_view range_end,
              int64_t start_revision);
    ~EtcdWatch();
    EtcdWatch(const EtcdWatch&) = delete;
    EtcdWatch& operator=(const EtcdWatch&) = delete;

    // The next message, or nullopt when none came within wait.
    std::optional<WatchMessage> next(std::chrono::milliseconds wait);

private:
    struct Stream;
    std::unique_ptr<Stream> s_;
};

} // namespace xdpfw::fleet
