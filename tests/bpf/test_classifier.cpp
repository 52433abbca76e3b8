// SPDX-License-Identifier: GPL-2.0-only
// The XDP classifier through BPF_PROG_RUN: first match, counters, sets of
// every table kind, actions, generation switches and large rule counts.
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/policy_text.hpp"
#include "testing/private_netns.hpp"
#include "xdpfw_bpf.skel.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <net/if.h>

#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

namespace xdpfw::test {
namespace {

class Classifier : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        enter_private_netns();
        LoadOptions o;
        o.caps.max_rules = 8192;
        o.caps.max_bitmaps = 20000;
        h = std::make_unique<BpfHarness>(o);
    }
    static void TearDownTestSuite() { h.reset(); }

    static RunResult run(const FrameSpec& f) { return h->run(build_frame(f)); }
    static std::unique_ptr<BpfHarness> h;
};
std::unique_ptr<BpfHarness> Classifier::h;

TEST(ClassifierFresh, NothingCommittedPasses)
{
    enter_private_netns();
    BpfHarness fresh;
    auto r = fresh.run(build_frame(frame("10.0.0.1", "10.0.0.2")));
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_PASS));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_NO_POLICY));
    EXPECT_EQ(fresh.maps().reason_counters()[XDPFW_REASON_NO_POLICY].packets, 1u);
}

TEST_F(Classifier, FirstMatchByPriorityThenId)
{
    h->commit(make_policy({
        "priority=20 proto=udp action=drop",  // id 1
        "priority=10 dport=80 action=pass",   // id 2: lower priority number wins
        "priority=10 proto=udp action=drop",  // id 3: same priority, later id
    }));
    auto r = run(frame("10.0.0.1", "10.0.0.2", 17, 1000, 80));
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_PASS));
    EXPECT_EQ(r.verdict.rule_id, 2u);
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_RULE_PASS));
    r = run(frame("10.0.0.1", "10.0.0.2", 17, 1000, 81));
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_DROP));
    EXPECT_EQ(r.verdict.rule_id, 3u);
    r = run(frame("10.0.0.1", "10.0.0.2", 6, 1000, 81));
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_PASS));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS));
    EXPECT_EQ(r.verdict.rule_id, XDPFW_NO_RULE);
}

TEST_F(Classifier, DefaultDrop)
{
    h->commit(make_policy({"proto=tcp dport=22 action=pass"}, ActionType::drop));
    EXPECT_EQ(run(frame("10.0.0.1", "10.0.0.2", 6, 999, 22)).xdp_action, uint32_t(XDP_PASS));
    auto r = run(frame("10.0.0.1", "10.0.0.2", 6, 999, 23));
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_DROP));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_DROP));
}

TEST_F(Classifier, CountRulesCountAndContinue)
{
    h->commit(make_policy({
        "priority=1 src=10.1.0.0/16 action=count",
        "priority=2 proto=udp action=count",
        "priority=3 dport=53 action=drop",
        "priority=4 action=count", // after the terminal rule: never counted for port 53
    }));
    auto before = [&](uint32_t id) { return h->maps().rule_counter(id).packets; };
    uint64_t c1 = before(1), c2 = before(2), c3 = before(3), c4 = before(4);
    auto f = frame("10.1.2.3", "10.0.0.2", 17, 5000, 53);
    auto r = run(f);
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_DROP));
    EXPECT_EQ(r.verdict.rule_id, 3u);
    EXPECT_EQ(before(1), c1 + 1);
    EXPECT_EQ(before(2), c2 + 1);
    EXPECT_EQ(before(3), c3 + 1);
    EXPECT_EQ(before(4), c4);
    EXPECT_EQ(h->maps().rule_counter(3).bytes - 0, h->maps().rule_counter(3).bytes);
    // No terminal rule: counted by both count rules, then the default.
    r = run(frame("10.1.2.3", "10.0.0.2", 17, 5000, 54));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS));
    EXPECT_EQ(before(4), c4 + 1);
}

