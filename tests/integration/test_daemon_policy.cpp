// SPDX-License-Identifier: GPL-2.0-only
// A real xdpfwd on a veth: rules added and deleted with xdpfwctl change what
// a receiver gets (IPv4 and IPv6), `load` replaces the policy in one version
// step, and `xdpfwctl detach` leaves nothing behind.
#include "testing/daemon_lab_test.hpp"
#include "testing/daemon_runner.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;


class DaemonPolicy : public DaemonLabTest {
protected:

    // Sends n datagrams to both families' port and returns {v4, v6} received.
    std::pair<size_t, size_t> udp_both(UdpReceiver& r4, UdpReceiver& r6, uint16_t port, size_t n,
                                       std::chrono::milliseconds wait)
    {
        EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, port, n), n);
        EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut6, port, n), n);
        return {r4.receive(n, wait), r6.receive(n, wait)};
    }

};

TEST_F(DaemonPolicy, RuleAddAndDelChangeTrafficForBothFamilies)
{
    DaemonProcess& d = lab->daemon;
    UdpReceiver r4(lab->dut, DaemonLab::dut4, 7001), r6(lab->dut, DaemonLab::dut6, 7001);
    UdpReceiver other4(lab->dut, DaemonLab::dut4, 7002);

    // The initial policy is empty with default pass.
    json st = d.ctl({"status", "--json"}).json();
    EXPECT_EQ(st.at("default"), "pass");
    EXPECT_EQ(st.at("rules"), 0);
    ASSERT_EQ(st.at("interfaces").size(), 1u);
    EXPECT_EQ(st.at("interfaces")[0].at("name"), "dut0");
    EXPECT_FALSE(st.at("adopted").get<bool>());
    // Memory follows the policy: with the empty policy at the default
    // capacities, at most 16 MiB of kernel maps and 64 MiB of RSS (issue
    // targets; fixed tables made these 330 and 307 MiB).
    const uint64_t kernel = st.at("memory").at("kernel_map_bytes").get<uint64_t>();
    const uint64_t rss = st.at("memory").at("daemon_rss_bytes").get<uint64_t>();
    EXPECT_GT(kernel, 0u);
    EXPECT_LE(kernel, uint64_t{16} << 20) << kernel;
    EXPECT_GT(rss, 0u);
    EXPECT_LE(rss, uint64_t{64} << 20) << rss;
    // The control socket's own counters: this client is one connection.
    EXPECT_GE(st.at("control").at("connections").get<uint64_t>(), 1u);
    EXPECT_EQ(st.at("control").at("refused_busy").get<uint64_t>(), 0u);
    EXPECT_FALSE(xdp_prog_ids(lab->dut, "dut0").empty()) << "no XDP program on dut0";
    EXPECT_EQ(udp_both(r4, r6, 7001, 10, 2s), std::make_pair(size_t(10), size_t(10)));

    const uint64_t v0 = d.version();
    CtlResult add = d.ctl({"rule", "add", "priority=10", "proto=udp", "dport=7001", "action=drop",
                           "--json"});
    ASSERT_EQ(add.code, 0) << add.err;
    const uint32_t id = add.json().at("rule_id").get<uint32_t>();
    EXPECT_EQ(add.json().at("version").get<uint64_t>(), v0 + 1);

    EXPECT_EQ(udp_both(r4, r6, 7001, 10, 300ms), std::make_pair(size_t(0), size_t(0)));
    // Other ports still pass.
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7002, 5), 5u);
    EXPECT_EQ(other4.receive(5, 2s), 5u);
    EXPECT_EQ(d.rule_packets(id), 20u);

    // The human listing shows the rule in canonical form.
    CtlResult list = d.ctl({"rule", "list"});
    ASSERT_EQ(list.code, 0) << list.err;
    EXPECT_NE(list.out.find("priority=10 proto=udp dport=7001 action=drop"), std::string::npos)
        << list.out;

    CtlResult del = d.ctl({"rule", "del", std::to_string(id)});
    ASSERT_EQ(del.code, 0) << del.err;
    EXPECT_EQ(d.version(), v0 + 2);
    EXPECT_EQ(udp_both(r4, r6, 7001, 10, 2s), std::make_pair(size_t(10), size_t(10)));
    EXPECT_EQ(d.ctl({"rule", "list", "--json"}).json().at("rules").size(), 0u);

    // An IPv6-only rule leaves IPv4 alone.
    CtlResult add6 = d.ctl({"rule", "add", "src=fd00:99::2", "proto=udp", "dport=7001",
                            "action=drop", "--json"});
    ASSERT_EQ(add6.code, 0) << add6.err;
    EXPECT_EQ(udp_both(r4, r6, 7001, 10, 500ms), std::make_pair(size_t(10), size_t(0)));
    EXPECT_EQ(d.rule_packets(add6.json().at("rule_id").get<uint32_t>()), 10u);
}

