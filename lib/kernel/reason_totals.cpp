// SPDX-License-Identifier: GPL-2.0-only
// Derives the rule_* verdict reasons from the live rules' counters.
#include "lib/kernel/reason_totals.hpp"

namespace xdpfw {

namespace {

// The reason a rule's packets count under when its action succeeds; ~0 for
// count rules. Mirrors xdpfw_act() (an unknown action drops).
uint32_t normal_reason(uint8_t action)
{
    switch (action) {
    case XDPFW_ACT_COUNT: return ~0u;
    case XDPFW_ACT_SYNCOOKIE: return ~0u; // answered, passed or dropped: the rule counter says
    case XDPFW_ACT_PASS: return XDPFW_REASON_RULE_PASS;
    case XDPFW_ACT_XSK: return XDPFW_REASON_RULE_XSK;
    case XDPFW_ACT_REDIRECT: return XDPFW_REASON_RULE_REDIRECT;
    default: return XDPFW_REASON_RULE_DROP;
    }
}

uint64_t floor_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

} // namespace

ReasonCounters derive_reason_totals(const ReasonCounters& raw,
                                    std::span<const xdpfw_rule> live_rules,
                                    std::span<const xdpfw_counter> rule_counters)
{
    ReasonCounters out = raw;
    for (uint32_t r = 0; r < XDPFW_REASON_FIRST_COUNTED; r++)
        out[r] = xdpfw_counter{};
    for (const xdpfw_rule& rule : live_rules) {
        const uint32_t r = normal_reason(rule.action);
        if (r == ~0u || rule.counter_slot >= rule_counters.size())
            continue;
        out[r].packets += rule_counters[rule.counter_slot].packets;
        out[r].bytes += rule_counters[rule.counter_slot].bytes;
    }
    auto less = [&](uint32_t rule_reason, uint32_t failure) {
        out[rule_reason].packets = floor_sub(out[rule_reason].packets, raw[failure].packets);
        out[rule_reason].bytes = floor_sub(out[rule_reason].bytes, raw[failure].bytes);
    };
    less(XDPFW_REASON_RULE_XSK, XDPFW_REASON_XSK_NO_SOCKET);
    less(XDPFW_REASON_RULE_REDIRECT, XDPFW_REASON_REDIRECT_FAILED);
    return out;
}

} // namespace xdpfw
