// SPDX-License-Identifier: GPL-2.0-only
// The XDP parser through BPF_PROG_RUN: a table of well-formed frames whose
// every extracted field is proven by the winning rule, a table of malformed
// frames, and every truncation of several header stacks.
#include "testing/packet_builder.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/private_netns.hpp"

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <memory>
#include <string>
#include <vector>

namespace xdpfw::test {
namespace {

constexpr uint8_t tcp = 6, udp = 17, icmp = 1, icmpv6 = 58;
constexpr size_t eth_len = 14, vlan_len = 4, ipv4_len = 20, ipv6_len = 40;

struct WellFormed {
    std::string name;
    FrameSpec spec;
    // Edits that keep the parsed fields (e.g. TCP options); applied after build.
    void (*mutate)(std::vector<uint8_t>&, size_t l3) = nullptr;
};

struct Malformed {
    std::string name;
    std::vector<uint8_t> frame;
    uint32_t reason;
};

size_t l3_offset(const FrameSpec& s)
{
    return eth_len + vlan_len * s.vlans.size();
}

void set16(std::vector<uint8_t>& f, size_t off, uint16_t v)
{
    f.at(off) = uint8_t(v >> 8);
    f.at(off + 1) = uint8_t(v);
}

uint16_t get16(const std::vector<uint8_t>& f, size_t off)
{
    return uint16_t(f.at(off) << 8 | f.at(off + 1));
}

// Case i gets its own addresses, so its rules match no other case's frame.
FrameSpec base(size_t i, Family family, uint8_t proto)
{
    FrameSpec s;
    s.family = family;
    s.proto = proto;
    if (family == Family::ipv4) {
        s.src = {10, uint8_t(i), 0, 1};
        s.dst = {10, uint8_t(i), 0, 2};
    } else {
        s.src = {0x20, 0x01, 0x0d, 0xb8, 0, uint8_t(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        s.dst = {0x20, 0x01, 0x0d, 0xb8, 0, uint8_t(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    }
    s.sport = uint16_t(1000 + i);
    s.dport = uint16_t(2000 + i);
    s.tcp_flags = uint8_t(0x02 | (i % 2 ? 0x10 : 0x00));
    s.icmp_type = uint8_t(family == Family::ipv4 ? 8 : 128);
    s.icmp_code = 0;
    return s;
}

std::vector<WellFormed> well_formed_cases()
{
    std::vector<WellFormed> c;
    auto add = [&](std::string name, Family fam, uint8_t proto, auto&& edit) {
        FrameSpec s = base(c.size() + 1, fam, proto);
        edit(s);
        c.push_back({std::move(name), std::move(s)});
    };
    auto none = [](FrameSpec&) {};
    const auto v4 = Family::ipv4, v6 = Family::ipv6;

    add("ipv4 tcp", v4, tcp, none);
    add("ipv4 udp", v4, udp, none);
    add("ipv4 icmp echo", v4, icmp, none);
    add("ipv4 icmp port unreachable", v4, icmp, [](FrameSpec& s) { s.icmp_type = 3, s.icmp_code = 3; });
    add("ipv6 tcp", v6, tcp, none);
    add("ipv6 udp", v6, udp, none);
    add("ipv6 icmpv6 echo", v6, icmpv6, none);
    add("ipv6 icmpv6 neighbour solicitation", v6, icmpv6, [](FrameSpec& s) { s.icmp_type = 135; });
    add("802.1Q ipv4 tcp", v4, tcp, [](FrameSpec& s) { s.vlans = {{0x8100, 100, 5}}; });
    add("802.1ad ipv6 udp", v6, udp, [](FrameSpec& s) { s.vlans = {{0x88a8, 4095, 0}}; });
    add("802.1Q vid 0 (priority tag)", v4, udp, [](FrameSpec& s) { s.vlans = {{0x8100, 0, 3}}; });
    add("QinQ 88a8 outer 8100 inner", v4, tcp,
        [](FrameSpec& s) { s.vlans = {{0x88a8, 200, 0}, {0x8100, 300, 0}}; });
    add("QinQ 8100 outer 88a8 inner", v6, icmpv6,
        [](FrameSpec& s) { s.vlans = {{0x8100, 201, 0}, {0x88a8, 301, 0}}; });
    add("QinQ 8100 8100", v4, udp, [](FrameSpec& s) { s.vlans = {{0x8100, 202, 0}, {0x8100, 302, 0}}; });
    add("ipv4 options 4 bytes", v4, tcp, [](FrameSpec& s) { s.ipv4_options = {0x94, 0x04, 0, 0}; });
    add("ipv4 options 40 bytes (IHL 15)", v4, udp, [](FrameSpec& s) { s.ipv4_options.assign(40, 1); });
    add("ipv4 options 3 bytes padded", v4, icmp, [](FrameSpec& s) { s.ipv4_options = {1, 1, 1}; });
    add("ipv4 first fragment with MF", v4, udp,
        [](FrameSpec& s) { s.fragment = true, s.more_fragments = true; });
    add("ipv4 non-first fragment with MF", v4, udp,
        [](FrameSpec& s) { s.fragment = true, s.frag_offset = 100, s.more_fragments = true; });
    add("ipv4 last fragment", v4, tcp, [](FrameSpec& s) { s.fragment = true, s.frag_offset = 50; });
    add("ipv4 non-first fragment of icmp", v4, icmp, [](FrameSpec& s) { s.fragment = true, s.frag_offset = 1; });
    add("ipv6 hop-by-hop", v6, tcp, [](FrameSpec& s) { s.ipv6_ext = {Ext6::hop_by_hop}; });
    add("ipv6 routing", v6, udp, [](FrameSpec& s) { s.ipv6_ext = {Ext6::routing}; });
    add("ipv6 destination options", v6, icmpv6, [](FrameSpec& s) { s.ipv6_ext = {Ext6::dest_opts}; });
    add("ipv6 AH", v6, tcp, [](FrameSpec& s) { s.ipv6_ext = {Ext6::auth}; });
    add("ipv6 atomic fragment", v6, udp, [](FrameSpec& s) { s.ipv6_ext = {Ext6::fragment}; });
    add("ipv6 chain hop routing dest AH frag dest", v6, udp, [](FrameSpec& s) {
        s.ipv6_ext = {Ext6::hop_by_hop, Ext6::routing, Ext6::dest_opts,
                      Ext6::auth,       Ext6::fragment, Ext6::dest_opts};
    });
    add("ipv6 eight extension headers (the limit)", v6, tcp, [](FrameSpec& s) {
        s.ipv6_ext = {Ext6::hop_by_hop, Ext6::dest_opts, Ext6::routing, Ext6::auth,
                      Ext6::auth,       Ext6::dest_opts, Ext6::routing, Ext6::dest_opts};
    });
    add("ipv6 first fragment with M", v6, udp, [](FrameSpec& s) { s.fragment = true, s.more_fragments = true; });
    add("ipv6 non-first fragment", v6, udp, [](FrameSpec& s) { s.fragment = true, s.frag_offset = 10; });
    add("ipv6 non-first fragment, dest opts after it", v6, tcp, [](FrameSpec& s) {
        s.ipv6_ext = {Ext6::hop_by_hop, Ext6::fragment, Ext6::dest_opts};
        s.frag_offset = 7;
        s.more_fragments = true;
    });
    add("ipv6 non-first fragment of icmpv6", v6, icmpv6, [](FrameSpec& s) {
        s.ipv6_ext = {Ext6::fragment};
        s.frag_offset = 2;
    });
    add("ipv4 sctp", v4, 132, none);
    add("ipv4 gre", v4, 47, none);
    add("ipv4 protocol 58 is not icmp", v4, icmpv6, none);
    add("ipv6 sctp", v6, 132, none);
    add("ipv6 esp ends the chain", v6, 50, [](FrameSpec& s) { s.ipv6_ext = {Ext6::dest_opts}; });
    add("ipv6 no next header", v6, 59, none);
    add("ipv6 protocol 1 is not icmpv6", v6, icmp, none);
    add("ipv4 udp padded to 60 bytes", v4, udp, [](FrameSpec& s) { s.payload_len = 0, s.frame_len = 60; });
    add("ipv6 tcp with trailing padding", v6, tcp, [](FrameSpec& s) { s.payload_len = 0, s.frame_len = 200; });
    add("ipv4 tcp zero payload", v4, tcp, [](FrameSpec& s) { s.payload_len = 0; });

    FrameSpec opts = base(c.size() + 1, v4, tcp);
    opts.payload_len = 12;
    c.push_back({"ipv4 tcp with 12 bytes of options (doff 8)", opts,
                 [](std::vector<uint8_t>& f, size_t l3) { f.at(l3 + ipv4_len + 12) = 8 << 4; }});

    // Non-IP frames: told apart by VID; the untagged one comes last so the
    // tagged rules (listed first) cannot shadow it.
    FrameSpec arp = base(c.size() + 1, Family::other, 0);
    arp.vlans = {{0x8100, 7, 0}};
    arp.payload_len = 28;
    c.push_back({"arp in 802.1Q", arp});
    FrameSpec lldp = base(c.size() + 1, Family::other, 0);
    lldp.vlans = {{0x88a8, 4000, 0}, {0x8100, 8, 0}};
    lldp.other_ethertype = 0x88cc;
    c.push_back({"lldp in QinQ", lldp});
    FrameSpec plain = base(c.size() + 1, Family::other, 0);
    plain.payload_len = 28;
    plain.frame_len = 60;
    c.push_back({"arp untagged", plain});
    return c;
}

Prefix host(Family f, const std::array<uint8_t, 16>& addr)
{
    Prefix p;
    p.family = f;
    p.len = f == Family::ipv4 ? 32 : 128;
    p.addr = addr;
    return p;
}

// A rule that holds only if the parser extracted every field of e exactly.
Match exact(const PacketFields& e)
{
    Match m;
    m.vlan = e.vlan;
    m.family = e.family;
    m.ether = ethertype(e); // IP frames' too: the parser fills it for every frame
    if (e.family == Family::other)
        return m;
    m.src = AddrMatch{host(e.family, e.src)};
    m.dst = AddrMatch{host(e.family, e.dst)};
    m.proto = e.proto;
    if (!e.has_l4)
        return m;
    if (e.proto == tcp || e.proto == udp) {
        m.sport = PortRange{e.sport, e.sport};
        m.dport = PortRange{e.dport, e.dport};
        if (e.proto == tcp)
            m.tcp_flags = TcpFlagsMatch{0xff, e.tcp_flags};
    } else {
        m.icmp_type = e.icmp_type;
        m.icmp_code = e.icmp_code;
    }
    return m;
}

Rule make_rule(uint32_t id, Match m, ActionType a)
{
    Rule r;
    r.id = id;
    r.priority = int32_t(id);
    r.match = std::move(m);
    r.action.type = a;
    return r;
}

// Each case i gets rule 2i+1 (pass) that must NOT match: for frames without
// L4 fields it asks for any port, which a parser that read ports out of a
// non-first fragment or an unparsed protocol would give. Rule 2i+2 (drop)
// matches the case's exact fields and must win.
Policy fields_policy(const std::vector<WellFormed>& cases)
{
    Policy p;
    p.default_action = ActionType::pass;
    p.malformed_action = ActionType::pass;
    for (size_t i = 0; i < cases.size(); ++i) {
        const PacketFields e = expected_fields(cases[i].spec, 1);
        uint32_t id = uint32_t(2 * i + 1);
        if (e.family != Family::other && !e.has_l4) {
            Match any_port;
            any_port.src = AddrMatch{host(e.family, e.src)};
            any_port.dport = PortRange{0, 65535};
            p.rules.push_back(make_rule(id, any_port, ActionType::pass));
        }
        p.rules.push_back(make_rule(id + 1, exact(e), ActionType::drop));
    }
    return p;
}

class Parser : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        enter_private_netns();
        h = std::make_unique<BpfHarness>();
    }
    static void TearDownTestSuite() { h.reset(); }

    // Commits a one-rule policy whose rule matches every well-formed packet
    // with the action opposite to the malformed one, so only the malformed
    // path can produce the expected XDP action.
    static Policy malformed_policy(ActionType malformed)
    {
        Policy p;
        p.malformed_action = malformed;
        p.default_action = malformed == ActionType::drop ? ActionType::pass : ActionType::drop;
        p.rules.push_back(make_rule(1, Match{}, p.default_action));
        return p;
    }
    static void commit_malformed(ActionType malformed) { h->commit(malformed_policy(malformed)); }

    // Runs a frame that must be refused with reason under the committed
    // malformed action, and checks the reason counter moved by one.
    static void expect_malformed(const std::string& what, const std::vector<uint8_t>& frame,
                                 uint32_t reason, ActionType malformed)
    {
        SCOPED_TRACE(what + " (" + std::to_string(frame.size()) + " bytes, malformed=" +
                     action_name(malformed) + ")");
        const uint64_t before = h->maps().reason_counters().at(reason).packets;
        RunResult r = h->run(frame);
        const bool drop = malformed == ActionType::drop;
        EXPECT_EQ(r.xdp_action, uint32_t(drop ? XDP_DROP : XDP_PASS));
        EXPECT_EQ(r.verdict.reason, reason) << reason_name(r.verdict.reason);
        EXPECT_EQ(r.verdict.rule_index, XDPFW_NO_RULE);
        EXPECT_EQ(r.verdict.rule_id, XDPFW_NO_RULE);
        EXPECT_EQ(h->maps().reason_counters().at(reason).packets, before + 1);
    }

    static std::unique_ptr<BpfHarness> h;
};
std::unique_ptr<BpfHarness> Parser::h;

TEST_F(Parser, ExtractsEveryFieldOfWellFormedFrames)
{
    const auto cases = well_formed_cases();
    h->commit(fields_policy(cases));
    for (size_t i = 0; i < cases.size(); ++i) {
        SCOPED_TRACE(cases[i].name);
        auto frame = build_frame(cases[i].spec);
        if (cases[i].mutate)
            cases[i].mutate(frame, l3_offset(cases[i].spec));
        RunResult r = h->run(frame);
        EXPECT_EQ(r.xdp_action, uint32_t(XDP_DROP));
        EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_RULE_DROP))
            << reason_name(r.verdict.reason);
        EXPECT_EQ(r.verdict.rule_id, uint32_t(2 * i + 2));
    }
}

TEST_F(Parser, FieldRulesDoNotMatchNeighbours)
{
    // The exact rules are only proof if a wrong value misses: shift each
    // case's ports, flags or ICMP type by one and expect the default action.
    auto cases = well_formed_cases();
    const Policy p = fields_policy(cases);
    h->commit(p);
    size_t checked = 0;
    for (auto& c : cases) {
        const PacketFields e = expected_fields(c.spec, 1);
        if (!e.has_l4)
            continue;
        SCOPED_TRACE(c.name);
        FrameSpec s = c.spec;
        if (e.proto == tcp)
            s.tcp_flags ^= 0x08;
        else if (e.proto == udp)
            s.dport += 1;
        else
            s.icmp_code += 1;
        RunResult r = h->run(build_frame(s));
        EXPECT_EQ(r.xdp_action, uint32_t(XDP_PASS));
        EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS))
            << "rule " << r.verdict.rule_id;
        ++checked;
    }
    EXPECT_GT(checked, 20u);
}

