// SPDX-License-Identifier: GPL-2.0-only
// The verdict reason totals operators see, from the program's reason counters
// (outcomes without a rule) and the live rules' counters (the rule_* reasons).
#pragma once

#include <xdpfw/abi.h>

#include <array>
#include <cstdint>
#include <span>

namespace xdpfw {

using ReasonCounters = std::array<xdpfw_counter, XDPFW_REASON_COUNT>;

// The program counts a packet a rule decides in that rule's counter only, so
// xdpfw_reason_stats (`raw`) holds the reasons from XDPFW_REASON_FIRST_COUNTED
// on. The rule_* totals are sums over the live rules' counters (index =
// counter slot) by action:
//   rule_drop = drop rules, rule_pass = pass rules,
//   rule_xsk = xsk rules - xsk_no_socket,
//   rule_redirect = redirect rules - redirect_failed
// (a failed xsk or redirect counted in its rule too), floored at 0 since the
// failure counters also hold packets of rules deleted since. Count rules
// decide nothing and are left out. Read `raw` before the rule counters: a
// packet reaches its rule counter first, so rule sums read later cover every
// failure already in `raw`.
ReasonCounters derive_reason_totals(const ReasonCounters& raw,
                                    std::span<const xdpfw_rule> live_rules,
                                    std::span<const xdpfw_counter> rule_counters);

} // namespace xdpfw
