// SPDX-License-Identifier: GPL-2.0-only
// A real etcd (Debian's etcd-server) for the fleet tests: started on free
// ports with a temporary data dir, in the root namespace on 127.0.0.1 or
// inside a test namespace, and always stopped with the fixture (even when
// the test fails or throws). Killed and restarted on the same data dir for
// the failure tests.
#pragma once

#include "lib/fleet/etcd_client.hpp"
#include "testing/netns.hpp"
#include "testing/temp_dir.hpp"
#include "testing/test_pki.hpp"

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

namespace xdpfw::test {

struct EtcdServerOptions {
    const NetNs* ns = nullptr;          // nullptr: the root namespace
    std::string listen = "127.0.0.1";   // the client address ("0.0.0.0": every one in ns)
    std::vector<std::string> extra_args; // e.g. {"--max-request-bytes", "..."}
    // https on the client URL with server's certificate, and only clients
    // with a certificate ca signed (--client-cert-auth); the fixture's own
    // calls (readiness, client_options()) present client.
    struct Tls {
        std::filesystem::path ca;
        CertPair server, client;
    };
    std::optional<Tls> tls;
};

class EtcdServer {
public:
    explicit EtcdServer(EtcdServerOptions opts = {}); // starts it (start())
    ~EtcdServer();                                     // kill(), data dir removed
    EtcdServer(const EtcdServer&) = delete;
    EtcdServer& operator=(const EtcdServer&) = delete;

    // Starts etcd on the same ports and data dir and waits until it answers
    // (throws with its log when it does not within timeout).
    void start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    void kill();       // SIGKILL and reap (a crash)
    bool running() const { return pid_ > 0; }

    // http://127.0.0.1:PORT, https:// with tls (reached from ns when there is one).
    std::string url() const { return scheme() + "://127.0.0.1:" + std::to_string(client_port_); }
    std::string scheme() const { return opts_.tls ? "https" : "http"; }
    // The xdpfwctl/xdpfwd flags for tls (--etcd-ca, --etcd-cert, --etcd-key); none without.
    std::vector<std::string> tls_flags() const;
    uint16_t client_port() const { return client_port_; }
    fleet::EtcdOptions client_options() const;
    std::string log() const;

private:
    EtcdServerOptions opts_;
    TempDir dir_{"xdpfw-etcd"};
    uint16_t client_port_ = 0, peer_port_ = 0;
    pid_t pid_ = -1;
};

} // namespace xdpfw::test