// ether= is the ethertype after the VLAN tags (up to two, either TPID);
// a non-IP frame no rule matches gets default_non_ip, with its own reasons.
TEST_F(Parser, EtherIsTheTypeAfterTheVlanTags)
{
    Policy p;
    p.default_action = ActionType::pass;
    p.default_non_ip_action = ActionType::drop;
    Match arp, tagged_lldp, ipv6;
    arp.ether = 0x0806;
    tagged_lldp.ether = 0x88cc;
    tagged_lldp.vlan = 8;
    ipv6.ether = 0x86dd;
    p.rules.push_back(make_rule(1, arp, ActionType::pass));
    p.rules.push_back(make_rule(2, tagged_lldp, ActionType::pass));
    p.rules.push_back(make_rule(3, ipv6, ActionType::drop));
    h->commit(p);

    struct Case {
        const char* name;
        uint16_t ether;
        std::vector<VlanTag> tags;
        uint32_t rule_id; // XDPFW_NO_RULE: default_non_ip (drop)
    };
    const Case cases[] = {
        {"arp untagged", 0x0806, {}, 1},
        {"arp in 802.1Q", 0x0806, {{0x8100, 7, 0}}, 1},
        {"arp in 802.1ad", 0x0806, {{0x88a8, 7, 0}}, 1},
        {"arp in QinQ", 0x0806, {{0x88a8, 4000, 0}, {0x8100, 9, 0}}, 1},
        {"lldp outer vid 8", 0x88cc, {{0x8100, 8, 0}}, 2},
        {"lldp inner vid 8 (the outer tag counts)", 0x88cc, {{0x88a8, 4000, 0}, {0x8100, 8, 0}},
         XDPFW_NO_RULE},
        {"lldp untagged", 0x88cc, {}, XDPFW_NO_RULE},
        {"unknown ethertype", 0x88b5, {}, XDPFW_NO_RULE},
        {"0x9100 is an ethertype here, not a tag", 0x9100, {}, XDPFW_NO_RULE},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        FrameSpec s = base(1, Family::other, 0);
        s.other_ethertype = c.ether;
        s.vlans = c.tags;
        s.payload_len = 28;
        const uint32_t reason = c.rule_id == XDPFW_NO_RULE ? XDPFW_REASON_DEFAULT_NON_IP_DROP
                                                           : XDPFW_REASON_RULE_PASS;
        const uint64_t before = h->maps().reason_counters().at(reason).packets;
        RunResult r = h->run(build_frame(s));
        EXPECT_EQ(r.verdict.rule_id, c.rule_id);
        EXPECT_EQ(r.verdict.reason, reason) << reason_name(r.verdict.reason);
        EXPECT_EQ(r.xdp_action, uint32_t(c.rule_id == XDPFW_NO_RULE ? XDP_DROP : XDP_PASS));
        EXPECT_EQ(h->maps().reason_counters().at(reason).packets, before + 1);
    }
    // IP packets: ether=ipv6 matches IPv6 in tags too; IPv4 gets default.
    FrameSpec v6 = base(2, Family::ipv6, udp);
    v6.vlans = {{0x8100, 5, 0}, {0x8100, 6, 0}};
    EXPECT_EQ(h->run(build_frame(v6)).verdict.rule_id, 3u);
    RunResult r4 = h->run(build_frame(base(3, Family::ipv4, udp)));
    EXPECT_EQ(r4.verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_PASS));
}

