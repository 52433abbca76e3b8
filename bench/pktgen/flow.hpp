// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-pktgen's flow: what the generated frames look like (MACs, VLAN,
// family, address and port ranges, protocol, size), the parsers for its
// command-line forms, the template frame and where the BPF rewriter finds
// each field in it.
#pragma once

#include "lib/model/policy.hpp"
#include "testing/packet_builder.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xdpfw::pktgen {

// An inclusive range of addresses of one family, rotated through packet by
// packet. count is at most 2^32 (the rewriter's index is 32 bits).
struct AddrRange {
    Family family = Family::ipv4;
    std::array<uint8_t, 16> first{}; // network order; IPv4 uses bytes 0..3
    uint64_t count = 1;
};

// An inclusive port range: first .. first + count - 1.
struct PortRange {
    uint16_t first = 0;
    uint32_t count = 1;
};

enum class L4 : uint8_t { udp, tcp, icmp };

struct Flow {
    std::array<uint8_t, 6> src_mac{};
    std::array<uint8_t, 6> dst_mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    Family family = Family::ipv4;
    AddrRange src, dst;
    PortRange sport{1024, 1}, dport{9, 1}; // 9 = discard
    L4 proto = L4::udp;
    uint8_t tcp_flags = 0x02; // SYN
    std::optional<uint16_t> vlan;
    size_t frame_size = 0; // 0: max(60, headers)
};

// Parsers for the command-line forms. Each throws std::invalid_argument with
// a message that starts with `what` (the option name) and the bad text.

// "A", "A-B" or "A/LEN" (the whole prefix), IPv4 or IPv6; B >= A; at most
// 2^32 addresses.
AddrRange parse_addr_range(const std::string& text, const std::string& what);
// --sources N: `count` addresses from range's first one (range may be a
// single address, or already hold exactly `count`). At most 2^32, and not
// past the family's last address.
AddrRange with_count(const AddrRange& range, uint64_t count, const std::string& what);
// "P" or "P-Q", 0..65535, Q >= P.
PortRange parse_port_range(const std::string& text, const std::string& what);
// "udp", "tcp", "icmp".
L4 parse_l4(const std::string& text, const std::string& what);
// Comma-separated names (FIN,SYN,RST,PSH,ACK,URG,ECE,CWR, any case), "none",
// or a number (0x12).
uint8_t parse_tcp_flags(const std::string& text, const std::string& what);
// aa:bb:cc:dd:ee:ff.
std::array<uint8_t, 6> parse_mac(const std::string& text, const std::string& what);

std::string format_addr(Family family, const std::array<uint8_t, 16>& addr);
std::string format_mac(const std::array<uint8_t, 6>& mac);
const char* l4_name(L4 proto);

// Bytes of all headers (Ethernet, VLAN tag, IP, L4): the smallest frame.
size_t header_len(const Flow& flow);
// The frame size used: flow.frame_size, or max(60, header_len) when 0.
size_t frame_size(const Flow& flow);

// Checks the flow is consistent (families agree, VLAN id, size within
// [header_len, max_size]); throws std::invalid_argument naming the option at
// fault. Whether ports or flags were given for a protocol without them is
// the command line's check: a Flow always holds some value.
void validate(const Flow& flow, size_t max_size);

// The first packet: every range at its first value, payload filling the
// frame to frame_size(flow), all checksums valid.
FrameSpec template_spec(const Flow& flow);
std::vector<uint8_t> template_frame(const Flow& flow);

// Where the rewriter finds each field in the template frame (byte offsets
// from the start of the frame; 0 = no such field) and which checksums cover
// what. Mirrors the rodata of bench/bpf/pktgen_xdp.bpf.c.
struct RewriteLayout {
    uint32_t addr_words = 2; // 16-bit words per address
    uint32_t src_off = 0, dst_off = 0;
    uint32_t ip_csum_off = 0;
    uint32_t l4_csum_off = 0;
    bool l4_pseudo = false; // the L4 checksum covers the addresses
    bool l4_udp = false;    // zero checksum is sent as 0xffff
    uint32_t sport_off = 0, dport_off = 0;
};
RewriteLayout rewrite_layout(const Flow& flow);

// The range's first address as four host-order 32-bit words, most
// significant first (IPv4 in word 3), as the rewriter adds to it.
std::array<uint32_t, 4> first_words(const AddrRange& range);

} // namespace xdpfw::pktgen
