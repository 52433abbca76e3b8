// SPDX-License-Identifier: GPL-2.0-only
// The compiler: table contents per field, address classes and v4/v6 tables,
// capacity errors, and compiled evaluation against the reference classifier.
#include "lib/compiler/compiler.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/reference/reference.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/tables/capacities.hpp"
#include "testing/random_policy.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <bit>
#include <random>
#include <set>

namespace xdpfw {
namespace {

using test::fake_ifindex;

Rule rule(const std::string& text)
{
    return parse_rule(text, "test rule");
}

CompileOptions options()
{
    CompileOptions o;
    o.resolve = fake_ifindex;
    return o;
}

Policy policy_of(std::vector<std::string> texts, ActionType dflt = ActionType::pass)
{
    Policy p;
    p.default_action = dflt;
    for (const auto& t : texts)
        p.rules.push_back(rule(t));
    return p;
}

std::array<uint8_t, 16> ip(const std::string& text)
{
    std::array<uint8_t, 16> a{};
    if (text.find(':') != std::string::npos)
        EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), a.data()), 1) << text;
    else
        EXPECT_EQ(inet_pton(AF_INET, text.c_str(), a.data()), 1) << text;
    return a;
}

uint32_t host_order(const std::string& v4)
{
    auto a = ip(v4);
    return (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
}

PacketFields tcp4(const std::string& src, const std::string& dst, uint16_t sport,
                  uint16_t dport, uint8_t flags = 0x02)
{
    PacketFields p;
    p.ifindex = 2;
    p.family = Family::ipv4;
    p.src = ip(src);
    p.dst = ip(dst);
    p.proto = 6;
    p.has_l4 = true;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    return p;
}

PacketFields with_proto(PacketFields p, uint8_t proto, bool has_l4)
{
    p.proto = proto;
    p.has_l4 = has_l4;
    return p;
}

bool bit(const CompiledPolicy& c, uint32_t bitmap, uint32_t rule_index)
{
    return (c.bitmaps.at(bitmap).at(rule_index / 64) >> (rule_index % 64)) & 1;
}

// The compiled walk must agree with the reference for this packet.
void expect_same(const Policy& p, const CompiledPolicy& c, const PacketFields& pkt)
{
    Verdict want = classify(p, pkt, fake_ifindex);
    Verdict got = evaluate(c, pkt);
    EXPECT_EQ(got.action, want.action) << test::describe(pkt);
    EXPECT_EQ(got.rule_index, want.rule_index) << test::describe(pkt);
    EXPECT_EQ(got.rule_id, want.rule_id) << test::describe(pkt);
    EXPECT_EQ(got.counted, want.counted) << test::describe(pkt);
}

// Shape invariants every compiled policy has.
void expect_well_formed(const CompiledPolicy& c)
{
    EXPECT_EQ(c.n_words, (c.n_rules + 63) / 64);
    EXPECT_EQ(c.n_summary, (c.n_words + 63) / 64);
    EXPECT_EQ(c.rules.size(), c.n_rules);
    EXPECT_EQ(c.vlan.size(), XDPFW_VLAN_SLOTS);
    EXPECT_EQ(c.proto.size(), XDPFW_PROTO_SLOTS);
    EXPECT_EQ(c.sport.size(), XDPFW_PORT_SLOTS);
    EXPECT_EQ(c.dport.size(), XDPFW_PORT_SLOTS);
    EXPECT_EQ(c.tcp_flags.size(), XDPFW_FLAGS_SLOTS);
    EXPECT_EQ(c.icmp.size(), XDPFW_ICMP_SLOTS);
    std::set<std::vector<uint64_t>> distinct;
    for (const auto& b : c.bitmaps) {
        EXPECT_EQ(b.size(), c.n_words);
        // No bit past the last rule.
        if (c.n_rules % 64 && !b.empty()) {
            EXPECT_EQ(b.back() >> (c.n_rules % 64), 0u);
        }
        distinct.insert(b);
    }
    EXPECT_EQ(distinct.size(), c.bitmaps.size()) << "bitmaps are not deduplicated";
    for (uint32_t i = 0; i < c.n_rules; ++i)
        EXPECT_TRUE(bit(c, c.all_bitmap, i));
    auto in_range = [&](const std::vector<uint32_t>& t) {
        for (uint32_t b : t)
            ASSERT_LT(b, c.bitmaps.size());
    };
    for (const auto* t : {&c.vlan, &c.proto, &c.sport, &c.dport, &c.tcp_flags, &c.icmp})
        in_range(*t);
    for (const auto& a : c.addr) {
        in_range(a.class_bitmap);
        // No IPv4 prefix in a direction: no table at all (lookup gives class 0).
        if (!a.v4->tbl24.empty())
            EXPECT_EQ(a.v4->tbl24.size(), XDPFW_TBL24_SLOTS);
        else
            EXPECT_TRUE(a.v4->chunks.empty() && a.v4->hosts.empty());
        EXPECT_EQ(a.v4->chunks.size() % XDPFW_CHUNK_SLOTS, 0u);
        EXPECT_NE(a.tables_id, 0u);
    }
}

uint16_t field_bit(xdpfw_field f)
{
    return static_cast<uint16_t>(1u << f);
}

TEST(Compiler, EmptyPolicyGivesDefault)
{
    Policy p;
    p.default_action = ActionType::drop;
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    EXPECT_EQ(c.n_rules, 0u);
    EXPECT_EQ(c.used_fields, 0);
    EXPECT_EQ(c.default_action, XDPFW_ACT_DROP);
    Verdict v = evaluate(c, tcp4("10.0.0.1", "10.0.0.2", 1, 2));
    EXPECT_EQ(v.action, ActionType::drop);
    EXPECT_EQ(v.rule_index, -1);
}

// The program's tables hold references: index, and the first non-zero
// word as the walk's lower bound (abi.h, xdpfw_ref).
TEST(Compiler, BitmapReferencesCarryTheFirstNonZeroWord)
{
    CompiledPolicy c;
    c.bitmaps = {{0, 0, 4}, {1, 0, 0}, {0, 0, 0}, std::vector<uint64_t>(300, 0)};
    c.bitmaps[3][299] = 1;
    EXPECT_EQ(c.bitmap_ref(0), xdpfw_ref(0, 2));
    EXPECT_EQ(xdpfw_ref_index(c.bitmap_ref(0)), 0u);
    EXPECT_EQ(xdpfw_ref_hint(c.bitmap_ref(0)), 2u);
    EXPECT_EQ(xdpfw_ref_hint(c.bitmap_ref(1)), 0u);
    EXPECT_EQ(xdpfw_ref_hint(c.bitmap_ref(2)), XDPFW_REF_HINT_MAX); // empty: nothing matches
    EXPECT_EQ(xdpfw_ref_hint(c.bitmap_ref(3)), XDPFW_REF_HINT_MAX); // capped: still a bound
    EXPECT_EQ(xdpfw_ref_index(c.bitmap_ref(3)), 3u);
    EXPECT_EQ(c.bitmap_ref(7), xdpfw_ref(7, 0)); // no such bitmap (no rules): bound 0
    EXPECT_EQ(c.bitmap_refs(), (std::vector<uint32_t>{c.bitmap_ref(0), c.bitmap_ref(1),
                                                       c.bitmap_ref(2), c.bitmap_ref(3)}));
    // No reference is XDPFW_NO_RULE: indices stay below XDPFW_REF_INDEX_MASK.
    EXPECT_NE(xdpfw_ref(XDPFW_REF_INDEX_MASK - 1, XDPFW_REF_HINT_MAX), XDPFW_NO_RULE);
    Capacities caps;
    caps.max_bitmaps = XDPFW_REF_INDEX_MASK + 1;
    EXPECT_THROW(check_table_capacities(caps), PolicyError);
}

TEST(Compiler, RulesInEvaluationOrderWithActions)
{
    Policy p = policy_of({"id=5 priority=2 action=redirect:eth1", "id=3 priority=2 action=count",
                          "id=9 priority=1 dport=1 action=xsk fallback=drop",
                          "id=7 priority=0 vlan=5 action=pass"});
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    ASSERT_EQ(c.n_rules, 4u);
    EXPECT_EQ(c.rules[0].rule_id, 7u);
    EXPECT_EQ(c.rules[0].action, XDPFW_ACT_PASS);
    EXPECT_EQ(c.rules[1].rule_id, 9u);
    EXPECT_EQ(c.rules[1].action, XDPFW_ACT_XSK);
    EXPECT_EQ(c.rules[1].flags & XDPFW_RULE_XSK_PASS, 0u); // fallback=drop
    EXPECT_EQ(c.rules[0].flags, XDPFW_RULE_XSK_PASS);
    EXPECT_EQ(c.rules[2].rule_id, 3u); // priority tie: lower id first
    EXPECT_EQ(c.rules[2].action, XDPFW_ACT_COUNT);
    EXPECT_EQ(c.rules[3].rule_id, 5u);
    EXPECT_EQ(c.rules[3].action, XDPFW_ACT_REDIRECT);
    EXPECT_EQ(c.rules[3].redirect_slot, 3u);
    for (const auto& r : c.rules)
        EXPECT_EQ(r.counter_slot, r.rule_id);

    // Untagged, dport 2: rule 7 and 9 do not match; count 3 then redirect 5.
    Verdict v = evaluate(c, tcp4("1.1.1.1", "2.2.2.2", 1, 2));
    EXPECT_EQ(v.action, ActionType::redirect);
    EXPECT_EQ(v.rule_index, 3);
    EXPECT_EQ(v.rule_id, 5u);
    EXPECT_EQ(v.counted, std::vector<uint32_t>{3});
    v = evaluate(c, tcp4("1.1.1.1", "2.2.2.2", 1, 1));
    EXPECT_EQ(v.action, ActionType::xsk);
    EXPECT_TRUE(v.counted.empty());
}

TEST(Compiler, CountRulesAreCountedAndSkipped)
{
    Policy p = policy_of({"id=1 priority=0 action=count", "id=2 priority=1 dport=80 action=count",
                          "id=3 priority=2 dport=81 action=drop", "id=4 priority=3 action=count"},
                         ActionType::drop);
    CompiledPolicy c = compile(p, options());
    Verdict v = evaluate(c, tcp4("1.1.1.1", "2.2.2.2", 1, 80));
    EXPECT_EQ(v.action, ActionType::drop);
    EXPECT_EQ(v.rule_index, -1); // default after all counts
    EXPECT_EQ(v.counted, (std::vector<uint32_t>{1, 2, 4}));
    v = evaluate(c, tcp4("1.1.1.1", "2.2.2.2", 1, 81));
    EXPECT_EQ(v.rule_id, 3u);
    EXPECT_EQ(v.counted, std::vector<uint32_t>{1});
}

TEST(Compiler, VlanTable)
{
    Policy p = policy_of({"id=1 vlan=10 action=drop", "id=2 vlan=0 action=pass"});
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    EXPECT_EQ(c.used_fields, field_bit(XDPFW_FIELD_VLAN));
    EXPECT_TRUE(bit(c, c.vlan[10], 0));
    EXPECT_FALSE(bit(c, c.vlan[10], 1));
    EXPECT_TRUE(bit(c, c.vlan[0], 1));
    EXPECT_FALSE(bit(c, c.vlan[XDPFW_VLAN_NONE], 0));
    EXPECT_FALSE(bit(c, c.vlan[XDPFW_VLAN_NONE], 1));
    EXPECT_EQ(c.vlan[11], c.vlan[XDPFW_VLAN_NONE]);
    PacketFields pkt = tcp4("1.1.1.1", "2.2.2.2", 1, 2);
    for (std::optional<uint16_t> v : {std::optional<uint16_t>{}, std::optional<uint16_t>{0},
                                      std::optional<uint16_t>{10}, std::optional<uint16_t>{4095}}) {
        pkt.vlan = v;
        expect_same(p, c, pkt);
    }
}

TEST(Compiler, FamilyAndProtoTable)
{
    Policy p = policy_of({"id=1 family=ipv6 action=drop", "id=2 proto=udp action=drop",
                          "id=3 family=ipv4 proto=icmp action=drop"});
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    EXPECT_EQ(c.used_fields, field_bit(XDPFW_FIELD_PROTO));
    for (uint32_t pr = 0; pr < 256; ++pr) {
        EXPECT_TRUE(bit(c, c.proto[512 + pr], 0)) << pr;
        EXPECT_FALSE(bit(c, c.proto[256 + pr], 0)) << pr;
        EXPECT_EQ(bit(c, c.proto[256 + pr], 1), pr == 17) << pr;
        EXPECT_EQ(bit(c, c.proto[512 + pr], 1), pr == 17) << pr;
        EXPECT_EQ(bit(c, c.proto[256 + pr], 2), pr == 1) << pr;
        EXPECT_FALSE(bit(c, c.proto[512 + pr], 2)) << pr;
    }
    // Non-IP frames: index 0 admits none of them (no family, no protocol).
    for (uint32_t r = 0; r < 3; ++r)
        EXPECT_FALSE(bit(c, c.proto[0], r));
    PacketFields other;
    other.family = Family::other;
    EXPECT_EQ(evaluate(c, other).rule_index, -1);
    expect_same(p, c, other);
    PacketFields udp6;
    udp6.family = Family::ipv6;
    udp6.proto = 17;
    EXPECT_EQ(evaluate(c, udp6).rule_id, 1u);
    expect_same(p, c, with_proto(tcp4("1.1.1.1", "2.2.2.2", 0, 0), 17, false));
    expect_same(p, c, with_proto(tcp4("1.1.1.1", "2.2.2.2", 0, 0), 1, true));
    expect_same(p, c, with_proto(tcp4("1.1.1.1", "2.2.2.2", 0, 0), 58, true));
}

TEST(Compiler, PortsImplyTcpOrUdpWithL4)
{
    Policy p = policy_of({"id=1 dport=1000-2000 action=drop", "id=2 sport=53 proto=udp action=drop"});
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    EXPECT_EQ(c.used_fields, field_bit(XDPFW_FIELD_SPORT) | field_bit(XDPFW_FIELD_DPORT) |
                                 field_bit(XDPFW_FIELD_PROTO));
    EXPECT_FALSE(bit(c, c.dport[XDPFW_PORT_NONE], 0));
    EXPECT_FALSE(bit(c, c.dport[999], 0));
    EXPECT_TRUE(bit(c, c.dport[1000], 0));
    EXPECT_TRUE(bit(c, c.dport[2000], 0));
    EXPECT_FALSE(bit(c, c.dport[2001], 0));
    EXPECT_TRUE(bit(c, c.dport[XDPFW_PORT_NONE], 1)); // rule 2 has no dport
    EXPECT_FALSE(bit(c, c.sport[XDPFW_PORT_NONE], 1));
    EXPECT_TRUE(bit(c, c.sport[53], 1));

    PacketFields t = tcp4("1.1.1.1", "2.2.2.2", 53, 1500);
    EXPECT_EQ(evaluate(c, t).rule_id, 1u);
    EXPECT_EQ(evaluate(c, with_proto(t, 17, true)).rule_id, 1u);
    EXPECT_EQ(evaluate(c, with_proto(t, 6, false)).rule_index, -1);   // non-first fragment
    EXPECT_EQ(evaluate(c, with_proto(t, 132, false)).rule_index, -1); // SCTP: no parsed ports
    PacketFields dns = with_proto(tcp4("1.1.1.1", "2.2.2.2", 53, 3000), 17, true);
    EXPECT_EQ(evaluate(c, dns).rule_id, 2u);
    EXPECT_EQ(evaluate(c, with_proto(dns, 6, true)).rule_index, -1);
    for (auto pkt : {t, with_proto(t, 17, true), with_proto(t, 6, false), dns,
                     with_proto(dns, 6, true), with_proto(dns, 17, false)})
        expect_same(p, c, pkt);
}

TEST(Compiler, TcpFlags)
{
    Policy p = policy_of({"id=1 tcp_flags=SYN,!ACK action=drop"});
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    EXPECT_EQ(c.used_fields, field_bit(XDPFW_FIELD_TCP_FLAGS));
    for (uint32_t f = 0; f < 256; ++f)
        EXPECT_EQ(bit(c, c.tcp_flags[f], 0), (f & 0x12) == 0x02) << f;
    EXPECT_FALSE(bit(c, c.tcp_flags[XDPFW_FLAGS_NONE], 0));
    PacketFields syn = tcp4("1.1.1.1", "2.2.2.2", 1, 2, 0x02);
    EXPECT_EQ(evaluate(c, syn).rule_id, 1u);
    EXPECT_EQ(evaluate(c, tcp4("1.1.1.1", "2.2.2.2", 1, 2, 0x12)).rule_index, -1);
    EXPECT_EQ(evaluate(c, with_proto(syn, 6, false)).rule_index, -1);
    // A UDP packet whose (unused) flag byte looks like SYN.
    EXPECT_EQ(evaluate(c, with_proto(syn, 17, true)).rule_index, -1);
    expect_same(p, c, with_proto(syn, 17, true));
}

TEST(Compiler, IcmpTypeAndCode)
{
    Policy p = policy_of({"id=1 icmp_type=3 icmp_code=1 action=drop", "id=2 icmp_type=8 action=drop",
                          "id=3 proto=icmpv6 icmp_type=128 action=drop"});
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    EXPECT_TRUE(bit(c, c.icmp[(3 << 8) | 1], 0));
    EXPECT_FALSE(bit(c, c.icmp[(3 << 8) | 0], 0));
    for (uint32_t code = 0; code < 256; ++code)
        EXPECT_TRUE(bit(c, c.icmp[(8 << 8) | code], 1)) << code;
    EXPECT_FALSE(bit(c, c.icmp[(9 << 8)], 1));
    for (uint32_t r = 0; r < 3; ++r)
        EXPECT_FALSE(bit(c, c.icmp[XDPFW_ICMP_NONE], r));

    PacketFields echo = with_proto(tcp4("1.1.1.1", "2.2.2.2", 0, 0), 1, true);
    echo.icmp_type = 8;
    echo.icmp_code = 7;
    EXPECT_EQ(evaluate(c, echo).rule_id, 2u);
    PacketFields echo6 = echo;
    echo6.family = Family::ipv6;
    echo6.proto = 58;
    EXPECT_EQ(evaluate(c, echo6).rule_id, 2u); // ICMPv6 with the same type
    echo6.icmp_type = 128;
    EXPECT_EQ(evaluate(c, echo6).rule_id, 3u);
    PacketFields v4_58 = echo; // ICMPv6 number inside IPv4 is not ICMP
    v4_58.proto = 58;
    v4_58.has_l4 = false;
    EXPECT_EQ(evaluate(c, v4_58).rule_index, -1);
    PacketFields unreach = echo;
    unreach.icmp_type = 3;
    unreach.icmp_code = 1;
    EXPECT_EQ(evaluate(c, unreach).rule_id, 1u);
    unreach.has_l4 = false;
    EXPECT_EQ(evaluate(c, unreach).rule_index, -1);
    for (const auto& pkt : {echo, echo6, v4_58, unreach})
        expect_same(p, c, pkt);
}

TEST(Compiler, IngressInterface)
{
    Policy p = policy_of({"id=1 iif=eth0 action=drop", "id=2 iif=test0 action=drop",
                          "id=3 action=pass"});
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    EXPECT_EQ(c.used_fields, field_bit(XDPFW_FIELD_IFINDEX));
    ASSERT_EQ(c.ifindex.size(), 2u);
    EXPECT_TRUE(bit(c, c.ifindex.at(2), 0));
    EXPECT_FALSE(bit(c, c.ifindex.at(2), 1));
    EXPECT_TRUE(bit(c, c.ifindex.at(2), 2));
    EXPECT_TRUE(bit(c, c.ifindex.at(1), 1));
    EXPECT_FALSE(bit(c, c.ifindex_default, 0));
    EXPECT_FALSE(bit(c, c.ifindex_default, 1));
    EXPECT_TRUE(bit(c, c.ifindex_default, 2));
    PacketFields pkt = tcp4("1.1.1.1", "2.2.2.2", 1, 2);
    for (uint32_t ifx : {1u, 2u, 3u, 42u}) {
        pkt.ifindex = ifx;
        expect_same(p, c, pkt);
    }

    Policy bad = policy_of({"id=1 iif=wlan9 action=drop"});
    try {
        compile(bad, options());
        FAIL() << "unknown interface accepted";
    } catch (const PolicyError& e) {
        EXPECT_EQ(e.where(), "rule 1");
        EXPECT_EQ(e.key(), "iif");
        EXPECT_NE(std::string(e.what()).find("wlan9"), std::string::npos) << e.what();
    }
    CompileOptions no_resolver;
    EXPECT_THROW(compile(p, no_resolver), PolicyError);
    Policy redirect = policy_of({"id=1 action=redirect:eth7"});
    EXPECT_THROW(compile(redirect, options()), PolicyError);
}

TEST(Compiler, UnusedFieldsAreAllBitmap)
{
    Policy p = policy_of({"id=1 dport=22 action=drop", "id=2 action=pass"});
    CompiledPolicy c = compile(p, options());
    EXPECT_EQ(c.used_fields, field_bit(XDPFW_FIELD_DPORT));
    for (uint32_t v : c.vlan)
        EXPECT_EQ(v, c.all_bitmap);
    for (uint32_t v : c.sport)
        EXPECT_EQ(v, c.all_bitmap);
    EXPECT_EQ(c.ifindex_default, c.all_bitmap);
    for (const auto& a : c.addr) {
        ASSERT_EQ(a.class_bitmap.size(), 1u);
        EXPECT_EQ(a.class_bitmap[0], c.all_bitmap);
        EXPECT_EQ(a.v6->size(), 0u);
    }
    // Distinct bitmaps: all, {rule 2} (dport none or other), and all again for dport 22.
    EXPECT_EQ(c.bitmaps.size(), 2u);
}

TEST(Compiler, ManyWordsAndTheLastRule)
{
    std::vector<std::string> texts;
    for (int i = 1; i <= 130; ++i)
        texts.push_back("id=" + std::to_string(i) + " dport=" + std::to_string(i) +
                        " action=" + (i % 3 ? "drop" : "count"));
    Policy p = policy_of(texts);
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    EXPECT_EQ(c.n_words, 3u);
    EXPECT_EQ(c.n_summary, 1u);
    for (uint16_t port : {1, 63, 64, 65, 127, 128, 129, 130, 131})
        expect_same(p, c, tcp4("1.1.1.1", "2.2.2.2", 9, port));
    EXPECT_EQ(evaluate(c, tcp4("1.1.1.1", "2.2.2.2", 9, 130)).rule_index, 129);
}

TEST(Compiler, NestedPrefixesAndSets)
{
    Policy p = policy_of({"id=1 priority=1 src=10.1.0.0/16 dport=22 action=drop",
                          "id=2 priority=2 src=@inner action=count",
                          "id=3 priority=3 src=@outer action=pass",
                          "id=4 priority=4 src=10.0.0.0/8 action=drop",
                          "id=5 priority=5 dst=2001:db8::/32 action=drop",
                          "id=6 priority=6 src=@outer dst=@inner action=xsk"},
                         ActionType::drop);
    p.sets["inner"] = {Prefix::parse("10.1.2.0/24"), Prefix::parse("10.1.2.3/32"),
                                Prefix::parse("2001:db8:1::/48")};
    p.sets["outer"] = {Prefix::parse("10.0.0.0/8"), Prefix::parse("10.1.2.3/32"),
                                Prefix::parse("192.0.2.0/28"), Prefix::parse("2001:db8::/32")};
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    EXPECT_EQ(c.used_fields, field_bit(XDPFW_FIELD_SRC) | field_bit(XDPFW_FIELD_DST) |
                                 field_bit(XDPFW_FIELD_DPORT) | field_bit(XDPFW_FIELD_PROTO));

    // Source classes: 10.1.2.3 is inside every source atom (literal /16,
    // @inner, @outer, literal /8); 10.2.0.0 only in @outer and the /8.
    const AddrTables& src = c.addr[0];
    uint32_t deep = src.v4->lookup(host_order("10.1.2.3"));
    for (uint32_t r : {0u, 1u, 2u, 3u, 4u, 5u})
        EXPECT_TRUE(bit(c, src.class_bitmap[deep], r)) << r;
    uint32_t shallow = src.v4->lookup(host_order("10.2.0.0"));
    EXPECT_FALSE(bit(c, src.class_bitmap[shallow], 0));
    EXPECT_FALSE(bit(c, src.class_bitmap[shallow], 1));
    EXPECT_TRUE(bit(c, src.class_bitmap[shallow], 2));
    EXPECT_TRUE(bit(c, src.class_bitmap[shallow], 3));
    EXPECT_TRUE(bit(c, src.class_bitmap[shallow], 4)); // no src match: always set
    EXPECT_EQ(src.v4->lookup(host_order("11.0.0.0")), 0u);
    EXPECT_EQ(src.v4->lookup(host_order("192.0.2.16")), 0u);
    EXPECT_NE(src.v4->lookup(host_order("192.0.2.15")), 0u);
    // Class 0: only the rules without a source match.
    EXPECT_FALSE(bit(c, src.class_bitmap[0], 0));
    EXPECT_TRUE(bit(c, src.class_bitmap[0], 4));

    const char* addrs[] = {"10.1.2.3", "10.1.2.4", "10.1.3.3", "10.2.0.0", "11.0.0.1",
                           "192.0.2.1", "192.0.2.17", "2001:db8::1", "2001:db8:1::5",
                           "2001:db8:2::5", "2001:db9::1", "::1"};
    for (const char* s : addrs) {
        for (const char* d : addrs) {
            PacketFields pkt = tcp4("1.1.1.1", "1.1.1.1", 1, 22);
            pkt.family = std::string(s).find(':') == std::string::npos ? Family::ipv4
                                                                        : Family::ipv6;
            if ((std::string(d).find(':') == std::string::npos) != (pkt.family == Family::ipv4))
                continue;
            pkt.src = ip(s);
            pkt.dst = ip(d);
            expect_same(p, c, pkt);
            pkt.dport = 23;
            expect_same(p, c, pkt);
        }
    }
    PacketFields arp;
    arp.family = Family::other;
    expect_same(p, c, arp);
}

TEST(Compiler, EmptySetMatchesNothing)
{
    Policy p = policy_of({"id=1 src=@none action=drop", "id=2 dst=@none action=count"});
    p.sets["none"];
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    for (const auto& a : c.addr) {
        ASSERT_EQ(a.class_bitmap.size(), 1u);
    }
    EXPECT_EQ(evaluate(c, tcp4("1.2.3.4", "5.6.7.8", 1, 2)).rule_index, -1);
    EXPECT_TRUE(evaluate(c, tcp4("1.2.3.4", "5.6.7.8", 1, 2)).counted.empty());

    Policy unknown = policy_of({"id=1 src=@missing action=drop"});
    try {
        compile(unknown, options());
        FAIL() << "unknown set accepted";
    } catch (const PolicyError& e) {
        EXPECT_EQ(e.key(), "src");
        EXPECT_NE(std::string(e.what()).find("@missing"), std::string::npos) << e.what();
    }
}

uint32_t kind_of(uint32_t entry)
{
    return entry >> XDPFW_TBL24_KIND_SHIFT;
}

TEST(Compiler, V4LeafHostAndChunkBlocks)
{
    Policy p = policy_of({"id=1 dst=@s action=drop"});
    std::vector<Prefix> s;
    // 198.51.100.0/24 is a chunk whose other entries take the /16's class.
    for (const char* t : {"10.0.0.0/8", "10.9.9.0/24", "192.0.2.5/32", "192.0.2.9/32",
                          "198.51.0.0/16",
                          "198.51.100.0/25", "198.51.100.64/26", "198.51.100.77/32"})
        s.push_back(Prefix::parse(t));
    for (int i = 1; i <= 40; ++i) // forty /32s: more than host_block_limit (32)
        s.push_back(Prefix::parse("203.0.113." + std::to_string(i) + "/32"));
    p.sets["s"] = s;
    std::sort(s.begin(), s.end());
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    const V4Table& t = *c.addr[1].v4;
    auto entry = [&](const char* a) { return t.tbl24[host_order(a) >> 8]; };

    EXPECT_EQ(kind_of(entry("10.1.2.0")), XDPFW_TBL24_LEAF);
    EXPECT_NE(entry("10.1.2.0") & XDPFW_TBL24_VALUE_MASK, 0u);
    EXPECT_EQ(kind_of(entry("10.9.9.0")), XDPFW_TBL24_LEAF);
    EXPECT_EQ(entry("11.0.0.0"), 0u);
    EXPECT_EQ(entry("9.255.255.0"), 0u);

    // The two /32s of 192.0.2.0/24: a HOSTS entry holding the class of the
    // block's other addresses (no covering prefix), the routes in their
    // buckets of the host table.
    EXPECT_EQ(kind_of(entry("192.0.2.0")), XDPFW_TBL24_HOSTS);
    EXPECT_EQ(entry("192.0.2.0") & XDPFW_TBL24_VALUE_MASK, 0u);
    EXPECT_EQ(t.host_buckets, 2u); // sized for its routes: a power of two >= 2 / 2 + 1
    ASSERT_EQ(t.hosts.size(), size_t{t.host_buckets} * XDPFW_BLOCK_SLOTS);
    EXPECT_EQ(t.n_hosts, 2u);
    for (const char* h : {"192.0.2.5", "192.0.2.9"}) {
        const uint32_t a = host_order(h);
        const size_t b = size_t{xdpfw_host_bucket(a, t.host_buckets)} * XDPFW_BLOCK_SLOTS;
        int found = 0;
        for (size_t k = 0; k < XDPFW_HOST_SLOTS; ++k)
            if (t.hosts[b + 2 * k] == a && (t.hosts[b + 2 * k + 1] & XDPFW_HOST_VALID)) {
                ++found;
                EXPECT_NE(t.hosts[b + 2 * k + 1] & XDPFW_TBL24_VALUE_MASK, 0u) << h;
            }
        EXPECT_EQ(found, 1) << h;
    }
    size_t used = 0;
    for (size_t i = 1; i < t.hosts.size(); i += 2)
        used += (t.hosts[i] & XDPFW_HOST_VALID) != 0;
    EXPECT_EQ(used, 2u);
    // The host hint names 192.0/16, the one /16 with host routes, and no other.
    auto hinted = [](const V4Table& v, const char* a) {
        const uint32_t x = host_order(a);
        return (v.host_hint[x >> 21] >> ((x >> 16) & 31) & 1) != 0;
    };
    EXPECT_TRUE(hinted(t, "192.0.2.0"));
    EXPECT_TRUE(hinted(t, "192.0.255.255")); // the same /16
    size_t hint_bits = 0;
    for (uint32_t w : t.host_hint)
        hint_bits += static_cast<size_t>(__builtin_popcount(w));
    EXPECT_EQ(hint_bits, 1u);
    EXPECT_FALSE(hinted(t, "203.0.113.0")); // its /32s went to a chunk

    EXPECT_EQ(kind_of(entry("198.51.100.0")), XDPFW_TBL24_CHUNK);
    EXPECT_EQ(kind_of(entry("203.0.113.0")), XDPFW_TBL24_CHUNK);
    EXPECT_EQ(t.chunks.size(), 2u * XDPFW_CHUNK_SLOTS);

    // Every address of the interesting blocks, against the set's semantics.
    for (const char* block : {"10.9.9.0", "192.0.2.0", "198.51.100.0", "203.0.113.0",
                              "10.255.255.0", "11.0.0.0"}) {
        for (uint32_t low = 0; low < 256; ++low) {
            uint32_t a = host_order(block) | low;
            std::array<uint8_t, 16> bytes{};
            bytes[0] = a >> 24;
            bytes[1] = (a >> 16) & 0xff;
            bytes[2] = (a >> 8) & 0xff;
            bytes[3] = a & 0xff;
            bool inside = std::any_of(s.begin(), s.end(),
                                      [&](const Prefix& pf) { return pf.contains(bytes); });
            uint32_t cls = t.lookup(a);
            EXPECT_EQ(cls != 0, inside) << block << " low " << low;
            EXPECT_EQ(bit(c, c.addr[1].class_bitmap[cls], 0), inside);
        }
    }

    // With a host limit of 1 the two-host block becomes a chunk too.
    CompileOptions o = options();
    o.caps.host_block_limit = 1;
    CompiledPolicy c1 = compile(p, o);
    EXPECT_EQ(kind_of(c1.addr[1].v4->tbl24[host_order("192.0.2.0") >> 8]), XDPFW_TBL24_CHUNK);
    EXPECT_EQ(c1.addr[1].v4->n_hosts, 0u);
    EXPECT_EQ(c1.addr[1].v4->chunks.size(), 3u * XDPFW_CHUNK_SLOTS);
    o.caps.host_block_limit = XDPFW_HOST_BLOCK_MAX + 1;
    EXPECT_THROW(compile(p, o), PolicyError);
    // A limit of 40 takes 203.0.113.0/24's forty hosts into the host table.
    o.caps.host_block_limit = 40;
    CompiledPolicy c40 = compile(p, o);
    EXPECT_EQ(kind_of(c40.addr[1].v4->tbl24[host_order("203.0.113.0") >> 8]), XDPFW_TBL24_HOSTS);
    EXPECT_EQ(c40.addr[1].v4->n_hosts, 42u);
    EXPECT_TRUE(hinted(*c40.addr[1].v4, "203.0.113.0"));
    for (uint32_t low = 0; low < 256; ++low)
        EXPECT_EQ(c40.addr[1].v4->lookup(host_order("203.0.113.0") | low) != 0, low >= 1 && low <= 40)
            << low;
}

TEST(Compiler, V6TableByLength)
{
    Policy p = policy_of({"id=1 src=@s action=drop", "id=2 src=2001:db8::/32 action=count"});
    p.sets["s"] = {Prefix::parse("2001:db8::/48"), Prefix::parse("2001:db8::1/128"),
                            Prefix::parse("10.0.0.0/8")};
    CompiledPolicy c = compile(p, options());
    expect_well_formed(c);
    const V6Table& t = *c.addr[0].v6;
    EXPECT_EQ(t.size(), 3u);
    std::vector<uint8_t> lens;
    for (const auto& [len, m] : t.by_len)
        lens.push_back(len);
    EXPECT_EQ(lens, (std::vector<uint8_t>{128, 48, 32})); // longest first
    uint32_t host = t.lookup(ip("2001:db8::1"));
    uint32_t in48 = t.lookup(ip("2001:db8::2"));
    uint32_t in32 = t.lookup(ip("2001:db8:1::2"));
    EXPECT_EQ(t.lookup(ip("2001:db9::")), 0u);
    EXPECT_NE(in32, 0u);
    // The /128 and the /48 both belong to @s alone plus the literal /32: same class.
    EXPECT_EQ(host, in48);
    EXPECT_NE(in48, in32);
    const auto& cb = c.addr[0].class_bitmap;
    EXPECT_TRUE(bit(c, cb[in48], 0));
    EXPECT_TRUE(bit(c, cb[in48], 1));
    EXPECT_FALSE(bit(c, cb[in32], 0));
    EXPECT_TRUE(bit(c, cb[in32], 1));
}

// Expects compile() to fail with a PolicyError whose text mentions `needle`.
void expect_error(const Policy& p, const CompileOptions& o, const std::string& needle)
{
    try {
        compile(p, o);
        ADD_FAILURE() << "compiled, expected an error mentioning " << needle;
    } catch (const PolicyError& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(Compiler, RuleCountAndIdErrors)
{
    CompileOptions o = options();
    o.caps.max_rules = 64;
    std::vector<std::string> texts;
    for (int i = 1; i <= 63; ++i)
        texts.push_back("id=" + std::to_string(i) + " action=drop");
    EXPECT_NO_THROW(compile(policy_of(texts), o));
    texts.push_back("id=64 action=drop");
    expect_error(policy_of(texts), o, "1..63"); // 64 rules fit, but id 64 does not
    texts.back() = "id=5 action=drop";
    texts.push_back("id=6 action=drop");
    expect_error(policy_of(texts), o, "max_rules=64");

    Policy zero = policy_of({"action=drop"});
    zero.rules[0].id = 0;
    expect_error(zero, options(), "rule ids");
    expect_error(policy_of({"id=3 action=drop", "id=3 action=pass"}), options(), "duplicate");
    o.caps.max_rules = 100;
    expect_error(policy_of({"id=1 action=drop"}), o, "multiple of 64");
}

TEST(Compiler, TableCapacityErrors)
{
    // Each rule's dport makes its own bitmap: all, none, {1}, {2}, ...
    std::vector<std::string> texts;
    for (int i = 1; i <= 10; ++i)
        texts.push_back("id=" + std::to_string(i) + " dport=" + std::to_string(i) +
                        " action=drop");
    CompileOptions o = options();
    o.caps.max_bitmaps = 5;
    expect_error(policy_of(texts), o, "too many distinct rule bitmaps");

    Policy sets = policy_of({"id=1 src=@a action=drop", "id=2 src=@b action=drop",
                             "id=3 src=@c action=drop"});
    sets.sets["a"] = {Prefix::parse("10.0.0.0/8")};
    sets.sets["b"] = {Prefix::parse("10.1.0.0/16")};
    sets.sets["c"] = {Prefix::parse("10.1.1.0/24")};
    o = options();
    o.caps.max_addr_classes = 3; // needs {}, {a}, {a,b}, {a,b,c}
    expect_error(sets, o, "max_addr_classes");
    o.caps.max_addr_classes = 4;
    EXPECT_NO_THROW(compile(sets, o));

    Policy chunky = policy_of({"id=1 dst=@blk action=drop"});
    for (int b = 0; b < 3; ++b)
        chunky.sets["blk"].edit([&](std::vector<Prefix>& v) {
            v.push_back(Prefix::parse("198.51." + std::to_string(b) + ".128/25"));
        });
    o = options();
    o.caps.max_v4_chunks = 2;
    try {
        compile(chunky, o);
        ADD_FAILURE() << "chunk capacity not enforced";
    } catch (const PolicyError& e) {
        EXPECT_EQ(e.where(), "set @blk");
        EXPECT_EQ(e.key(), "dst");
        EXPECT_NE(std::string(e.what()).find("max_v4_chunks"), std::string::npos);
    }

    Policy hosts = policy_of({"id=7 src=192.0.2.1/32 action=drop", "id=8 src=192.0.2.2 action=drop",
                              "id=9 src=198.51.100.1 action=drop"});
    o = options();
    o.caps.max_v4_hosts = 2;
    try {
        compile(hosts, o);
        ADD_FAILURE() << "host route capacity not enforced";
    } catch (const PolicyError& e) {
        EXPECT_NE(e.where().find("rule 9"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("max_v4_hosts"), std::string::npos);
    }

    Policy v6 = policy_of({"id=1 src=@six action=drop"});
    v6.sets["six"] = {Prefix::parse("2001:db8::/32"), Prefix::parse("2001:db8::/48"),
                               Prefix::parse("2001:db8::1/128")};
    o = options();
    o.caps.max_v6_prefixes = 2;
    expect_error(v6, o, "max_v6_prefixes");
    o.caps.max_v6_prefixes = 3;
    EXPECT_NO_THROW(compile(v6, o));

    Policy bad_prefix = policy_of({"id=1 src=@odd action=drop"});
    Prefix p33 = Prefix::parse("10.0.0.0/32");
    p33.len = 33;
    bad_prefix.sets["odd"] = {p33};
    expect_error(bad_prefix, options(), "set @odd: src: prefix of family ipv4 with length 33");

    Policy bad_default;
    bad_default.default_action = ActionType::count;
    expect_error(bad_default, options(), "default_action");
}

// The compiled walk against the reference on random policies and packets.
void run_random(bool only_valid, uint64_t seed, int policies, int packets)
{
    std::mt19937_64 rng(seed);
    int hits = 0;
    test::RandomPolicyOptions ro;
    ro.only_valid = only_valid;
    for (int i = 0; i < policies; ++i) {
        // Some policies with more rules than a word, to cross word boundaries.
        ro.max_rules = i % 5 == 4 ? 150 : 40;
        Policy p = test::random_policy(rng, ro);
        if (only_valid) {
            for (const Rule& r : p.rules)
                ASSERT_NO_THROW(validate_rule(r, "random rule")) << r.text;
        }
        CompiledPolicy c = compile(p, options());
        expect_well_formed(c);
        test::PacketGenerator gen(p);
        int mismatches = 0;
        for (int k = 0; k < packets && mismatches < 5; ++k) {
            PacketFields pkt = gen.next(rng);
            Verdict want = classify(p, pkt, fake_ifindex);
            Verdict got = evaluate(c, pkt);
            hits += want.rule_index >= 0 || !want.counted.empty();
            if (got.action != want.action || got.rule_index != want.rule_index ||
                got.rule_id != want.rule_id || got.counted != want.counted) {
                ++mismatches;
                ADD_FAILURE() << "policy " << i << " (seed " << seed << "):\n"
                              << test::describe(p) << "packet: " << test::describe(pkt)
                              << "\nreference: " << test::describe(want)
                              << "\ncompiled:  " << test::describe(got);
            }
        }
    }
    // The generator aims at the rules: packets that hit no rule test little.
    EXPECT_GT(hits, policies * packets / 4);
    ::testing::Test::RecordProperty("rule_hits", std::to_string(hits));
}

TEST(Compiler, RandomValidPoliciesMatchReference)
{
    run_random(true, 0x5eed0001, 30, 2000);
}

TEST(Compiler, RandomContradictoryPoliciesMatchReference)
{
    run_random(false, 0x5eed0002, 30, 2000);
}

// Correctness at scale; its compile time is measured in bench/, not here.
TEST(Compiler, MillionPrefixSetIsExact)
{
    std::mt19937_64 rng(42);
    Policy p = policy_of({"id=1 src=@big action=drop", "id=2 src=10.0.0.0/8 action=count"});
    std::vector<Prefix> pre;
    pre.reserve(1'000'000);
    // Blocklist-like lengths: mostly /24 and /32, some wider and in between.
    const uint8_t lens[] = {8, 12, 16, 20, 22, 24, 24, 24, 26, 28, 30, 32, 32, 32, 32, 32};
    for (int i = 0; i < 1'000'000; ++i) {
        Prefix pf;
        pf.len = lens[rng() % std::size(lens)];
        uint32_t a = static_cast<uint32_t>(rng()) & (pf.len ? ~0u << (32 - pf.len) : 0);
        for (int b = 0; b < 4; ++b)
            pf.addr[b] = static_cast<uint8_t>(a >> (24 - 8 * b));
        pre.push_back(pf);
    }
    std::sort(pre.begin(), pre.end());
    pre.erase(std::unique(pre.begin(), pre.end()), pre.end());
    p.sets["big"] = pre;

    CompileOptions o = options();
    o.caps.max_v4_chunks = 1u << 20;
    o.caps.max_v4_hosts = 1u << 21;
    CompiledPolicy c = compile(p, o);

    // Spot checks: addresses inside random set prefixes, and random ones
    // (membership by one hash probe per length, the obvious way).
    std::set<uint64_t> by_len_addr;
    for (const Prefix& pf : pre)
        by_len_addr.insert((uint64_t{host_order(pf.str().substr(0, pf.str().find('/')))} << 8) |
                           pf.len);
    auto member = [&](const std::array<uint8_t, 16>& a) {
        uint32_t h = (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
        for (uint8_t len : lens)
            if (by_len_addr.count((uint64_t{h & (len ? ~0u << (32 - len) : 0)} << 8) | len))
                return true;
        return false;
    };
    for (int i = 0; i < 2000; ++i) {
        PacketFields pkt = tcp4("0.0.0.0", "0.0.0.0", 1, 2);
        const Prefix& inside = pre[rng() % pre.size()];
        uint32_t host = static_cast<uint32_t>(rng()) & (inside.len == 32 ? 0 : ~0u >> inside.len);
        for (int b = 0; b < 4; ++b)
            pkt.src[b] = static_cast<uint8_t>(inside.addr[b] | (host >> (24 - 8 * b)));
        if (i % 2)
            for (int b = 0; b < 4; ++b)
                pkt.src[b] = static_cast<uint8_t>(rng());
        Verdict got = evaluate(c, pkt);
        bool in_set = member(pkt.src);
        if (i % 2 == 0) {
            EXPECT_TRUE(in_set);
        }
        EXPECT_EQ(got.rule_index == 0, in_set) << test::describe(pkt);
        EXPECT_EQ(got.counted.size() == 1, pkt.src[0] == 10 && !in_set);
    }
}

TEST(Compiler, CacheReusesAddressTablesWhenOnlyRulesChange)
{
    CompileOptions o = options();
    o.cache = make_compile_cache();
    Policy p = policy_of({"id=1 src=@s action=drop", "id=2 dst=10.0.0.0/8 action=count"});
    p.sets["s"] = {Prefix::parse("192.0.2.0/24"), Prefix::parse("2001:db8::/32")};
    CompiledPolicy a = compile(p, o);

    // Another rule without addresses, reordered priorities: same tables.
    Policy q = p;
    q.rules.push_back(rule("id=3 priority=-5 proto=udp action=pass"));
    q.rules[0].priority = 7;
    CompiledPolicy b = compile(q, o);
    for (unsigned d = 0; d < XDPFW_DIRECTIONS; ++d) {
        EXPECT_EQ(a.addr[d].tables_id, b.addr[d].tables_id);
        EXPECT_EQ(a.addr[d].v4.get(), b.addr[d].v4.get());
    }
    for (const PacketFields& pkt : {tcp4("192.0.2.9", "10.1.1.1", 1, 2), tcp4("8.8.8.8", "10.1.1.1", 1, 2),
                                    tcp4("192.0.2.9", "11.1.1.1", 1, 2)})
        expect_same(q, b, pkt);

    // A set change rebuilds that direction only.
    Policy r = q;
    r.sets["s"].edit([&](std::vector<Prefix>& v) { v.push_back(Prefix::parse("198.51.100.0/24")); });
    normalize_set(r.sets["s"]);
    CompiledPolicy c = compile(r, o);
    EXPECT_NE(c.addr[0].tables_id, b.addr[0].tables_id);
    EXPECT_EQ(c.addr[1].tables_id, b.addr[1].tables_id);
    expect_same(r, c, tcp4("198.51.100.1", "10.1.1.1", 1, 2));
    EXPECT_EQ(evaluate(c, tcp4("198.51.100.1", "10.1.1.1", 1, 2)).rule_id, 1u);

    // A new literal prefix rebuilds too; without a cache every compile is fresh.
    Policy s2 = r;
    s2.rules.push_back(rule("id=4 dst=172.16.0.0/12 action=drop"));
    CompiledPolicy d = compile(s2, o);
    EXPECT_NE(d.addr[1].tables_id, c.addr[1].tables_id);
    expect_same(s2, d, tcp4("1.1.1.1", "172.16.5.5", 1, 2));
    EXPECT_NE(compile(s2, options()).addr[1].tables_id, compile(s2, options()).addr[1].tables_id);
}

// Compiles through a cache after every edit of a random walk: the tables an
// update patches in place must classify like a compile from scratch (and the
// reference), and most pages must be shared with the previous compile (the
// update really is incremental). A tiny host_block_limit, host table and
// chunk room make blocks move between leaf, host table and chunk and exercise
// id reuse, full buckets and the fallback to a rebuild when room runs out.
TEST(Compiler, IncrementalUpdatesMatchFreshCompiles)
{
    std::mt19937_64 rng(0x5eed0003);
    for (int walk = 0; walk < 4; ++walk) {
        CompileOptions o = options();
        o.caps.host_block_limit = 2 + walk % 3;
        if (walk % 2)
            o.caps.max_v4_chunks = 24; // runs out now and then: rebuilds
        if (walk >= 2)
            o.caps.max_v4_hosts = 40; // 21 buckets: some fill up (their blocks become chunks)
        o.cache = make_compile_cache();
        CompileOptions fresh = o;
        fresh.cache = nullptr;
        test::RandomPolicyOptions ro;
        ro.max_rules = 20;
        ro.max_set_prefixes = 60;
        Policy p = test::random_policy(rng, ro);
        size_t shared_pages = 0, total_pages = 0;
        std::shared_ptr<const V4Table> prev[XDPFW_DIRECTIONS];
        std::string log;
        for (int step = 0; step < 50; ++step) {
            log += test::random_edit(rng, p, ro, o.caps.max_rules) + "\n";
            CompiledPolicy c, f;
            std::string err_c, err_f;
            try {
                c = compile(p, o);
            } catch (const PolicyError& e) {
                err_c = e.what();
            }
            // A fresh compile now and then (each builds 64 MiB), and on errors.
            const bool check_fresh = step % 5 == 0 || !err_c.empty();
            if (check_fresh) {
                try {
                    f = compile(p, fresh);
                } catch (const PolicyError& e) {
                    err_f = e.what();
                }
                ASSERT_EQ(err_c, err_f) << log;
            }
            if (!err_c.empty()) {
                // Out of room for good: start over, as after a refused commit.
                p = test::random_policy(rng, ro);
                continue;
            }
            for (unsigned d = 0; d < XDPFW_DIRECTIONS; ++d) {
                const auto& pages = c.addr[d].v4->tbl24.pages();
                if (prev[d] && !prev[d]->tbl24.empty() && pages.size() == prev[d]->tbl24.pages().size()) {
                    for (size_t i = 0; i < pages.size(); ++i)
                        shared_pages += pages[i] == prev[d]->tbl24.pages()[i];
                    total_pages += pages.size();
                }
                prev[d] = c.addr[d].v4;
                // The host table holds exactly n_hosts routes.
                const PagedTable& h = c.addr[d].v4->hosts;
                size_t valid = 0;
                for (size_t w = 1; w < h.size(); w += 2) {
                    if (!(h[w] & XDPFW_HOST_VALID))
                        continue;
                    ++valid;
                    // Its /16 is hinted (abi.h), or the program would not
                    // load the bucket early for it.
                    const uint32_t a = h[w - 1];
                    ASSERT_TRUE(c.addr[d].v4->host_hint[a >> 21] >> ((a >> 16) & 31) & 1)
                        << std::hex << a << "\n" << log;
                }
                ASSERT_EQ(valid, c.addr[d].v4->n_hosts) << log;
            }
            test::PacketGenerator gen(p);
            for (int k = 0; k < 300; ++k) {
                PacketFields pkt = gen.next(rng);
                Verdict want = classify(p, pkt, fake_ifindex);
                Verdict got = evaluate(c, pkt);
                ASSERT_EQ(got.rule_index, want.rule_index)
                    << "walk " << walk << " step " << step << ": " << test::describe(pkt) << "\n"
                    << log << test::describe(p);
                ASSERT_EQ(got.counted, want.counted) << log;
                if (check_fresh) {
                    ASSERT_EQ(evaluate(f, pkt).rule_index, want.rule_index) << log;
                }
            }
        }
        // Nearly every 16 KiB page is the previous compile's own.
        EXPECT_GT(shared_pages, total_pages * 9 / 10) << shared_pages << " of " << total_pages;
    }
}

// A set of thousands of prefixes changed at its first, last and middle
// positions, in one place or several, grown and shrunk: the cache diffs only
// what lies between the common head and tail (compared as memory in blocks
// of 1,024 prefixes), so every change on either side of a block's edge must
// reach the tables like a compile from scratch.
TEST(Compiler, LargeSetChangesAtEveryPositionMatchFreshCompiles)
{
    std::mt19937_64 rng(0x5eed0007);
    auto random_prefix = [&] {
        const uint32_t a = 0x0a000000 | uint32_t(rng() & 0xffffff);
        const bool host = rng() & 1;
        const uint32_t m = host ? a : a & 0xffffff00;
        return Prefix::parse(std::to_string(m >> 24) + "." + std::to_string((m >> 16) & 255) + "." +
                             std::to_string((m >> 8) & 255) + "." + std::to_string(m & 255) +
                             (host ? "/32" : "/24"));
    };
    // v is the set; each check() commits it to p (the cache keeps sharing
    // the previous one's prefixes, PrefixSet).
    std::vector<Prefix> v;
    auto normalize = [&] {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
    };
    while (v.size() < 5000)
        v.push_back(random_prefix());
    normalize();
    Policy p = policy_of({"id=1 src=@s action=drop"});
    p.sets["s"] = v;
    CompileOptions o = options();
    o.cache = make_compile_cache();
    compile(p, o);

    // Positions around the block edges, both ends and random ones.
    auto position = [&](int k) -> size_t {
        const size_t edges[] = {0, 1, 1023, 1024, 1025, 2047, 2048, v.size() / 2,
                                v.size() - 1025, v.size() - 1024, v.size() - 2, v.size() - 1};
        return k < 12 ? std::min(edges[k], v.size() - 1) : size_t(rng() % v.size());
    };
    std::vector<Prefix> touched;
    auto verify = [&](const std::string& step) {
        CompiledPolicy c = compile(p, o);
        CompileOptions fresh = options();
        CompiledPolicy f = compile(p, fresh);
        std::vector<Prefix> probes = touched;
        for (int i = 0; i < 200 && !v.empty(); ++i)
            probes.push_back(v[rng() % v.size()]);
        for (int i = 0; i < 100; ++i)
            probes.push_back(random_prefix());
        for (const Prefix& pr : probes) {
            const std::string a = pr.str().substr(0, pr.str().find('/'));
            const PacketFields pkt = tcp4(a, "192.0.2.1", 1, 2);
            const Verdict want = classify(p, pkt, fake_ifindex);
            ASSERT_EQ(evaluate(c, pkt).rule_index, want.rule_index) << step << " " << pr.str();
            ASSERT_EQ(evaluate(f, pkt).rule_index, want.rule_index) << step << " " << pr.str();
        }
    };
    auto check = [&](const std::string& step) {
        p.sets["s"] = v;
        verify(step);
    };
    for (int k = 0; k < 20; ++k) {
        // One prefix out, then back in.
        const size_t at = position(k);
        touched = {v[at]};
        const Prefix gone = v[at];
        v.erase(v.begin() + ptrdiff_t(at));
        check("del at " + std::to_string(at));
        v.insert(std::lower_bound(v.begin(), v.end(), gone), gone);
        check("add at " + std::to_string(at));
        // One in, wherever it sorts; then a few at once, some removed too.
        touched = {random_prefix()};
        v.push_back(touched[0]);
        normalize();
        check("add " + touched[0].str());
        touched.clear();
        for (int i = 0; i < 3; ++i) {
            touched.push_back(v[position(int(rng() % 13))]);
            v.erase(std::find(v.begin(), v.end(), touched.back()));
            touched.push_back(random_prefix());
            v.push_back(touched.back());
        }
        normalize();
        check("mixed " + std::to_string(k));
    }
    // Through with()/without(), as set.add and set.del make them: the cache
    // takes the changes the new set carries instead of diffing it.
    for (int k = 0; k < 16; ++k) {
        const PrefixSet before = p.sets["s"];
        touched = {random_prefix(), v[position(k)], v[position(int(rng() % 13))]};
        std::sort(touched.begin(), touched.end());
        touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
        p.sets["s"] = k % 2 ? before.with(touched) : before.without(touched);
        ASSERT_TRUE(p.sets["s"].changes_from(before)) << k;
        v = p.sets["s"].prefixes();
        verify("carried " + std::to_string(k));
    }
    // Emptied, then whole again.
    const std::vector<Prefix> all = v;
    touched = {all.front(), all.back()};
    v.clear();
    check("emptied");
    v = all;
    check("refilled");
}

// Host routes whose bucket is full: their /24 becomes a chunk instead, and
// every address still classifies right.
TEST(Compiler, FullHostBucketsFallBackToChunks)
{
    CompileOptions o = options();
    o.caps.max_v4_hosts = 14; // 8 buckets of 8 pairs
    const uint32_t buckets = xdpfw_host_buckets(o.caps.max_v4_hosts);
    // Nine hosts in nine /24 blocks that all hash to bucket 0.
    Policy p = policy_of({"id=1 src=@s action=drop"});
    std::vector<uint32_t> addrs;
    for (uint32_t a = 0x0a000001; addrs.size() < 9; a += 0x100)
        if (xdpfw_host_bucket(a, buckets) == 0)
            addrs.push_back(a);
    for (uint32_t a : addrs)
        p.sets["s"].edit([&](std::vector<Prefix>& v) {
            v.push_back(Prefix::parse(std::to_string(a >> 24) + "." +
                                      std::to_string((a >> 16) & 255) + "." +
                                      std::to_string((a >> 8) & 255) + "." +
                                      std::to_string(a & 255)));
        });
    p.sets["s"].edit([](std::vector<Prefix>& v) { std::sort(v.begin(), v.end()); });
    CompiledPolicy c = compile(p, o);
    const V4Table& t = *c.addr[0].v4;
    EXPECT_EQ(t.n_hosts, 8u);
    EXPECT_EQ(t.chunks.size(), 1u * XDPFW_CHUNK_SLOTS);
    for (uint32_t a : addrs) {
        EXPECT_NE(t.lookup(a), 0u) << a;
        EXPECT_EQ(t.lookup(a + 1), 0u) << a;
    }
    // The same through a compile cache, one host at a time: each update
    // repaints one block, and a block moves to a chunk when its bucket is
    // full and stays right when routes leave.
    CompileOptions inc = o;
    inc.cache = make_compile_cache();
    Policy q = policy_of({"id=1 src=@s action=drop"});
    q.sets["s"].edit([&](std::vector<Prefix>& v) { v.clear(); });
    compile(q, inc);
    auto check = [&](const CompiledPolicy& cp, const std::string& step) {
        const V4Table& v = *cp.addr[0].v4;
        for (uint32_t a : addrs) {
            const bool member = std::any_of(
                q.sets["s"].prefixes().begin(), q.sets["s"].prefixes().end(),
                [&](const Prefix& pf) { return host_order(pf.str().substr(0, pf.str().find('/'))) == a; });
            EXPECT_EQ(v.lookup(a) != 0, member) << step << " " << a;
            EXPECT_EQ(v.lookup(a + 1), 0u) << step;
        }
    };
    for (size_t i = 0; i < addrs.size(); ++i) {
        q.sets["s"] = std::vector<Prefix>(p.sets["s"].prefixes().begin(),
                                                   p.sets["s"].prefixes().begin() + ptrdiff_t(i) + 1);
        CompiledPolicy cp = compile(q, inc);
        check(cp, "add " + std::to_string(i));
        EXPECT_EQ(cp.addr[0].v4->n_hosts, std::min<size_t>(i + 1, 8));
    }
    for (size_t i = 0; i < addrs.size(); ++i) {
        q.sets["s"].edit([&](std::vector<Prefix>& v) { v.erase(v.begin()); });
        CompiledPolicy cp = compile(q, inc);
        check(cp, "del " + std::to_string(i));
    }

    // With no chunk left the error says why the block needed one.
    o.caps.max_v4_chunks = 0;
    expect_error(p, o, "bucket was full");
    // More routes than max_v4_hosts: refused by name.
    o = options();
    o.caps.max_v4_hosts = 8;
    for (uint32_t i = 0; i < 9; ++i)
        p.sets["s"].edit([&](std::vector<Prefix>& v) { v.push_back(Prefix::parse("192.0.2." + std::to_string(i + 1))); });
    p.sets["s"].edit([](std::vector<Prefix>& v) { std::sort(v.begin(), v.end()); });
    expect_error(p, o, "more than max_v4_hosts=8");
}

// Host routes added one commit at a time: the table grows by rebuilds to
// more buckets (a power of two), never past three routes per bucket, and a
// small table uses few buckets (it stays in cache).
TEST(Compiler, HostTableGrowsWithItsRoutes)
{
    CompileOptions o = options();
    o.cache = make_compile_cache();
    Policy p = policy_of({"id=1 src=@s action=drop"});
    p.sets["s"].edit([&](std::vector<Prefix>& v) { v.clear(); });
    uint32_t last_buckets = 0;
    int growths = 0;
    for (uint32_t i = 0; i < 200; ++i) {
        p.sets["s"].edit([&](std::vector<Prefix>& v) {
            v.push_back(Prefix::parse("10." + std::to_string(i / 256) + "." +
                                      std::to_string(i % 256) + ".7"));
        });
        CompiledPolicy c = compile(p, o);
        const V4Table& t = *c.addr[0].v4;
        ASSERT_EQ(t.n_hosts, i + 1);
        ASSERT_LE(t.n_hosts, size_t{3} * t.host_buckets);
        ASSERT_TRUE(std::has_single_bit(t.host_buckets)) << t.host_buckets;
        ASSERT_EQ(t.hosts.size(), size_t{t.host_buckets} * XDPFW_BLOCK_SLOTS);
        growths += t.host_buckets != last_buckets;
        last_buckets = t.host_buckets;
        for (uint32_t k = 0; k <= i; ++k) {
            const uint32_t a = (10u << 24) | ((k / 256) << 16) | ((k % 256) << 8);
            ASSERT_NE(t.lookup(a | 7), 0u) << i << " " << k;
            ASSERT_EQ(t.lookup(a | 8), 0u) << i << " " << k;
        }
    }
    EXPECT_EQ(last_buckets, 128u); // 200 routes: bit_ceil(200 / 2 + 1) after the last growth
    EXPECT_GE(growths, 5);
    EXPECT_LE(growths, 9);
}

} // namespace
} // namespace xdpfw
