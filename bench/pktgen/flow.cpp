// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-pktgen flows: option parsers, validation, the template frame and the
// rewriter's field layout.
#include "bench/pktgen/flow.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace xdpfw::pktgen {

namespace {

constexpr size_t eth_len = 14;
constexpr size_t vlan_len = 4;
constexpr size_t ipv4_len = 20;
constexpr size_t ipv6_len = 40;
constexpr size_t udp_len = 8;
constexpr size_t tcp_len = 20;
constexpr size_t icmp_len = 8;
constexpr size_t min_ether_frame = 60; // without FCS
constexpr uint64_t max_range = uint64_t{1} << 32;

constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;
constexpr uint8_t proto_icmpv6 = 58;
constexpr uint8_t icmp_echo_request = 8;
constexpr uint8_t icmpv6_echo_request = 128;

using u128 = unsigned __int128;

std::invalid_argument bad(const std::string& what, const std::string& text, const std::string& why)
{
    return std::invalid_argument(what + " " + text + ": " + why);
}

std::string trim(const std::string& s)
{
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos)
        return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// One address of either family; the family is what the text is.
bool parse_addr(const std::string& text, Family& family, std::array<uint8_t, 16>& out)
{
    out.fill(0);
    if (inet_pton(AF_INET, text.c_str(), out.data()) == 1) {
        family = Family::ipv4;
        return true;
    }
    if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) {
        family = Family::ipv6;
        return true;
    }
    return false;
}

size_t addr_bytes(Family f)
{
    return f == Family::ipv4 ? 4 : 16;
}

u128 to_u128(const std::array<uint8_t, 16>& a, Family f)
{
    u128 v = 0;
    for (size_t i = 0; i < addr_bytes(f); ++i)
        v = v << 8 | a[i];
    return v;
}

