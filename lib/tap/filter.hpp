// SPDX-License-Identifier: GPL-2.0-only
// The tap's match words (`xdpfwctl tap ... src=198.51.100.0/24 dport=443`):
// rule words through the rule parser, refused where a tap cannot honour
// them, and turned into the struct xdpfw_tap_filter the socket filter reads.
#pragma once

#include "lib/model/policy.hpp"

#include <xdpfw/abi.h>

#include <cstddef>
#include <string_view>

namespace xdpfw::tap {

// abi.h's layout as the BPF side compiles it.
static_assert(sizeof(xdpfw_tap_filter) == 96);
static_assert(offsetof(xdpfw_tap_filter, flags_mask) == 28);
static_assert(offsetof(xdpfw_tap_filter, src) == 32 && offsetof(xdpfw_tap_filter, dst_mask) == 80);

// The rule words a tap takes: a rule's match fields, except iif= (the tap
// captures on one interface, -i) and set references (sets live in the
// daemon). Parsed and checked as rule words are (lib/lang/rule_parser.hpp):
// every error is a PolicyError naming the word, e.g.
// "tap: action: not a match word: the tap only captures (...)". Empty text
// is the empty match (every frame).
Match parse_tap_match(std::string_view text);

// The socket filter's form of m (abi.h). Literal prefixes only: a set
// reference or iif= is a PolicyError naming the key.
xdpfw_tap_filter tap_filter(const Match& m);

// The words a tap accepts, in the order docs and errors list them.
std::string_view tap_words();

} // namespace xdpfw::tap
