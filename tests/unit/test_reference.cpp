// SPDX-License-Identifier: GPL-2.0-only
// Unit tests for the reference classifier: field semantics and evaluation order.
#include "lib/lang/policy_file.hpp"
#include "lib/reference/reference.hpp"
#include "lib/lang/rule_parser.hpp"

#include <gtest/gtest.h>

using namespace xdpfw;

namespace {

uint32_t resolve_lab(const std::string& name)
{
    if (name == "eth0")
        return 2;
    if (name == "eth1")
        return 3;
    throw PolicyError("iif", name, "no such interface");
}

PacketFields v4_tcp(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
                    uint8_t flags = 0x02)
{
    PacketFields p;
    p.ifindex = 2;
    p.family = Family::ipv4;
    p.src = Prefix::parse(src).addr;
    p.dst = Prefix::parse(dst).addr;
    p.proto = 6;
    p.has_l4 = true;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    return p;
}

PacketFields v6_icmp(const std::string& src, uint8_t type, uint8_t code)
{
    PacketFields p;
    p.ifindex = 3;
    p.family = Family::ipv6;
    p.src = Prefix::parse(src).addr;
    p.dst = Prefix::parse("2001:db8::1").addr;
    p.proto = 58;
    p.has_l4 = true;
    p.icmp_type = type;
    p.icmp_code = code;
    return p;
}

Policy policy_of(const std::string& yaml)
{
    return parse_policy_yaml(yaml, ".", "test.yaml");
}

bool matches(const std::string& rule_text, const PacketFields& pkt, const Policy& policy = {})
{
    return rule_matches(parse_rule(rule_text, "t"), policy, pkt, resolve_lab);
}

} // namespace

TEST(Reference, EachFieldMustHold)
{
    PacketFields pkt = v4_tcp("192.0.2.10", "198.51.100.1", 40000, 22);
    EXPECT_TRUE(matches("action=drop", pkt));
    EXPECT_TRUE(matches("iif=eth0 action=drop", pkt));
    EXPECT_FALSE(matches("iif=eth1 action=drop", pkt));
    EXPECT_TRUE(matches("family=ipv4 action=drop", pkt));
    EXPECT_FALSE(matches("family=ipv6 action=drop", pkt));
    EXPECT_TRUE(matches("src=192.0.2.0/24 action=drop", pkt));
    EXPECT_FALSE(matches("src=192.0.3.0/24 action=drop", pkt));
    EXPECT_TRUE(matches("dst=198.51.100.1 action=drop", pkt));
    EXPECT_FALSE(matches("dst=192.0.2.0/24 action=drop", pkt));
    EXPECT_TRUE(matches("src=0.0.0.0/0 action=drop", pkt));
    EXPECT_FALSE(matches("src=::/0 action=drop", pkt)); // family differs
    EXPECT_TRUE(matches("proto=tcp action=drop", pkt));
    EXPECT_FALSE(matches("proto=udp action=drop", pkt));
    EXPECT_TRUE(matches("dport=22 action=drop", pkt));
    EXPECT_TRUE(matches("dport=20-22 sport=40000-65535 action=drop", pkt));
    EXPECT_FALSE(matches("dport=23-30 action=drop", pkt));
    EXPECT_FALSE(matches("sport=22 action=drop", pkt));
    EXPECT_TRUE(matches("tcp_flags=SYN,!ACK action=drop", pkt));
    EXPECT_FALSE(matches("tcp_flags=SYN,ACK action=drop", pkt));
    pkt.tcp_flags = 0x12;
    EXPECT_FALSE(matches("tcp_flags=SYN,!ACK action=drop", pkt));
    EXPECT_TRUE(matches("tcp_flags=SYN,ACK action=drop", pkt));
    EXPECT_FALSE(matches("icmp_type=8 action=drop", pkt));
    // UDP packets have ports but no TCP flags.
    pkt.proto = 17;
    EXPECT_TRUE(matches("dport=22 action=drop", pkt));
    EXPECT_FALSE(matches("proto=tcp dport=22 action=drop", pkt));
    EXPECT_FALSE(matches("tcp_flags=SYN action=drop", pkt));
    // Ports exist only for TCP and UDP.
    pkt.proto = 132;
    EXPECT_FALSE(matches("dport=22 action=drop", pkt));
    EXPECT_THROW(matches("iif=nosuch action=drop", pkt), PolicyError);
}

