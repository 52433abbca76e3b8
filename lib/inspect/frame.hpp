// SPDX-License-Identifier: GPL-2.0-only
// Finds the L4 payload of an Ethernet frame as received from AF_XDP. Mirrors
// the XDP parser (bpf/lib/parse.h): up to two VLAN tags, IPv4 with options,
// IPv6 with at most XDPFW_MAX_EXT_HDRS extension headers, TCP and UDP, and
// the same malformed layers, so a frame the kernel side accepted parses here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace xdpfw::inspect {

// Why a frame could not be taken apart; the layers match the BPF parser's
// XDPFW_REASON_MALFORMED_* reasons.
enum class FrameError : uint8_t {
    none = 0,
    l2,     // truncated Ethernet or VLAN header, more than two tags
    ipv4,   // truncated, IHL < 5, bad version, total length past the frame
    ipv6,   // truncated, bad version, payload length past the frame
    exthdr, // truncated IPv6 extension header or more than XDPFW_MAX_EXT_HDRS
    l4,     // truncated TCP/UDP header (or TCP data offset) in a first fragment
    count
};

const char* frame_error_name(FrameError e); // "none", "l2", "ipv4", ...

struct L4View {
    uint8_t family = 0;          // 0 (not IP), 4 or 6
    uint8_t proto = 0;           // IP protocol (IPv6: after extension headers)
    uint16_t vlan = 0xffff;      // outer VLAN id, 0xffff if untagged
    bool has_l4 = false;         // a TCP or UDP header was parsed (never for non-first fragments)
    uint16_t sport = 0;          // host order, valid if has_l4
    uint16_t dport = 0;
    std::span<const uint8_t> payload; // L4 payload, bounded by the IP length (not the frame,
                                      // whose tail may be link padding); empty without has_l4
};

// Fills out and returns FrameError::none, or returns the first broken layer.
// Non-IP frames, other protocols and non-first fragments are not errors:
// they come back with has_l4 false. Never reads outside frame.
FrameError parse_frame(std::span<const uint8_t> frame, L4View& out);

} // namespace xdpfw::inspect
