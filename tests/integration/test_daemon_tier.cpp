// SPDX-License-Identifier: GPL-2.0-only
// The program tiers in a running daemon (docs/ARCHITECTURE.md, "Tiers"):
// after a commit the specialised program for the live policy replaces the
// program on the interface in the background, a policy without a spec goes
// back to the general program, traffic is filtered right through every swap
// (no blocked datagram passes, no allowed one is lost at the firewall), and
// a restarted daemon puts its own program in place.
#include "testing/daemon_lab_test.hpp"
#include "testing/daemon_runner.hpp"
#include "testing/guarded_traffic.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr uint16_t kAllowed = 7201, kBlocked = 7202;

class DaemonTier : public DaemonLabTest {
protected:
    // Waits until no swap is pending and the tier is `want`; returns the
    // status "tier" object (checked by the caller).
    json settled_tier(const std::string& want)
    {
        json t;
        for (int i = 0; i < 200; i++) {
            t = lab->daemon.checked({{"cmd", "status"}}).at("tier");
            if (!t.at("pending").get<bool>() && t.at("live") == want)
                return t;
            std::this_thread::sleep_for(50ms);
        }
        return t;
    }

    // The one program id `ip link` shows on dut0 (it may list it for the
    // mode and as the attached program), 0 when there are several or none.
    uint32_t attached_id() const
    {
        const std::vector<uint32_t> ids = xdp_prog_ids(lab->dut, "dut0");
        for (uint32_t id : ids)
            if (id != ids[0])
                return 0;
        return ids.empty() ? 0 : ids[0];
    }

    // add() returning the new rule's id.
    uint32_t add_id(const std::string& rule)
    {
        std::vector<std::string> args{"rule", "add", "--json"};
        std::istringstream words(rule);
        for (std::string w; words >> w;)
            args.push_back(w);
        const CtlResult r = lab->daemon.ctl(args);
        if (r.code != 0)
            throw std::runtime_error(rule + ": " + r.err);
        return r.json().at("rule_id").get<uint32_t>();
    }

    void add(const std::string& rule)
    {
        std::vector<std::string> args{"rule", "add"};
        std::string word;
        for (char c : rule + " ")
            if (c == ' ') {
                if (!word.empty())
                    args.push_back(word);
                word.clear();
            } else {
                word += c;
            }
        const CtlResult r = lab->daemon.ctl(args);
        ASSERT_EQ(r.code, 0) << rule << ": " << r.err;
    }
};

TEST_F(DaemonTier, SpecialisedAfterCommitsGeneralWithoutSpecFilteringThroughout)
{
    DaemonProcess& d = lab->daemon;
    const uint32_t drop_id = add_id(fmt::format("priority=10 proto=udp dport={} action=drop", kBlocked));
    const uint32_t count_id = add_id(fmt::format("priority=5 proto=udp dport={} action=count", kAllowed));
    json t = settled_tier("specialised");
    ASSERT_EQ(t.at("live"), "specialised") << t.dump();
    // A drop and a count rule: a lean policy, so the generated program runs.
    EXPECT_EQ(t.at("form"), "generated") << t.dump();
    const uint32_t first = t.at("program_id").get<uint32_t>();
    EXPECT_EQ(attached_id(), first);

    // Traffic on both ports while the policy changes shape: 71 rules (no
    // spec: the general program), then back to a few (a new spec). No
    // blocked datagram may pass and no allowed one be lost at any moment.
    GuardedTraffic traffic(*lab, kAllowed, kBlocked, count_id, drop_id, 200us);
    for (int i = 0; i < 69; i++)
        add(fmt::format("priority=20 proto=tcp dport={} action=drop", 20000 + i));
    t = settled_tier("general");
    ASSERT_EQ(t.at("live"), "general") << t.dump();
    EXPECT_NE(t.at("general_because").get<std::string>().find("71 rules"), std::string::npos)
        << t.dump();
    EXPECT_EQ(attached_id(), t.at("program_id").get<uint32_t>());
    EXPECT_NE(t.at("program_id").get<uint32_t>(), first);

    const json rules = d.ctl({"rule", "list", "--json"}).json().at("rules");
    for (const json& r : rules) {
        if (r.at("text").get<std::string>().find("proto=tcp") != std::string::npos) {
            ASSERT_EQ(d.ctl({"rule", "del", std::to_string(r.at("id").get<uint32_t>())}).code, 0);
        }
    }
    t = settled_tier("specialised");
    ASSERT_EQ(t.at("live"), "specialised") << t.dump();
    EXPECT_EQ(attached_id(), t.at("program_id").get<uint32_t>());
    EXPECT_GE(t.at("swaps").get<uint64_t>(), 3u);

    std::this_thread::sleep_for(200ms);
    expect_filtered_throughout(traffic.finish(), "tier swaps");
}