TEST_F(Parser, DefaultNonIpAppliesToNonIpFramesOnly)
{
    for (ActionType non_ip : {ActionType::pass, ActionType::drop}) {
        Policy p;
        p.default_action = ActionType::drop;
        p.default_non_ip_action = non_ip;
        h->commit(p); // no rules: the defaults decide everything
        SCOPED_TRACE(std::string("default_non_ip=") + action_name(non_ip));
        FrameSpec arp = base(1, Family::other, 0);
        arp.payload_len = 28;
        RunResult r = h->run(build_frame(arp));
        const bool drop = non_ip == ActionType::drop;
        EXPECT_EQ(r.xdp_action, uint32_t(drop ? XDP_DROP : XDP_PASS));
        EXPECT_EQ(r.verdict.reason, uint32_t(drop ? XDPFW_REASON_DEFAULT_NON_IP_DROP
                                                  : XDPFW_REASON_DEFAULT_NON_IP_PASS))
            << reason_name(r.verdict.reason);
        RunResult ip = h->run(build_frame(base(1, Family::ipv6, icmpv6)));
        EXPECT_EQ(ip.xdp_action, uint32_t(XDP_DROP));
        EXPECT_EQ(ip.verdict.reason, uint32_t(XDPFW_REASON_DEFAULT_DROP));
    }
    EXPECT_STREQ(reason_name(XDPFW_REASON_DEFAULT_NON_IP_DROP), "default_non_ip_drop");
    EXPECT_STREQ(reason_name(XDPFW_REASON_DEFAULT_NON_IP_PASS), "default_non_ip_pass");
}

