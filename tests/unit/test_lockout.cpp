// SPDX-License-Identifier: GPL-2.0-only
// Lockout protection: default_non_ip and ether= through the reference, the
// compiler and the policy codec, and the warnings for policies that would drop
// IPv6 neighbour discovery or ARP.
#include "lib/compiler/compiler.hpp"
#include "lib/lang/policy_codec.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/reference/lockout.hpp"
#include "lib/reference/reference.hpp"
#include "testing/random_policy.hpp"

#include <gtest/gtest.h>

using namespace xdpfw;

namespace {

uint32_t no_iface(const std::string& name)
{
    throw PolicyError("iif", name, "no such interface");
}

Policy policy_of(const std::string& yaml)
{
    return parse_policy_yaml(yaml, ".", "test.yaml");
}

PacketFields non_ip(uint16_t ether, std::optional<uint16_t> vlan = std::nullopt)
{
    PacketFields p;
    p.family = Family::other;
    p.ether = ether;
    p.vlan = vlan;
    return p;
}

PacketFields tcp4()
{
    PacketFields p;
    p.family = Family::ipv4;
    p.src = Prefix::parse("10.0.0.1").addr;
    p.dst = Prefix::parse("10.0.0.2").addr;
    p.proto = 6;
    p.has_l4 = true;
    p.dport = 22;
    return p;
}

PacketFields icmp6(uint8_t type)
{
    PacketFields p;
    p.family = Family::ipv6;
    p.src = Prefix::parse("fe80::1").addr;
    p.dst = Prefix::parse("ff02::1").addr;
    p.proto = 58;
    p.has_l4 = true;
    p.icmp_type = type;
    return p;
}

// The reference's and the compiled tables' verdicts, which must agree.
Verdict both(const Policy& p, const PacketFields& pkt)
{
    Verdict want = classify(p, pkt, no_iface);
    CompileOptions o;
    o.resolve = no_iface;
    Verdict got = evaluate(compile(p, o), pkt);
    EXPECT_EQ(got.action, want.action) << test::describe(pkt);
    EXPECT_EQ(got.rule_id, want.rule_id) << test::describe(pkt);
    EXPECT_EQ(got.rule_index, want.rule_index) << test::describe(pkt);
    return want;
}

bool contains(const std::string& s, const std::string& part)
{
    return s.find(part) != std::string::npos;
}

} // namespace

TEST(DefaultNonIp, DefaultIsForIpAndDefaultNonIpForTheRest)
{
    Policy p = policy_of("default: drop\n");
    EXPECT_EQ(p.default_non_ip_action, ActionType::pass); // absent: pass
    EXPECT_EQ(both(p, tcp4()).action, ActionType::drop);
    EXPECT_EQ(both(p, icmp6(135)).action, ActionType::drop);
    EXPECT_EQ(both(p, non_ip(ethertype_arp)).action, ActionType::pass);
    EXPECT_EQ(both(p, non_ip(0x88b5, 10)).action, ActionType::pass);

    p = policy_of("default: pass\ndefault_non_ip: drop\n");
    EXPECT_EQ(both(p, tcp4()).action, ActionType::pass);
    Verdict v = both(p, non_ip(ethertype_lldp));
    EXPECT_EQ(v.action, ActionType::drop);
    EXPECT_EQ(v.rule_index, -1);
}

TEST(DefaultNonIp, EtherRulesNameNonIpFrames)
{
    Policy p = policy_of(R"(
default: drop
default_non_ip: drop
rules:
  - priority=1 ether=arp action=pass
  - priority=2 ether=0x88b5 vlan=10 action=pass
  - priority=3 ether=ipv6 proto=icmpv6 icmp_type=135 action=pass
  - priority=4 ether=ipv4 action=count
  - priority=5 family=ipv4 action=pass
)");
    EXPECT_EQ(both(p, non_ip(ethertype_arp)).rule_id, 1u);
    EXPECT_EQ(both(p, non_ip(ethertype_arp, 10)).rule_id, 1u); // the type after the tag
    EXPECT_EQ(both(p, non_ip(0x88b5, 10)).rule_id, 2u);
    EXPECT_EQ(both(p, non_ip(0x88b5)).action, ActionType::drop); // untagged: no rule
    EXPECT_EQ(both(p, non_ip(0x88b5, 11)).action, ActionType::drop);
    EXPECT_EQ(both(p, non_ip(ethertype_lldp)).action, ActionType::drop);
    EXPECT_EQ(both(p, icmp6(135)).rule_id, 3u);
    EXPECT_EQ(both(p, icmp6(136)).action, ActionType::drop);
    Verdict v = both(p, tcp4()); // ether=ipv4 matches every IPv4 packet
    EXPECT_EQ(v.rule_id, 5u);
    EXPECT_EQ(v.counted, std::vector<uint32_t>{4});
    // A non-IP frame that says 0x0800 does not exist (the parser would read
    // IPv4): IP packets' ethertype comes from their family.
    EXPECT_EQ(ethertype(tcp4()), ethertype_ipv4);
    EXPECT_EQ(ethertype(icmp6(1)), ethertype_ipv6);
}