TEST_F(DaemonPolicy, LoadReplacesThePolicyInOneVersionStep)
{
    DaemonProcess& d = lab->daemon;
    UdpReceiver r7001(lab->dut, DaemonLab::dut4, 7001), r7002(lab->dut, DaemonLab::dut4, 7002);
    UdpReceiver r6(lab->dut, DaemonLab::dut6, 7002);

    // Something to replace: a rule and a set the file does not have.
    ASSERT_EQ(d.ctl({"rule", "add", "proto=udp", "dport=7001", "action=drop"}).code, 0);
    ASSERT_EQ(d.ctl({"set", "create", "old"}).code, 0);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7001, 5), 5u);
    EXPECT_EQ(r7001.receive(5, 300ms), 0u);

    const std::string dir = d.dir() + "/policy";
    std::filesystem::create_directories(dir);
    {
        std::ofstream f(dir + "/hosts.txt");
        f << "# the peer, both families\n10.99.1.2\nfd00:99::2/128\n";
    }
    {
        std::ofstream f(dir + "/policy.yaml");
        f << "default: pass\n"
             "sets:\n"
             "  peers: {file: hosts.txt}\n"
             "  spare: [198.51.100.0/24]\n"
             "rules:\n"
             "  - priority=5 proto=udp dport=7003 action=count\n"
             "  - priority=10 src=@peers proto=udp dport=7002 action=drop\n"
             "  - id=40 priority=20 proto=tcp dport=22 action=drop\n";
    }
    const json before = d.checked({{"cmd", "status"}});
    const uint64_t v = before.at("version").get<uint64_t>();
    CtlResult load = d.ctl({"load", dir + "/policy.yaml", "--json"});
    ASSERT_EQ(load.code, 0) << load.err;
    EXPECT_EQ(load.json().at("version").get<uint64_t>(), v + 1);
    EXPECT_EQ(load.json().at("rules"), 3);
    EXPECT_EQ(load.json().at("sets"), 2);

    const json after = d.checked({{"cmd", "status"}});
    EXPECT_EQ(after.at("version").get<uint64_t>(), v + 1);
    EXPECT_EQ(after.at("rules"), 3);
    EXPECT_EQ(after.at("sets"), 2);
    // One commit, one history entry.
    json hist = d.ctl({"history", "--json", "--limit", "2"}).json().at("history");
    ASSERT_EQ(hist.size(), 2u);
    EXPECT_EQ(hist[0].at("version").get<uint64_t>(), v + 1);
    EXPECT_EQ(hist[1].at("version").get<uint64_t>(), v);

    json rules = d.ctl({"rule", "list", "--json"}).json().at("rules");
    ASSERT_EQ(rules.size(), 3u);
    EXPECT_EQ(rules[0].at("id"), 1);
    EXPECT_EQ(rules[1].at("id"), 2);
    EXPECT_EQ(rules[2].at("id"), 40);
    EXPECT_EQ(rules[1].at("text"), "priority=10 src=@peers proto=udp dport=7002 action=drop");
    json sets = d.ctl({"set", "list", "--json"}).json().at("sets");
    EXPECT_EQ(sets, json::parse(R"([{"name":"peers","size":2},{"name":"spare","size":1}])"));

    // The old drop rule is gone, the new one holds for both families.
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7001, 5), 5u);
    EXPECT_EQ(r7001.receive(5, 2s), 5u);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7002, 5), 5u);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut6, 7002, 5), 5u);
    EXPECT_EQ(r7002.receive(5, 300ms) + r6.receive(5, 300ms), 0u);
    EXPECT_EQ(d.rule_packets(2), 10u);
}

