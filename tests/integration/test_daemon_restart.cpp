// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd's state outliving the process: SIGKILL while traffic flows (the
// kernel keeps filtering, the restarted daemon adopts pins and attachment),
// and a simulated reboot (pins and program gone, the state file restores
// the policy), and an upgrade under traffic onto another build's program.
#include "lib/kernel/attach.hpp"
#include "testing/daemon_lab_test.hpp"
#include "testing/daemon_runner.hpp"
#include "testing/guarded_traffic.hpp"
#include "testing/other_build.hpp"
#include "testing/temp_dir.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <bpf/bpf.h>
#include <net/if.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;


constexpr uint16_t kAllowed = 7101, kBlocked = 7102;

class DaemonRestart : public DaemonLabTest {
protected:

    uint32_t add_rule(std::vector<std::string> words)
    {
        words.insert(words.begin(), {"rule", "add"});
        words.push_back("--json");
        CtlResult r = lab->daemon.ctl(words);
        if (r.code != 0)
            throw std::runtime_error("rule add failed: " + r.err);
        return r.json().at("rule_id").get<uint32_t>();
    }

    // Rules, sets, and one set's prefixes: what must survive a restart.
    json snapshot()
    {
        DaemonProcess& d = lab->daemon;
        return {{"rules", d.ctl({"rule", "list", "--json"}).json()},
                {"sets", d.ctl({"set", "list", "--json"}).json()},
                {"blk", d.ctl({"set", "list", "blk", "--json"}).json()}};
    }

    // A policy with a drop rule, a count rule, a set and a hole in the ids.
    void make_policy()
    {
        DaemonProcess& d = lab->daemon;
        ASSERT_EQ(d.ctl({"set", "create", "blk"}).code, 0);
        ASSERT_EQ(d.ctl({"set", "add", "blk", "198.51.100.0/24", "2001:db8:bad::/48", "10.99.9.9"})
                      .code,
                  0);
        count_id = add_rule({"priority=1", "proto=udp", fmt::format("dport={}", kAllowed),
                             "action=count"});
        const uint32_t spare = add_rule({"priority=2", "proto=tcp", "dport=22", "action=drop"});
        drop_id = add_rule({"priority=3", "proto=udp", fmt::format("dport={}", kBlocked),
                            "action=drop"});
        set_id = add_rule({"priority=4", "src=@blk", "action=drop"});
        ASSERT_EQ(d.ctl({"rule", "del", std::to_string(spare)}).code, 0);
    }

    // The status "tier" once the daemon runs its own program: no swap
    // pending, the adopted one replaced (or 10 s passed).
    json settled_own_program()
    {
        json tier;
        for (int i = 0; i < 200; i++) {
            tier = lab->daemon.checked({{"cmd", "status"}}).at("tier");
            if (!tier.at("pending").get<bool>() && !tier.contains("adopted_program"))
                break;
            std::this_thread::sleep_for(50ms);
        }
        return tier;
    }

    // The live program id once the daemon settled on its own program.
    uint32_t own_program_id()
    {
        for (int i = 0; i < 200 && lab->daemon.checked({{"cmd", "status"}}).at("tier").at("pending").get<bool>(); i++)
            std::this_thread::sleep_for(50ms);
        return lab->daemon.checked({{"cmd", "status"}}).at("tier").at("program_id").get<uint32_t>();
    }

    // Puts program fd on dut0 in place of program `running` (atomically, in
    // the mode that one runs in), as a daemon's swap does.
    void swap_on_dut0(uint32_t running, int fd)
    {
        EnterNetns in(lab->dut);
        const int ifindex = int(if_nametoindex("dut0"));
        const UniqueFd old(bpf_prog_get_fd_by_id(running));
        ASSERT_GE(old.get(), 0);
        EXPECT_NE(prog_tag(fd), prog_tag(old.get())) << "not a different build";
        const XdpMode mode = attached_prog_id(ifindex, XdpMode::native) == running
                                 ? XdpMode::native
                                 : XdpMode::generic;
        replace_program(ifindex, mode, old.get(), fd);
    }