std::array<uint8_t, 16> from_u128(u128 v, Family f)
{
    std::array<uint8_t, 16> a{};
    for (size_t i = addr_bytes(f); i-- > 0;) {
        a[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
    return a;
}

bool parse_uint(const std::string& text, uint64_t max, uint64_t& out, int base = 10)
{
    const char* b = text.data();
    const char* e = b + text.size();
    if (base == 16 && text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        b += 2;
    auto [p, ec] = std::from_chars(b, e, out, base);
    return ec == std::errc() && p == e && b != e && out <= max;
}

size_t l3_len(const Flow& f)
{
    return f.family == Family::ipv4 ? ipv4_len : ipv6_len;
}

size_t l4_len(const Flow& f)
{
    switch (f.proto) {
    case L4::udp:
        return udp_len;
    case L4::tcp:
        return tcp_len;
    case L4::icmp:
        return icmp_len;
    }
    return 0;
}

size_t l3_off(const Flow& f)
{
    return eth_len + (f.vlan ? vlan_len : 0);
}

uint8_t ip_proto(const Flow& f)
{
    switch (f.proto) {
    case L4::udp:
        return proto_udp;
    case L4::tcp:
        return proto_tcp;
    case L4::icmp:
        return f.family == Family::ipv4 ? proto_icmp : proto_icmpv6;
    }
    return 0;
}

} // namespace

AddrRange parse_addr_range(const std::string& raw, const std::string& what)
{
    const std::string text = trim(raw);
    AddrRange r;
    const auto dash = text.find('-');
    const auto slash = text.find('/');
    if (dash != std::string::npos && slash != std::string::npos)
        throw bad(what, raw, "use A-B or A/LEN, not both");
    const std::string first = trim(text.substr(0, std::min(dash, slash)));
    if (!parse_addr(first, r.family, r.first))
        throw bad(what, raw, "'" + first + "' is not an IPv4 or IPv6 address");
    const unsigned bits = r.family == Family::ipv4 ? 32 : 128;
    const u128 lo = to_u128(r.first, r.family);

    if (dash != std::string::npos) {
        const std::string second = trim(text.substr(dash + 1));
        Family f2{};
        std::array<uint8_t, 16> last{};
        if (!parse_addr(second, f2, last))
            throw bad(what, raw, "'" + second + "' is not an IPv4 or IPv6 address");
        if (f2 != r.family)
            throw bad(what, raw, "the two ends are of different address families");
        const u128 hi = to_u128(last, r.family);
        if (hi < lo)
            throw bad(what, raw, "the range ends before it starts");
        if (hi - lo >= max_range)
            throw bad(what, raw, "more than 2^32 addresses");
        r.count = static_cast<uint64_t>(hi - lo) + 1;
    } else if (slash != std::string::npos) {
        uint64_t len = 0;
        const std::string lens = trim(text.substr(slash + 1));
        if (!parse_uint(lens, bits, len))
            throw bad(what, raw, "prefix length '" + lens + "' is not 0.." + std::to_string(bits));
        const unsigned host_bits = bits - static_cast<unsigned>(len);
        if (host_bits > 32)
            throw bad(what, raw, "more than 2^32 addresses");
        const u128 mask = host_bits == 0 ? 0 : (u128{1} << host_bits) - 1;
        if (lo & mask)
            throw bad(what, raw, "host bits are set (did you mean " +
                                     format_addr(r.family, from_u128(lo & ~mask, r.family)) +
                                     "/" + lens + "?)");
        r.count = uint64_t{1} << host_bits;
    }
    return r;
}

AddrRange with_count(const AddrRange& range, uint64_t count, const std::string& what)
{
    const std::string n = std::to_string(count);
    if (count == 0 || count > max_range)
        throw bad(what, n, "between 1 and 2^32 addresses");
    if (range.count != 1 && range.count != count)
        throw bad(what, n,
                  "the range " + format_addr(range.family, range.first) + " (+" +
                      std::to_string(range.count - 1) +
                      " more) already has another size; give its first address only");
    const u128 last = range.family == Family::ipv4 ? u128{0xffffffff} : ~u128{0};
    const u128 lo = to_u128(range.first, range.family);
    if (last - lo < count - 1)
        throw bad(what, n,
                  "runs past the last address from " + format_addr(range.family, range.first));
    AddrRange r = range;
    r.count = count;
    return r;
}

PortRange parse_port_range(const std::string& raw, const std::string& what)
{
    const std::string text = trim(raw);
    const auto dash = text.find('-');
    uint64_t lo = 0, hi = 0;
    const std::string a = trim(text.substr(0, dash));
    if (!parse_uint(a, 65535, lo))
        throw bad(what, raw, "'" + a + "' is not a port (0..65535)");
    hi = lo;
    if (dash != std::string::npos) {
        const std::string b = trim(text.substr(dash + 1));
        if (!parse_uint(b, 65535, hi))
            throw bad(what, raw, "'" + b + "' is not a port (0..65535)");
        if (hi < lo)
            throw bad(what, raw, "the range ends before it starts");
    }
    return PortRange{static_cast<uint16_t>(lo), static_cast<uint32_t>(hi - lo + 1)};
}

L4 parse_l4(const std::string& raw, const std::string& what)
{
    std::string t = trim(raw);
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "udp")
        return L4::udp;
    if (t == "tcp")
        return L4::tcp;
    if (t == "icmp" || t == "icmpv6" || t == "icmp6")
        return L4::icmp;
    throw bad(what, raw, "not one of udp, tcp, icmp");
}

uint8_t parse_tcp_flags(const std::string& raw, const std::string& what)
{
    static constexpr std::pair<const char*, uint8_t> names[] = {
        {"fin", 0x01}, {"syn", 0x02}, {"rst", 0x04}, {"psh", 0x08},
        {"ack", 0x10}, {"urg", 0x20}, {"ece", 0x40}, {"cwr", 0x80},
    };
    std::string t = trim(raw);
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "none")
        return 0;
    uint64_t num = 0;
    if (!t.empty() && std::isdigit(static_cast<unsigned char>(t[0]))) {
        if (!parse_uint(t, 0xff, num, t.rfind("0x", 0) == 0 ? 16 : 10))
            throw bad(what, raw, "not a flag byte (0..255 or 0x00..0xff)");
        return static_cast<uint8_t>(num);
    }
    uint8_t flags = 0;
    size_t pos = 0;
    while (pos <= t.size()) {
        const auto comma = t.find(',', pos);
        const std::string word = trim(t.substr(pos, comma - pos));
        auto it = std::find_if(std::begin(names), std::end(names),
                               [&](const auto& n) { return word == n.first; });
        if (it == std::end(names))
            throw bad(what, raw,
                      "'" + word + "' is not a TCP flag (FIN,SYN,RST,PSH,ACK,URG,ECE,CWR or none)");
        flags |= it->second;
        if (comma == std::string::npos)
            break;
        pos = comma + 1;
    }
    return flags;
}

std::array<uint8_t, 6> parse_mac(const std::string& raw, const std::string& what)
{
    const std::string t = trim(raw);
    std::array<uint8_t, 6> mac{};
    size_t pos = 0;
    for (size_t i = 0; i < mac.size(); ++i) {
        uint64_t byte = 0;
        const size_t end = i + 1 < mac.size() ? t.find(':', pos) : t.size();
        if (end == std::string::npos || end - pos < 1 || end - pos > 2 ||
            !parse_uint(t.substr(pos, end - pos), 0xff, byte, 16))
            throw bad(what, raw, "not a MAC address (aa:bb:cc:dd:ee:ff)");
        mac[i] = static_cast<uint8_t>(byte);
        pos = end + 1;
    }
    return mac;
}

std::string format_addr(Family family, const std::array<uint8_t, 16>& addr)
{
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == Family::ipv4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof buf);
    return buf;
}

std::string format_mac(const std::array<uint8_t, 6>& mac)
{
    char buf[18];
    snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
             mac[4], mac[5]);
    return buf;
}

const char* l4_name(L4 proto)
{
    switch (proto) {
    case L4::udp:
        return "udp";
    case L4::tcp:
        return "tcp";
    case L4::icmp:
        return "icmp";
    }
    return "?";
}

