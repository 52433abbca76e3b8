// SPDX-License-Identifier: GPL-2.0-only
// Crafts Ethernet frames (VLAN tags, IPv4 options, IPv6 extension headers,
// fragments, TCP/UDP/ICMP/ICMPv6) with valid checksums. Used by the tests,
// the differential checker and xdpfw-pktgen.
#pragma once

#include "lib/reference/reference.hpp"

#include <cstdint>
#include <vector>

namespace xdpfw {

struct VlanTag {
    uint16_t tpid = 0x8100; // 0x8100 (802.1Q) or 0x88a8 (802.1ad)
    uint16_t vid = 0;
    uint8_t pcp = 0;
};

// IPv6 extension header types the parser walks.
enum class Ext6 : uint8_t { hop_by_hop = 0, routing = 43, fragment = 44, dest_opts = 60, auth = 51 };

struct FrameSpec {
    std::array<uint8_t, 6> dst_mac{0x02, 0, 0, 0, 0, 0x02};
    std::array<uint8_t, 6> src_mac{0x02, 0, 0, 0, 0, 0x01};
    std::vector<VlanTag> vlans;     // outermost first
    Family family = Family::ipv4;   // other: ethertype below, payload only
    uint16_t other_ethertype = 0x0806;
    std::array<uint8_t, 16> src{};  // network order
    std::array<uint8_t, 16> dst{};
    uint8_t proto = 17;
    uint8_t ttl = 64;
    std::vector<uint8_t> ipv4_options; // padded to 4 bytes by the builder
    std::vector<Ext6> ipv6_ext;        // in order; a fragment entry uses frag_* below
    bool fragment = false;             // IPv4: set offset/MF; IPv6: adds a fragment header if absent
    uint16_t frag_offset = 0;          // in 8-byte units
    bool more_fragments = false;
    uint16_t sport = 1024, dport = 80;
    uint8_t tcp_flags = 0x02;
    uint8_t icmp_type = 8, icmp_code = 0;
    size_t payload_len = 16;
    std::vector<uint8_t> payload;      // when set: these bytes (payload_len is ignored)
    size_t frame_len = 0;              // pad (with zeros) to at least this size
};

std::vector<uint8_t> build_frame(const FrameSpec& spec);

// The fields the XDP parser must extract from build_frame(spec) on ifindex.
PacketFields expected_fields(const FrameSpec& spec, uint32_t ifindex);

// Internet checksum (RFC 1071) over data, folded, not inverted.
uint16_t csum_fold(uint32_t sum);
uint32_t csum_partial(const uint8_t* data, size_t len, uint32_t sum);

} // namespace xdpfw