std::vector<Malformed> malformed_cases()
{
    std::vector<Malformed> c;
    auto v4 = [](uint8_t proto) { return base(1, Family::ipv4, proto); };
    auto v6 = [](uint8_t proto) { return base(1, Family::ipv6, proto); };
    const size_t l3 = eth_len;

    FrameSpec three = v4(udp);
    three.vlans = {{0x8100, 1, 0}, {0x88a8, 2, 0}, {0x8100, 3, 0}};
    c.push_back({"three VLAN tags", build_frame(three), XDPFW_REASON_MALFORMED_L2});
    FrameSpec three_other = three;
    three_other.family = Family::other;
    c.push_back({"three VLAN tags on ARP", build_frame(three_other), XDPFW_REASON_MALFORMED_L2});

    auto edit = [&](std::string name, FrameSpec s, uint32_t reason, auto&& fn) {
        auto f = build_frame(s);
        fn(f);
        c.push_back({std::move(name), std::move(f), reason});
    };
    const uint32_t bad4 = XDPFW_REASON_MALFORMED_IPV4, bad6 = XDPFW_REASON_MALFORMED_IPV6;
    const uint32_t bad_ext = XDPFW_REASON_MALFORMED_EXTHDR, bad_l4 = XDPFW_REASON_MALFORMED_L4;
    edit("ipv4 version 6", v4(tcp), bad4, [&](auto& f) { f[l3] = 0x65; });
    edit("ipv4 IHL 4", v4(tcp), bad4, [&](auto& f) { f[l3] = 0x44; });
    edit("ipv4 IHL 0", v4(udp), bad4, [&](auto& f) { f[l3] = 0x40; });
    FrameSpec o = v4(udp);
    o.ipv4_options = {1, 1, 1, 1};
    edit("ipv4 IHL*4 > total length", o, bad4, [&](auto& f) { set16(f, l3 + 2, 22); });
    edit("ipv4 total length 0", v4(udp), bad4, [&](auto& f) { set16(f, l3 + 2, 0); });
    edit("ipv4 total length one past the frame", v4(tcp), bad4,
         [&](auto& f) { set16(f, l3 + 2, uint16_t(get16(f, l3 + 2) + 1)); });
    edit("ipv4 total length 65535", v4(icmp), bad4, [&](auto& f) { set16(f, l3 + 2, 0xffff); });
    edit("ipv6 version 4", v6(tcp), bad6, [&](auto& f) { f[l3] = 0x40; });
    edit("ipv6 version 0", v6(udp), bad6, [&](auto& f) { f[l3] = 0x00; });
    edit("ipv6 payload length one past the frame", v6(udp), bad6,
         [&](auto& f) { set16(f, l3 + 4, uint16_t(get16(f, l3 + 4) + 1)); });

    FrameSpec nine = v6(tcp);
    nine.ipv6_ext.assign(9, Ext6::dest_opts);
    c.push_back({"ipv6 nine extension headers", build_frame(nine), bad_ext});
    FrameSpec nine_frag = v6(udp);
    nine_frag.ipv6_ext.assign(8, Ext6::hop_by_hop);
    nine_frag.ipv6_ext.push_back(Ext6::fragment);
    nine_frag.frag_offset = 5; // the non-first fragment header comes too late
    c.push_back({"ipv6 fragment header as the ninth", build_frame(nine_frag), bad_ext});

    FrameSpec hop = v6(udp);
    hop.ipv6_ext = {Ext6::hop_by_hop};
    const size_t ext = l3 + ipv6_len;
    edit("hop-by-hop length 255 past the payload", hop, bad_ext, [&](auto& f) { f[ext + 1] = 255; });
    FrameSpec ah = v6(tcp);
    ah.ipv6_ext = {Ext6::auth};
    edit("AH length past the payload", ah, bad_ext, [&](auto& f) { f[ext + 1] = 200; });
    FrameSpec rt = v6(59);
    rt.ipv6_ext = {Ext6::routing};
    rt.payload_len = 0;
    edit("routing header 16 bytes in an 8-byte payload", rt, bad_ext, [&](auto& f) { f[ext + 1] = 1; });
    FrameSpec dst_only = v6(59);
    dst_only.ipv6_ext = {Ext6::dest_opts};
    dst_only.payload_len = 0;
    dst_only.frame_len = 200; // the header would fit the frame, not the packet
    edit("dest opts past payload length, inside padding", dst_only, bad_ext,
         [&](auto& f) { f[ext + 1] = 2; });

    const size_t th = l3 + ipv4_len;
    edit("tcp doff 4", v4(tcp), bad_l4, [&](auto& f) { f[th + 12] = 4 << 4; });
    edit("tcp doff 0", v4(tcp), bad_l4, [&](auto& f) { f[th + 12] = 0; });
    FrameSpec t6 = v6(tcp);
    t6.payload_len = 16;
    edit("ipv6 tcp doff 10 past the packet", t6, bad_l4, [&](auto& f) { f[ext + 12] = 10 << 4; });
    FrameSpec pad = v4(tcp);
    pad.payload_len = 0;
    pad.frame_len = 100;
    edit("tcp header past total length, inside padding", pad, bad_l4,
         [&](auto& f) { set16(f, l3 + 2, ipv4_len + 10); });
    FrameSpec tiny = v4(udp);
    tiny.fragment = true;
    tiny.more_fragments = true;
    tiny.payload_len = 0;
    edit("ipv4 first fragment with 4 bytes of udp", tiny, bad_l4, [&](auto& f) {
        f.resize(th + 4);
        set16(f, l3 + 2, ipv4_len + 4);
    });
    FrameSpec tiny6 = v6(tcp);
    tiny6.ipv6_ext = {Ext6::fragment};
    tiny6.more_fragments = true;
    tiny6.payload_len = 0;
    edit("ipv6 first fragment with 12 bytes of tcp", tiny6, bad_l4, [&](auto& f) {
        f.resize(ext + 8 + 12);
        set16(f, l3 + 4, 8 + 12);
    });
    return c;
}