// The operator tooling of docs/PROTOCOL.md on a live daemon: a rule replaced
// in place changes what passes, a set in use cannot be removed, and what
// `save` writes, loaded back after the policy changed, brings back the same
// rules (comments included) and traffic verdicts.
TEST_F(DaemonPolicy, ReplaceSaveLoadAndSetDelOnALiveDaemon)
{
    DaemonProcess& d = lab->daemon;
    UdpReceiver r7001(lab->dut, DaemonLab::dut4, 7001), r7002(lab->dut, DaemonLab::dut4, 7002);
    ASSERT_EQ(d.ctl({"set", "create", "peers"}).code, 0);
    ASSERT_EQ(d.ctl({"set", "add", "peers", "10.99.1.2"}).code, 0);
    CtlResult add = d.ctl({"rule", "add", "src=@peers", "proto=udp", "dport=7001", "action=drop",
                           "comment=peer flood"});
    ASSERT_EQ(add.code, 0) << add.err;
    const std::string id = add.out.substr(0, add.out.find('\n'));
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7001, 5), 5u);
    EXPECT_EQ(r7001.receive(5, 300ms), 0u);

    CtlResult replaced = d.ctl({"rule", "replace", id, "src=@peers", "proto=udp", "dport=7002",
                                "action=drop", "comment=moved to 7002"});
    ASSERT_EQ(replaced.code, 0) << replaced.err;
    EXPECT_EQ(replaced.out.rfind("rule " + id + " replaced", 0), 0u) << replaced.out;
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7001, 5), 5u);
    EXPECT_EQ(r7001.receive(5, 2s), 5u);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7002, 5), 5u);
    EXPECT_EQ(r7002.receive(5, 300ms), 0u);
    json rules = d.ctl({"rule", "list", "--json"}).json().at("rules");
    ASSERT_EQ(rules.size(), 1u);
    EXPECT_EQ(rules[0].at("comment"), "moved to 7002");
    EXPECT_EQ(rules[0].at("text"),
              "priority=0 src=@peers proto=udp dport=7002 action=drop comment=\"moved to 7002\"");

    CtlResult in_use = d.ctl({"set", "del", "peers"});
    EXPECT_EQ(in_use.code, 1);
    EXPECT_NE(in_use.err.find("set_in_use"), std::string::npos) << in_use.err;
    EXPECT_NE(in_use.err.find("rule " + id), std::string::npos) << in_use.err;

    const std::string file = d.dir() + "/saved.yaml";
    CtlResult save = d.ctl({"save", file});
    ASSERT_EQ(save.code, 0) << save.err;
    const json before = d.ctl({"rule", "list", "--json"}).json().at("rules");
    const json sets_before = d.ctl({"set", "list", "peers", "--json"}).json();

    // Change everything, then restore from the file.
    ASSERT_EQ(d.ctl({"rule", "del", id}).code, 0);
    CtlResult gone = d.ctl({"set", "del", "peers", "--json"});
    ASSERT_EQ(gone.code, 0) << gone.err;
    EXPECT_EQ(d.checked({{"cmd", "status"}}).at("sets"), 0);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7002, 5), 5u);
    EXPECT_EQ(r7002.receive(5, 2s), 5u);

    CtlResult load = d.ctl({"load", file});
    ASSERT_EQ(load.code, 0) << load.err;
    EXPECT_EQ(d.ctl({"rule", "list", "--json"}).json().at("rules"), before);
    EXPECT_EQ(d.ctl({"set", "list", "peers", "--json"}).json(), sets_before);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7002, 5), 5u);
    EXPECT_EQ(r7002.receive(5, 300ms), 0u);
}

TEST_F(DaemonPolicy, DetachRemovesProgramPinsAndDaemon)
{
    DaemonProcess& d = lab->daemon;
    ASSERT_EQ(d.ctl({"rule", "add", "proto=udp", "dport=7001", "action=drop"}).code, 0);
    UdpReceiver r(lab->dut, DaemonLab::dut4, 7001);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7001, 5), 5u);
    EXPECT_EQ(r.receive(5, 300ms), 0u);
    ASSERT_FALSE(xdp_prog_ids(lab->dut, "dut0").empty());
    ASSERT_TRUE(std::filesystem::exists(d.pin_dir()));

    CtlResult det = d.ctl({"detach", "--json"});
    ASSERT_EQ(det.code, 0) << det.err;
    EXPECT_EQ(det.json().at("detached"), json::array({"dut0"}));
    EXPECT_EQ(d.wait_exit(10s), std::optional<int>(0)) << "xdpfwd did not exit after detach";

    EXPECT_TRUE(xdp_prog_ids(lab->dut, "dut0").empty())
        << run_in(lab->dut, "ip link show dev dut0").output;
    EXPECT_FALSE(std::filesystem::exists(d.pin_dir()));
    EXPECT_FALSE(std::filesystem::exists(d.socket_path()));
    // Nothing filters any more.
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7001, 5), 5u);
    EXPECT_EQ(r.receive(5, 2s), 5u);
    // And nobody answers.
    CtlResult gone = d.ctl({"status"});
    EXPECT_EQ(gone.code, 2) << gone.out << gone.err;
}

} // namespace
} // namespace xdpfw::test
