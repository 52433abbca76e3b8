// SPDX-License-Identifier: GPL-2.0-only
// Safe operations on a real xdpfwd with traffic (docs/DAEMON.md, "Safe
// operations"): commit confirmed without confirm rolls back at the deadline
// (the rule's effect on traffic goes), with confirm it stays, across a
// daemon restart the deadline still holds (or, passed while no daemon ran,
// rolls back at start); a dry run leaves the version and the traffic as
// they are and reports a set too big for the loaded program; rollback and
// diff between versions.
#include "testing/daemon_lab_test.hpp"
#include "testing/daemon_runner.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr uint16_t kPort = 7201, kOther = 7202;

class DaemonSafeOps : public DaemonLabTest {
protected:
    // How many of n datagrams to port arrive.
    size_t delivered(uint16_t port, size_t n = 5)
    {
        UdpReceiver r(lab->dut, DaemonLab::dut4, port);
        EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, port, n), n);
        return r.receive(n, 300ms);
    }

    CtlResult ctl(const std::vector<std::string>& args) { return lab->daemon.ctl(args); }

    std::string drop_rule(uint16_t port) { return fmt::format("dport={}", port); }

    // Waits until the live version reaches want (the rollback's commit).
    bool wait_version(uint64_t want, std::chrono::milliseconds wait)
    {
        const auto end = std::chrono::steady_clock::now() + wait;
        while (std::chrono::steady_clock::now() < end) {
            if (lab->daemon.version() >= want)
                return true;
            std::this_thread::sleep_for(50ms);
        }
        return lab->daemon.version() >= want;
    }

    std::string last_summary()
    {
        return ctl({"history", "--limit", "1", "--json"}).json().at("history")[0].at("summary");
    }
};

TEST_F(DaemonSafeOps, CommitConfirmedWithoutConfirmRollsBackAtTheDeadline)
{
    ASSERT_EQ(delivered(kPort), 5u);
    const uint64_t v = lab->daemon.version();
    CtlResult add = ctl({"rule", "add", "proto=udp", drop_rule(kPort), "action=drop", "--confirm",
                         "2"});
    ASSERT_EQ(add.code, 0) << add.err;
    EXPECT_NE(add.err.find("awaiting confirmation"), std::string::npos) << add.err;
    const auto committed = std::chrono::steady_clock::now();
    EXPECT_EQ(delivered(kPort), 0u); // live at once

    json st = ctl({"status", "--json"}).json();
    ASSERT_TRUE(st.contains("pending_confirm")) << st.dump();
    EXPECT_EQ(st["pending_confirm"]["version"], v + 1);
    EXPECT_EQ(st["pending_confirm"]["rollback_version"], v);
    EXPECT_NE(ctl({"status"}).out.find("pending confirm"), std::string::npos);

    // Another change without --confirm is refused while it waits.
    CtlResult refused = ctl({"rule", "add", "proto=udp", drop_rule(kOther), "action=drop"});
    EXPECT_EQ(refused.code, 1);
    EXPECT_NE(refused.err.find("confirm_pending"), std::string::npos) << refused.err;
    EXPECT_EQ(lab->daemon.version(), v + 1);

    ASSERT_TRUE(wait_version(v + 2, 5s));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - committed).count();
    EXPECT_GE(took, 1.5);
    EXPECT_LE(took, 3.5);
    EXPECT_EQ(delivered(kPort), 5u); // the rule's effect is gone
    EXPECT_EQ(ctl({"rule", "list", "--json"}).json().at("rules").size(), 0u);
    EXPECT_NE(last_summary().find("was not confirmed"), std::string::npos);
    EXPECT_FALSE(ctl({"status", "--json"}).json().contains("pending_confirm"));
    CtlResult late = ctl({"confirm"});
    EXPECT_EQ(late.code, 1);
    EXPECT_NE(late.err.find("not_pending"), std::string::npos) << late.err;
    EXPECT_NE(lab->daemon.log().find("event=confirm_rollback when=timer"), std::string::npos);
}

TEST_F(DaemonSafeOps, CommitConfirmedWithConfirmStays)
{
    const uint64_t v = lab->daemon.version();
    ASSERT_EQ(ctl({"set", "create", "blk", "--confirm", "2"}).code, 0);
    // A second --confirm change extends the wait.
    CtlResult add = ctl({"rule", "add", "proto=udp", drop_rule(kPort), "action=drop", "--confirm",
                         "2"});
    ASSERT_EQ(add.code, 0) << add.err;
    CtlResult ok = ctl({"confirm"});
    ASSERT_EQ(ok.code, 0) << ok.err;
    EXPECT_EQ(ok.out, fmt::format("version {} confirmed\n", v + 2));
    std::this_thread::sleep_for(2500ms);
    EXPECT_EQ(lab->daemon.version(), v + 2);
    EXPECT_EQ(delivered(kPort), 0u);
    EXPECT_EQ(ctl({"rule", "add", "proto=udp", drop_rule(kOther), "action=drop"}).code, 0);
}

TEST_F(DaemonSafeOps, ThePendingDeadlineSurvivesARestart)
{
    DaemonProcess& d = lab->daemon;
    const uint64_t v = d.version();
    ASSERT_EQ(ctl({"rule", "add", "proto=udp", drop_rule(kPort), "action=drop", "--confirm", "4"})
                  .code,
              0);
    const auto committed = std::chrono::steady_clock::now();
    ASSERT_EQ(d.terminate(), 0);
    d.start();
    json st = ctl({"status", "--json"}).json();
    ASSERT_TRUE(st.contains("pending_confirm")) << st.dump();
    EXPECT_EQ(st["pending_confirm"]["rollback_version"], v);
    EXPECT_EQ(delivered(kPort), 0u);
    const uint64_t now_v = d.version();
    ASSERT_TRUE(wait_version(now_v + 1, 6s));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - committed).count();
    EXPECT_GE(took, 3.5);
    EXPECT_EQ(delivered(kPort), 5u);
    EXPECT_NE(last_summary().find("was not confirmed"), std::string::npos);
}

