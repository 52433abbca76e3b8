// SPDX-License-Identifier: GPL-2.0-only
// Unit tests for connection tracking: the ct= word (parser, canonical text,
// contradictions), the reference classifier's ct input, the compiler's ct
// table, and the reference tracker's state machine.
#include "lib/compiler/compiler.hpp"
#include "lib/compiler/specialise.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/reference/conntrack.hpp"
#include "lib/reference/reference.hpp"

#include <gtest/gtest.h>

using namespace xdpfw;

namespace {

void expect_ct_error(const std::string& text, const std::string& key, const std::string& part)
{
    try {
        parse_rule(text, "rule 1");
        ADD_FAILURE() << "accepted: " << text;
    } catch (const PolicyError& e) {
        EXPECT_EQ(e.key(), key) << text;
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

PacketFields v4(uint8_t proto, const char* src, const char* dst, uint16_t sport = 0,
                uint16_t dport = 0, uint8_t flags = 0)
{
    PacketFields p;
    p.family = Family::ipv4;
    p.proto = proto;
    p.src = Prefix::parse(src).addr;
    p.dst = Prefix::parse(dst).addr;
    p.has_l4 = true;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    return p;
}

CtPacket of(const PacketFields& f)
{
    CtPacket p;
    p.fields = f;
    return p;
}

CtPacket tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport, uint8_t flags)
{
    return of(v4(6, src, dst, sport, dport, flags));
}

// Steps pkt through the table (let through) and returns its state.
CtState step(CtTable& t, const CtPacket& p, uint64_t now = 1000)
{
    const CtStep s = ct_step(t, p, now);
    ct_apply(t, s);
    return s.state;
}

constexpr uint8_t SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04;

} // namespace

TEST(Conntrack, ParsesAndPrintsStateLists)
{
    Rule r = parse_rule("priority=1 ct=related,established action=pass", "r");
    EXPECT_EQ(*r.match.ct, (1u << 1) | (1u << 2));
    EXPECT_EQ(r.text, "priority=1 ct=established,related action=pass");
    EXPECT_EQ(parse_rule("ct=invalid,new action=drop", "r").text,
              "priority=0 ct=new,invalid action=drop");
    EXPECT_EQ(parse_rule("ct=new proto=tcp dport=22 action=pass", "r").text,
              "priority=0 proto=tcp dport=22 ct=new action=pass");
    EXPECT_EQ(format_ct(0xf), "new,established,related,invalid");
    expect_ct_error("ct=est action=pass", "ct", "'est' is not a ct state");
    expect_ct_error("ct= action=pass", "ct", "");
    expect_ct_error("ct=new,,established action=pass", "ct", "is not a ct state");
    expect_ct_error("ct=new,new action=pass", "ct", "appears twice");
    expect_ct_error("ct=NEW action=pass", "ct", "is not a ct state");
    expect_ct_error("ether=arp ct=new action=pass", "ct", "not IP");
    Rule bad = parse_rule("ct=new action=pass", "r");
    bad.match.ct = 0;
    EXPECT_THROW(validate_rule(bad, "r"), PolicyError);
    bad.match.ct = 0x10;
    EXPECT_THROW(validate_rule(bad, "r"), PolicyError);
}

TEST(Conntrack, ReferenceMatchesTheStateItIsGiven)
{
    const Policy none;
    const Rule r = parse_rule("ct=established,related action=pass", "r");
    auto resolve = [](const std::string&) -> uint32_t { return 1; };
    PacketFields p = v4(17, "10.0.0.1", "10.0.0.2", 1, 2);
    for (unsigned s = 0; s < ct_state_count; s++) {
        p.ct = static_cast<CtState>(s);
        EXPECT_EQ(rule_matches(r, none, p, resolve), s == 1 || s == 2) << s;
    }
    PacketFields arp;
    arp.family = Family::other;
    arp.ether = ethertype_arp;
    arp.ct = CtState::established;
    EXPECT_FALSE(rule_matches(r, none, arp, resolve));
}

TEST(Conntrack, CompilerTableAndSpecialisedTier)
{
    Policy p;
    p.default_action = ActionType::drop;
    p.rules.push_back(parse_rule("priority=1 ct=established,related action=pass", "r"));
    p.rules.back().id = 1;
    p.rules.push_back(parse_rule("priority=10 ct=new proto=tcp dport=22 action=pass", "r"));
    p.rules.back().id = 2;
    CompileOptions o;
    o.caps.max_rules = 64;
    o.caps.max_bitmaps = 64;
    o.caps.max_addr_classes = 16;
    o.caps.max_v4_chunks = 4;
    o.caps.max_v4_hosts = 64;
    o.caps.max_v6_prefixes = 64;
    const CompiledPolicy c = compile(p, o);
    EXPECT_TRUE(c.used_fields & (1u << XDPFW_FIELD_CT));
    ASSERT_EQ(c.ct.size(), size_t{XDPFW_CT_SLOTS});
    EXPECT_NE(c.spec, nullptr) << c.spec_why_not;
    PacketFields pkt = v4(6, "10.0.0.1", "10.0.0.2", 5000, 22, SYN);
    for (unsigned s = 0; s < ct_state_count; s++) {
        pkt.ct = static_cast<CtState>(s);
        const Verdict want = classify(p, pkt, [](const std::string&) { return 1u; });
        const Verdict got = evaluate(c, pkt);
        EXPECT_EQ(got.rule_index, want.rule_index) << s;
        EXPECT_EQ(got.action, want.action) << s;
    }
    // A policy without ct= has no ct table and does not use the field.
    Policy plain;
    plain.rules.push_back(parse_rule("proto=tcp action=drop", "r"));
    plain.rules.back().id = 1;
    const CompiledPolicy q = compile(plain, o);
    EXPECT_FALSE(q.used_fields & (1u << XDPFW_FIELD_CT));
    EXPECT_TRUE(q.ct.empty());
}

TEST(Conntrack, TcpHandshakeDataAndClose)
{
    CtTable t;
    EXPECT_EQ(step(t, tcp("10.0.0.1", "10.0.0.2", 40000, 22, SYN)), CtState::new_);
    EXPECT_EQ(step(t, tcp("10.0.0.1", "10.0.0.2", 40000, 22, SYN)), CtState::new_); // again
    EXPECT_EQ(step(t, tcp("10.0.0.1", "10.0.0.2", 40000, 22, ACK)), CtState::invalid);
    EXPECT_EQ(step(t, tcp("10.0.0.2", "10.0.0.1", 22, 40000, SYN | ACK)), CtState::established);
    EXPECT_EQ(step(t, tcp("10.0.0.1", "10.0.0.2", 40000, 22, ACK)), CtState::established);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t.begin()->second.state, XDPFW_CTF_ESTABLISHED);
    EXPECT_EQ(t.begin()->second.expires_ns, 1000 + XDPFW_CT_TIMEOUT_ESTABLISHED * 1000000000ull);
    EXPECT_EQ(step(t, tcp("10.0.0.2", "10.0.0.1", 22, 40000, ACK)), CtState::established);
    // A SYN inside an established flow fits nothing.
    EXPECT_EQ(step(t, tcp("10.0.0.2", "10.0.0.1", 22, 40000, SYN)), CtState::invalid);
    EXPECT_EQ(step(t, tcp("10.0.0.2", "10.0.0.1", 22, 40000, FIN | ACK)), CtState::established);
    EXPECT_EQ(t.begin()->second.state, XDPFW_CTF_FIN_WAIT);
    EXPECT_EQ(step(t, tcp("10.0.0.1", "10.0.0.2", 40000, 22, RST)), CtState::established);
    EXPECT_EQ(t.begin()->second.state, XDPFW_CTF_CLOSE);
    EXPECT_EQ(step(t, tcp("10.0.0.1", "10.0.0.2", 40000, 22, ACK)), CtState::invalid);
    // The pair opens again, this time from the other side.
    EXPECT_EQ(step(t, tcp("10.0.0.2", "10.0.0.1", 22, 40000, SYN)), CtState::new_);
    EXPECT_EQ(t.begin()->second.orig, 1); // 10.0.0.1 sorts first (side a); .2, side b, opened
    // Unknown flows: only a SYN opens one; an expired entry is no entry.
    CtTable u;
    EXPECT_EQ(step(u, tcp("10.0.0.1", "10.0.0.2", 1, 2, ACK)), CtState::invalid);
    EXPECT_EQ(step(u, tcp("10.0.0.1", "10.0.0.2", 1, 2, SYN | ACK)), CtState::invalid);
    EXPECT_TRUE(u.empty());
    EXPECT_EQ(step(u, tcp("10.0.0.1", "10.0.0.2", 1, 2, SYN)), CtState::new_);
    EXPECT_EQ(step(u, tcp("10.0.0.2", "10.0.0.1", 2, 1, SYN | ACK),
                   1000 + XDPFW_CT_TIMEOUT_SYN_SENT * 1000000000ull),
              CtState::invalid);
}