size_t header_len(const Flow& flow)
{
    return l3_off(flow) + l3_len(flow) + l4_len(flow);
}

size_t frame_size(const Flow& flow)
{
    return flow.frame_size ? flow.frame_size : std::max(min_ether_frame, header_len(flow));
}

void validate(const Flow& flow, size_t max_size)
{
    if (flow.family != Family::ipv4 && flow.family != Family::ipv6)
        throw std::invalid_argument("--family: must be 4 or 6");
    const char* fam = flow.family == Family::ipv4 ? "IPv4" : "IPv6";
    if (flow.src.family != flow.family)
        throw std::invalid_argument(std::string("--src ") + format_addr(flow.src.family, flow.src.first) +
                                    ": not an " + fam + " address (the flow is " + fam + ")");
    if (flow.dst.family != flow.family)
        throw std::invalid_argument(std::string("--dst ") + format_addr(flow.dst.family, flow.dst.first) +
                                    ": not an " + fam + " address (the flow is " + fam + ")");
    for (const AddrRange* r : {&flow.src, &flow.dst})
        if (r->count == 0 || r->count > max_range)
            throw std::invalid_argument(std::string(r == &flow.src ? "--src" : "--dst") +
                                        ": between 1 and 2^32 addresses");
    if (flow.vlan && *flow.vlan > 4095)
        throw std::invalid_argument("--vlan " + std::to_string(*flow.vlan) + ": VLAN ids are 0..4095");
    const size_t size = frame_size(flow);
    if (size < header_len(flow))
        throw std::invalid_argument("--size " + std::to_string(size) + ": a " + l4_name(flow.proto) +
                                    "/" + fam + (flow.vlan ? " VLAN" : "") + " frame needs at least " +
                                    std::to_string(header_len(flow)) + " bytes");
    if (size > max_size)
        throw std::invalid_argument("--size " + std::to_string(size) + ": at most " +
                                    std::to_string(max_size) + " bytes fit (the interface MTU" +
                                    " plus the Ethernet and VLAN headers, and one page per frame)");
}

FrameSpec template_spec(const Flow& flow)
{
    FrameSpec s;
    s.dst_mac = flow.dst_mac;
    s.src_mac = flow.src_mac;
    if (flow.vlan)
        s.vlans.push_back(VlanTag{0x8100, *flow.vlan, 0});
    s.family = flow.family;
    s.src = flow.src.first;
    s.dst = flow.dst.first;
    s.proto = ip_proto(flow);
    s.sport = flow.sport.first;
    s.dport = flow.dport.first;
    s.tcp_flags = flow.tcp_flags;
    s.icmp_type = flow.family == Family::ipv4 ? icmp_echo_request : icmpv6_echo_request;
    s.icmp_code = 0;
    // The payload fills the frame, so the IP length covers it all (no
    // trailing padding the receiver would have to trim).
    s.payload_len = frame_size(flow) - header_len(flow);
    return s;
}

std::vector<uint8_t> template_frame(const Flow& flow)
{
    return build_frame(template_spec(flow));
}

RewriteLayout rewrite_layout(const Flow& flow)
{
    RewriteLayout l;
    const auto l3 = static_cast<uint32_t>(l3_off(flow));
    const auto l4 = static_cast<uint32_t>(l3 + l3_len(flow));
    if (flow.family == Family::ipv4) {
        l.addr_words = 2;
        l.src_off = l3 + 12;
        l.dst_off = l3 + 16;
        l.ip_csum_off = l3 + 10;
    } else {
        l.addr_words = 8;
        l.src_off = l3 + 8;
        l.dst_off = l3 + 24;
    }
    switch (flow.proto) {
    case L4::udp:
    case L4::tcp:
        l.sport_off = l4;
        l.dport_off = l4 + 2;
        l.l4_csum_off = l4 + (flow.proto == L4::udp ? 6 : 16);
        l.l4_pseudo = true;
        l.l4_udp = flow.proto == L4::udp;
        break;
    case L4::icmp:
        // ICMPv6's checksum covers the pseudo-header; ICMPv4's covers only
        // the ICMP message, which the rewriter leaves alone.
        if (flow.family == Family::ipv6) {
            l.l4_csum_off = l4 + 2;
            l.l4_pseudo = true;
        }
        break;
    }
    return l;
}

std::array<uint32_t, 4> first_words(const AddrRange& range)
{
    std::array<uint32_t, 4> w{};
    if (range.family == Family::ipv4) {
        w[3] = static_cast<uint32_t>(range.first[0]) << 24 | range.first[1] << 16 |
               range.first[2] << 8 | range.first[3];
        return w;
    }
    for (size_t i = 0; i < 4; ++i)
        w[i] = static_cast<uint32_t>(range.first[4 * i]) << 24 | range.first[4 * i + 1] << 16 |
               range.first[4 * i + 2] << 8 | range.first[4 * i + 3];
    return w;
}

} // namespace xdpfw::pktgen
