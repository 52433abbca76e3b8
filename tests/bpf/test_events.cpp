// SPDX-License-Identifier: GPL-2.0-only
// Events through the ring buffer (bpf/lib/events.h): sample=N rules, the
// default and malformed sampling of xdpfw_ctrl, the snap length, drops when
// the ring is full, and the specialised tier, through BPF_PROG_RUN.
#include "lib/kernel/event_ring.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/packet_builder.hpp"
#include "testing/policy_text.hpp"
#include "testing/private_netns.hpp"

#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstring>
#include <vector>

namespace xdpfw::test {
namespace {

struct Collected {
    std::vector<xdpfw_event> events;
};

std::vector<uint8_t> udp_frame(uint16_t dport)
{
    return build_frame(frame("198.51.100.7", "203.0.113.9", 17, 4242, dport));
}

// Runs frame n times, returns the events the ring holds afterwards.
std::vector<xdpfw_event> run_and_collect(BpfHarness& h, const std::vector<uint8_t>& f, int n)
{
    std::vector<xdpfw_event> got;
    EventRing ring(h.object(), [&](const xdpfw_event& e) { got.push_back(e); });
    for (int i = 0; i < n; i++)
        h.run(f);
    ring.drain();
    return got;
}

TEST(Events, SampleOneGivesEveryPacketWithItsRule)
{
    enter_private_netns();
    BpfHarness h;
    h.commit(make_policy({"proto=udp dport=9999 action=drop sample=1", "action=pass"}));
    const auto f = udp_frame(9999);
    const auto got = run_and_collect(h, f, 10000);
    const auto st = h.maps().event_counters();
    // The ring holds ~14,000 events: all 10,000 fit, none is lost; were any
    // lost, events and losses would still add up to 10,000.
    EXPECT_EQ(got.size() + st[XDPFW_EVSTAT_LOST].packets, 10000u);
    EXPECT_EQ(st[XDPFW_EVSTAT_SENT].packets, got.size());
    EXPECT_EQ(st[XDPFW_EVSTAT_LOST].packets, 0u);
    ASSERT_FALSE(got.empty());
    for (const xdpfw_event& e : got) {
        ASSERT_EQ(e.rule_id, 1u);
        ASSERT_EQ(e.reason, XDPFW_REASON_RULE_DROP);
        ASSERT_EQ(e.verdict, XDP_DROP);
        ASSERT_EQ(e.pkt_len, f.size());
    }
    // The rule that passes has no sample=: its packets make no event.
    const auto other = run_and_collect(h, udp_frame(80), 50);
    EXPECT_TRUE(other.empty());
}

TEST(Events, EventCarriesTheFrameUpToTheSnapLength)
{
    enter_private_netns();
    BpfHarness h;
    h.maps().set_event_sampling({}); // the daemon's defaults (xdpfwd always writes them)
    h.commit(make_policy({"proto=udp action=pass sample=1"}));
    FrameSpec s = frame("198.51.100.7", "203.0.113.9", 17, 4242, 53);
    s.payload_len = 400;
    const auto big = build_frame(s);
    auto got = run_and_collect(h, big, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].cap_len, XDPFW_EVENT_SNAP_DEFAULT);
    EXPECT_EQ(got[0].pkt_len, big.size());
    EXPECT_EQ(std::memcmp(got[0].data, big.data(), XDPFW_EVENT_SNAP_DEFAULT), 0);
    EXPECT_EQ(got[0].rule_id, 1u);

    h.maps().set_event_sampling({.snaplen = 20});
    got = run_and_collect(h, big, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].cap_len, 20u);
    EXPECT_EQ(std::memcmp(got[0].data, big.data(), 20), 0);

    // A frame shorter than the snap length comes whole.
    h.maps().set_event_sampling({.snaplen = XDPFW_EVENT_SNAP_MAX});
    const auto small = udp_frame(53);
    got = run_and_collect(h, small, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].cap_len, small.size());
    EXPECT_EQ(std::memcmp(got[0].data, small.data(), small.size()), 0);
}

// 1 in 100 by the per-CPU packet counter: each CPU c that ran p_c of the
// packets makes floor(p_c / 100) events, so 10,000 packets give between
// 100 - CPUs and 100 (exactly 100 when the test stays on one CPU). Not a
// statistical bound: the counter is deterministic, only the CPU split is not.
TEST(Events, SampleHundredGivesOneInHundred)
{
    enter_private_netns();
    BpfHarness h;
    h.commit(make_policy({"proto=udp action=drop sample=100"}));
    const auto got = run_and_collect(h, udp_frame(9), 10000);
    const int cpus = libbpf_num_possible_cpus();
    EXPECT_LE(got.size(), 100u);
    EXPECT_GE(int(got.size()), 100 - cpus);
    for (const xdpfw_event& e : got)
        EXPECT_EQ(e.rule_id, 1u);
}

