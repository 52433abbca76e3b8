// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd under a reduced capability set (setpriv around the binary): without
// a capability it needs it exits with status 1, not a signal, names the
// capability and leaves nothing pinned or attached; with exactly the minimal
// set (docs/DAEMON.md, "Privileges") it starts, filters and restarts.
#include "testing/daemon_runner.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;

const std::string kXdpfwd = std::string(XDPFW_BINARY_DIR) + "/bin/xdpfwd";
// The minimal set without the AF_XDP engine (and without socket_group or a
// privileged metrics port, which the tests do not use).
constexpr const char* kMinimal = "-all,+sys_admin,+net_admin";

// dut0 (dut) <-> peer0 (peer), and a daemon on dut0 run under setpriv with
// the given bounding set (root's execve then gets exactly that set).
struct PrivLab {
    PrivLab(const std::string& bounding, std::vector<std::string> extra = {})
        : link({&dut, "dut0", DaemonLab::dut4, DaemonLab::dut6},
               {&peer, "peer0", DaemonLab::peer4, DaemonLab::peer6}),
          daemon([&] {
              DaemonOptions o;
              o.xdpfwd = kXdpfwd;
              o.ns = &dut;
              o.interfaces = {"dut0"};
              o.extra_args = std::move(extra);
              o.wrapper = {"setpriv", "--bounding-set", bounding, "--inh-caps", "-all", "--"};
              o.autostart = false;
              return o;
          }())
    {
    }
    NetNs dut, peer;
    VethPair link;
    DaemonProcess daemon;
};

struct Refusal {
    const char* name;
    const char* bounding;
    std::vector<std::string> extra;
    const char* missing;     // the capability the error must name
    const char* not_missing; // one it must not name (it is there)
};

class DaemonPrivileges : public ::testing::TestWithParam<Refusal> {};

TEST_P(DaemonPrivileges, RefusesWithAClearErrorAndTouchesNothing)
{
    const Refusal& c = GetParam();
    PrivLab lab(c.bounding, c.extra);
    DaemonProcess& d = lab.daemon;
    const int status = d.run_to_exit(20s);
    const std::string log = d.log();
    ASSERT_FALSE(WIFSIGNALED(status)) << "killed by signal " << WTERMSIG(status) << "\n" << log;
    ASSERT_TRUE(WIFEXITED(status)) << log;
    EXPECT_EQ(WEXITSTATUS(status), 1) << log;
    EXPECT_NE(log.find("missing capabilities"), std::string::npos) << log;
    EXPECT_NE(log.find(c.missing), std::string::npos) << log;
    EXPECT_EQ(log.find(std::string(c.not_missing) + " ("), std::string::npos) << log;
    EXPECT_FALSE(std::filesystem::exists(d.pin_dir())) << d.pin_dir();
    EXPECT_TRUE(xdp_prog_ids(lab.dut, "dut0").empty()) << "a program is attached to dut0";
    EXPECT_FALSE(std::filesystem::exists(d.state_dir())) << d.state_dir();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DaemonPrivileges,
    ::testing::Values(
        // The set: libxdp's attach died with SIGSEGV under it.
        Refusal{"BpfPerfmonNetAdmin", "-all,+bpf,+perfmon,+net_admin", {}, "CAP_SYS_ADMIN",
                "CAP_NET_ADMIN"},
        Refusal{"NoSysAdmin", "-sys_admin", {}, "CAP_SYS_ADMIN", "CAP_NET_ADMIN"},
        Refusal{"NoNetAdmin", "-net_admin", {}, "CAP_NET_ADMIN", "CAP_SYS_ADMIN"},
        Refusal{"NoBpfNoPerfmon", "-all,+bpf,+net_admin", {}, "CAP_SYS_ADMIN", "CAP_NET_ADMIN"},
        Refusal{"XskWithoutNetRaw", "-net_raw", {"--xsk", "host"}, "CAP_NET_RAW", "CAP_SYS_ADMIN"}),
    [](const ::testing::TestParamInfo<Refusal>& i) { return std::string(i.param.name); });

// The minimal set is enough: the daemon starts, a rule with a prefix (its
// table pages are reopened by id) drops UDP to one port and not another,
// and a restart under the same set adopts the pinned state.
TEST(DaemonPrivilegesMinimal, StartsFiltersAndRestarts)
{
    PrivLab lab(kMinimal);
    DaemonProcess& d = lab.daemon;
    try {
        d.start();
    } catch (const std::exception& e) {
        FAIL() << e.what();
    }
    UdpReceiver blocked(lab.dut, DaemonLab::dut4, 7001), open(lab.dut, DaemonLab::dut4, 7002);
    const CtlResult add = d.ctl({"rule", "add", "priority=10", "src=10.99.1.0/24", "proto=udp",
                                 "dport=7001", "action=drop", "--json"});
    ASSERT_EQ(add.code, 0) << add.err << "\n" << d.log();
    const uint32_t id = add.json().at("rule_id").get<uint32_t>();
    EXPECT_EQ(send_udp(lab.peer, DaemonLab::dut4, 7001, 10), 10u);
    EXPECT_EQ(send_udp(lab.peer, DaemonLab::dut4, 7002, 10), 10u);
    EXPECT_EQ(open.receive(10, 2s), 10u);
    EXPECT_EQ(blocked.receive(10, 300ms), 0u);
    EXPECT_EQ(d.rule_packets(id), 10u);

    ASSERT_EQ(d.terminate(), 0) << d.log();
    try {
        d.start();
    } catch (const std::exception& e) {
        FAIL() << e.what();
    }
    EXPECT_TRUE(d.checked({{"cmd", "status"}}).at("adopted").get<bool>()) << d.log();
    EXPECT_EQ(send_udp(lab.peer, DaemonLab::dut4, 7001, 10), 10u);
    EXPECT_EQ(send_udp(lab.peer, DaemonLab::dut4, 7002, 10), 10u);
    EXPECT_EQ(open.receive(10, 2s), 10u);
    EXPECT_EQ(blocked.receive(10, 300ms), 0u);
    EXPECT_EQ(d.log().find("missing capabilities"), std::string::npos);
}

} // namespace
} // namespace xdpfw::test
