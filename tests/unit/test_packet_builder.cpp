// SPDX-License-Identifier: GPL-2.0-only
// Packet builder: byte layout, lengths and checksums of the crafted frames,
// and the fields the parser is expected to extract from them.
#include "testing/packet_builder.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace xdpfw {
namespace {

uint16_t be16(const std::vector<uint8_t>& f, size_t off)
{
    return static_cast<uint16_t>(f.at(off) << 8 | f.at(off + 1));
}

uint32_t be32(const std::vector<uint8_t>& f, size_t off)
{
    return static_cast<uint32_t>(be16(f, off)) << 16 | be16(f, off + 2);
}

std::array<uint8_t, 16> v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return {a, b, c, d};
}

std::array<uint8_t, 16> v6(uint8_t last)
{
    return {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
}

// Sum over the L4 segment plus the pseudo-header, built here independently
// of the builder: a correct checksum makes it fold to 0xffff.
uint16_t l4_verify(const std::vector<uint8_t>& f, size_t l3, size_t l4, size_t seg_len,
                   uint8_t proto, bool v6)
{
    std::vector<uint8_t> ph;
    if (v6) {
        ph.insert(ph.end(), f.begin() + l3 + 8, f.begin() + l3 + 40); // src, dst
        ph.insert(ph.end(), {0, 0, static_cast<uint8_t>(seg_len >> 8),
                             static_cast<uint8_t>(seg_len), 0, 0, 0, proto});
    } else {
        ph.insert(ph.end(), f.begin() + l3 + 12, f.begin() + l3 + 20);
        ph.insert(ph.end(), {0, proto, static_cast<uint8_t>(seg_len >> 8),
                             static_cast<uint8_t>(seg_len)});
    }
    uint32_t sum = csum_partial(ph.data(), ph.size(), 0);
    sum = csum_partial(f.data() + l4, seg_len, sum);
    return csum_fold(sum);
}

TEST(PacketBuilderCsum, MatchesRfc1071Example)
{
    // RFC 1071 section 3: these bytes sum to 0x2ddf0, folded 0xddf2.
    const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(csum_partial(bytes, sizeof(bytes), 0), 0x2ddf0u);
    EXPECT_EQ(csum_fold(csum_partial(bytes, sizeof(bytes), 0)), 0xddf2);
}

TEST(PacketBuilderCsum, OddLengthPadsWithZeroAndSumsChain)
{
    const uint8_t bytes[] = {0x12, 0x34, 0x56};
    EXPECT_EQ(csum_partial(bytes, 3, 0), 0x1234u + 0x5600u);
    // Summing in two even-sized pieces equals summing at once.
    const uint8_t more[] = {0xff, 0xff, 0x00, 0x01, 0x80, 0x00};
    EXPECT_EQ(csum_fold(csum_partial(more + 2, 4, csum_partial(more, 2, 0))),
              csum_fold(csum_partial(more, 6, 0)));
    EXPECT_EQ(csum_fold(0x1fffeu), 0xffff);
}

TEST(PacketBuilder, Ipv4TcpLayoutAndChecksums)
{
    FrameSpec s;
    s.src = v4(192, 0, 2, 1);
    s.dst = v4(198, 51, 100, 7);
    s.proto = 6;
    s.sport = 40000;
    s.dport = 443;
    s.tcp_flags = 0x12;
    s.payload_len = 33; // odd: the checksum's zero padding matters
    auto f = build_frame(s);
    ASSERT_EQ(f.size(), 14u + 20 + 20 + 33);
    EXPECT_EQ(be16(f, 12), 0x0800);
    EXPECT_EQ(f[14], 0x45);
    EXPECT_EQ(be16(f, 16), 20 + 20 + 33);   // total length
    EXPECT_EQ(be16(f, 20), 0);              // no fragment bits
    EXPECT_EQ(f[22], 64);                   // TTL
    EXPECT_EQ(f[23], 6);
    EXPECT_EQ(be32(f, 26), 0xc0000201u);
    EXPECT_EQ(be32(f, 30), 0xc6336407u);
    EXPECT_EQ(csum_fold(csum_partial(f.data() + 14, 20, 0)), 0xffff);
    EXPECT_EQ(be16(f, 34), 40000);
    EXPECT_EQ(be16(f, 36), 443);
    EXPECT_EQ(f[34 + 12] >> 4, 5);          // data offset
    EXPECT_EQ(f[34 + 13], 0x12);
    EXPECT_NE(be16(f, 34 + 16), 0);
    EXPECT_EQ(l4_verify(f, 14, 34, 20 + 33, 6, false), 0xffff);
}

TEST(PacketBuilder, Ipv4OptionsArePaddedAndUdpChecksummed)
{
    FrameSpec s;
    s.src = v4(10, 0, 0, 1);
    s.dst = v4(10, 0, 0, 2);
    s.proto = 17;
    s.sport = 53;
    s.dport = 5353;
    s.ipv4_options = {0x01, 0x94, 0x04, 0x00, 0x00, 0x07}; // NOP, router alert, 2 more
    s.payload_len = 10;
    auto f = build_frame(s);
    const size_t hlen = 28; // 20 + 6 options padded to 8
    ASSERT_EQ(f.size(), 14 + hlen + 8 + 10);
    EXPECT_EQ(f[14], 0x40 | (hlen / 4));
    EXPECT_EQ(be16(f, 16), hlen + 18);
    EXPECT_EQ(f[14 + 20], 0x01);
    EXPECT_EQ(f[14 + 25], 0x07);
    EXPECT_EQ(f[14 + 26], 0x00); // end of options list padding
    EXPECT_EQ(f[14 + 27], 0x00);
    EXPECT_EQ(csum_fold(csum_partial(f.data() + 14, hlen, 0)), 0xffff);
    const size_t l4 = 14 + hlen;
    EXPECT_EQ(be16(f, l4), 53);
    EXPECT_EQ(be16(f, l4 + 2), 5353);
    EXPECT_EQ(be16(f, l4 + 4), 18); // UDP length
    EXPECT_EQ(l4_verify(f, 14, l4, 18, 17, false), 0xffff);
}

TEST(PacketBuilder, Ipv4IcmpChecksumHasNoPseudoHeader)
{
    FrameSpec s;
    s.proto = 1;
    s.icmp_type = 8;
    s.icmp_code = 0;
    s.payload_len = 5;
    auto f = build_frame(s);
    ASSERT_EQ(f.size(), 14u + 20 + 8 + 5);
    EXPECT_EQ(f[34], 8);
    EXPECT_EQ(f[35], 0);
    EXPECT_EQ(csum_fold(csum_partial(f.data() + 34, 13, 0)), 0xffff);
}

TEST(PacketBuilder, VlanTagsOuterFirst)
{
    FrameSpec s;
    s.vlans = {{0x88a8, 100, 3}, {0x8100, 4095, 0}};
    s.proto = 17;
    auto f = build_frame(s);
    EXPECT_EQ(be16(f, 12), 0x88a8);
    EXPECT_EQ(be16(f, 14), 3 << 13 | 100);
    EXPECT_EQ(be16(f, 16), 0x8100);
    EXPECT_EQ(be16(f, 18), 4095);
    EXPECT_EQ(be16(f, 20), 0x0800);
    EXPECT_EQ(f[22], 0x45);
    EXPECT_EQ(expected_fields(s, 3).vlan, std::optional<uint16_t>(100));
}

TEST(PacketBuilder, Ipv6ExtensionChainLayout)
{
    FrameSpec s;
    s.family = Family::ipv6;
    s.src = v6(1);
    s.dst = v6(2);
    s.proto = 58;
    s.icmp_type = 128;
    s.ipv6_ext = {Ext6::hop_by_hop, Ext6::routing, Ext6::dest_opts, Ext6::auth,
                  Ext6::fragment};
    s.more_fragments = true; // first fragment: offset 0, M set
    s.payload_len = 12;
    auto f = build_frame(s);
    const size_t l3 = 14, ext = l3 + 40;
    const size_t ext_len = 8 + 8 + 8 + 16 + 8;
    ASSERT_EQ(f.size(), ext + ext_len + 8 + 12);
    EXPECT_EQ(be16(f, 12), 0x86dd);
    EXPECT_EQ(f[l3] >> 4, 6);
    EXPECT_EQ(be16(f, l3 + 4), ext_len + 20); // payload length
    EXPECT_EQ(f[l3 + 6], 0);                  // -> hop-by-hop
    // hop-by-hop: next routing, length 0, PadN filling 6 bytes
    EXPECT_EQ(f[ext], 43);
    EXPECT_EQ(f[ext + 1], 0);
    EXPECT_EQ(f[ext + 2], 1);
    EXPECT_EQ(f[ext + 3], 4);
    // routing type 0, no segments left -> destination options
    EXPECT_EQ(f[ext + 8], 60);
    EXPECT_EQ(f[ext + 9], 0);
    EXPECT_EQ(f[ext + 10], 0);
    EXPECT_EQ(f[ext + 11], 0);
    // destination options -> AH
    EXPECT_EQ(f[ext + 16], 51);
    EXPECT_EQ(f[ext + 18], 1);
    // AH: length in 4-byte units minus 2 -> 16 bytes; -> fragment
    EXPECT_EQ(f[ext + 24], 44);
    EXPECT_EQ(f[ext + 25], 2);
    EXPECT_NE(be32(f, ext + 28), 0u); // SPI
    // fragment: -> ICMPv6, offset 0, M set
    EXPECT_EQ(f[ext + 40], 58);
    EXPECT_EQ(be16(f, ext + 42), 1);
    const size_t l4 = ext + ext_len;
    EXPECT_EQ(f[l4], 128);
    EXPECT_EQ(l4_verify(f, l3, l4, 20, 58, true), 0xffff);

    auto e = expected_fields(s, 7);
    EXPECT_EQ(e.ifindex, 7u);
    EXPECT_EQ(e.family, Family::ipv6);
    EXPECT_EQ(e.proto, 58);
    EXPECT_TRUE(e.has_l4);
    EXPECT_EQ(e.icmp_type, 128);
    EXPECT_EQ(e.src, s.src);
}

TEST(PacketBuilder, Ipv6TcpChecksumAndFragmentFlagAddsHeader)
{
    FrameSpec s;
    s.family = Family::ipv6;
    s.src = v6(9);
    s.dst = v6(10);
    s.proto = 6;
    s.ipv6_ext = {Ext6::dest_opts};
    s.fragment = true; // no fragment listed: appended after the listed headers
    s.payload_len = 7;
    auto f = build_frame(s);
    ASSERT_EQ(f.size(), 14u + 40 + 8 + 8 + 20 + 7);
    EXPECT_EQ(f[14 + 6], 60);
    EXPECT_EQ(f[54], 44);
    EXPECT_EQ(f[62], 6);
    EXPECT_EQ(be16(f, 64), 0);
    EXPECT_EQ(l4_verify(f, 14, 70, 27, 6, true), 0xffff);
}

TEST(PacketBuilder, Ipv4NonFirstFragmentCarriesNoL4Header)
{
    FrameSpec s;
    s.proto = 6;
    s.fragment = true;
    s.frag_offset = 185;
    s.more_fragments = true;
    s.payload_len = 24;
    auto f = build_frame(s);
    ASSERT_EQ(f.size(), 14u + 20 + 24);
    EXPECT_EQ(be16(f, 16), 44);
    EXPECT_EQ(be16(f, 20), 0x2000 | 185);
    EXPECT_EQ(csum_fold(csum_partial(f.data() + 14, 20, 0)), 0xffff);
    auto e = expected_fields(s, 1);
    EXPECT_FALSE(e.has_l4);
    EXPECT_EQ(e.proto, 6);

    s.frag_offset = 0; // first fragment: the TCP header is there
    auto first = build_frame(s);
    EXPECT_EQ(first.size(), 14u + 20 + 20 + 24);
    EXPECT_EQ(be16(first, 20), 0x2000);
    EXPECT_TRUE(expected_fields(s, 1).has_l4);
}

TEST(PacketBuilder, Ipv6NonFirstFragmentStopsAtFragmentHeader)
{
    FrameSpec s;
    s.family = Family::ipv6;
    s.proto = 17;
    s.ipv6_ext = {Ext6::hop_by_hop, Ext6::fragment, Ext6::dest_opts};
    s.frag_offset = 3;
    s.payload_len = 16;
    auto f = build_frame(s);
    // hop-by-hop and fragment only: the destination options after the
    // fragment header belong to the first fragment.
    ASSERT_EQ(f.size(), 14u + 40 + 8 + 8 + 16);
    EXPECT_EQ(be16(f, 18), 32);
    EXPECT_EQ(f[62], 60);             // fragment's next header
    EXPECT_EQ(be16(f, 64), 3 << 3);   // offset 3, M clear
    auto e = expected_fields(s, 1);
    EXPECT_FALSE(e.has_l4);
    EXPECT_EQ(e.proto, 60);
}

TEST(PacketBuilder, OtherProtocolsAndNonIp)
{
    FrameSpec s;
    s.proto = 132; // SCTP: no header parsed, payload only
    s.payload_len = 4;
    auto f = build_frame(s);
    EXPECT_EQ(f.size(), 14u + 20 + 4);
    auto e = expected_fields(s, 1);
    EXPECT_FALSE(e.has_l4);
    EXPECT_EQ(e.proto, 132);

    FrameSpec arp;
    arp.family = Family::other;
    arp.payload_len = 28;
    arp.frame_len = 60;
    auto a = build_frame(arp);
    ASSERT_EQ(a.size(), 60u);
    EXPECT_EQ(be16(a, 12), 0x0806);
    EXPECT_EQ(a[59], 0); // zero padding
    auto ea = expected_fields(arp, 1);
    EXPECT_EQ(ea.family, Family::other);
    EXPECT_EQ(ea.proto, 0);
    EXPECT_FALSE(ea.vlan.has_value());
}

TEST(PacketBuilder, ExpectedFieldsFromTcpAndUdp)
{
    FrameSpec s;
    s.src = v4(1, 2, 3, 4);
    s.proto = 6;
    s.sport = 1;
    s.dport = 2;
    s.tcp_flags = 0x29;
    auto e = expected_fields(s, 4);
    EXPECT_TRUE(e.has_l4);
    EXPECT_EQ(e.sport, 1);
    EXPECT_EQ(e.dport, 2);
    EXPECT_EQ(e.tcp_flags, 0x29);
    EXPECT_EQ(e.src, v4(1, 2, 3, 4));
    s.proto = 17;
    EXPECT_EQ(expected_fields(s, 4).tcp_flags, 0);
    // ICMPv6's number in IPv4 is just another protocol.
    s.proto = 58;
    EXPECT_FALSE(expected_fields(s, 4).has_l4);
}

TEST(PacketBuilder, RefusesWhatCannotBeBuiltOrParsed)
{
    FrameSpec s;
    s.vlans = {{0x8100, 4096, 0}};
    EXPECT_THROW(build_frame(s), std::invalid_argument);

    FrameSpec opts;
    opts.ipv4_options.assign(41, 1);
    EXPECT_THROW(build_frame(opts), std::invalid_argument);

    FrameSpec big;
    big.payload_len = 70000;
    EXPECT_THROW(build_frame(big), std::invalid_argument);

    FrameSpec many;
    many.family = Family::ipv6;
    many.ipv6_ext.assign(9, Ext6::dest_opts);
    EXPECT_NO_THROW(build_frame(many));
    try {
        expected_fields(many, 1);
        ADD_FAILURE() << "9 extension headers accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("more than 8"), std::string::npos) << e.what();
    }

    FrameSpec fake_other;
    fake_other.family = Family::other;
    fake_other.other_ethertype = 0x86dd;
    EXPECT_THROW(expected_fields(fake_other, 1), std::invalid_argument);

    FrameSpec triple;
    triple.vlans = {{0x8100, 1, 0}, {0x8100, 2, 0}, {0x8100, 3, 0}};
    EXPECT_NO_THROW(build_frame(triple));
    EXPECT_THROW(expected_fields(triple, 1), std::invalid_argument);
}

} // namespace
} // namespace xdpfw
