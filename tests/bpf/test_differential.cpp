// SPDX-License-Identifier: GPL-2.0-only
// Differential test: on random policies and packets, the XDP program's
// verdict, winning rule and rule counters equal the reference classifier's.
#include "lib/reference/reference.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/policy_text.hpp"
#include "testing/private_netns.hpp"
#include "testing/random_policy.hpp"

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <map>

namespace xdpfw::test {
namespace {

uint32_t expected_xdp_action(const Verdict& v, const Policy& p)
{
    switch (v.action) {
    case ActionType::drop: return XDP_DROP;
    case ActionType::pass: return XDP_PASS;
    case ActionType::redirect: return XDP_REDIRECT;
    case ActionType::xsk: { // no socket is bound: the rule's fallback
        const Rule& r = p.evaluation_order()[size_t(v.rule_index)];
        return r.action.xsk_fallback == ActionType::drop ? XDP_DROP : XDP_PASS;
    }
    case ActionType::count:
    case ActionType::syncookie: break; // random policies have none
    }
    return ~0u;
}

// Runs `packets` generated frames through the program and checks verdict,
// winning rule and rule counters against the reference. Counts hits.
void check_packets(BpfHarness& h, const Policy& policy, std::mt19937_64& rng, int packets,
                   const std::string& context, size_t& rule_hits, size_t& default_hits,
                   LimitState* limits = nullptr)
{
    auto resolve = h.compile_options().resolve;
    std::map<uint32_t, uint64_t> expect_counts, base;
    for (const Rule& r : policy.rules)
        base[r.id] = h.maps().rule_counter(r.id).packets;
    PacketGenerator gen(policy);
    for (int k = 0; k < packets; k++) {
        PacketFields pkt = gen.next(rng);
        pkt.ifindex = 1; // BPF_PROG_RUN's ingress is lo ("test0")
        // An IPv6 next header that names an extension header is walked,
        // never final: such a "protocol" has no frame of its own.
        if (pkt.family == Family::ipv6 &&
            (pkt.proto == 0 || pkt.proto == 43 || pkt.proto == 44 || pkt.proto == 51 ||
             pkt.proto == 60))
            pkt.proto = 59;
        FrameSpec spec = spec_from_fields(pkt, rng);
        const std::vector<uint8_t> frame = build_frame(spec);
        // Limits that do not depend on the clock (limit_chance): time 0.
        LimitState unused;
        LimitClock clock{limits ? *limits : unused, 0, static_cast<uint32_t>(frame.size())};
        Verdict want = classify(policy, pkt, resolve, limits ? &clock : nullptr);
        RunResult got = h.run(frame);
        const uint32_t want_index = want.rule_index < 0 ? XDPFW_NO_RULE : uint32_t(want.rule_index);
        ASSERT_EQ(got.verdict.rule_index, want_index)
            << context << " packet " << k << ": " << describe(pkt) << "\nwant " << describe(want)
            << "\n" << describe(policy);
        ASSERT_EQ(got.xdp_action, expected_xdp_action(want, policy))
            << context << ": " << describe(pkt) << "\n" << describe(policy);
        if (want.rule_index < 0) {
            // Which default decided: default for IP, default_non_ip for the rest.
            const bool ip = pkt.family != Family::other, drop = want.action == ActionType::drop;
            const uint32_t reason = ip ? (drop ? XDPFW_REASON_DEFAULT_DROP : XDPFW_REASON_DEFAULT_PASS)
                                       : (drop ? XDPFW_REASON_DEFAULT_NON_IP_DROP
                                               : XDPFW_REASON_DEFAULT_NON_IP_PASS);
            ASSERT_EQ(got.verdict.reason, reason)
                << context << ": " << describe(pkt) << "\n" << describe(policy);
        }
        for (uint32_t id : want.counted)
            expect_counts[id]++;
        if (want.rule_index >= 0) {
            expect_counts[want.rule_id]++;
            rule_hits++;
        } else {
            default_hits++;
        }
    }
    for (const Rule& r : policy.rules)
        ASSERT_EQ(h.maps().rule_counter(r.id).packets - base[r.id], expect_counts[r.id])
            << "rule " << r.id << " counter, " << context << "\n" << describe(policy);
}

TEST(Differential, BpfEqualsReferenceOnRandomPolicies)
{
    enter_private_netns();
    BpfHarness h;
    std::mt19937_64 rng(0x5eed'f00d);
    constexpr int kPolicies = 60, kPackets = 2000;
    size_t rule_hits = 0, default_hits = 0;
    for (int pi = 0; pi < kPolicies; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = pi % 10 == 9 ? 300 : 40; // some span several bitmap words
        Policy policy = random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);

        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, kPackets,
                                              "policy " + std::to_string(pi), rule_hits,
                                              default_hits));
    }
    // The generator must exercise rules, not only defaults.
    EXPECT_GT(rule_hits, size_t(kPolicies) * kPackets / 4);
    EXPECT_GT(default_hits, 0u);
}

