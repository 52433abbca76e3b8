// SPDX-License-Identifier: GPL-2.0-only
// Fleet mode (docs/FLEET.md): three xdpfwd nodes follow one policy in a
// real etcd (testing/fleet_lab.hpp). A push reaches every node, and each
// enforces it on real traffic; a late joiner catches up; a node that cannot
// apply a revision keeps its last good policy and says why; etcd killed
// leaves the nodes enforcing, and they converge once it is back.
#include "testing/daemon_lab_test.hpp"
#include "testing/fleet_lab.hpp"
#include "testing/temp_dir.hpp"
#include "testing/test_pki.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// A policy dropping UDP to port; extra rules make it bigger.
std::string drop_port(uint16_t port, size_t extra_rules = 0)
{
    std::string y = "default: pass\nsets:\n  blocked: [198.51.100.0/24]\nrules:\n";
    y += fmt::format("  - priority=10 proto=udp dport={} action=drop\n", port);
    y += "  - priority=20 src=@blocked action=drop\n";
    for (size_t i = 0; i < extra_rules; ++i)
        y += fmt::format("  - priority=100 proto=tcp dport={} action=drop\n", 10000 + i);
    return y;
}

// Datagrams to port that reach node's dut0 (out of n sent from its peer).
size_t udp_through(FleetNode& node, uint16_t port, size_t n, std::chrono::milliseconds wait)
{
    UdpReceiver r(node.dut, DaemonLab::dut4, port);
    EXPECT_EQ(send_udp(node.peer, DaemonLab::dut4, port, n), n);
    return r.receive(n, wait);
}

class Fleet : public ::testing::Test {
protected:
    void TearDown() override
    {
        if (HasFailure() && lab)
            std::cerr << lab->logs();
        lab.reset();
    }
    std::unique_ptr<FleetLab> lab;
    TempDir dir{"xdpfw-fleet"};
};

TEST_F(Fleet, LoadReachesEveryNodeAndIsEnforced)
{
    lab = std::make_unique<FleetLab>(kXdpfwd, 3, std::vector<std::vector<std::string>>{},
                                     std::vector<size_t>{2});
    const int64_t rev = lab->load(dir.write("p1.yaml", drop_port(7001)).string());
    ASSERT_TRUE(lab->wait_revision(rev, 10s, {0, 1})) << lab->status().dump(2);
    // The third node joins late: it gets the current policy at once.
    lab->nodes[2]->daemon.start();
    ASSERT_TRUE(lab->wait_revision(rev, 10s)) << lab->status().dump(2);
    const json s = lab->status();
    EXPECT_EQ(s["revision"], rev);
    ASSERT_EQ(s["nodes"].size(), 3u);
    for (const json& n : s["nodes"]) {
        EXPECT_TRUE(n["current"].get<bool>()) << n.dump();
        EXPECT_TRUE(n["error"].is_null()) << n.dump();
        EXPECT_EQ(n["interfaces"][0]["name"], "dut0");
    }
    for (auto& node : lab->nodes) {
        EXPECT_EQ(udp_through(*node, 7001, 5, 300ms), 0u) << node->name;
        EXPECT_EQ(udp_through(*node, 7002, 5, 2s), 5u) << node->name;
        // Each node keeps its own journal: the commit is in its history.
        const CtlResult h = node->daemon.ctl({"history", "--json"});
        ASSERT_EQ(h.code, 0) << h.err;
        EXPECT_NE(h.out.find(fmt::format("etcd revision {}", rev)), std::string::npos) << h.out;
    }
    // The human table names every node and says it is current.
    const CtlResult table = lab->ctl({"fleet", "status"});
    ASSERT_EQ(table.code, 0) << table.err;
    for (auto& node : lab->nodes)
        EXPECT_NE(table.out.find(node->name), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("current"), std::string::npos) << table.out;

    // Local changes are refused while a node follows etcd; reads still work.
    const CtlResult local = lab->nodes[0]->daemon.ctl({"rule", "add", "priority=1", "action=drop"});
    EXPECT_EQ(local.code, 1);
    EXPECT_NE(local.err.find("follows the fleet policy in etcd"), std::string::npos) << local.err;
    EXPECT_EQ(lab->nodes[0]->daemon.ctl({"rule", "list"}).code, 0);

    // A policy that does not validate never reaches etcd.
    const CtlResult bad = lab->ctl({"load", dir.write("bad.yaml", "rules:\n  - proto=udp dport=x action=drop\n").string()});
    EXPECT_EQ(bad.code, 1);
    EXPECT_EQ(lab->status()["revision"], rev);

    // A dead node's key goes with its lease.
    lab->nodes[1]->daemon.kill();
    const auto end = std::chrono::steady_clock::now() + 10s; // the lab's leases: 3 s
    size_t reporting = 3;
    while (reporting == 3 && std::chrono::steady_clock::now() < end) {
        std::this_thread::sleep_for(200ms);
        reporting = lab->status()["nodes"].size();
    }
    EXPECT_EQ(reporting, 2u);
}

