// SPDX-License-Identifier: GPL-2.0-only
// The reference connection tracker: which ct state a packet has given the
// flow table, and what the table holds after the packet is let through.
// The data path (bpf/lib/ct.h) is tested against it; docs/RULES.md (ct=)
// and docs/ARCHITECTURE.md ("Connection tracking") describe the states.
#pragma once

#include "lib/reference/reference.hpp"

#include <xdpfw/abi.h>

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>

namespace xdpfw {

// A flow's identity with its two sides sorted (abi.h xdpfw_ct_key): both
// directions of a flow have one key.
struct CtKey {
    Family family = Family::ipv4;
    uint8_t proto = 0;
    uint16_t port_a = 0, port_b = 0;
    std::array<uint8_t, 16> addr_a{}, addr_b{};
    auto operator<=>(const CtKey&) const = default;
    bool operator==(const CtKey&) const = default;
};

struct CtEntry {
    uint8_t state = 0;       // enum xdpfw_ct_flow
    uint8_t orig = 0;        // side (0: a, 1: b) that opened the flow
    uint64_t expires_ns = 0; // gone at or after this time
    bool operator==(const CtEntry&) const = default;
};

using CtTable = std::map<CtKey, CtEntry>;

// What the tracker reads of a packet besides the parsed fields.
struct CtPacket {
    PacketFields fields;
    // ICMP/ICMPv6: bytes 4-7 of the header are there (echo identifier);
    // without them no ICMP packet is tracked (invalid).
    bool icmp_rest = false;
    uint16_t echo_id = 0;
    // An ICMP error: the flow of the packet it quotes, as that packet's
    // (source, destination); nullopt when the quote cannot be read.
    struct Quoted {
        uint8_t proto = 0;
        std::array<uint8_t, 16> src{}, dst{};
        uint16_t sport = 0, dport = 0; // echo: the identifier, both
    };
    std::optional<Quoted> quoted;
};

// The normalised key of a tuple and the side its source is on.
std::pair<CtKey, uint8_t> ct_key(Family family, uint8_t proto, const std::array<uint8_t, 16>& src,
                                 uint16_t sport, const std::array<uint8_t, 16>& dst,
                                 uint16_t dport);

// One packet's step: its state, and the entry to write if it is let through.
struct CtStep {
    CtState state = CtState::invalid;
    bool none = false; // not IP: no ct= rule matches
    std::optional<std::pair<CtKey, CtEntry>> write; // expires_ns = now + timeout
};

CtStep ct_step(const CtTable& table, const CtPacket& pkt, uint64_t now_ns);

// Applies a step to the table (the packet was let through).
void ct_apply(CtTable& table, const CtStep& step);

} // namespace xdpfw