// Rate limits whose outcome does not depend on the clock (rules that no
// packet exceeds, rules every packet after a bucket's first is over), per
// rule, source and destination: the bucket keys, the walk going on past a
// rule under its limit, and buckets kept across commits (by rule id, while
// the limit stays) equal the reference's.
TEST(Differential, RateLimitsEqualReference)
{
    enter_private_netns();
    BpfHarness h;
    std::mt19937_64 rng(0x5eed'11a1);
    LimitState limits; // one for the run: the program's buckets outlive commits
    size_t rule_hits = 0, default_hits = 0;
    for (int pi = 0; pi < 20; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = 30;
        opts.limit_chance = 0.4;
        Policy policy = random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);
        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, 500, "policy " + std::to_string(pi),
                                              rule_hits, default_hits, &limits));
    }
    EXPECT_GT(rule_hits, 0u);
    EXPECT_GT(limits.buckets(), 20u);
}

// Small edits one after another, as an operator makes them: each commit
// patches the compile cache's tables and writes only the pages that changed
// into the inactive generation (which holds the policy of two commits ago).
// Every step must classify like the reference.
TEST(Differential, BpfEqualsReferenceAcrossIncrementalCommits)
{
    enter_private_netns();
    BpfHarness h;
    std::mt19937_64 rng(0x5eed'f00e);
    size_t rule_hits = 0, default_hits = 0;
    for (int walk = 0; walk < 3; walk++) {
        RandomPolicyOptions opts;
        opts.max_rules = 30;
        opts.max_set_prefixes = 80;
        Policy policy = random_policy(rng, opts);
        std::string log;
        for (int step = 0; step < 40; step++) {
            log += random_edit(rng, policy, opts, h.compile_options().caps.max_rules) + "\n";
            ASSERT_NO_THROW(h.commit(policy)) << log;
            ASSERT_NO_FATAL_FAILURE(check_packets(
                h, policy, rng, 150, "walk " + std::to_string(walk) + " step " + std::to_string(step) + "\n" + log,
                rule_hits, default_hits));
        }
    }
    EXPECT_GT(rule_hits, 0u);
    EXPECT_GT(default_hits, 0u);
}

// The specialised tier (a program with the policy in .rodata) on small
// random policies: each one that has a spec runs on its own spec program.
TEST(Differential, SpecialisedTierEqualsReference)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::specialised);
    std::mt19937_64 rng(0x5eed'f00f);
    constexpr int kPolicies = 30, kPackets = 800;
    size_t rule_hits = 0, default_hits = 0;
    int specialised = 0;
    for (int pi = 0; pi < kPolicies; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = pi % 4 == 3 ? 64 : 12;
        Policy policy = random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);
        specialised += h.spec_live() ? 1 : 0;
        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, kPackets,
                                              "policy " + std::to_string(pi) +
                                                  (h.spec_live() ? " (specialised)" : " (general)"),
                                              rule_hits, default_hits));
    }
    // Most small policies fit the tier; the test must exercise it.
    EXPECT_GE(specialised, kPolicies / 2);
    EXPECT_GT(rule_hits, size_t(kPolicies) * kPackets / 4);
    EXPECT_GT(default_hits, 0u);
}

// A specialised program whose policy is no longer live (a commit landed
// before the daemon swapped in the next program) must classify by the live
// policy: it takes the general path. Also each step of an edit walk (set
// edits keep the spec where the addresses are read live, and make a new one
// where its IPv4 ranges change).
TEST(Differential, StaleSpecialisedProgramFollowsTheLivePolicy)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::specialised);
    std::mt19937_64 rng(0x5eed'f010);
    size_t rule_hits = 0, default_hits = 0;
    int stale = 0;
    for (int pi = 0; pi < 14; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = 10;
        h.freeze_tier(false);
        ASSERT_NO_THROW(h.commit(random_policy(rng, opts)));
        h.freeze_tier(true);
        Policy next = random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(next)) << describe(next);
        stale += h.spec_program() && !h.spec_live() ? 1 : 0;
        ASSERT_NO_FATAL_FAILURE(check_packets(h, next, rng, 600, "stale " + std::to_string(pi),
                                              rule_hits, default_hits));
    }
    EXPECT_GE(stale, 7);
    h.freeze_tier(false);
    int live_steps = 0;
    RandomPolicyOptions opts;
    opts.max_rules = 10;
    opts.max_set_prefixes = 80;
    Policy policy = random_policy(rng, opts);
    std::string log;
    for (int step = 0; step < 40; step++) {
        log += random_edit(rng, policy, opts, h.compile_options().caps.max_rules) + "\n";
        ASSERT_NO_THROW(h.commit(policy)) << log;
        live_steps += h.spec_live() ? 1 : 0;
        if (!h.spec_live())
            log += "  (general: " + h.spec_why_not() + ")\n";
        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, 150, "step " + std::to_string(step) + "\n" + log,
                                              rule_hits, default_hits));
    }
    EXPECT_GE(live_steps, 10) << log;
    EXPECT_GT(rule_hits, 0u);
}

} // namespace
} // namespace xdpfw::test