TEST_F(Parser, MalformedFramesGetTheirReasonAndAction)
{
    const auto cases = malformed_cases();
    for (ActionType malformed : {ActionType::drop, ActionType::pass}) {
        commit_malformed(malformed);
        for (const auto& c : cases)
            expect_malformed(c.name, c.frame, c.reason, malformed);
    }
}

struct Stack {
    std::string name;
    FrameSpec spec;
    // Offsets where each layer ends, from the start of the frame.
    size_t l2_end, l3_end, ext_end, l4_end;
    // The parser reads only type and code of ICMP: 4 bytes are enough.
    size_t l4_needed() const
    {
        const bool is_icmp = spec.proto == icmp || spec.proto == icmpv6;
        return is_icmp ? ext_end + 4 : l4_end;
    }
};

std::vector<Stack> stacks()
{
    std::vector<Stack> s;
    FrameSpec a = base(1, Family::ipv4, tcp);
    a.payload_len = 0;
    s.push_back({"eth+ipv4+tcp", a, 14, 34, 34, 54});

    FrameSpec b = base(1, Family::ipv6, udp);
    b.vlans = {{0x88a8, 10, 0}, {0x8100, 20, 0}};
    b.ipv6_ext = {Ext6::hop_by_hop, Ext6::fragment};
    b.more_fragments = true;
    b.payload_len = 0;
    s.push_back({"eth+vlan+vlan+ipv6+hop+frag(first)+udp", b, 22, 62, 78, 86});

    FrameSpec c = base(1, Family::ipv6, icmpv6);
    c.ipv6_ext = {Ext6::routing, Ext6::dest_opts};
    c.payload_len = 0;
    s.push_back({"eth+ipv6+routing+dest+icmpv6", c, 14, 54, 70, 78});

    FrameSpec d = base(1, Family::ipv4, udp);
    d.ipv4_options = {0x94, 0x04, 0, 0, 1, 1, 1, 0};
    d.payload_len = 0;
    s.push_back({"eth+ipv4(options)+udp", d, 14, 42, 42, 50});

    FrameSpec e = base(1, Family::ipv4, icmp);
    e.vlans = {{0x8100, 30, 0}};
    e.payload_len = 0;
    s.push_back({"eth+vlan+ipv4+icmp", e, 18, 38, 38, 46});

    FrameSpec f = base(1, Family::ipv6, tcp);
    f.ipv6_ext = {Ext6::auth};
    f.payload_len = 0;
    s.push_back({"eth+ipv6+ah+tcp", f, 14, 54, 70, 90});
    return s;
}

