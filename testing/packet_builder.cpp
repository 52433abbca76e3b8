// SPDX-License-Identifier: GPL-2.0-only
// Frame crafting for tests and xdpfw-pktgen: Ethernet/VLAN, IPv4 (options,
// fragments), IPv6 (extension headers), TCP/UDP/ICMP/ICMPv6, checksums.
#include "testing/packet_builder.hpp"

#include <xdpfw/abi.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace xdpfw {

namespace {

constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;
constexpr uint8_t proto_icmpv6 = 58;

constexpr uint16_t tpid_8021q = 0x8100;
constexpr uint16_t tpid_8021ad = 0x88a8;

constexpr size_t ipv4_header_len = 20;
constexpr size_t ipv4_max_options = 40; // IHL is 4 bits: at most 60 bytes of header
constexpr size_t ipv6_header_len = 40;
constexpr size_t tcp_header_len = 20;
constexpr size_t udp_header_len = 8;
constexpr size_t icmp_header_len = 8; // type, code, checksum, identifier, sequence
constexpr size_t max_ip_len = 0xffff;
constexpr uint16_t max_frag_offset = 0x1fff; // 13 bits, 8-byte units

constexpr uint8_t ipv4_opt_end = 0;
constexpr uint8_t ipv6_opt_padn = 1;
constexpr uint16_t ipv4_flag_mf = 0x2000;
constexpr uint16_t ipv4_id = 0x1234;
constexpr uint32_t ipv6_frag_id = 0x12345678;
constexpr uint32_t ah_spi = 0x100;

void put16(std::vector<uint8_t>& out, uint16_t v)
{
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}

void put32(std::vector<uint8_t>& out, uint32_t v)
{
    put16(out, static_cast<uint16_t>(v >> 16));
    put16(out, static_cast<uint16_t>(v));
}

void set16(std::vector<uint8_t>& buf, size_t off, uint16_t v)
{
    buf[off] = static_cast<uint8_t>(v >> 8);
    buf[off + 1] = static_cast<uint8_t>(v);
}

// True if proto has an L4 header the parser reads in this family.
bool parsed_l4(Family family, uint8_t proto)
{
    if (proto == proto_tcp || proto == proto_udp)
        return true;
    return (family == Family::ipv4 && proto == proto_icmp) ||
           (family == Family::ipv6 && proto == proto_icmpv6);
}

// The IPv6 extension header chain as built: the listed headers, plus a
// fragment header at the end when spec.fragment asks for one and none is
// listed.
std::vector<Ext6> ext_chain(const FrameSpec& spec)
{
    std::vector<Ext6> chain = spec.ipv6_ext;
    if (spec.fragment && std::find(chain.begin(), chain.end(), Ext6::fragment) == chain.end())
        chain.push_back(Ext6::fragment);
    return chain;
}

bool has_fragment(const std::vector<Ext6>& chain)
{
    return std::find(chain.begin(), chain.end(), Ext6::fragment) != chain.end();
}

// The parser walks these; as an upper protocol they would make it read the
// payload as one more header.
bool is_ext_type(uint8_t proto)
{
    for (Ext6 t : {Ext6::hop_by_hop, Ext6::routing, Ext6::fragment, Ext6::dest_opts, Ext6::auth})
        if (proto == static_cast<uint8_t>(t))
            return true;
    return false;
}

bool non_first_fragment(const FrameSpec& spec)
{
    return spec.frag_offset != 0;
}

// Next-header value of what follows chain[i]: the next extension header, or
// the upper-layer protocol.
uint8_t next_after(const std::vector<Ext6>& chain, size_t i, uint8_t proto)
{
    return i + 1 < chain.size() ? static_cast<uint8_t>(chain[i + 1]) : proto;
}

std::vector<uint8_t> payload_bytes(size_t len)
{
    std::vector<uint8_t> p(len);
    // Not all zeros, so a checksum over the payload is actually exercised.
    for (size_t i = 0; i < len; ++i)
        p[i] = static_cast<uint8_t>(i * 7 + 1);
    return p;
}

std::vector<uint8_t> payload_of(const FrameSpec& spec)
{
    return spec.payload.empty() ? payload_bytes(spec.payload_len) : spec.payload;
}

// L4 header (checksum zero) followed by the payload.
std::vector<uint8_t> l4_segment(const FrameSpec& spec)
{
    std::vector<uint8_t> seg;
    if (spec.proto == proto_tcp) {
        put16(seg, spec.sport);
        put16(seg, spec.dport);
        put32(seg, 1);                                      // sequence number
        put32(seg, (spec.tcp_flags & 0x10) ? 1 : 0);        // ack number when ACK is set
        seg.push_back(static_cast<uint8_t>((tcp_header_len / 4) << 4)); // data offset
        seg.push_back(spec.tcp_flags);
        put16(seg, 65535); // window
        put16(seg, 0);     // checksum
        put16(seg, 0);     // urgent pointer
    } else if (spec.proto == proto_udp) {
        put16(seg, spec.sport);
        put16(seg, spec.dport);
        put16(seg, static_cast<uint16_t>(udp_header_len + payload_of(spec).size()));
        put16(seg, 0);
    } else {
        seg.push_back(spec.icmp_type);
        seg.push_back(spec.icmp_code);
        put16(seg, 0);      // checksum
        put16(seg, 0x4242); // identifier (echo) / unused
        put16(seg, 1);      // sequence
    }
    auto payload = payload_of(spec);
    seg.insert(seg.end(), payload.begin(), payload.end());
    return seg;
}

size_t l4_checksum_offset(uint8_t proto)
{
    if (proto == proto_tcp)
        return 16;
    if (proto == proto_udp)
        return 6;
    return 2; // ICMP, ICMPv6
}

// Fills the L4 checksum of seg. The pseudo-header covers this packet's
// segment only: for a first fragment that is not the reassembled length, which
// is fine for the parser (it never checks L4 checksums) and keeps the frame
// self-consistent.
void fill_l4_checksum(std::vector<uint8_t>& seg, const FrameSpec& spec)
{
    uint32_t sum = 0;
    if (spec.family == Family::ipv4) {
        if (spec.proto != proto_icmp) {
            sum = csum_partial(spec.src.data(), 4, sum);
            sum = csum_partial(spec.dst.data(), 4, sum);
            sum += spec.proto;
            sum += static_cast<uint32_t>(seg.size());
        }
    } else {
        sum = csum_partial(spec.src.data(), 16, sum);
        sum = csum_partial(spec.dst.data(), 16, sum);
        sum += static_cast<uint32_t>(seg.size() >> 16);
        sum += static_cast<uint32_t>(seg.size() & 0xffff);
        sum += spec.proto;
    }
    sum = csum_partial(seg.data(), seg.size(), sum);
    uint16_t c = static_cast<uint16_t>(~csum_fold(sum));
    // UDP sends a computed zero as all ones (zero means "no checksum").
    if (spec.proto == proto_udp && c == 0)
        c = 0xffff;
    set16(seg, l4_checksum_offset(spec.proto), c);
}

// What follows the IP header(s): the L4 segment, or for a non-first fragment
// and for protocols without a parsed header, the payload alone.
std::vector<uint8_t> upper_layer(const FrameSpec& spec, bool non_first)
{
    if (non_first || !parsed_l4(spec.family, spec.proto))
        return payload_of(spec);
    auto seg = l4_segment(spec);
    fill_l4_checksum(seg, spec);
    return seg;
}

std::vector<uint8_t> ipv4_packet(const FrameSpec& spec)
{
    if (spec.ipv4_options.size() > ipv4_max_options)
        throw std::invalid_argument("IPv4 options: " + std::to_string(spec.ipv4_options.size()) +
                                    " bytes, at most 40 fit in the header");
    if (spec.fragment && spec.frag_offset > max_frag_offset)
        throw std::invalid_argument("IPv4 fragment offset " + std::to_string(spec.frag_offset) +
                                    " > 8191");
    std::vector<uint8_t> options = spec.ipv4_options;
    while (options.size() % 4)
        options.push_back(ipv4_opt_end);
    const bool non_first = spec.fragment && non_first_fragment(spec);
    auto upper = upper_layer(spec, non_first);
    const size_t hlen = ipv4_header_len + options.size();
    const size_t tot_len = hlen + upper.size();
    if (tot_len > max_ip_len)
        throw std::invalid_argument("IPv4 total length " + std::to_string(tot_len) + " > 65535");

    std::vector<uint8_t> ip;
    ip.push_back(static_cast<uint8_t>(0x40 | (hlen / 4)));
    ip.push_back(0); // DSCP/ECN
    put16(ip, static_cast<uint16_t>(tot_len));
    put16(ip, ipv4_id);
    uint16_t frag = 0;
    if (spec.fragment)
        frag = static_cast<uint16_t>((spec.more_fragments ? ipv4_flag_mf : 0) | spec.frag_offset);
    put16(ip, frag);
    ip.push_back(spec.ttl);
    ip.push_back(spec.proto);
    put16(ip, 0); // header checksum, below
    ip.insert(ip.end(), spec.src.begin(), spec.src.begin() + 4);
    ip.insert(ip.end(), spec.dst.begin(), spec.dst.begin() + 4);
    ip.insert(ip.end(), options.begin(), options.end());
    set16(ip, 10, static_cast<uint16_t>(~csum_fold(csum_partial(ip.data(), ip.size(), 0))));
    ip.insert(ip.end(), upper.begin(), upper.end());
    return ip;
}

// One extension header of the minimal legal size for its type.
void put_ext(std::vector<uint8_t>& out, Ext6 type, uint8_t next, const FrameSpec& spec)
{
    out.push_back(next);
    switch (type) {
    case Ext6::hop_by_hop:
    case Ext6::dest_opts:
        // 8 bytes: next header, length 0, and one PadN option filling the
        // remaining 6 bytes (options must pad the header to 8-byte units).
        out.push_back(0);
        out.push_back(ipv6_opt_padn);
        out.push_back(4);
        put32(out, 0);
        break;
    case Ext6::routing:
        // Type 0 with no addresses and no segments left: 8 bytes.
        out.push_back(0); // length
        out.push_back(0); // routing type
        out.push_back(0); // segments left
        put32(out, 0);    // reserved
        break;
    case Ext6::fragment:
        out.push_back(0); // reserved
        put16(out, static_cast<uint16_t>((spec.frag_offset << 3) | (spec.more_fragments ? 1 : 0)));
        put32(out, ipv6_frag_id);
        break;
    case Ext6::auth:
        // 12 fixed bytes and a 4-byte ICV: length (16 / 4) - 2 = 2.
        out.push_back(2);
        put16(out, 0); // reserved
        put32(out, ah_spi);
        put32(out, 1); // sequence number
        put32(out, 0); // ICV
        break;
    default:
        throw std::invalid_argument("IPv6 extension header type " +
                                    std::to_string(static_cast<unsigned>(type)) +
                                    " is not one the builder knows");
    }
}

std::vector<uint8_t> ipv6_packet(const FrameSpec& spec)
{
    const auto chain = ext_chain(spec);
    const bool has_frag = has_fragment(chain);
    if (has_frag && spec.frag_offset > max_frag_offset)
        throw std::invalid_argument("IPv6 fragment offset " + std::to_string(spec.frag_offset) +
                                    " > 8191");
    const bool non_first = has_frag && non_first_fragment(spec);

    std::vector<uint8_t> exts;
    for (size_t i = 0; i < chain.size(); ++i) {
        put_ext(exts, chain[i], next_after(chain, i, spec.proto), spec);
        // Headers after the fragment header belong to the fragmentable part,
        // which only the first fragment carries.
        if (chain[i] == Ext6::fragment && non_first)
            break;
    }
    auto upper = upper_layer(spec, non_first);
    const size_t payload_len = exts.size() + upper.size();
    if (payload_len > max_ip_len)
        throw std::invalid_argument("IPv6 payload length " + std::to_string(payload_len) +
                                    " > 65535");

    std::vector<uint8_t> ip;
    put32(ip, 0x60000000); // version 6, traffic class 0, flow label 0
    put16(ip, static_cast<uint16_t>(payload_len));
    ip.push_back(chain.empty() ? spec.proto : static_cast<uint8_t>(chain[0]));
    ip.push_back(spec.ttl);
    ip.insert(ip.end(), spec.src.begin(), spec.src.end());
    ip.insert(ip.end(), spec.dst.begin(), spec.dst.end());
    ip.insert(ip.end(), exts.begin(), exts.end());
    ip.insert(ip.end(), upper.begin(), upper.end());
    return ip;
}

} // namespace