// Past 64 rules, without count rules: a bitmaps spec, whose generated
// program runs in front of the general one; a count rule sends the policy
// back to the general program. Traffic is filtered right through both swaps.
TEST_F(DaemonTier, LargePolicyRunsTheBitmapsProgramFilteringThroughout)
{
    const uint32_t pass_id = add_id(fmt::format("priority=5 proto=udp dport={} action=pass", kAllowed));
    const uint32_t drop_id = add_id(fmt::format("priority=10 proto=udp dport={} action=drop", kBlocked));
    GuardedTraffic traffic(*lab, kAllowed, kBlocked, pass_id, drop_id, 200us);
    for (int i = 0; i < 70; i++)
        add(fmt::format("priority=20 proto=tcp dport={} action=drop", 20000 + i));
    json t = settled_tier("specialised");
    ASSERT_EQ(t.at("live"), "specialised") << t.dump();
    EXPECT_EQ(t.at("form"), "generated") << t.dump();
    EXPECT_EQ(attached_id(), t.at("program_id").get<uint32_t>());

    add("priority=30 proto=tcp action=count");
    t = settled_tier("general");
    ASSERT_EQ(t.at("live"), "general") << t.dump();
    EXPECT_NE(t.at("general_because").get<std::string>().find("73 rules"), std::string::npos) << t.dump();
    EXPECT_NE(t.at("general_because").get<std::string>().find("counts (action=count)"), std::string::npos)
        << t.dump();
    EXPECT_EQ(attached_id(), t.at("program_id").get<uint32_t>());

    std::this_thread::sleep_for(200ms);
    expect_filtered_throughout(traffic.finish(), "bitmaps tier swaps");
}

TEST_F(DaemonTier, RestartAdoptsAndPutsItsOwnProgramInPlace)
{
    DaemonProcess& d = lab->daemon;
    const uint32_t drop_id = add_id(fmt::format("priority=10 proto=udp dport={} action=drop", kBlocked));
    const uint32_t count_id = add_id(fmt::format("priority=5 proto=udp dport={} action=count", kAllowed));
    json t = settled_tier("specialised");
    ASSERT_EQ(t.at("live"), "specialised") << t.dump();
    const uint32_t before = t.at("program_id").get<uint32_t>();

    GuardedTraffic traffic(*lab, kAllowed, kBlocked, count_id, drop_id, 200us);
    d.kill();
    std::this_thread::sleep_for(200ms);
    d.start();
    t = settled_tier("specialised");
    ASSERT_EQ(t.at("live"), "specialised") << t.dump();
    EXPECT_TRUE(d.checked({{"cmd", "status"}}).at("adopted").get<bool>());
    // The adopted program (a specialised one of the dead daemon, whose key
    // this daemon cannot know) is replaced by this daemon's own.
    EXPECT_NE(t.at("program_id").get<uint32_t>(), before);
    EXPECT_EQ(attached_id(), t.at("program_id").get<uint32_t>());
    std::this_thread::sleep_for(200ms);
    expect_filtered_throughout(traffic.finish(), "tier swaps");
}

} // namespace
} // namespace xdpfw::test