TEST_F(DaemonSafeOps, ADeadlinePassedWhileStoppedRollsBackAtStart)
{
    DaemonProcess& d = lab->daemon;
    ASSERT_EQ(ctl({"rule", "add", "proto=udp", drop_rule(kPort), "action=drop", "--confirm", "1"})
                  .code,
              0);
    ASSERT_EQ(d.terminate(), 0);
    std::this_thread::sleep_for(1500ms);
    // No daemon ran: the kernel still enforces the unconfirmed rule.
    EXPECT_EQ(delivered(kPort), 0u);
    d.start();
    // Rolled back before the socket answered.
    EXPECT_FALSE(ctl({"status", "--json"}).json().contains("pending_confirm"));
    EXPECT_EQ(delivered(kPort), 5u);
    EXPECT_NE(d.log().find("event=confirm_rollback when=start"), std::string::npos) << d.log();
}

TEST_F(DaemonSafeOps, DryRunLeavesTheVersionAndReportsCapacity)
{
    DaemonProcess& d = lab->daemon;
    ASSERT_EQ(ctl({"set", "create", "big"}).code, 0);
    ASSERT_EQ(ctl({"rule", "add", "src=@big", "action=drop"}).code, 0);
    const uint64_t v = d.version();

    CtlResult dry = ctl({"rule", "add", "proto=udp", drop_rule(kPort), "action=drop", "--dry-run"});
    ASSERT_EQ(dry.code, 0) << dry.err;
    EXPECT_NE(dry.out.find(fmt::format("dry run: nothing committed (live version {})", v)),
              std::string::npos) << dry.out;
    EXPECT_NE(dry.out.find("+ rule 2: "), std::string::npos) << dry.out;
    EXPECT_EQ(d.version(), v);
    EXPECT_EQ(delivered(kPort), 5u);
    json j = ctl({"set", "add", "big", "192.0.2.0/24", "--dry-run", "--json"}).json();
    EXPECT_EQ(j.at("dry_run"), true);
    EXPECT_EQ(j.at("size"), 1);
    EXPECT_EQ(j.at("diff").at("sets")[0].at("size_after"), 1);
    EXPECT_EQ(ctl({"set", "list", "--json"}).json().at("sets")[0].at("size"), 0);

    // More IPv6 prefixes than the program's table holds (65,536): the
    // daemon's compile and capacity check say so, nothing is written.
    const std::string file = d.dir() + "/big.txt";
    {
        std::ofstream out(file);
        for (unsigned i = 0; i < 70000; ++i)
            out << fmt::format("2001:{:x}:{:x}::/48\n", 0x1000 + (i >> 16), i & 0xffff);
    }
    CtlResult big = ctl({"set", "load", "big", file, "--dry-run"});
    EXPECT_EQ(big.code, 1);
    EXPECT_NE(big.err.find("capacity"), std::string::npos) << big.err;
    EXPECT_NE(big.err.find("IPv6 prefixes"), std::string::npos) << big.err;
    EXPECT_EQ(d.version(), v);
    EXPECT_EQ(ctl({"rule", "list", "--json"}).json().at("rules").size(), 1u);
}

TEST_F(DaemonSafeOps, RollbackAndDiff)
{
    DaemonProcess& d = lab->daemon;
    const uint64_t v0 = d.version();
    ASSERT_EQ(ctl({"rule", "add", "proto=udp", drop_rule(kPort), "action=drop"}).code, 0);
    ASSERT_EQ(ctl({"rule", "add", "proto=udp", drop_rule(kOther), "action=drop"}).code, 0);
    EXPECT_EQ(delivered(kPort), 0u);
    EXPECT_EQ(delivered(kOther), 0u);

    json diff = ctl({"diff", std::to_string(v0), "--json"}).json();
    EXPECT_EQ(diff.at("to"), v0 + 2);
    EXPECT_EQ(diff.at("rules").at("added").size(), 2u);
    CtlResult human = ctl({"diff", std::to_string(v0 + 1), std::to_string(v0 + 2)});
    EXPECT_EQ(human.out, fmt::format("+ rule 2: priority=0 proto=udp dport={} action=drop\n", kOther));

    CtlResult back = ctl({"rollback"});
    ASSERT_EQ(back.code, 0) << back.err;
    EXPECT_EQ(back.out, fmt::format("the policy of version {} is back (version {})\n", v0 + 1, v0 + 3));
    EXPECT_EQ(delivered(kPort), 0u);
    EXPECT_EQ(delivered(kOther), 5u);
    EXPECT_EQ(ctl({"diff", std::to_string(v0 + 1), "--json"}).json().at("rules").at("added").size(),
              0u);

    ASSERT_EQ(ctl({"rollback", std::to_string(v0)}).code, 0);
    EXPECT_EQ(delivered(kPort), 5u);
    EXPECT_EQ(d.version(), v0 + 4);

    CtlResult far = ctl({"rollback", "99"});
    EXPECT_EQ(far.code, 1);
    EXPECT_NE(far.err.find("unknown_version"), std::string::npos) << far.err;
}

} // namespace
} // namespace xdpfw::test
