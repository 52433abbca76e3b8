// SPDX-License-Identifier: GPL-2.0-only
// The addresses, protocol and ports of a frame's first bytes, as an event
// carries them (bpf/lib/events.h: cut at the snap length). Unlike
// parse_frame() it checks no lengths against the IP header: a frame cut
// short still shows what it holds.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace xdpfw::inspect {

struct FiveTuple {
    uint8_t family = 0;            // 0 (not IP, or cut before the addresses), 4 or 6
    std::array<uint8_t, 16> src{}; // network order; IPv4 in the first 4 bytes
    std::array<uint8_t, 16> dst{};
    uint8_t proto = 0;             // IP protocol (IPv6: after extension headers)
    bool has_ports = false;        // TCP or UDP header present (first fragment)
    uint16_t sport = 0, dport = 0; // host order
    uint16_t ethertype = 0;        // after up to two VLAN tags
};

FiveTuple decode_five_tuple(std::span<const uint8_t> frame);
// "198.51.100.7", "2001:db8::1"; "" when family is 0.
std::string address_text(const FiveTuple& t, bool source);

} // namespace xdpfw::inspect