TEST_F(Fleet, TooBigRevisionFailsOnlyTheSmallNode)
{
    lab = std::make_unique<FleetLab>(
        kXdpfwd, 3, std::vector<std::vector<std::string>>{{}, {}, {"--max-rules", "64"}});
    const int64_t good = lab->load(dir.write("small.yaml", drop_port(7001)).string());
    ASSERT_TRUE(lab->wait_revision(good, 10s)) << lab->status().dump(2);
    // 100 rules: more than node2's 64.
    const int64_t big = lab->load(dir.write("big.yaml", drop_port(7002, 100)).string());
    ASSERT_TRUE(lab->wait_revision(big, 10s, {0, 1})) << lab->status().dump(2);
    json small;
    const auto end = std::chrono::steady_clock::now() + 10s;
    do {
        const json s = lab->status();
        for (const json& n : s["nodes"])
            if (n["node"] == "node2")
                small = n;
    } while (!small["error"].is_string() && std::chrono::steady_clock::now() < end);
    ASSERT_TRUE(small["error"].is_string()) << small.dump(2);
    EXPECT_EQ(small["revision"], good);
    EXPECT_EQ(small["failed_revision"], big);
    EXPECT_FALSE(small["current"].get<bool>());
    // node2 still enforces the last good policy; the others the new one.
    EXPECT_EQ(udp_through(*lab->nodes[2], 7001, 5, 300ms), 0u);
    EXPECT_EQ(udp_through(*lab->nodes[2], 7002, 5, 2s), 5u);
    EXPECT_EQ(udp_through(*lab->nodes[0], 7002, 5, 300ms), 0u);
    EXPECT_EQ(udp_through(*lab->nodes[0], 7001, 5, 2s), 5u);
    // The next policy that fits: node2 catches up.
    const int64_t fits = lab->load(dir.write("fits.yaml", drop_port(7003)).string());
    EXPECT_TRUE(lab->wait_revision(fits, 10s)) << lab->status().dump(2);
}

TEST_F(Fleet, EtcdDownNodesKeepEnforcingThenConverge)
{
    lab = std::make_unique<FleetLab>(kXdpfwd, 3);
    const int64_t rev = lab->load(dir.write("p1.yaml", drop_port(7001)).string());
    ASSERT_TRUE(lab->wait_revision(rev, 10s)) << lab->status().dump(2);

    lab->etcd.kill();
    // A node restarted while etcd is down starts from its saved state.
    ASSERT_EQ(lab->nodes[0]->daemon.terminate(), 0);
    lab->nodes[0]->daemon.start();
    std::this_thread::sleep_for(500ms);
    for (auto& node : lab->nodes) {
        EXPECT_EQ(udp_through(*node, 7001, 5, 300ms), 0u) << node->name;
        EXPECT_EQ(udp_through(*node, 7002, 5, 2s), 5u) << node->name;
    }
    EXPECT_NE(lab->nodes[1]->daemon.log().find("event=etcd_unavailable"), std::string::npos);

    lab->etcd.start();
    const int64_t next = lab->load(dir.write("p2.yaml", drop_port(7002)).string());
    ASSERT_TRUE(lab->wait_revision(next, 15s)) << lab->status().dump(2);
    for (auto& node : lab->nodes) {
        EXPECT_EQ(udp_through(*node, 7002, 5, 300ms), 0u) << node->name;
        EXPECT_EQ(udp_through(*node, 7001, 5, 2s), 5u) << node->name;
    }
    // The restarted node did not commit its saved revision again.
    const std::string log0 = lab->nodes[0]->daemon.log();
    EXPECT_EQ(log0.find(fmt::format("event=fleet_applied node=node0 revision={} ", rev),
                        log0.find("---- test: starting xdpfwd", 1)),
              std::string::npos);
}

