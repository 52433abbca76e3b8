// SPDX-License-Identifier: GPL-2.0-only
// The tap's match words -> struct xdpfw_tap_filter (lib/tap/filter.hpp):
// every field, prefixes as network-order words and masks, and the words a
// tap refuses, each error naming its word.
#include "lib/tap/filter.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

using namespace xdpfw;

namespace {

xdpfw_tap_filter filter_of(const std::string& words)
{
    return tap::tap_filter(tap::parse_tap_match(words));
}

// The PolicyError of words: its key, and its message.
std::pair<std::string, std::string> error_of(const std::string& words)
{
    try {
        xdpfw_tap_filter f = filter_of(words);
        ADD_FAILURE() << "'" << words << "' gave a filter, fields " << f.fields;
    } catch (const PolicyError& e) {
        EXPECT_EQ(e.where(), "tap") << e.what();
        return {e.key(), e.what()};
    }
    return {};
}

__u32 word(const char* dotted)
{
    in_addr a{};
    EXPECT_EQ(inet_pton(AF_INET, dotted, &a), 1) << dotted;
    return a.s_addr; // network order, as the filter keeps it
}

} // namespace

TEST(TapFilter, NoWordsKeepsEveryFrame)
{
    const xdpfw_tap_filter f = filter_of("");
    EXPECT_EQ(f.fields, 0u);
    EXPECT_EQ(filter_of("   ").fields, 0u);
}

TEST(TapFilter, PrefixProtoAndPort)
{
    const xdpfw_tap_filter f = filter_of("src=198.51.100.0/24 proto=tcp dport=443");
    EXPECT_EQ(f.fields, XDPFW_TAP_FAMILY | XDPFW_TAP_SRC | XDPFW_TAP_PROTO | XDPFW_TAP_DPORT);
    EXPECT_EQ(f.family, unsigned(XDPFW_FAMILY_IPV4));
    EXPECT_EQ(f.src[0], word("198.51.100.0"));
    EXPECT_EQ(f.src_mask[0], word("255.255.255.0"));
    EXPECT_EQ(f.src[1], 0u);
    EXPECT_EQ(f.src_mask[1], 0u);
    EXPECT_EQ(f.proto, 6u);
    EXPECT_EQ(f.dport_lo, 443);
    EXPECT_EQ(f.dport_hi, 443);
}

TEST(TapFilter, Ipv6PrefixMaskCrossesWords)
{
    const xdpfw_tap_filter f = filter_of("dst=2001:db8:aa00::/40 sport=1000-2000");
    EXPECT_EQ(f.fields, XDPFW_TAP_FAMILY | XDPFW_TAP_DST | XDPFW_TAP_SPORT);
    EXPECT_EQ(f.family, unsigned(XDPFW_FAMILY_IPV6));
    in6_addr a{};
    ASSERT_EQ(inet_pton(AF_INET6, "2001:db8:aa00::", &a), 1);
    EXPECT_EQ(std::memcmp(f.dst, &a, 16), 0);
    const uint8_t mask[16] = {0xff, 0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(std::memcmp(f.dst_mask, mask, 16), 0);
    EXPECT_EQ(f.sport_lo, 1000);
    EXPECT_EQ(f.sport_hi, 2000);
}

TEST(TapFilter, ScalarFields)
{
    const xdpfw_tap_filter f = filter_of("vlan=42 family=ipv6 proto=icmpv6 icmp_type=128 icmp_code=0");
    EXPECT_EQ(f.fields, XDPFW_TAP_VLAN | XDPFW_TAP_FAMILY | XDPFW_TAP_PROTO | XDPFW_TAP_ICMP_TYPE |
                            XDPFW_TAP_ICMP_CODE);
    EXPECT_EQ(f.vlan, 42u);
    EXPECT_EQ(f.family, unsigned(XDPFW_FAMILY_IPV6));
    EXPECT_EQ(f.proto, 58u);
    EXPECT_EQ(f.icmp_type, 128);
    EXPECT_EQ(f.icmp_code, 0);

    const xdpfw_tap_filter t = filter_of("tcp_flags=SYN,!ACK");
    EXPECT_EQ(t.fields, unsigned(XDPFW_TAP_TCP_FLAGS));
    EXPECT_EQ(t.flags_mask, 0x12);
    EXPECT_EQ(t.flags_value, 0x02);

    const xdpfw_tap_filter e = filter_of("ether=arp");
    EXPECT_EQ(e.fields, unsigned(XDPFW_TAP_ETHER));
    EXPECT_EQ(e.ether, 0x0806u);
}

TEST(TapFilter, RefusedWordsNameTheWord)
{
    auto [key, what] = error_of("dport=22 action=drop");
    EXPECT_EQ(key, "action");
    EXPECT_NE(what.find("only captures"), std::string::npos) << what;
    EXPECT_NE(what.find("match words: vlan, ether"), std::string::npos) << what;

    std::tie(key, what) = error_of("iif=eth0");
    EXPECT_EQ(key, "iif");
    EXPECT_NE(what.find("-i"), std::string::npos) << what;

    std::tie(key, what) = error_of("src=@blocked");
    EXPECT_EQ(key, "src");
    EXPECT_NE(what.find("@blocked is a set reference"), std::string::npos) << what;

    EXPECT_EQ(error_of("priority=3 proto=udp").first, "priority");
    EXPECT_EQ(error_of("fallback=drop").first, "fallback");
    EXPECT_EQ(error_of("dst=@office").first, "dst");
    std::tie(key, what) = error_of("colour=red");
    EXPECT_EQ(key, "colour");
    EXPECT_NE(what.find("unknown key"), std::string::npos) << what;
}

TEST(TapFilter, ValuesAreCheckedAsInRules)
{
    // The rule parser's own errors, under the tap's name.
    auto [key, what] = error_of("proto=xyz");
    EXPECT_EQ(key, "proto");
    EXPECT_EQ(what.rfind("tap: proto: ", 0), 0u) << what;
    EXPECT_EQ(error_of("dport=70000").first, "dport");
    EXPECT_EQ(error_of("src=10.0.0.1/24").first, "src");
    EXPECT_EQ(error_of("proto=icmp dport=22").first, "dport");
    EXPECT_EQ(error_of("src=10.0.0.0/8 dst=fd00::/8").first, "dst");
    EXPECT_EQ(error_of("dport").first, "dport"); // missing '='
}

TEST(TapFilter, IifInAMatchIsRefused)
{
    Match m;
    m.iif = "eth0";
    EXPECT_THROW(tap::tap_filter(m), PolicyError);
}
