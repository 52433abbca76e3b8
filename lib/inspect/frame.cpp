// SPDX-License-Identifier: GPL-2.0-only
// The C++ twin of bpf/lib/{eth,ipv4,ipv6,l4}.h for the AF_XDP workers.
#include "lib/inspect/frame.hpp"

#include <xdpfw/abi.h>

namespace xdpfw::inspect {

namespace {

constexpr uint16_t eth_p_ip = 0x0800;
constexpr uint16_t eth_p_ipv6 = 0x86dd;
constexpr uint16_t eth_p_8021q = 0x8100;
constexpr uint16_t eth_p_8021ad = 0x88a8;
constexpr size_t eth_hlen = 14;
constexpr size_t vlan_hlen = 4;
constexpr size_t max_vlan_tags = 2;
constexpr size_t ipv6_hlen = 40;
constexpr size_t tcp_hlen = 20;
constexpr size_t udp_hlen = 8;

constexpr uint8_t ip6_hopopts = 0;
constexpr uint8_t ip6_routing = 43;
constexpr uint8_t ip6_fragment = 44;
constexpr uint8_t ip6_ah = 51;
constexpr uint8_t ip6_dstopts = 60;

uint16_t be16(const uint8_t* p)
{
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

bool is_vlan(uint16_t type)
{
    return type == eth_p_8021q || type == eth_p_8021ad;
}

bool is_ext(uint8_t nh)
{
    return nh == ip6_hopopts || nh == ip6_routing || nh == ip6_fragment || nh == ip6_ah ||
           nh == ip6_dstopts;
}

// The L4 header of proto at l4 (rem bytes left in the IP packet).
FrameError parse_l4(const uint8_t* l4, size_t rem, L4View& out)
{
    if (out.proto == 6) {
        if (rem < tcp_hlen)
            return FrameError::l4;
        size_t doff = static_cast<size_t>(l4[12] >> 4) * 4;
        if (doff < tcp_hlen || doff > rem)
            return FrameError::l4;
        out.sport = be16(l4);
        out.dport = be16(l4 + 2);
        out.payload = {l4 + doff, rem - doff};
        out.has_l4 = true;
    } else if (out.proto == 17) {
        if (rem < udp_hlen)
            return FrameError::l4;
        out.sport = be16(l4);
        out.dport = be16(l4 + 2);
        out.payload = {l4 + udp_hlen, rem - udp_hlen};
        out.has_l4 = true;
    }
    // ICMP's header is checked by the BPF parser too, but it has no payload
    // inspection rules look at; other protocols are not parsed.
    return FrameError::none;
}

} // namespace

const char* frame_error_name(FrameError e)
{
    switch (e) {
    case FrameError::none: return "none";
    case FrameError::l2: return "l2";
    case FrameError::ipv4: return "ipv4";
    case FrameError::ipv6: return "ipv6";
    case FrameError::exthdr: return "exthdr";
    case FrameError::l4: return "l4";
    case FrameError::count: break;
    }
    return "unknown";
}

FrameError parse_frame(std::span<const uint8_t> frame, L4View& out)
{
    out = L4View{};
    const uint8_t* p = frame.data();
    const size_t n = frame.size();
    if (n < eth_hlen)
        return FrameError::l2;
    uint16_t type = be16(p + 12);
    size_t pos = eth_hlen;
    for (size_t i = 0; i < max_vlan_tags && is_vlan(type); ++i) {
        if (n - pos < vlan_hlen)
            return FrameError::l2;
        if (i == 0)
            out.vlan = be16(p + pos) & 0x0fff;
        type = be16(p + pos + 2);
        pos += vlan_hlen;
    }
    if (is_vlan(type))
        return FrameError::l2;

    if (type == eth_p_ip) {
        const uint8_t* ip = p + pos;
        if (n - pos < 20)
            return FrameError::ipv4;
        if ((ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5)
            return FrameError::ipv4;
        size_t hlen = static_cast<size_t>(ip[0] & 0x0f) * 4;
        size_t tot_len = be16(ip + 2);
        if (hlen > tot_len || tot_len > n - pos)
            return FrameError::ipv4;
        out.family = 4;
        out.proto = ip[9];
        if (be16(ip + 6) & 0x1fff)
            return FrameError::none; // non-first fragment: no L4 header
        return parse_l4(ip + hlen, tot_len - hlen, out);
    }
    if (type == eth_p_ipv6) {
        const uint8_t* ip6 = p + pos;
        if (n - pos < ipv6_hlen)
            return FrameError::ipv6;
        if ((ip6[0] >> 4) != 6)
            return FrameError::ipv6;
        size_t plen = be16(ip6 + 4);
        if (plen > n - pos - ipv6_hlen)
            return FrameError::ipv6;
        out.family = 6;
        uint8_t nh = ip6[6];
        const uint8_t* cur = ip6 + ipv6_hlen;
        size_t rem = plen;
        for (unsigned i = 0; i < XDPFW_MAX_EXT_HDRS && is_ext(nh); ++i) {
            // The BPF side checks the 8 bytes against the frame end, the
            // length against the IP payload length.
            if (static_cast<size_t>(p + n - cur) < 8)
                return FrameError::exthdr;
            if (nh == ip6_fragment && (be16(cur + 2) & 0xfff8)) {
                out.proto = cur[0];
                return FrameError::none; // non-first fragment
            }
            size_t len = nh == ip6_fragment ? 8
                         : nh == ip6_ah     ? (static_cast<size_t>(cur[1]) + 2) * 4
                                            : (static_cast<size_t>(cur[1]) + 1) * 8;
            if (len > rem)
                return FrameError::exthdr;
            nh = cur[0];
            cur += len;
            rem -= len;
        }
        if (is_ext(nh))
            return FrameError::exthdr;
        out.proto = nh;
        return parse_l4(cur, rem, out);
    }
    return FrameError::none; // not IP
}

} // namespace xdpfw::inspect