TEST_F(Classifier, ByteCountersUseFrameLength)
{
    h->commit(make_policy({"proto=udp action=drop"}));
    auto f = frame("10.0.0.1", "10.0.0.2");
    f.frame_len = 300;
    uint64_t b = h->maps().rule_counter(1).bytes;
    auto data = build_frame(f);
    h->run(data);
    EXPECT_EQ(h->maps().rule_counter(1).bytes, b + data.size());
}

TEST_F(Classifier, V4SetsOfEveryTableKind)
{
    // /8 (leaf), a /24 with a few /32 (host hash), a /24 with a /26 and many
    // /32 (chunk), nested prefixes with different rules.
    std::vector<std::string> block = {"10.0.0.0/8", "192.0.2.7", "192.0.2.9", "198.51.100.64/26"};
    for (int i = 0; i < 20; i++)
        block.push_back("203.0.113." + std::to_string(i * 3));
    h->commit(make_policy({"priority=1 src=10.9.9.0/24 action=pass",
                           "priority=2 src=@block action=drop"},
                          ActionType::pass, {{"block", block}}));
    struct Case {
        const char* src;
        uint32_t action, rule;
    } cases[] = {
        {"10.1.2.3", XDP_DROP, 2},      {"10.9.9.9", XDP_PASS, 1},
        {"11.0.0.1", XDP_PASS, XDPFW_NO_RULE}, {"192.0.2.7", XDP_DROP, 2},
        {"192.0.2.8", XDP_PASS, XDPFW_NO_RULE}, {"192.0.2.9", XDP_DROP, 2},
        {"198.51.100.64", XDP_DROP, 2}, {"198.51.100.127", XDP_DROP, 2},
        {"198.51.100.128", XDP_PASS, XDPFW_NO_RULE}, {"203.0.113.57", XDP_DROP, 2},
        {"203.0.113.58", XDP_PASS, XDPFW_NO_RULE},
    };
    for (const auto& c : cases) {
        auto r = run(frame(c.src, "10.200.0.1"));
        EXPECT_EQ(r.xdp_action, c.action) << c.src;
        EXPECT_EQ(r.verdict.rule_id, c.rule) << c.src;
    }
    // The live header's host hint (abi.h) names the /16s of the two HOSTS
    // blocks, 192.0.2.0/24 and 203.0.113.0/24, in the source direction only.
    xdpfw_bpf* s = h->object().skel();
    uint32_t zero = 0;
    xdpfw_ctrl ctrl{};
    ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(s->maps.xdpfw_ctrl), &zero, &ctrl), 0);
    auto hdr = std::make_unique<xdpfw_policy_hdr>();
    uint32_t gen = ctrl.active_gen & 1;
    ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(s->maps.xdpfw_policy), &gen, hdr.get()), 0);
    std::vector<std::pair<uint32_t, uint32_t>> hinted, want; // (direction, /16)
    for (uint32_t d = 0; d < XDPFW_DIRECTIONS; d++)
        for (uint32_t n = 0; n < 65536; n++)
            if (hdr->v4_host_hint[d][n / 32] >> (n % 32) & 1)
                hinted.emplace_back(d, n);
    want = {{0u, (192u << 8) | 0u}, {0u, (203u << 8) | 0u}};
    EXPECT_EQ(hinted, want);
}

TEST_F(Classifier, V6PrefixesOfManyLengths)
{
    h->commit(make_policy({"priority=1 dst=2001:db8:1::/48 proto=udp action=pass",
                           "priority=2 dst=@v6 action=drop"},
                          ActionType::pass,
                          {{"v6", {"2001:db8::/32", "2001:db8:1:2::/64", "2001:db8:ffff::1",
                                   "198.51.100.0/24"}}}));
    struct Case {
        const char* dst;
        uint32_t action, rule;
    } cases[] = {
        {"2001:db8:5::1", XDP_DROP, 2},   {"2001:db8:1::5", XDP_PASS, 1},
        {"2001:db8:1:2::5", XDP_PASS, 1}, {"2001:db9::1", XDP_PASS, XDPFW_NO_RULE},
        {"2001:db8:ffff::1", XDP_DROP, 2},
    };
    for (const auto& c : cases) {
        auto r = run(frame("2001:db8:aaaa::1", c.dst));
        EXPECT_EQ(r.xdp_action, c.action) << c.dst;
        EXPECT_EQ(r.verdict.rule_id, c.rule) << c.dst;
    }
    auto r = run(frame("10.0.0.1", "198.51.100.3")); // the set's IPv4 member
    EXPECT_EQ(r.verdict.rule_id, 2u);
}

