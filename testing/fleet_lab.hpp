// SPDX-License-Identifier: GPL-2.0-only
// The fleet topology of the fleet tests and benchmark: one etcd in a hub
// namespace and N xdpfwd nodes, each in its own namespace with a traffic
// link (dut0 <-> peer0 in the node's peer namespace, the DaemonLab
// addresses) and a control link to the hub (ctl0 10.99.(20+i).2 <->
// hubI 10.99.(20+i).1) over which it reaches etcd. xdpfwctl --etcd runs
// in-process inside the hub namespace. Everything is removed with the lab.
#pragma once

#include "testing/daemon_runner.hpp"
#include "testing/etcd_server.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace xdpfw::test {

struct FleetNode {
    FleetNode(int index, const EtcdServer& etcd, const std::string& xdpfwd, const NetNs& hub,
              const std::string& prefix, std::vector<std::string> extra_args, bool autostart);

    std::string name;
    NetNs dut, peer;
    VethPair link, ctl;
    DaemonProcess daemon; // last: cleaned up while the links exist
};

class FleetLab {
public:
    static constexpr const char* prefix = "/xdpfw/test";

    // nodes daemons; extra[i] (when given) are node i's extra xdpfwd
    // arguments; the nodes listed in late are created but not started. With
    // tls, etcd serves https and wants client certificates; the nodes and
    // ctl() present tls's client certificate (the server's must name
    // 127.0.0.1 and each hub address, hub_address()) unless a node's extra
    // gives --etcd-ca, --etcd-cert or --etcd-key itself.
    FleetLab(const std::string& xdpfwd, size_t nodes,
             std::vector<std::vector<std::string>> extra = {}, std::vector<size_t> late = {},
             std::optional<EtcdServerOptions::Tls> tls = std::nullopt);

    // The hub's address on node i's control link: where node i reaches etcd.
    static std::string hub_address(size_t i);

    // xdpfwctl --etcd URL --etcd-prefix PREFIX ARGS..., from the hub.
    CtlResult ctl(const std::vector<std::string>& args);
    // `fleet status --json` (throws when it fails).
    nlohmann::json status();
    // Waits until every running node reports revision (true) or timeout.
    bool wait_revision(int64_t revision, std::chrono::milliseconds timeout,
                       const std::vector<size_t>& only = {});
    // `load FILE` and the revision it pushed (throws when it fails).
    int64_t load(const std::string& file);
    // Every daemon's and etcd's log (for a failed test).
    std::string logs() const;

    NetNs hub;
    EtcdServer etcd;
    std::vector<std::unique_ptr<FleetNode>> nodes;
};

} // namespace xdpfw::test