TEST(Reference, IcmpNeedsTheFamilysProtocol)
{
    PacketFields pkt = v6_icmp("2001:db8:1::5", 128, 0);
    EXPECT_TRUE(matches("icmp_type=128 action=drop", pkt));
    EXPECT_TRUE(matches("proto=icmpv6 icmp_type=128 icmp_code=0 action=drop", pkt));
    EXPECT_FALSE(matches("icmp_type=128 icmp_code=1 action=drop", pkt));
    EXPECT_FALSE(matches("icmp_type=129 action=drop", pkt));
    EXPECT_FALSE(matches("proto=icmp icmp_type=128 action=drop", pkt));
    // proto 1 inside IPv6 is not ICMPv6: its type fields never match.
    pkt.proto = 1;
    EXPECT_FALSE(matches("icmp_type=128 action=drop", pkt));
    PacketFields v4;
    v4.family = Family::ipv4;
    v4.proto = 1;
    v4.has_l4 = true;
    v4.icmp_type = 8;
    EXPECT_TRUE(matches("proto=icmp icmp_type=8 action=drop", v4));
    v4.proto = 58;
    EXPECT_FALSE(matches("icmp_type=8 action=drop", v4));
}

TEST(Reference, FragmentsWithoutL4NeverMatchL4Fields)
{
    PacketFields frag = v4_tcp("192.0.2.10", "198.51.100.1", 0, 0, 0);
    frag.has_l4 = false; // a non-first fragment
    EXPECT_TRUE(matches("proto=tcp action=drop", frag));
    EXPECT_TRUE(matches("src=192.0.2.0/24 action=drop", frag));
    EXPECT_FALSE(matches("dport=0 action=drop", frag));
    EXPECT_FALSE(matches("sport=0-65535 action=drop", frag));
    EXPECT_FALSE(matches("tcp_flags=!SYN action=drop", frag));
    PacketFields icmp_frag = v6_icmp("::1", 0, 0);
    icmp_frag.has_l4 = false;
    EXPECT_FALSE(matches("icmp_type=0 action=drop", icmp_frag));
    EXPECT_TRUE(matches("proto=icmpv6 action=drop", icmp_frag));

    // A "drop port 80" rule must not let fragments through to a later pass
    // by accident, nor drop them: they fall to the next rule that can match.
    Policy p = policy_of("default: drop\nrules:\n  - dport=0-65535 action=count\n"
                         "  - proto=tcp dport=80 action=drop\n  - proto=tcp action=pass\n");
    Verdict v = classify(p, frag, resolve_lab);
    EXPECT_EQ(v.action, ActionType::pass);
    EXPECT_EQ(v.rule_id, 3u);
    EXPECT_TRUE(v.counted.empty());
}

TEST(Reference, VlanAbsentVersusPresent)
{
    PacketFields pkt = v4_tcp("192.0.2.10", "198.51.100.1", 1, 2);
    EXPECT_FALSE(matches("vlan=0 action=drop", pkt)); // untagged is not VLAN 0
    pkt.vlan = 0;
    EXPECT_TRUE(matches("vlan=0 action=drop", pkt));
    pkt.vlan = 100;
    EXPECT_FALSE(matches("vlan=0 action=drop", pkt));
    EXPECT_TRUE(matches("vlan=100 action=drop", pkt));
    EXPECT_TRUE(matches("action=drop", pkt));
}

TEST(Reference, NonIpPackets)
{
    PacketFields arp;
    arp.family = Family::other;
    arp.ifindex = 2;
    EXPECT_TRUE(matches("iif=eth0 action=drop", arp));
    EXPECT_FALSE(matches("proto=0 action=drop", arp));
    EXPECT_FALSE(matches("family=ipv4 action=drop", arp));
    EXPECT_FALSE(matches("src=0.0.0.0/0 action=drop", arp));
    Policy p = policy_of("sets: {all: [0.0.0.0/0, \"::/0\"]}\n");
    EXPECT_FALSE(matches("src=@all action=drop", arp, p));
}