    // dut0 runs program id and nothing else (`ip link` may list it twice:
    // for the mode and as attached).
    bool runs_only(uint32_t id) const
    {
        const std::vector<uint32_t> ids = xdp_prog_ids(lab->dut, "dut0");
        return !ids.empty() && std::all_of(ids.begin(), ids.end(), [&](uint32_t i) { return i == id; });
    }

    // Once the daemon settles: dut0 runs the daemon's own program, and only
    // it, in place of program `replaced`. Returns status's tier.
    json settled_in_place_of(uint32_t replaced)
    {
        const json tier = settled_own_program();
        const uint32_t own = tier.at("program_id").get<uint32_t>();
        EXPECT_NE(own, replaced);
        EXPECT_TRUE(runs_only(own)) << run_in(lab->dut, "ip -d link show dev dut0").output;
        return tier;
    }

    uint32_t count_id = 0, drop_id = 0, set_id = 0;
};

TEST_F(DaemonRestart, SigkillKeepsFilteringAndRestartAdopts)
{
    DaemonProcess& d = lab->daemon;
    make_policy();

    // The program on dut0 once the tier worker has swapped in the
    // specialised one for this policy (docs/DAEMON.md, "Program tiers").
    for (int i = 0; i < 200 && d.checked({{"cmd", "status"}}).at("tier").at("pending").get<bool>(); i++)
        std::this_thread::sleep_for(50ms);
    const std::vector<uint32_t> progs_before = xdp_prog_ids(lab->dut, "dut0");
    ASSERT_FALSE(progs_before.empty());
    const json st_before = d.checked({{"cmd", "status"}});
    const json snap_before = snapshot();

    GuardedTraffic traffic(*lab, kAllowed, kBlocked, count_id, drop_id, 1ms);
    std::this_thread::sleep_for(300ms);
    const uint64_t count_before = d.rule_packets(count_id);
    const uint64_t drop_before = d.rule_packets(drop_id);
    EXPECT_GT(count_before, 0u);
    EXPECT_GT(drop_before, 0u);

    d.kill();
    const size_t allowed_at_kill = traffic.allowed_received();
    std::this_thread::sleep_for(700ms);
    // The daemon is dead: the kernel still filters with the last policy.
    EXPECT_GT(traffic.allowed_received(), allowed_at_kill + 100)
        << "allowed traffic stopped with the daemon";
    EXPECT_EQ(traffic.blocked_received(), 0u);
    EXPECT_EQ(xdp_prog_ids(lab->dut, "dut0"), progs_before);

    d.start();
    const json st_after = d.checked({{"cmd", "status"}});
    EXPECT_TRUE(st_after.at("adopted").get<bool>()) << st_after.dump();
    EXPECT_EQ(st_after.at("version"), st_before.at("version"));
    EXPECT_EQ(st_after.at("interfaces"), st_before.at("interfaces"));
    EXPECT_EQ(snapshot(), snap_before);
    // Not re-attached: the daemon kept the attachment it found. Then it
    // swapped its own program in (atomically, docs/DAEMON.md): once that
    // settles, dut0 runs the program status names.
    EXPECT_NE(d.log().find("event=adopted_attachment iface=dut0"), std::string::npos);
    const json tier = settled_own_program();
    const std::vector<uint32_t> progs_after = xdp_prog_ids(lab->dut, "dut0");
    ASSERT_FALSE(progs_after.empty());
    for (uint32_t id : progs_after)
        EXPECT_EQ(id, tier.at("program_id").get<uint32_t>())
            << tier.dump() << "\n" << run_in(lab->dut, "ip -d link show dev dut0").output;
    // Counters kept counting while no daemon ran.
    EXPECT_GE(d.rule_packets(count_id), count_before + 100);
    EXPECT_GE(d.rule_packets(drop_id), drop_before + 100);

    // The adopted daemon still commits: a new rule takes effect at once.
    const uint64_t v = d.version();
    const uint32_t extra = add_rule({"priority=0", "proto=udp", "dport=7103", "action=drop"});
    EXPECT_EQ(d.version(), v + 1);
    UdpReceiver r7103(lab->dut, DaemonLab::dut4, 7103);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7103, 5), 5u);
    EXPECT_EQ(r7103.receive(5, 300ms), 0u);
    EXPECT_EQ(d.rule_packets(extra), 5u);

    std::this_thread::sleep_for(200ms);
    // Nothing allowed was lost across kill and restart, nothing blocked
    // passed (counted from the rules' counts when the traffic started).
    expect_filtered_throughout(traffic.finish(), "kill and restart");
}