uint32_t csum_partial(const uint8_t* data, size_t len, uint32_t sum)
{
    uint64_t acc = sum;
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        acc += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
    if (i < len)
        acc += static_cast<uint32_t>(data[i] << 8); // odd byte, zero-padded
    // End-around carry keeps the value congruent mod 0xffff and fitting 32 bits.
    while (acc >> 32)
        acc = (acc & 0xffffffffu) + (acc >> 32);
    return static_cast<uint32_t>(acc);
}

uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

std::vector<uint8_t> build_frame(const FrameSpec& spec)
{
    std::vector<uint8_t> frame;
    frame.insert(frame.end(), spec.dst_mac.begin(), spec.dst_mac.end());
    frame.insert(frame.end(), spec.src_mac.begin(), spec.src_mac.end());
    for (const auto& tag : spec.vlans) {
        if (tag.vid > 4095)
            throw std::invalid_argument("VLAN id " + std::to_string(tag.vid) + " > 4095");
        if (tag.pcp > 7)
            throw std::invalid_argument("VLAN priority " + std::to_string(tag.pcp) + " > 7");
        put16(frame, tag.tpid);
        put16(frame, static_cast<uint16_t>(tag.pcp << 13 | tag.vid));
    }

    std::vector<uint8_t> l3;
    switch (spec.family) {
    case Family::ipv4:
        put16(frame, ethertype_ipv4);
        l3 = ipv4_packet(spec);
        break;
    case Family::ipv6:
        put16(frame, ethertype_ipv6);
        l3 = ipv6_packet(spec);
        break;
    case Family::other:
        put16(frame, spec.other_ethertype);
        l3 = payload_of(spec);
        break;
    }
    frame.insert(frame.end(), l3.begin(), l3.end());
    if (frame.size() < spec.frame_len)
        frame.resize(spec.frame_len, 0);
    return frame;
}