TEST(Events, FullRingDropsEventsNotPacketsAndCountsThem)
{
    enter_private_netns();
    BpfHarness h;
    h.commit(make_policy({"proto=udp action=pass sample=1"}));
    const auto f = udp_frame(9);
    // Nobody drains while 20,000 events are offered: the ring fills.
    int passed = 0;
    for (int i = 0; i < 20000; i++)
        passed += h.run(f).xdp_action == XDP_PASS;
    EXPECT_EQ(passed, 20000); // every packet got its verdict
    size_t read = 0;
    EventRing ring(h.object(), [&](const xdpfw_event&) { ++read; });
    ring.drain();
    const auto st = h.maps().event_counters();
    EXPECT_GT(st[XDPFW_EVSTAT_LOST].packets, 0u);
    EXPECT_EQ(read + st[XDPFW_EVSTAT_LOST].packets, 20000u);
    EXPECT_EQ(st[XDPFW_EVSTAT_SENT].packets, read);
}

TEST(Events, DefaultAndMalformedSampledOnlyWhenAsked)
{
    enter_private_netns();
    BpfHarness h;
    h.commit(make_policy({"proto=tcp action=drop"}, ActionType::pass));
    const auto udp = udp_frame(53);
    std::vector<uint8_t> runt(udp.begin(), udp.begin() + 20); // truncated IPv4
    EXPECT_TRUE(run_and_collect(h, udp, 10).empty());
    EXPECT_TRUE(run_and_collect(h, runt, 10).empty());

    h.maps().set_event_sampling({.sample_default = 1});
    auto got = run_and_collect(h, udp, 10);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(got[0].rule_id, XDPFW_NO_RULE);
    EXPECT_EQ(got[0].reason, XDPFW_REASON_DEFAULT_PASS);
    EXPECT_EQ(got[0].verdict, XDP_PASS);
    EXPECT_TRUE(run_and_collect(h, runt, 10).empty());

    h.maps().set_event_sampling({.sample_malformed = 2});
    EXPECT_TRUE(run_and_collect(h, udp, 10).empty());
    got = run_and_collect(h, runt, 10);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0].reason, XDPFW_REASON_MALFORMED_IPV4);
    EXPECT_EQ(got[0].cap_len, runt.size());
    // A commit keeps the settings.
    h.commit(make_policy({"proto=tcp action=drop"}, ActionType::drop));
    EXPECT_EQ(run_and_collect(h, runt, 10).size(), 5u);
}

TEST(Events, SpecialisedTierSamplesToo)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::specialised);
    h.commit(make_policy({"proto=udp dport=9999 action=drop sample=1", "action=pass"}));
    ASSERT_TRUE(h.spec_live()) << h.spec_why_not();
    const auto got = run_and_collect(h, udp_frame(9999), 500);
    ASSERT_EQ(got.size(), 500u);
    for (const xdpfw_event& e : got)
        ASSERT_EQ(e.rule_id, 1u);
    EXPECT_TRUE(run_and_collect(h, udp_frame(80), 20).empty());
}

// The generated program leaves sampled default verdicts to its fallback
// (the compiled program): the samples come, and each verdict is counted once.
TEST(Events, GeneratedTierSamplesDefaultsThroughItsFallback)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::generated);
    h.commit(make_policy({"proto=udp dport=9999 action=drop"}, ActionType::pass));
    ASSERT_TRUE(h.spec_live() && h.spec_program()->generated()) << h.spec_program()->generated_why_not();
    auto defaults = [&] { return h.maps().reason_counters().at(XDPFW_REASON_DEFAULT_PASS).packets; };
    const uint64_t before = defaults();
    EXPECT_TRUE(run_and_collect(h, udp_frame(80), 10).empty());
    EXPECT_EQ(defaults(), before + 10);
    h.maps().set_event_sampling({.sample_default = 2});
    const auto got = run_and_collect(h, udp_frame(80), 10);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0].reason, XDPFW_REASON_DEFAULT_PASS);
    EXPECT_EQ(defaults(), before + 20);
    EXPECT_TRUE(run_and_collect(h, udp_frame(9999), 10).empty());
}

} // namespace
} // namespace xdpfw::test