// An upgrade (docs/DAEMON.md, "Upgrades"): the program attached and pinned
// is another build's (OtherBuildProgram: the stage build of the source,
// other instructions and kernel tag, the same pinned maps), as an older
// xdpfwd leaves it, and this build's xdpfwd starts on it while traffic
// flows. It adopts that program (no detach, no second attach), then puts its
// own in its place in one atomic replace: no blocked datagram passes at any
// moment, no allowed one is lost at the firewall, counters carry on.
TEST_F(DaemonRestart, UpgradeReplacesAnotherBuildsProgramUnderTraffic)
{
    DaemonProcess& d = lab->daemon;
    make_policy();
    const uint32_t own_before = own_program_id();

    GuardedTraffic traffic(*lab, kAllowed, kBlocked, count_id, drop_id, 200us);
    std::this_thread::sleep_for(200ms);
    // The old daemon stops as systemd stops it: the program stays.
    ASSERT_EQ(d.terminate(), 0);
    // What it leaves is another build's program: in place atomically, and
    // pinned where xdpfwd pins its own.
    OtherBuildProgram old = OtherBuildProgram::load(d.pin_dir());
    ASSERT_NO_FATAL_FAILURE(swap_on_dut0(own_before, old.fd()));
    pin_program(old.fd(), d.pin_dir());
    EXPECT_TRUE(runs_only(old.id()));
    std::this_thread::sleep_for(300ms); // the other build filters alone

    d.start();
    EXPECT_TRUE(d.checked({{"cmd", "status"}}).at("adopted").get<bool>());
    const json tier = settled_in_place_of(old.id());
    EXPECT_FALSE(tier.contains("adopted_program")) << tier.dump();
    const std::string log = d.log();
    EXPECT_NE(log.find("event=adopted_attachment iface=dut0"), std::string::npos) << log;
    EXPECT_NE(log.find("event=tier_swapped"), std::string::npos) << log;

    std::this_thread::sleep_for(200ms);
    expect_filtered_throughout(traffic.finish(), "upgrade");
}

// A daemon killed during a program swap (install_program: the interface
// already runs the new program, the pin still names the old one) leaves an
// instance program nobody pinned. The next daemon replaces it by the pinned
// one atomically instead of failing to attach (EBUSY) or detaching.
TEST_F(DaemonRestart, RestartReplacesAnUnpinnedProgramOfTheInstance)
{
    DaemonProcess& d = lab->daemon;
    make_policy();
    const uint32_t own_before = own_program_id();

    GuardedTraffic traffic(*lab, kAllowed, kBlocked, count_id, drop_id, 200us);
    std::this_thread::sleep_for(200ms);
    d.kill();
    OtherBuildProgram unpinned = OtherBuildProgram::load(d.pin_dir());
    ASSERT_NO_FATAL_FAILURE(swap_on_dut0(own_before, unpinned.fd())); // and no pin
    std::this_thread::sleep_for(200ms);

    d.start();
    EXPECT_TRUE(d.checked({{"cmd", "status"}}).at("adopted").get<bool>());
    settled_in_place_of(unpinned.id());
    const std::string log = d.log();
    EXPECT_NE(log.find("event=replaced_unpinned_program iface=dut0"), std::string::npos) << log;

    std::this_thread::sleep_for(200ms);
    expect_filtered_throughout(traffic.finish(), "restart after an unpinned swap");
}