TEST_F(Classifier, IngressInterfaceAndVlan)
{
    h->commit(make_policy({"priority=1 iif=eth0 action=drop",
                           "priority=2 iif=test0 vlan=100 action=drop",
                           "priority=3 vlan=200 action=count"}));
    auto f = frame("10.0.0.1", "10.0.0.2");
    EXPECT_EQ(run(f).verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS)); // untagged, ingress lo
    f.vlans = {VlanTag{0x8100, 100}};
    EXPECT_EQ(run(f).verdict.rule_id, 2u);
    f.vlans = {VlanTag{0x88a8, 100}, VlanTag{0x8100, 7}}; // outer tag counts
    EXPECT_EQ(run(f).verdict.rule_id, 2u);
    f.vlans = {VlanTag{0x88a8, 7}, VlanTag{0x8100, 100}};
    EXPECT_EQ(run(f).verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS));
    uint64_t c = h->maps().rule_counter(3).packets;
    f.vlans = {VlanTag{0x8100, 200}};
    EXPECT_EQ(run(f).verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS));
    EXPECT_EQ(h->maps().rule_counter(3).packets, c + 1);
}

TEST_F(Classifier, XskWithoutSocketFallsBack)
{
    h->commit(make_policy({"priority=1 dport=1 action=xsk",
                           "priority=2 dport=2 action=xsk fallback=drop"}));
    auto r = run(frame("10.0.0.1", "10.0.0.2", 17, 9, 1));
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_PASS));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_XSK_NO_SOCKET));
    r = run(frame("10.0.0.1", "10.0.0.2", 17, 9, 2));
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_DROP));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_XSK_NO_SOCKET));
}

TEST_F(Classifier, RedirectThroughDevmap)
{
    h->commit(make_policy({"dport=7 action=redirect:eth1"}));
    auto r = run(frame("10.0.0.1", "10.0.0.2", 17, 9, 7));
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_REDIRECT));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_RULE_REDIRECT));
}