TEST_F(Parser, StacksAreWellFormedAtFullLength)
{
    commit_malformed(ActionType::drop); // the catch-all rule passes
    for (const auto& st : stacks()) {
        SCOPED_TRACE(st.name);
        auto frame = build_frame(st.spec);
        ASSERT_EQ(frame.size(), st.l4_end);
        RunResult r = h->run(frame);
        EXPECT_EQ(r.xdp_action, uint32_t(XDP_PASS));
        EXPECT_EQ(r.verdict.reason, uint32_t(XDPFW_REASON_RULE_PASS)) << reason_name(r.verdict.reason);
    }
}

// A frame cut short: the IP length field still claims the full packet, so a
// cut anywhere past the Ethernet/VLAN headers is an IP-layer error.
TEST_F(Parser, EveryTruncationIsMalformed)
{
    for (ActionType malformed : {ActionType::drop, ActionType::pass}) {
        commit_malformed(malformed);
        for (const auto& st : stacks()) {
            const auto full = build_frame(st.spec);
            const bool v4 = st.spec.family == Family::ipv4;
            for (size_t len = eth_len; len < full.size(); ++len) {
                std::vector<uint8_t> cut(full.begin(), full.begin() + len);
                uint32_t want = len < st.l2_end ? XDPFW_REASON_MALFORMED_L2
                                : v4           ? XDPFW_REASON_MALFORMED_IPV4
                                               : XDPFW_REASON_MALFORMED_IPV6;
                expect_malformed(st.name + " cut", cut, want, malformed);
            }
        }
    }
}