// Pinned maps of another layout (here other capacities; a build whose
// kernel/user ABI changed is the same case): without --upgrade-maps the
// daemon refuses and the old program keeps filtering; with it, the saved
// policy moves to new maps, the counters' maps are shared by both programs,
// and the program is replaced atomically: under traffic, nothing allowed is
// lost and nothing blocked passes.
TEST_F(DaemonRestart, UpgradeMapsUnderTraffic)
{
    DaemonProcess& d = lab->daemon;
    make_policy();
    const uint32_t own_before = own_program_id();
    TempDir dir("xdpfw-upgrade");
    const std::string cfg = (dir.path() / "xdpfwd.yaml").string();
    {
        std::ofstream f(cfg);
        f << "capacity:\n  max_v6_prefixes: 32768\n";
    }

    GuardedTraffic traffic(*lab, kAllowed, kBlocked, count_id, drop_id, 200us);
    std::this_thread::sleep_for(200ms);
    ASSERT_EQ(d.terminate(), 0);
    EXPECT_THROW(d.start_with({"--config", cfg}), std::exception) << "other maps, no --upgrade-maps";
    EXPECT_NE(d.log().find("--upgrade-maps"), std::string::npos) << d.log();
    for (uint32_t id : xdp_prog_ids(lab->dut, "dut0"))
        EXPECT_EQ(id, own_before) << "the old program filters on";
    std::this_thread::sleep_for(200ms);

    d.start_with({"--config", cfg, "--upgrade-maps"});
    settled_in_place_of(own_before);
    const std::string log = d.log();
    EXPECT_NE(log.find("event=maps_upgraded"), std::string::npos) << log;
    EXPECT_NE(log.find("shared=\"xdpfw_rule_counters,xdpfw_reason_stats"), std::string::npos) << log;
    EXPECT_FALSE(std::filesystem::exists(d.pin_dir() + "-old"));
    std::this_thread::sleep_for(200ms);
    expect_filtered_throughout(traffic.finish(), "map upgrade");

    // The new pins are whole: the next start adopts them.
    ASSERT_EQ(d.terminate(), 0);
    d.start_with({"--config", cfg});
    EXPECT_TRUE(d.checked({{"cmd", "status"}}).at("adopted").get<bool>());
}

TEST_F(DaemonRestart, RebootRestoresThePolicyFromTheStateDir)
{
    DaemonProcess& d = lab->daemon;
    make_policy();
    UdpReceiver blocked(lab->dut, DaemonLab::dut4, kBlocked);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, kBlocked, 5), 5u);
    EXPECT_EQ(blocked.receive(5, 300ms), 0u);
    const json snap_before = snapshot();

    // A clean stop keeps the program attached; a reboot then takes program
    // and pins away, and only the state file is left.
    EXPECT_EQ(d.terminate(), 0);
    EXPECT_FALSE(xdp_prog_ids(lab->dut, "dut0").empty());
    {
        EnterNetns in(lab->dut);
        EXPECT_GE(detach_all(int(if_nametoindex("dut0"))), 1);
    }
    EXPECT_GE(remove_pin_dir(d.pin_dir()), 1);
    EXPECT_FALSE(std::filesystem::exists(d.pin_dir()));
    EXPECT_TRUE(xdp_prog_ids(lab->dut, "dut0").empty());
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, kBlocked, 5), 5u);
    EXPECT_EQ(blocked.receive(5, 2s), 5u) << "traffic should pass with no program attached";

    d.start();
    const json st = d.checked({{"cmd", "status"}});
    EXPECT_FALSE(st.at("adopted").get<bool>()) << st.dump();
    EXPECT_FALSE(xdp_prog_ids(lab->dut, "dut0").empty());
    const json snap_after = snapshot();
    // The restore is a commit of its own, so only the version may differ.
    EXPECT_EQ(snap_after.at("rules").at("rules"), snap_before.at("rules").at("rules"));
    EXPECT_EQ(snap_after.at("sets"), snap_before.at("sets"));
    EXPECT_EQ(snap_after.at("blk").at("prefixes"), snap_before.at("blk").at("prefixes"));
    EXPECT_GE(snap_after.at("rules").at("version").get<uint64_t>(),
              snap_before.at("rules").at("version").get<uint64_t>());

    // Filtered again, by the restored rules (and ids).
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, kBlocked, 5), 5u);
    EXPECT_EQ(blocked.receive(5, 300ms), 0u);
    EXPECT_EQ(d.rule_packets(drop_id), 5u);
    UdpReceiver allowed(lab->dut, DaemonLab::dut4, kAllowed);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, kAllowed, 5), 5u);
    EXPECT_EQ(allowed.receive(5, 2s), 5u);
    EXPECT_EQ(d.rule_packets(count_id), 5u);
}

} // namespace
} // namespace xdpfw::test