// Interfaces at the top of the direct iif array and past it (the hash).
TEST_F(Classifier, IngressInterfacesBeyondTheDirectArray)
{
    // veth pairs (this kernel has no dummy driver), named by their index.
    for (uint32_t idx : {uint32_t(XDPFW_IFINDEX_SLOTS - 1), 70000u}) {
        const std::string cmd =
            fmt::format("ip link add big{} index {} type veth peer name big{} index {}", idx, idx,
                        idx + 1, idx + 1);
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    h->commit(make_policy({fmt::format("priority=1 iif=big{} action=drop", XDPFW_IFINDEX_SLOTS - 1),
                           fmt::format("priority=2 iif=big{} action=drop", XDPFW_IFINDEX_SLOTS),
                           "priority=3 iif=big70000 proto=udp action=drop",
                           "priority=4 iif=eth0 action=pass"}));
    auto f = build_frame(frame("10.0.0.1", "10.0.0.2"));
    auto winner = [&](uint32_t ifindex) { return h->run(f, ifindex).verdict.rule_id; };
    EXPECT_EQ(winner(XDPFW_IFINDEX_SLOTS - 1), 1u);
    EXPECT_EQ(winner(XDPFW_IFINDEX_SLOTS), 2u);
    EXPECT_EQ(winner(70000), 3u);
    EXPECT_EQ(winner(if_nametoindex("eth0")), 4u);
    EXPECT_EQ(winner(70001), XDPFW_NO_RULE); // in neither table: the default bitmap
    EXPECT_EQ(winner(if_nametoindex("eth1")), XDPFW_NO_RULE);
    EXPECT_EQ(h->run(build_frame(frame("10.0.0.1", "10.0.0.2", 6)), 70000).verdict.rule_id,
              XDPFW_NO_RULE);
    // The next generation moves the rules between interfaces.
    h->commit(make_policy({"priority=1 iif=big70001 action=drop",
                           fmt::format("priority=2 iif=big{} action=pass", XDPFW_IFINDEX_SLOTS - 1)}));
    EXPECT_EQ(winner(70001), 1u);
    EXPECT_EQ(winner(70000), XDPFW_NO_RULE);
    EXPECT_EQ(winner(XDPFW_IFINDEX_SLOTS - 1), 2u);
    EXPECT_EQ(winner(XDPFW_IFINDEX_SLOTS), XDPFW_NO_RULE);
    EXPECT_EQ(winner(if_nametoindex("eth0")), XDPFW_NO_RULE);
}

// The program counts a rule-decided packet in its rule only; the totals the
// control plane derives equal counting every packet's reason, as the
// program did before (xdpfw_last still records each packet's reason).
TEST_F(Classifier, RuleReasonTotalsDerivedFromRuleCounters)
{
    h->commit(make_policy({"priority=0 proto=udp action=count",
                           "priority=1 dport=1 action=drop",
                           "priority=2 dport=2 action=pass",
                           "priority=3 dport=3 action=xsk",
                           "priority=4 dport=4 action=xsk fallback=drop",
                           "priority=5 dport=5 action=redirect:eth1"}));
    const ReasonCounters derived0 = h->maps().reason_counters();
    ReasonCounters raw_prev = h->maps().raw_reason_counters();
    ReasonCounters expect{};
    for (uint32_t i = 0; i < 120; i++) {
        auto f = frame("10.0.0.1", "10.0.0.2", 17, 9, uint16_t(1 + i % 6));
        f.frame_len = 64 + 8 * (i % 7);
        const auto data = build_frame(f);
        const uint32_t reason = h->run(data).verdict.reason;
        ASSERT_LT(reason, uint32_t(XDPFW_REASON_COUNT));
        expect[reason].packets++;
        expect[reason].bytes += data.size();
        const ReasonCounters raw_now = h->maps().raw_reason_counters();
        for (uint32_t r = 0; r < XDPFW_REASON_COUNT; r++) {
            // A packet a rule decided leaves every reason counter alone;
            // any other adds one to its reason's.
            const uint64_t add = r == reason && reason >= XDPFW_REASON_FIRST_COUNTED;
            EXPECT_EQ(raw_now[r].packets, raw_prev[r].packets + add)
                << reason_name(r) << " after a packet of " << reason_name(reason);
        }
        raw_prev = raw_now;
    }
    EXPECT_EQ(expect[XDPFW_REASON_RULE_DROP].packets, 20u);
    EXPECT_EQ(expect[XDPFW_REASON_XSK_NO_SOCKET].packets, 40u);
    const ReasonCounters derived = h->maps().reason_counters();
    const ReasonCounters raw = h->maps().raw_reason_counters();
    for (uint32_t r = 0; r < XDPFW_REASON_COUNT; r++) {
        EXPECT_EQ(derived[r].packets - derived0[r].packets, expect[r].packets) << reason_name(r);
        EXPECT_EQ(derived[r].bytes - derived0[r].bytes, expect[r].bytes) << reason_name(r);
        if (r < XDPFW_REASON_FIRST_COUNTED) {
            EXPECT_EQ(raw[r].packets, 0u) << reason_name(r);
        }
    }
}

TEST_F(Classifier, CommitSwitchesGenerationAndVersion)
{
    h->commit(make_policy({"dport=9 action=drop"}));
    uint32_t gen = h->maps().active_gen();
    uint64_t version = h->maps().live_version();
    EXPECT_EQ(run(frame("10.0.0.1", "10.0.0.2", 17, 1, 9)).xdp_action, uint32_t(XDP_DROP));
    h->commit(make_policy({"dport=9 action=pass"}));
    EXPECT_EQ(h->maps().active_gen(), gen ^ 1);
    EXPECT_EQ(h->maps().live_version(), version + 1);
    EXPECT_EQ(run(frame("10.0.0.1", "10.0.0.2", 17, 1, 9)).xdp_action, uint32_t(XDP_PASS));
}

TEST_F(Classifier, FailedCommitLeavesLivePolicy)
{
    h->commit(make_policy({"dport=9 action=drop"}));
    uint64_t version = h->maps().live_version();
    // Over capacity: more rules than the program was loaded for.
    Policy big;
    for (uint32_t i = 1; i <= 8193; i++) {
        Rule r;
        r.id = i;
        r.match.dport = PortRange{uint16_t(i), uint16_t(i)};
        big.rules.push_back(r);
    }
    EXPECT_THROW(h->commit(big), PolicyError);
    EXPECT_EQ(h->maps().live_version(), version);
    EXPECT_EQ(run(frame("10.0.0.1", "10.0.0.2", 17, 1, 9)).xdp_action, uint32_t(XDP_DROP));
    // Unknown redirect interface.
    EXPECT_THROW(h->commit(make_policy({"dport=9 action=redirect:nosuch0"})), PolicyError);
    EXPECT_EQ(h->maps().live_version(), version);
    EXPECT_EQ(run(frame("10.0.0.1", "10.0.0.2", 17, 1, 9)).xdp_action, uint32_t(XDP_DROP));
}

TEST_F(Classifier, ThousandsOfRulesAcrossSummaryWords)
{
    // 5000 rules: bits in several words and in the second summary word.
    Policy p;
    for (uint32_t i = 1; i <= 5000; i++) {
        Rule r;
        r.id = i;
        r.priority = int32_t(i);
        r.match.proto = 17;
        r.match.dport = PortRange{uint16_t(i), uint16_t(i)};
        r.action.type = i % 2 ? ActionType::drop : ActionType::pass;
        p.rules.push_back(r);
    }
    h->commit(p);
    for (uint32_t port : {1u, 2u, 63u, 64u, 65u, 4095u, 4096u, 4097u, 4999u, 5000u}) {
        auto r = run(frame("10.0.0.1", "10.0.0.2", 17, 1, uint16_t(port)));
        EXPECT_EQ(r.verdict.rule_id, port) << port;
        EXPECT_EQ(r.xdp_action, port % 2 ? uint32_t(XDP_DROP) : uint32_t(XDP_PASS)) << port;
    }
    EXPECT_EQ(run(frame("10.0.0.1", "10.0.0.2", 17, 1, 5001)).verdict.rule_id, XDPFW_NO_RULE);
}

// The walk opens the word at the fields' largest first-word bound first
// (abi.h, xdpfw_ref). Where that word holds no rule every field admits, it
// goes on through the summary words past it, into the second summary word,
// counting count rules on the way; where one field's rules start late, the
// walk starts there.
TEST_F(Classifier, WalkStartsAtTheFieldsFirstWordThenFollowsSummaryWords)
{
    Policy p;
    auto add = [&](const std::string& text) {
        Rule r = parse_rule(text, "rule");
        r.id = uint32_t(p.rules.size() + 1);
        r.priority = int32_t(r.id);
        p.rules.push_back(std::move(r));
    };
    add("src=10.9.0.0/16 proto=tcp action=drop");         // id 1, word 0
    while (p.rules.size() < 4200)                          // udp, word 0 on: no src
        add(fmt::format("proto=udp dport={} action=pass", 20000 + p.rules.size()));
    add("src=10.9.0.0/16 proto=udp action=count");         // id 4201, word 65
    while (p.rules.size() < 4300)
        add(fmt::format("proto=udp dport={} action=pass", 20000 + p.rules.size()));
    add("src=10.9.0.0/16 proto=udp dport=53 action=drop"); // id 4301, word 67
    add("proto=udp dport=4444 action=drop");               // id 4302: dport 4444 starts here
    add("proto=udp dport=4444 src=10.9.0.0/16 action=pass"); // id 4303, shadowed
    validate_policy(p);
    h->commit(p);
    auto packets = [&](uint32_t id) { return h->maps().rule_counter(id).packets; };
    const uint64_t counted = packets(4201);

    // src and dport=53 admit word 0 (rule 1), proto=udp too, but not together:
    // the summary words lead on to words 65 (count) and 67 (the winner).
    auto r = run(frame("10.9.1.1", "10.0.0.2", 17, 5000, 53));
    EXPECT_EQ(r.verdict.rule_id, 4301u);
    EXPECT_EQ(r.xdp_action, uint32_t(XDP_DROP));
    EXPECT_EQ(packets(4201), counted + 1);
    // No terminal rule after the count rule: counted, then the default.
    r = run(frame("10.9.1.1", "10.0.0.2", 17, 5000, 54));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS));
    EXPECT_EQ(packets(4201), counted + 2);
    // dport=4444's first rule is in word 67: the walk starts there.
    r = run(frame("10.8.1.1", "10.0.0.2", 17, 5000, 4444));
    EXPECT_EQ(r.verdict.rule_id, 4302u);
    r = run(frame("10.9.1.1", "10.0.0.2", 17, 5000, 4444));
    EXPECT_EQ(r.verdict.rule_id, 4302u); // after the count rule, before 4303
    EXPECT_EQ(packets(4201), counted + 3);
    // TCP from the prefix: rule 1, in the word the bounds name.
    EXPECT_EQ(run(frame("10.9.1.1", "10.0.0.2", 6, 5000, 53)).verdict.rule_id, 1u);
    // A filler's port: word 0 on for proto and dport, the rule is in word 32.
    EXPECT_EQ(run(frame("10.8.1.1", "10.0.0.2", 17, 5000, 22048)).verdict.rule_id, 2049u);
}