TEST(Reference, SetsWithMixedFamilies)
{
    Policy p = policy_of(R"(
sets:
  mixed: [10.0.0.0/8, 192.0.2.7, "2001:db8::/32", "::ffff:0:0/96"]
rules:
  - src=@mixed action=drop
)");
    EXPECT_TRUE(matches("src=@mixed action=drop", v4_tcp("10.9.8.7", "1.1.1.1", 1, 2), p));
    EXPECT_TRUE(matches("src=@mixed action=drop", v4_tcp("192.0.2.7", "1.1.1.1", 1, 2), p));
    EXPECT_FALSE(matches("src=@mixed action=drop", v4_tcp("192.0.2.8", "1.1.1.1", 1, 2), p));
    EXPECT_TRUE(matches("dst=@mixed action=drop", v4_tcp("1.1.1.1", "10.0.0.1", 1, 2), p));
    EXPECT_TRUE(matches("src=@mixed action=drop", v6_icmp("2001:db8:5::1", 1, 1), p));
    EXPECT_FALSE(matches("src=@mixed action=drop", v6_icmp("2001:db9::1", 1, 1), p));
    // The v4 prefix 10.0.0.0/8 must not match an IPv6 address whose first
    // bytes happen to be 10.x, nor ::ffff:0:0/96 an IPv4 packet.
    EXPECT_FALSE(matches("src=@mixed action=drop", v6_icmp("a00::1", 1, 1), p));
    EXPECT_TRUE(matches("src=@mixed action=drop", v6_icmp("::ffff:1.2.3.4", 1, 1), p));
    EXPECT_FALSE(matches("src=@mixed action=drop", v4_tcp("0.0.0.0", "1.1.1.1", 1, 2), p));
    EXPECT_FALSE(matches("family=ipv6 src=@mixed action=drop", v4_tcp("10.0.0.1", "1.1.1.1", 1, 2), p));
    // A set the policy lacks matches nothing.
    EXPECT_FALSE(matches("src=@gone action=drop", v4_tcp("10.0.0.1", "1.1.1.1", 1, 2), p));
}

TEST(Reference, PrioritiesTiesAndCounts)
{
    Policy p = policy_of(R"(
default: drop
rules:
  - priority=20 proto=tcp action=pass
  - priority=10 dport=22 action=count
  - priority=10 src=192.0.2.0/24 action=xsk
  - priority=5 dport=22 action=count
  - priority=10 src=192.0.2.0/25 action=redirect:eth1
  - priority=30 action=count
)");
    // Rule 3 and rule 5 tie on priority 10: the lower id, 3, wins. Count
    // rules 4 (priority 5) and 2 (priority 10, id 2 < 3) count on the way.
    Verdict v = classify(p, v4_tcp("192.0.2.10", "198.51.100.1", 999, 22), resolve_lab);
    EXPECT_EQ(v.action, ActionType::xsk);
    EXPECT_EQ(v.rule_id, 3u);
    EXPECT_EQ(v.rule_index, 2); // order: 4, 2, 3, 5, 1, 6
    EXPECT_EQ(v.counted, (std::vector<uint32_t>{4, 2}));

    v = classify(p, v4_tcp("203.0.113.1", "198.51.100.1", 999, 80), resolve_lab);
    EXPECT_EQ(v.action, ActionType::pass);
    EXPECT_EQ(v.rule_id, 1u);
    EXPECT_EQ(v.rule_index, 4);
    EXPECT_TRUE(v.counted.empty());

    PacketFields udp = v4_tcp("203.0.113.1", "198.51.100.1", 999, 80);
    udp.proto = 17;
    v = classify(p, udp, resolve_lab);
    EXPECT_EQ(v.action, ActionType::drop); // the default
    EXPECT_EQ(v.rule_index, -1);
    EXPECT_EQ(v.rule_id, 0u);
    EXPECT_EQ(v.counted, (std::vector<uint32_t>{6}));

    // Moving the redirect ahead by priority makes it win and is reported as such.
    p.rules[4].priority = 9;
    v = classify(p, v4_tcp("192.0.2.10", "198.51.100.1", 999, 22), resolve_lab);
    EXPECT_EQ(v.action, ActionType::redirect);
    EXPECT_EQ(v.rule_id, 5u);
    EXPECT_EQ(v.counted, (std::vector<uint32_t>{4}));
}