// Client TLS end to end: etcd on https wanting client certificates (a
// throwaway CA); xdpfwctl pushes with --etcd-ca/--etcd-cert/--etcd-key and
// node0 applies it, its `status` saying so in "fleet"; node1 trusts
// another CA and says why it cannot reach etcd; xdpfwctl with the wrong
// CA or no client certificate is refused with an error naming it.
TEST_F(Fleet, ClientCertificatesEndToEnd)
{
    TestPki pki({"127.0.0.1", FleetLab::hub_address(0), FleetLab::hub_address(1)});
    lab = std::make_unique<FleetLab>(
        kXdpfwd, 2, std::vector<std::vector<std::string>>{{}, {"--etcd-ca", pki.other_ca}},
        std::vector<size_t>{}, EtcdServerOptions::Tls{pki.ca, pki.server, pki.client});
    const int64_t rev = lab->load(dir.write("p1.yaml", drop_port(7001)).string());
    ASSERT_TRUE(lab->wait_revision(rev, 10s, {0})) << lab->status().dump(2);
    EXPECT_EQ(udp_through(*lab->nodes[0], 7001, 5, 300ms), 0u);

    const json f0 = lab->nodes[0]->daemon.ctl({"status", "--json"}).json().at("fleet");
    EXPECT_EQ(f0["node"], "node0") << f0.dump();
    EXPECT_EQ(f0["prefix"], FleetLab::prefix);
    EXPECT_EQ(f0["revision"], rev);
    EXPECT_TRUE(f0["connected"].get<bool>()) << f0.dump();
    EXPECT_TRUE(f0["lease_alive"].get<bool>()) << f0.dump();
    EXPECT_TRUE(f0["error"].is_null()) << f0.dump();
    EXPECT_EQ(f0["endpoints"],
              json::array({fmt::format("https://{}:{}", FleetLab::hub_address(0),
                                       lab->etcd.client_port())}));
    const CtlResult human = lab->nodes[0]->daemon.ctl({"status"});
    EXPECT_NE(human.out.find("(connected, lease alive)"), std::string::npos) << human.out;

    // node1 does not trust etcd's certificate: it keeps its (empty) policy
    // and its status says why.
    json f1;
    for (const auto end = std::chrono::steady_clock::now() + 10s;;) {
        f1 = lab->nodes[1]->daemon.ctl({"status", "--json"}).json().at("fleet");
        if (f1["etcd_error"].is_string() || std::chrono::steady_clock::now() >= end)
            break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_FALSE(f1["connected"].get<bool>()) << f1.dump();
    EXPECT_FALSE(f1["lease_alive"].get<bool>()) << f1.dump();
    EXPECT_EQ(f1["revision"], 0);
    EXPECT_NE(f1.value("etcd_error", json()).dump().find("certificate verify failed"),
              std::string::npos)
        << f1.dump();
    EXPECT_NE(lab->nodes[1]->daemon.log().find("certificate verify failed"), std::string::npos);

    // xdpfwctl with another CA, or without its certificate: refused, exit 2.
    const std::vector<std::string> base = {"--etcd", lab->etcd.url(), "--etcd-prefix",
                                           FleetLab::prefix};
    auto ctl = [&](std::vector<std::string> args) {
        args.insert(args.begin(), base.begin(), base.end());
        args.insert(args.end(), {"fleet", "status"});
        EnterNetns in(lab->hub);
        return run_ctl(args);
    };
    CtlResult r = ctl({"--etcd-ca", pki.other_ca, "--etcd-cert", pki.client.cert, "--etcd-key",
                       pki.client.key});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("TLS handshake: certificate verify failed"), std::string::npos) << r.err;
    r = ctl({"--etcd-ca", pki.ca});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("certificate"), std::string::npos) << r.err;
}

} // namespace
} // namespace xdpfw::test

namespace xdpfw::test {
namespace {

// The big-set case: a set of 1,000,000 prefixes (over 16 MB of
// text, ten times what one etcd value may hold) reaches every node in
// chunks, and each enforces it. The traffic's source is one of them.
// About 12 s on the shared 2-core machine (lab 2.5 s, load 1.9 s, all 3
// nodes live 6.5 s later: each reads its chunks in ~4 s and commits in
// ~2.2 s, the three at once); it prints where its time went.
TEST_F(Fleet, MillionPrefixSetReachesEveryNode)
{
    const auto started = std::chrono::steady_clock::now();
    lab = std::make_unique<FleetLab>(kXdpfwd, 3);
    const auto lab_up = std::chrono::steady_clock::now();
    std::string y = "default: pass\nsets:\n  big:\n    file: big.txt\nrules:\n"
                    "  - priority=10 proto=udp src=@big action=drop\n";
    std::string lines = std::string(DaemonLab::peer4) + "/32\n";
    lines.reserve(20u << 20);
    for (uint32_t i = 0; i < 999999; ++i)
        lines += fmt::format("{}.{}.{}.0/24\n", 20 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
    dir.write("big.txt", lines);
    const auto begun = std::chrono::steady_clock::now();
    const int64_t rev = lab->load(dir.write("big.yaml", y).string());
    const auto pushed = std::chrono::steady_clock::now();
    ASSERT_TRUE(lab->wait_revision(rev, 60s)) << lab->status().dump(2);
    const auto live = std::chrono::steady_clock::now();
    const auto ms = [](auto d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    std::cerr << fmt::format("1M-prefix push: lab up {} ms, file {} ms, load {} ms, then all 3 "
                             "nodes live after {} ms\n",
                             ms(lab_up - started), ms(begun - lab_up), ms(pushed - begun),
                             ms(live - pushed));
    for (auto& node : lab->nodes) {
        EXPECT_EQ(udp_through(*node, 7001, 5, 300ms), 0u) << node->name;
        const json st = node->daemon.ctl({"set", "list", "--json"}).json();
        EXPECT_NE(st.dump().find("1000000"), std::string::npos) << st.dump().substr(0, 300);
        // Where each node's time went (docs/FLEET.md, "Big sets").
        const std::string log = node->daemon.log();
        const size_t at = log.find("event=fleet_applied");
        if (at != std::string::npos)
            std::cerr << log.substr(at, log.find(" summary=", at) - at) << "\n";
    }
}

} // namespace
} // namespace xdpfw::test