// A field whose value every rule admits (a UDP-only policy's proto for a UDP
// packet) is left out of the AND; for any other value it still decides.
TEST_F(Classifier, FieldAdmittingEveryRuleIsLeftOutOfTheAnd)
{
    Policy p;
    for (uint32_t i = 1; i <= 150; i++) {
        const std::string src = i == 100 ? "src=10.9.0.0/16 " : "";
        Rule r = parse_rule(i == 150 ? "proto=udp action=count"
                                     : fmt::format("{}proto=udp dport={} action=drop", src,
                                                   20000 + i),
                            "rule");
        r.id = i;
        r.priority = int32_t(i);
        p.rules.push_back(std::move(r));
    }
    validate_policy(p);
    h->commit(p);
    auto packets = [&](uint32_t id) { return h->maps().rule_counter(id).packets; };

    // proto admits all 150 rules: dport alone picks rule 70, in word 1.
    EXPECT_EQ(run(frame("10.8.1.1", "10.0.0.2", 17, 5000, 20070)).verdict.rule_id, 70u);
    // From 10.9/16 src admits every rule (left out too); elsewhere all but 100.
    EXPECT_EQ(run(frame("10.9.1.1", "10.0.0.2", 17, 5000, 20100)).verdict.rule_id, 100u);
    auto r = run(frame("10.8.1.1", "10.0.0.2", 17, 5000, 20100));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS));
    // Only the count rule (every field admits it): counted, then the default.
    EXPECT_EQ(packets(150), 1u);
    // TCP: proto admits no rule; the same ports match nothing.
    r = run(frame("10.9.1.1", "10.0.0.2", 6, 5000, 20100));
    EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS));
    EXPECT_EQ(packets(150), 1u);
    EXPECT_EQ(packets(100), 1u);
}

} // namespace
} // namespace xdpfw::test