TEST(Reference, EmptyPolicyUsesDefault)
{
    Policy p;
    Verdict v = classify(p, v4_tcp("1.2.3.4", "5.6.7.8", 1, 2), resolve_lab);
    EXPECT_EQ(v.action, ActionType::pass);
    EXPECT_EQ(v.rule_index, -1);
    p.default_action = ActionType::drop;
    EXPECT_EQ(classify(p, v4_tcp("1.2.3.4", "5.6.7.8", 1, 2), resolve_lab).action,
              ActionType::drop);
    // A non-IP frame (PacketFields{} is one) gets default_non_ip, pass unless set.
    EXPECT_EQ(classify(p, PacketFields{}, resolve_lab).action, ActionType::pass);
    p.default_non_ip_action = ActionType::drop;
    EXPECT_EQ(classify(p, PacketFields{}, resolve_lab).action, ActionType::drop);
}

TEST(Reference, RateLimitMatchesOverTheLimitOnly)
{
    Policy p = policy_of(R"(
default: pass
rules:
  - priority=1 proto=tcp limit=10/s burst=2 per=src action=drop
  - priority=2 proto=tcp action=count
)");
    LimitState state;
    LimitClock clock{state, 1'000'000'000, 64};
    const PacketFields a = v4_tcp("192.0.2.1", "198.51.100.1", 1000, 80);
    const PacketFields b = v4_tcp("192.0.2.2", "198.51.100.1", 1000, 80);
    // The burst conforms: rule 1 does not match, the walk goes on to rule 2.
    for (int i = 0; i < 2; i++) {
        Verdict v = classify(p, a, resolve_lab, &clock);
        EXPECT_EQ(v.action, ActionType::pass);
        EXPECT_EQ(v.counted, (std::vector<uint32_t>{2}));
    }
    Verdict v = classify(p, a, resolve_lab, &clock);
    EXPECT_EQ(v.action, ActionType::drop);
    EXPECT_EQ(v.rule_id, 1u);
    EXPECT_TRUE(v.counted.empty());
    // Another source has its own bucket.
    EXPECT_EQ(classify(p, b, resolve_lab, &clock).action, ActionType::pass);
    // 100 ms later one packet's worth has come back.
    clock.now_ns += 100'000'000;
    EXPECT_EQ(classify(p, a, resolve_lab, &clock).action, ActionType::pass);
    EXPECT_EQ(classify(p, a, resolve_lab, &clock).action, ActionType::drop);
    EXPECT_EQ(state.buckets(), 2u);
    // Without a clock a limited rule never matches.
    EXPECT_EQ(classify(p, a, resolve_lab).action, ActionType::pass);
}

TEST(Reference, RateLimitKeysAndAggregates)
{
    Policy p = policy_of(R"(
rules:
  - limit=1/m burst=1 per=src action=drop
  - limit=1/m burst=1 per=rule action=xsk
)");
    LimitState state;
    LimitClock clock{state, 0, 64};
    // IPv6 sources share a bucket per /64; the first packet of each takes
    // it, the second is over.
    PacketFields x = v6_icmp("2001:db8:1:2::1", 128, 0), y = v6_icmp("2001:db8:1:2::ffff", 128, 0);
    PacketFields z = v6_icmp("2001:db8:1:3::1", 128, 0);
    EXPECT_EQ(classify(p, x, resolve_lab, &clock).rule_index, -1); // both conform
    EXPECT_EQ(classify(p, y, resolve_lab, &clock).rule_id, 1u); // same /64: over
    // z: its own /64 conforms to rule 1; rule 2's aggregate bucket was
    // charged by x, so z is over it.
    Verdict v = classify(p, z, resolve_lab, &clock);
    EXPECT_EQ(v.rule_id, 2u);
    EXPECT_EQ(v.action, ActionType::xsk);
    // A changed limit (another tag) starts full.
    p.rules[0].match.limit->amount = 2;
    EXPECT_NE(classify(p, y, resolve_lab, &clock).rule_id, 1u);
}