TEST(DefaultNonIp, CompiledTablesHoldTheEthertypes)
{
    Policy p = policy_of("rules:\n  - ether=arp action=pass\n  - ether=arp vlan=1 action=drop\n"
                         "  - ether=lldp action=drop\n  - action=count\n");
    CompiledPolicy c = compile(p, CompileOptions{.resolve = no_iface});
    EXPECT_TRUE(c.used_fields & (1u << XDPFW_FIELD_ETHER));
    EXPECT_EQ(c.ether.size(), 2u);
    EXPECT_TRUE(c.ether.count(ethertype_arp) && c.ether.count(ethertype_lldp));
    // Every other ethertype: only the rule without ether=.
    EXPECT_EQ(c.bitmaps[c.ether_default][0], uint64_t{1} << 3);
    EXPECT_EQ(c.bitmaps[c.ether.at(ethertype_arp)][0], 0b1011u);
    // A policy without ether= does not use the field (no lookup per packet).
    CompiledPolicy none = compile(policy_of("rules:\n  - proto=tcp action=drop\n"),
                                  CompileOptions{.resolve = no_iface});
    EXPECT_FALSE(none.used_fields & (1u << XDPFW_FIELD_ETHER));
    EXPECT_TRUE(none.ether.empty());
    EXPECT_EQ(none.default_non_ip_action, XDPFW_ACT_PASS);
    Policy drop = p;
    drop.default_non_ip_action = ActionType::drop;
    EXPECT_EQ(compile(drop, CompileOptions{.resolve = no_iface}).default_non_ip_action,
              XDPFW_ACT_DROP);
    drop.default_non_ip_action = ActionType::count;
    EXPECT_THROW(compile(drop, CompileOptions{.resolve = no_iface}), PolicyError);
}

TEST(DefaultNonIp, CodecRoundTripsAndStaysQuietWhenPass)
{
    Policy p = policy_of("default: drop\ndefault_non_ip: drop\nrules:\n  - ether=arp action=pass\n");
    EXPECT_EQ(p.default_non_ip_action, ActionType::drop);
    for (PolicyForm form : {PolicyForm::document, PolicyForm::state}) {
        nlohmann::json j = policy_to_json(p, form);
        EXPECT_EQ(j.value("default_non_ip", ""), "drop");
        EXPECT_EQ(policy_from_json(j, "policy", form, 64), p);
    }
    const std::string yaml = policy_to_yaml(p);
    EXPECT_TRUE(contains(yaml, "default_non_ip: drop\n")) << yaml;
    EXPECT_EQ(policy_from_yaml(yaml, ".", "back.yaml"), p);

    // pass is the default: not written, so older readers see what they know.
    p.default_non_ip_action = ActionType::pass;
    EXPECT_FALSE(policy_to_json(p, PolicyForm::state).contains("default_non_ip"));
    EXPECT_FALSE(contains(policy_to_yaml(p), "default_non_ip"));
    // A state file without the key (an older daemon's) reads as pass.
    nlohmann::json old = {{"default", "drop"}, {"malformed", "drop"}, {"sets", nlohmann::json::object()},
                          {"rules", nlohmann::json::array()}};
    EXPECT_EQ(policy_from_json(old, "state", PolicyForm::state, 64).default_non_ip_action,
              ActionType::pass);

    EXPECT_THROW(policy_of("default_non_ip: count\n"), PolicyError);
    try {
        policy_of("default_non_ip: maybe\n");
        ADD_FAILURE() << "accepted";
    } catch (const PolicyError& e) {
        EXPECT_TRUE(contains(e.what(), "default_non_ip")) << e.what();
    }
    Policy bad;
    bad.default_non_ip_action = ActionType::xsk;
    EXPECT_THROW(validate_policy(bad), PolicyError);
}

