// SPDX-License-Identifier: GPL-2.0-only
// Builds policies and frames for tests from short texts.
#pragma once

#include "lib/model/policy.hpp"
#include "testing/packet_builder.hpp"

#include <map>
#include <string>
#include <vector>

namespace xdpfw::test {

// Rules in the key=value syntax, ids 1..N in order.
Policy make_policy(const std::vector<std::string>& rules,
                   ActionType default_action = ActionType::pass,
                   std::map<std::string, std::vector<std::string>> sets = {});

// An IPv4 or IPv6 frame (family from the addresses) with the given L4 protocol.
FrameSpec frame(const std::string& src, const std::string& dst, uint8_t proto = 17,
                uint16_t sport = 1024, uint16_t dport = 80);

} // namespace xdpfw::test

#include <random>

namespace xdpfw::test {

// A frame whose parsed fields are exactly pkt (ingress aside), dressed at
// random with what the parser must see through: a second VLAN tag, IPv4
// options, IPv6 extension headers, first-fragment headers; pkt.has_l4 ==
// false for TCP/UDP/ICMP becomes a non-first fragment.
FrameSpec spec_from_fields(const PacketFields& pkt, std::mt19937_64& rng);

} // namespace xdpfw::test