// The same cuts with the IP length field shrunk to match: now the layer the
// cut falls in must report it (a tiny first fragment is exactly this).
TEST_F(Parser, TruncationWithConsistentLengthBlamesTheCutLayer)
{
    for (ActionType malformed : {ActionType::drop, ActionType::pass}) {
        commit_malformed(malformed);
        for (const auto& st : stacks()) {
            const auto full = build_frame(st.spec);
            const bool v4 = st.spec.family == Family::ipv4;
            for (size_t len = eth_len; len < st.l4_needed(); ++len) {
                std::vector<uint8_t> cut(full.begin(), full.begin() + len);
                const size_t l3 = st.l2_end;
                if (v4 && len >= l3 + 4)
                    set16(cut, l3 + 2, uint16_t(len - l3));
                if (!v4 && len >= l3 + ipv6_len)
                    set16(cut, l3 + 4, uint16_t(len - l3 - ipv6_len));
                uint32_t want = len < st.l2_end ? XDPFW_REASON_MALFORMED_L2
                                : len < st.l3_end
                                    ? (v4 ? XDPFW_REASON_MALFORMED_IPV4 : XDPFW_REASON_MALFORMED_IPV6)
                                : len < st.ext_end ? XDPFW_REASON_MALFORMED_EXTHDR
                                                   : XDPFW_REASON_MALFORMED_L4;
                expect_malformed(st.name + " cut, length fixed", cut, want, malformed);
            }
        }
    }
}

