// SPDX-License-Identifier: GPL-2.0-only
// derive_reason_totals(): the rule_* reasons from the live rules' counters.
#include "lib/kernel/reason_totals.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace xdpfw {
namespace {

xdpfw_rule rule(uint32_t slot, uint8_t action)
{
    xdpfw_rule r{};
    r.rule_id = slot;
    r.counter_slot = slot;
    r.action = action;
    return r;
}

TEST(ReasonTotals, RuleReasonsAreSumsOfLiveRulesByAction)
{
    const std::vector<xdpfw_rule> live = {
        rule(1, XDPFW_ACT_DROP), rule(2, XDPFW_ACT_PASS),  rule(3, XDPFW_ACT_DROP),
        rule(4, XDPFW_ACT_XSK),  rule(5, XDPFW_ACT_COUNT), rule(6, XDPFW_ACT_REDIRECT),
    };
    std::vector<xdpfw_counter> counters(8);
    for (uint32_t i = 0; i < counters.size(); i++)
        counters[i] = {10 * i, 1000 * i};
    ReasonCounters raw{};
    raw[XDPFW_REASON_DEFAULT_PASS] = {7, 700};
    raw[XDPFW_REASON_XSK_NO_SOCKET] = {15, 1500};
    raw[XDPFW_REASON_REDIRECT_FAILED] = {1, 100};
    raw[XDPFW_REASON_RULE_DROP] = {99, 99}; // never counted by the program: ignored

    const ReasonCounters out = derive_reason_totals(raw, live, counters);
    EXPECT_EQ(out[XDPFW_REASON_RULE_DROP].packets, 10u + 30u);
    EXPECT_EQ(out[XDPFW_REASON_RULE_DROP].bytes, 1000u + 3000u);
    EXPECT_EQ(out[XDPFW_REASON_RULE_PASS].packets, 20u);
    EXPECT_EQ(out[XDPFW_REASON_RULE_XSK].packets, 40u - 15u);
    EXPECT_EQ(out[XDPFW_REASON_RULE_XSK].bytes, 4000u - 1500u);
    EXPECT_EQ(out[XDPFW_REASON_RULE_REDIRECT].packets, 60u - 1u);
    // Rule 7 is not live (deleted): its packets are in no total.
    for (uint32_t r = XDPFW_REASON_FIRST_COUNTED; r < XDPFW_REASON_COUNT; r++) {
        EXPECT_EQ(out[r].packets, raw[r].packets);
        EXPECT_EQ(out[r].bytes, raw[r].bytes);
    }
}

TEST(ReasonTotals, FailuresOfDeletedRulesFloorAtZero)
{
    const std::vector<xdpfw_rule> live = {rule(0, XDPFW_ACT_XSK), rule(9, XDPFW_ACT_PASS)};
    const std::vector<xdpfw_counter> counters = {{3, 300}}; // slot 9 beyond the read
    ReasonCounters raw{};
    raw[XDPFW_REASON_XSK_NO_SOCKET] = {5, 500};
    raw[XDPFW_REASON_REDIRECT_FAILED] = {2, 200};
    const ReasonCounters out = derive_reason_totals(raw, live, counters);
    EXPECT_EQ(out[XDPFW_REASON_RULE_XSK].packets, 0u);
    EXPECT_EQ(out[XDPFW_REASON_RULE_XSK].bytes, 0u);
    EXPECT_EQ(out[XDPFW_REASON_RULE_REDIRECT].packets, 0u);
    EXPECT_EQ(out[XDPFW_REASON_RULE_PASS].packets, 0u);
    EXPECT_EQ(out[XDPFW_REASON_XSK_NO_SOCKET].packets, 5u);
}

TEST(ReasonTotals, NoPolicyNoRuleReasons)
{
    ReasonCounters raw{};
    raw[XDPFW_REASON_NO_POLICY] = {4, 400};
    const ReasonCounters out = derive_reason_totals(raw, {}, {});
    EXPECT_EQ(out[XDPFW_REASON_NO_POLICY].packets, 4u);
    for (uint32_t r = 0; r < XDPFW_REASON_FIRST_COUNTED; r++)
        EXPECT_EQ(out[r].packets, 0u);
}

} // namespace
} // namespace xdpfw