PacketFields expected_fields(const FrameSpec& spec, uint32_t ifindex)
{
    PacketFields f;
    f.ifindex = ifindex;
    if (spec.vlans.size() > 2)
        throw std::invalid_argument("expected_fields: " + std::to_string(spec.vlans.size()) +
                                    " VLAN tags; the parser refuses more than 2");
    if (!spec.vlans.empty())
        f.vlan = spec.vlans.front().vid;
    f.family = spec.family;
    if (spec.family == Family::other) {
        const uint16_t t = spec.other_ethertype;
        if (t == ethertype_ipv4 || t == ethertype_ipv6 || t == tpid_8021q || t == tpid_8021ad)
            throw std::invalid_argument("expected_fields: family other with ethertype " +
                                        std::to_string(t) + ", which the parser reads as IP or VLAN");
        f.ether = t;
        return f;
    }

    bool non_first = false;
    f.proto = spec.proto;
    if (spec.family == Family::ipv4) {
        std::copy_n(spec.src.begin(), 4, f.src.begin());
        std::copy_n(spec.dst.begin(), 4, f.dst.begin());
        non_first = spec.fragment && non_first_fragment(spec);
    } else {
        f.src = spec.src;
        f.dst = spec.dst;
        const auto chain = ext_chain(spec);
        if (is_ext_type(spec.proto) && !(non_first_fragment(spec) && has_fragment(chain)))
            throw std::invalid_argument("expected_fields: IPv6 upper protocol " +
                                        std::to_string(spec.proto) +
                                        " is an extension header type; list it in ipv6_ext");
        for (size_t i = 0; i < chain.size(); ++i) {
            if (i + 1 > XDPFW_MAX_EXT_HDRS)
                throw std::invalid_argument("expected_fields: " + std::to_string(chain.size()) +
                                            " IPv6 extension headers; the parser refuses more than " +
                                            std::to_string(XDPFW_MAX_EXT_HDRS));
            if (chain[i] == Ext6::fragment && non_first_fragment(spec)) {
                // The parser stops at a non-first fragment's header and
                // reports what it says comes next.
                f.proto = next_after(chain, i, spec.proto);
                non_first = true;
                break;
            }
        }
    }
    if (non_first || !parsed_l4(spec.family, spec.proto))
        return f;

    f.has_l4 = true;
    if (spec.proto == proto_tcp || spec.proto == proto_udp) {
        f.sport = spec.sport;
        f.dport = spec.dport;
        if (spec.proto == proto_tcp)
            f.tcp_flags = spec.tcp_flags;
    } else {
        f.icmp_type = spec.icmp_type;
        f.icmp_code = spec.icmp_code;
    }
    return f;
}

} // namespace xdpfw