TEST_F(Parser, MalformedVerdictPrecedesRules)
{
    // Even a rule that would match the frame's surviving fields (the
    // Ethernet header of a truncated IPv4 frame) does not get to decide.
    Policy p;
    p.malformed_action = ActionType::drop;
    p.default_action = ActionType::drop;
    Match v4_any;
    v4_any.family = Family::ipv4;
    p.rules.push_back(make_rule(1, v4_any, ActionType::pass));
    h->commit(p);
    auto frame = build_frame(base(1, Family::ipv4, tcp));
    frame.resize(eth_len + ipv4_len - 1);
    expect_malformed("ipv4 header one byte short", frame, XDPFW_REASON_MALFORMED_IPV4,
                     ActionType::drop);
}

// The specialised tier's lean lane (bpf/lib/spec.h) and its generated
// program (lib/kernel/gen_program.hpp) parse untagged IPv4 frames by
// themselves: on the catch-all policy (a lean one) each must give every
// malformed case, every cut of every stack and every whole stack the
// reason, action and rule the general program gives, and count the same.
class ParserTier : public Parser, public ::testing::WithParamInterface<Tier> {};

TEST_P(ParserTier, LeanPathsAgreeWithTheGeneralProgram)
{
    BpfHarness spec;
    spec.set_tier(GetParam());
    std::vector<std::pair<std::string, std::vector<uint8_t>>> frames;
    for (const auto& c : malformed_cases())
        frames.emplace_back(c.name, c.frame);
    for (const auto& st : stacks()) {
        const auto full = build_frame(st.spec);
        for (size_t len = eth_len; len <= full.size(); ++len)
            frames.emplace_back(st.name + " cut at " + std::to_string(len),
                                std::vector<uint8_t>(full.begin(), full.begin() + len));
    }
    size_t lane = 0;
    for (ActionType malformed : {ActionType::drop, ActionType::pass}) {
        commit_malformed(malformed);
        spec.commit(malformed_policy(malformed));
        ASSERT_TRUE(spec.spec_live()) << spec.spec_why_not();
        ASSERT_EQ(spec.compiled()->spec->lean, 1u);
        ASSERT_EQ(spec.spec_program()->generated(), GetParam() == Tier::generated)
            << spec.spec_program()->generated_why_not();
        // Counters as deltas: the suite's program has run other tests' frames.
        auto counts = [](BpfHarness& b) {
            std::vector<uint64_t> v{b.maps().rule_counter(1).packets};
            for (uint32_t r = XDPFW_REASON_FIRST_COUNTED; r < XDPFW_REASON_COUNT; r++)
                v.push_back(b.maps().reason_counters().at(r).packets);
            return v;
        };
        const std::vector<uint64_t> want0 = counts(*h), got0 = counts(spec);
        for (const auto& [what, frame] : frames) {
            SCOPED_TRACE(what + ", malformed=" + action_name(malformed));
            const RunResult want = h->run(frame), got = spec.run(frame);
            EXPECT_EQ(got.xdp_action, want.xdp_action);
            EXPECT_EQ(got.verdict.reason, want.verdict.reason) << reason_name(got.verdict.reason);
            EXPECT_EQ(got.verdict.rule_index, want.verdict.rule_index);
            EXPECT_EQ(got.verdict.rule_id, want.verdict.rule_id);
            lane += frame.size() >= eth_len && frame[12] == 0x08 && frame[13] == 0x00;
        }
        const std::vector<uint64_t> want1 = counts(*h), got1 = counts(spec);
        for (size_t i = 0; i < want1.size(); i++)
            EXPECT_EQ(got1[i] - got0[i], want1[i] - want0[i])
                << (i ? reason_name(uint32_t(XDPFW_REASON_FIRST_COUNTED + i - 1)) : "rule 1");
    }
    EXPECT_GT(lane, 100u); // untagged IPv4 frames: the lane's own
}

INSTANTIATE_TEST_SUITE_P(Tiers, ParserTier, ::testing::Values(Tier::specialised, Tier::generated),
                         [](const auto& info) {
                             return std::string(info.param == Tier::generated ? "generated" : "compiled");
                         });

} // namespace
} // namespace xdpfw::test