TEST(Lockout, NoWarningForPoliciesThatKeepNeighbours)
{
    EXPECT_TRUE(lockout_warnings(Policy{}, {}).empty());
    // default: drop with neighbour discovery passed (all ICMPv6 here).
    EXPECT_TRUE(lockout_warnings(policy_of("default: drop\nrules:\n"
                                           "  - priority=0 proto=icmpv6 action=pass\n"),
                                 {})
                    .empty());
    // Each type by its own rule, and ARP by ether=.
    EXPECT_TRUE(lockout_warnings(policy_of(R"(
default: drop
default_non_ip: drop
rules:
  - icmp_type=133 proto=icmpv6 action=pass
  - icmp_type=134 proto=icmpv6 action=pass
  - icmp_type=135 proto=icmpv6 action=pass
  - icmp_type=136 proto=icmpv6 action=pass
  - ether=arp action=pass
)"),
                                 {})
                    .empty());
    // Explicit drops with a pass default are the operator's choice.
    EXPECT_TRUE(lockout_warnings(policy_of("rules:\n  - family=ipv6 action=drop\n"
                                           "  - ether=arp action=drop\n"),
                                 {})
                    .empty());
}

TEST(Lockout, WarnsWhenDefaultDropTakesNeighbourDiscovery)
{
    auto w = lockout_warnings(policy_of("default: drop\nrules:\n  - proto=tcp dport=22 action=pass\n"),
                              {});
    ASSERT_EQ(w.size(), 1u);
    EXPECT_TRUE(contains(w[0], "IPv6 neighbour discovery")) << w[0];
    EXPECT_TRUE(contains(w[0], "router solicitation, router advertisement, neighbour "
                               "solicitation, neighbour advertisement"))
        << w[0];
    EXPECT_TRUE(contains(w[0], "icmp_type=135")) << w[0];

    // Only NS passed: the others are named.
    w = lockout_warnings(policy_of("default: drop\nrules:\n"
                                   "  - proto=icmpv6 icmp_type=135 action=pass\n"),
                         {});
    ASSERT_EQ(w.size(), 1u);
    EXPECT_FALSE(contains(w[0], "neighbour solicitation")) << w[0];
    EXPECT_TRUE(contains(w[0], "neighbour advertisement")) << w[0];

    // Passed from link-local sources only: duplicate address detection
    // (from ::) is still dropped.
    w = lockout_warnings(policy_of("default: drop\nrules:\n"
                                   "  - src=fe80::/10 proto=icmpv6 action=pass\n"),
                         {});
    ASSERT_EQ(w.size(), 1u);
    EXPECT_TRUE(contains(w[0], "(neighbour solicitation)")) << w[0];

    // A drop rule before the pass rule wins.
    w = lockout_warnings(policy_of("default: drop\nrules:\n"
                                   "  - priority=0 family=ipv6 action=drop\n"
                                   "  - priority=1 proto=icmpv6 action=pass\n"),
                         {});
    EXPECT_EQ(w.size(), 1u);
}

TEST(Lockout, WarnsWhenDefaultNonIpDropTakesArp)
{
    auto w = lockout_warnings(policy_of("default_non_ip: drop\n"), {});
    ASSERT_EQ(w.size(), 1u);
    EXPECT_TRUE(contains(w[0], "default_non_ip: drop drops ARP")) << w[0];
    EXPECT_TRUE(contains(w[0], "ether=arp action=pass")) << w[0];
    // Both at once: two sentences.
    EXPECT_EQ(lockout_warnings(policy_of("default: drop\ndefault_non_ip: drop\n"), {}).size(), 2u);
    // A rule passing another ethertype does not help.
    EXPECT_EQ(lockout_warnings(policy_of("default_non_ip: drop\nrules:\n"
                                         "  - ether=lldp action=pass\n"),
                               {})
                  .size(),
              1u);
}

TEST(Lockout, PerInterface)
{
    Policy p = policy_of("default: drop\ndefault_non_ip: drop\nrules:\n"
                         "  - iif=eth0 ether=arp action=pass\n"
                         "  - iif=eth0 proto=icmpv6 action=pass\n"
                         "  - iif=eth1 proto=icmpv6 action=pass\n");
    const std::vector<LockoutInterface> ifaces = {{"eth0", 2}, {"eth1", 3}};
    auto w = lockout_warnings(p, ifaces);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_TRUE(contains(w[0], "drops ARP on eth1:")) << w[0];
    // Dropped everywhere: no interface list.
    w = lockout_warnings(p, {{"eth1", 3}});
    ASSERT_EQ(w.size(), 1u);
    EXPECT_TRUE(contains(w[0], "drops ARP:")) << w[0];
    // Without interfaces, iif= rules admit nothing.
    EXPECT_EQ(lockout_warnings(p, {}).size(), 2u);
}
