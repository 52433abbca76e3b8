// SPDX-License-Identifier: GPL-2.0-only
// Lockout protection with a real daemon (docs/DAEMON.md, "Lockout"): under
// `default: drop` with ICMPv6 passed, ARP still resolves (default_non_ip is
// pass unless set), neighbour discovery works, and the reason counters say
// which default decided; `default_non_ip: drop` stops ARP, with a warning
// from xdpfwctl, until an ether=arp rule passes it again.
#include "testing/daemon_lab_test.hpp"
#include "testing/daemon_runner.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace xdpfw::test {
namespace {

using json = nlohmann::json;

class DaemonLockout : public DaemonLabTest {
protected:
    // Writes a policy file into the daemon's directory; returns its path.
    std::string policy_file(const std::string& name, const std::string& yaml)
    {
        const std::string path = lab->daemon.dir() + "/" + name;
        std::ofstream(path) << yaml;
        return path;
    }

    // Forgets every neighbour on both ends (the lab installs permanent
    // entries so that other tests never depend on ARP): the next packet
    // must resolve its neighbour through the filtered interface.
    void forget_neighbours()
    {
        for (const auto& [ns, dev] : {std::pair{&lab->dut, "dut0"}, std::pair{&lab->peer, "peer0"}})
            for (const char* family : {"-4", "-6"})
                run_in_checked(*ns, fmt::format("ip {} neigh flush dev {} nud all", family, dev));
    }

    uint64_t reason(const char* name)
    {
        const json s = lab->daemon.checked({{"cmd", "stats"}});
        return s.at("reasons").at(name).at("packets").get<uint64_t>();
    }

    size_t warnings(const CtlResult& r)
    {
        size_t n = 0;
        for (size_t at = r.err.find("xdpfwctl: warning: "); at != std::string::npos;
             at = r.err.find("xdpfwctl: warning: ", at + 1))
            n++;
        return n;
    }
};

constexpr const char* kIcmpPassed = R"(
default: drop
rules:
  - priority=1 proto=icmpv6 action=pass   # neighbour discovery and echo
  - priority=2 proto=icmp action=pass
)";

TEST_F(DaemonLockout, ArpAndNeighbourDiscoveryUnderDefaultDrop)
{
    DaemonProcess& d = lab->daemon;
    CtlResult r = d.ctl({"load", policy_file("icmp.yaml", kIcmpPassed)});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(warnings(r), 0u) << r.err; // neighbour discovery passes, ARP is not IP

    // default_non_ip absent: ARP passes although default is drop.
    const uint64_t arp_passed = reason("default_non_ip_pass");
    forget_neighbours();
    EXPECT_EQ(ping(lab->peer, DaemonLab::dut4, 3), 3);
    EXPECT_EQ(ping(lab->peer, DaemonLab::dut6, 3), 3);
    EXPECT_GT(reason("default_non_ip_pass"), arp_passed);
    EXPECT_EQ(reason("default_non_ip_drop"), 0u);
    // Neighbour discovery went through the ICMPv6 rule, not a default.
    EXPECT_GT(d.rule_packets(1), 0u);

    // default_non_ip: drop: committed with a warning, and ARP stops.
    r = d.ctl({"load", policy_file("arp-dropped.yaml",
                                   std::string(kIcmpPassed) + "default_non_ip: drop\n")});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(warnings(r), 1u) << r.err;
    EXPECT_NE(r.err.find("default_non_ip: drop drops ARP"), std::string::npos) << r.err;
    EXPECT_EQ(d.checked({{"cmd", "status"}}).at("default_non_ip"), "drop");
    CtlResult st = d.ctl({"status"});
    EXPECT_NE(st.out.find("default_non_ip  drop"), std::string::npos) << st.out;
    forget_neighbours();
    EXPECT_EQ(ping(lab->peer, DaemonLab::dut4, 2), 0);
    EXPECT_GT(reason("default_non_ip_drop"), 0u);
    EXPECT_EQ(ping(lab->peer, DaemonLab::dut6, 2), 2); // IPv6 neighbours still work

    // A rule naming ARP lets it through again; no warning now.
    r = d.ctl({"rule", "add", "priority=0 ether=arp action=pass"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(warnings(r), 0u) << r.err;
    forget_neighbours();
    EXPECT_EQ(ping(lab->peer, DaemonLab::dut4, 2), 2);
    const json rules = d.checked({{"cmd", "rule.list"}}).at("rules");
    EXPECT_EQ(rules.at(0).at("text"), "priority=0 ether=arp action=pass");
    EXPECT_GT(d.rule_packets(rules.at(0).at("id").get<uint32_t>()), 0u);
}

TEST_F(DaemonLockout, WarnsWhenDefaultDropTakesNeighbourDiscovery)
{
    DaemonProcess& d = lab->daemon;
    CtlResult r = d.ctl({"load", policy_file("v4-only.yaml", R"(
default: drop
rules:
  - priority=2 proto=icmp action=pass
)")});
    ASSERT_EQ(r.code, 0) << r.out << r.err; // committed all the same
    EXPECT_EQ(warnings(r), 1u) << r.err;
    EXPECT_NE(r.err.find("IPv6 neighbour discovery"), std::string::npos) << r.err;
    // What it warns about: with the neighbour table flushed, IPv6 fails.
    forget_neighbours();
    EXPECT_EQ(ping(lab->peer, DaemonLab::dut6, 2), 0);
    EXPECT_EQ(ping(lab->peer, DaemonLab::dut4, 2), 2);
    EXPECT_GT(reason("default_drop"), 0u);
    // Passing neighbour discovery (and echo) ends the warning.
    r = d.ctl({"rule", "add", "priority=1 proto=icmpv6 action=pass"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(warnings(r), 0u) << r.err;
    forget_neighbours(); // the failed entries too
    EXPECT_EQ(ping(lab->peer, DaemonLab::dut6, 3), 3);
}

} // namespace
} // namespace xdpfw::test