TEST(Conntrack, DatagramsEchoAndErrors)
{
    CtTable t;
    CtPacket out = of(v4(17, "192.0.2.1", "198.51.100.7", 5353, 53));
    CtPacket back = of(v4(17, "198.51.100.7", "192.0.2.1", 53, 5353));
    EXPECT_EQ(step(t, out), CtState::new_);
    EXPECT_EQ(step(t, out), CtState::new_); // still one way
    EXPECT_EQ(step(t, back), CtState::established);
    EXPECT_EQ(step(t, out), CtState::established);
    EXPECT_EQ(t.begin()->second.state, XDPFW_CTF_REPLIED);

    // ICMP echo: the identifier is the flow's port on both sides.
    CtPacket req = of(v4(1, "192.0.2.1", "198.51.100.7")), rep = of(v4(1, "198.51.100.7", "192.0.2.1"));
    req.fields.icmp_type = 8;
    rep.fields.icmp_type = 0;
    req.icmp_rest = rep.icmp_rest = true;
    req.echo_id = rep.echo_id = 77;
    CtTable e;
    EXPECT_EQ(step(e, rep), CtState::invalid); // a reply to nothing
    EXPECT_EQ(step(e, req), CtState::new_);
    EXPECT_EQ(step(e, rep), CtState::established);
    rep.echo_id = 78;
    EXPECT_EQ(step(e, rep), CtState::invalid);

    // An ICMP error quoting the UDP flow is related; one quoting another isn't.
    CtPacket err = of(v4(1, "203.0.113.9", "192.0.2.1"));
    err.fields.icmp_type = 3;
    err.icmp_rest = true;
    err.quoted = CtPacket::Quoted{17, out.fields.src, out.fields.dst, 5353, 53};
    EXPECT_EQ(step(t, err), CtState::related);
    err.quoted->dport = 54;
    EXPECT_EQ(step(t, err), CtState::invalid);
    err.quoted.reset();
    EXPECT_EQ(step(t, err), CtState::invalid);
    // Other ICMP types (router advertisements, ...) are new and not tracked.
    CtPacket other = of(v4(1, "203.0.113.9", "192.0.2.1"));
    other.fields.icmp_type = 9;
    other.icmp_rest = true;
    const size_t before = t.size();
    EXPECT_EQ(step(t, other), CtState::new_);
    EXPECT_EQ(t.size(), before);
    // Fragments without ports are invalid; non-IP has no state.
    CtPacket frag = of(v4(17, "192.0.2.1", "198.51.100.7"));
    frag.fields.has_l4 = false;
    EXPECT_EQ(step(t, frag), CtState::invalid);
    CtPacket arp;
    arp.fields.family = Family::other;
    EXPECT_TRUE(ct_step(t, arp, 0).none);
}

TEST(Conntrack, KeysAreNormalisedBothWays)
{
    const auto a = Prefix::parse("2001:db8::1").addr, b = Prefix::parse("2001:db8::2").addr;
    const auto [k1, d1] = ct_key(Family::ipv6, 6, a, 1000, b, 80);
    const auto [k2, d2] = ct_key(Family::ipv6, 6, b, 80, a, 1000);
    EXPECT_EQ(k1, k2);
    EXPECT_EQ(d1, 0);
    EXPECT_EQ(d2, 1);
    // Equal addresses: the port decides.
    const auto [k3, d3] = ct_key(Family::ipv4, 17, a, 9, a, 8);
    EXPECT_EQ(k3.port_a, 8);
    EXPECT_EQ(d3, 1);
}
