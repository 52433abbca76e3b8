// SPDX-License-Identifier: GPL-2.0-only
// Unit tests for prefixes, the rule parser and printer, and their error messages.
#include "lib/model/policy.hpp"
#include "lib/lang/rule_parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <tuple>

using namespace xdpfw;

namespace {

// Expects parse_rule to fail with a PolicyError on key whose message contains
// every fragment.
void expect_rule_error(const std::string& text, const std::string& key,
                       std::initializer_list<std::string> fragments)
{
    try {
        Rule r = parse_rule(text, "rule 3");
        ADD_FAILURE() << "'" << text << "' parsed as '" << r.text << "'";
    } catch (const PolicyError& e) {
        EXPECT_EQ(e.where(), "rule 3") << text;
        EXPECT_EQ(e.key(), key) << text << " -> " << e.what();
        std::string what = e.what();
        EXPECT_TRUE(what.starts_with("rule 3: " + key + ": ")) << what;
        for (const auto& f : fragments)
            EXPECT_NE(what.find(f), std::string::npos) << "'" << f << "' not in: " << what;
    }
}

std::string prefix_error(const std::string& text)
{
    try {
        Prefix::parse(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

TEST(Prefix, ParsesIpv4AndIpv6)
{
    Prefix p = Prefix::parse("10.1.0.0/16");
    EXPECT_EQ(p.family, Family::ipv4);
    EXPECT_EQ(p.len, 16);
    EXPECT_EQ(p.addr[0], 10);
    EXPECT_EQ(p.addr[1], 1);
    EXPECT_EQ(p.str(), "10.1.0.0/16");

    Prefix host = Prefix::parse("192.0.2.7");
    EXPECT_EQ(host.len, 32);
    EXPECT_EQ(host.str(), "192.0.2.7/32");

    Prefix v6 = Prefix::parse("2001:DB8:0:0::/32");
    EXPECT_EQ(v6.family, Family::ipv6);
    EXPECT_EQ(v6.len, 32);
    EXPECT_EQ(v6.str(), "2001:db8::/32");
    EXPECT_EQ(Prefix::parse("::1").str(), "::1/128");
    EXPECT_EQ(Prefix::parse("0.0.0.0/0").str(), "0.0.0.0/0");
    EXPECT_EQ(Prefix::parse("::/0").len, 0);
    EXPECT_EQ(Prefix::parse("10.0.0.128/25").str(), "10.0.0.128/25");
}

TEST(Prefix, RefusesBadText)
{
    EXPECT_EQ(prefix_error("10.0.0.0/33"), "prefix length 33 > 32 in '10.0.0.0/33'");
    EXPECT_EQ(prefix_error("2001:db8::/129"), "prefix length 129 > 128 in '2001:db8::/129'");
    EXPECT_EQ(prefix_error("10.0.0.1/24"),
              "10.0.0.1/24 has host bits set; did you mean 10.0.0.0/24?");
    EXPECT_EQ(prefix_error("2001:db8::1/64"),
              "2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?");
    EXPECT_NE(prefix_error("10.0.0.256").find("not an IPv4 address"), std::string::npos);
    EXPECT_NE(prefix_error("10.0.0").find("not an IPv4 address"), std::string::npos);
    EXPECT_NE(prefix_error("fe80::1%eth0").find("not an IPv6 address"), std::string::npos);
    EXPECT_NE(prefix_error("10.0.0.0/").find("missing prefix length"), std::string::npos);
    EXPECT_NE(prefix_error("10.0.0.0/-1").find("not a number"), std::string::npos);
    EXPECT_NE(prefix_error("10.0.0.0/2x").find("not a number"), std::string::npos);
    EXPECT_NE(prefix_error("10.0.0.0/24/1").find("not a number"), std::string::npos);
    EXPECT_EQ(prefix_error(""), "empty prefix");
}

// Sets are kept sorted by family, length, then address bytes; the
// comparison reads the address as two words. Against the byte order, on
// random prefixes that share families, lengths and leading bytes.
TEST(Prefix, OrdersByFamilyLengthThenAddressBytes)
{
    std::mt19937_64 rng(0x5eed0011);
    std::vector<Prefix> v;
    for (int i = 0; i < 3000; ++i) {
        Prefix p;
        p.family = rng() & 1 ? Family::ipv4 : Family::ipv6;
        p.len = uint8_t(rng() % 3 == 0 ? 24 : rng() % (p.max_len() + 1));
        for (unsigned b = 0; b < (p.family == Family::ipv4 ? 4u : 16u); ++b)
            p.addr[b] = uint8_t(rng() % 4 == 0 ? rng() : b * 17); // shared runs of bytes
        v.push_back(p);
    }
    v.push_back(v[7]); // equal ones too
    auto tuple = [](const Prefix& p) { return std::tuple(int(p.family), p.len, p.addr); };
    for (size_t i = 0; i < v.size(); ++i) {
        const Prefix& a = v[i];
        const Prefix& b = v[(i * 7919 + 13) % v.size()];
        EXPECT_EQ(a <=> b, tuple(a) <=> tuple(b)) << a.str() << " " << b.str();
        EXPECT_EQ(a == b, tuple(a) == tuple(b));
        EXPECT_EQ(a <=> a, std::strong_ordering::equal);
    }
    EXPECT_EQ(v[7] <=> v.back(), std::strong_ordering::equal);
}

// Copies of a set share its prefixes; an edit copies them first when they
// are shared, so no other copy changes; the digest follows every edit.
TEST(PrefixSet, CopiesShareAndAnEditCopiesFirst)
{
    const PrefixSet a{Prefix::parse("10.0.0.0/8"), Prefix::parse("192.0.2.0/24")};
    PrefixSet b = a;
    EXPECT_TRUE(b.shares(a));
    const uint64_t d = a.digest();
    EXPECT_EQ(b.digest(), d);
    b.edit([](std::vector<Prefix>& v) { v.push_back(Prefix::parse("198.51.100.0/24")); });
    EXPECT_FALSE(b.shares(a));
    EXPECT_EQ(a.prefixes().size(), 2u);
    EXPECT_EQ(b.prefixes().size(), 3u);
    EXPECT_EQ(a.digest(), d);
    const uint64_t d3 = b.digest();
    EXPECT_NE(d3, d);
    // A set that shares with nobody is edited in place; its digest follows.
    const void* at = b.storage();
    b.edit([](std::vector<Prefix>& v) { v.pop_back(); });
    EXPECT_EQ(b.storage(), at);
    EXPECT_EQ(b.digest(), d); // a's content, so a's digest
    EXPECT_TRUE(b == a);
    EXPECT_FALSE(b.shares(a));
    b.edit([](std::vector<Prefix>& v) { v[0] = Prefix::parse("10.0.0.0/9"); });
    EXPECT_NE(b.digest(), d);
    EXPECT_FALSE(b == a);
    // Empty sets, edited or not, are equal and hash alike.
    PrefixSet none, emptied{Prefix::parse("10.0.0.0/8")};
    emptied.edit([](std::vector<Prefix>& v) { v.clear(); });
    EXPECT_TRUE(none == emptied);
    EXPECT_EQ(none.digest(), emptied.digest());
    EXPECT_TRUE(none.prefixes().empty());
    // A policy's copy shares every set: what a commit's candidate is.
    Policy p;
    p.sets["s"] = a;
    const Policy q = p;
    EXPECT_TRUE(q.sets.at("s").shares(a));
    p.sets["s"].edit([](std::vector<Prefix>& v) { v.clear(); });
    EXPECT_EQ(q.sets.at("s").prefixes().size(), 2u);
}

// with()/without() against the set operations on random sets and changes;
// the digest they carry forward equals one computed from scratch, and the
// result names its changes against its origin only.
TEST(PrefixSet, WithAndWithoutCarryTheirChangesAndDigest)
{
    std::mt19937_64 rng(0x5eed0013);
    auto random_prefixes = [&](size_t n) {
        std::vector<Prefix> v;
        for (size_t i = 0; i < n; ++i) {
            Prefix p;
            p.family = rng() % 4 ? Family::ipv4 : Family::ipv6;
            p.len = p.family == Family::ipv4 ? 32 : 128;
            for (unsigned b = 0; b < (p.family == Family::ipv4 ? 4u : 16u); ++b)
                p.addr[b] = uint8_t(rng() % 8); // small: changes hit members too
            v.push_back(p);
        }
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
        return v;
    };
    for (int round = 0; round < 200; ++round) {
        const std::vector<Prefix> base = random_prefixes(rng() % 300);
        const PrefixSet set(base);
        if (round % 2)
            (void)set.digest(); // the origin's digest known, or not yet
        const std::vector<Prefix> in = random_prefixes(rng() % 20);
        const bool add = rng() & 1;
        std::vector<Prefix> want, added, removed;
        if (add) {
            std::set_union(base.begin(), base.end(), in.begin(), in.end(), std::back_inserter(want));
            std::set_difference(in.begin(), in.end(), base.begin(), base.end(),
                                std::back_inserter(added));
        } else {
            std::set_difference(base.begin(), base.end(), in.begin(), in.end(),
                                std::back_inserter(want));
            std::set_intersection(base.begin(), base.end(), in.begin(), in.end(),
                                  std::back_inserter(removed));
        }
        const PrefixSet got = add ? set.with(in) : set.without(in);
        ASSERT_EQ(got.prefixes(), want) << round;
        ASSERT_EQ(got.digest(), PrefixSet(want).digest()) << round;
        const auto c = got.changes_from(set);
        if (added.empty() && removed.empty()) {
            EXPECT_TRUE(got.shares(set)) << "no change: the same prefixes";
            EXPECT_FALSE(c);
            continue;
        }
        ASSERT_TRUE(c) << round;
        EXPECT_EQ(c->added, added);
        EXPECT_EQ(c->removed, removed);
        // Only against its origin, and not once edited.
        EXPECT_FALSE(got.changes_from(PrefixSet(base)));
        EXPECT_FALSE(set.changes_from(got));
        PrefixSet edited = got;
        edited.edit([](std::vector<Prefix>&) {});
        EXPECT_FALSE(edited.changes_from(set));
        EXPECT_EQ(edited.digest(), got.digest());
    }
    // A chain: each step names only its own change.
    PrefixSet a{Prefix::parse("10.0.0.0/8")};
    const PrefixSet b = a.with({Prefix::parse("10.1.0.0/16")});
    const PrefixSet c = b.without({Prefix::parse("10.0.0.0/8")});
    ASSERT_TRUE(c.changes_from(b));
    EXPECT_TRUE(c.changes_from(b)->added.empty());
    EXPECT_EQ(c.changes_from(b)->removed, std::vector<Prefix>{Prefix::parse("10.0.0.0/8")});
    EXPECT_FALSE(c.changes_from(a));
}

TEST(Prefix, Contains)
{
    Prefix net = Prefix::parse("10.0.0.0/15");
    EXPECT_TRUE(net.contains(Prefix::parse("10.0.0.0/16").addr));
    EXPECT_TRUE(net.contains(Prefix::parse("10.1.255.255").addr));
    EXPECT_FALSE(net.contains(Prefix::parse("10.2.0.0").addr));
    EXPECT_TRUE(net.contains(Prefix::parse("10.1.2.0/24")));
    EXPECT_TRUE(net.contains(net));
    EXPECT_FALSE(net.contains(Prefix::parse("10.0.0.0/8")));
    EXPECT_FALSE(net.contains(Prefix::parse("::/0")));
    EXPECT_TRUE(Prefix::parse("0.0.0.0/0").contains(Prefix::parse("1.2.3.4").addr));
    Prefix v6 = Prefix::parse("2001:db8:80::/41");
    EXPECT_TRUE(v6.contains(Prefix::parse("2001:db8:ff::1").addr));
    EXPECT_FALSE(v6.contains(Prefix::parse("2001:db8:7f::1").addr));
}

TEST(RuleParser, EveryKey)
{
    Rule r = parse_rule("priority=-5 iif=eth0 vlan=4095 family=ipv4 src=10.0.0.0/8 "
                        "dst=@blocklist proto=tcp sport=1024-65535 dport=22 "
                        "tcp_flags=SYN,!ACK action=xsk fallback=drop id=42",
                        "rule 1");
    EXPECT_EQ(r.id, 42u);
    EXPECT_EQ(r.priority, -5);
    EXPECT_EQ(r.match.iif, "eth0");
    EXPECT_EQ(r.match.vlan, 4095);
    EXPECT_EQ(r.match.family, Family::ipv4);
    EXPECT_EQ(r.match.src->prefix(), Prefix::parse("10.0.0.0/8"));
    EXPECT_EQ(r.match.dst->set_name(), "blocklist");
    EXPECT_EQ(r.match.proto, 6);
    EXPECT_EQ(r.match.sport, (PortRange{1024, 65535}));
    EXPECT_EQ(r.match.dport, (PortRange{22, 22}));
    EXPECT_EQ(r.match.tcp_flags, (TcpFlagsMatch{0x12, 0x02}));
    EXPECT_EQ(r.action.type, ActionType::xsk);
    EXPECT_EQ(r.action.xsk_fallback, ActionType::drop);
    EXPECT_EQ(r.text, "priority=-5 iif=eth0 vlan=4095 src=10.0.0.0/8 dst=@blocklist proto=tcp "
                      "sport=1024-65535 dport=22 tcp_flags=SYN,!ACK action=xsk fallback=drop");

    Rule icmp = parse_rule("proto=icmpv6 icmp_type=128 icmp_code=0 action=count", "r");
    EXPECT_EQ(icmp.match.proto, 58);
    EXPECT_EQ(icmp.match.icmp_type, 128);
    EXPECT_EQ(icmp.match.icmp_code, 0);
    EXPECT_EQ(icmp.action.type, ActionType::count);
    EXPECT_EQ(icmp.priority, 0);
    EXPECT_EQ(icmp.id, 0u);
    EXPECT_FALSE(icmp.match.family);

    Rule redirect = parse_rule("dst=2001:db8::/32 proto=udp action=redirect:veth-b1", "r");
    EXPECT_EQ(redirect.match.family, Family::ipv6); // implied by the prefix
    EXPECT_EQ(redirect.action.type, ActionType::redirect);
    EXPECT_EQ(redirect.action.redirect_iface, "veth-b1");
    EXPECT_EQ(redirect.text, "priority=0 dst=2001:db8::/32 proto=udp action=redirect:veth-b1");

    EXPECT_EQ(parse_rule("action=pass", "r").action.type, ActionType::pass);
    EXPECT_EQ(parse_rule("action=drop", "r").action.type, ActionType::drop);
    EXPECT_EQ(parse_rule("action=xsk", "r").action.xsk_fallback, ActionType::pass);
    EXPECT_EQ(parse_rule("action=xsk", "r").text, "priority=0 action=xsk fallback=pass");
    EXPECT_EQ(parse_rule("fallback=drop action=xsk", "r").action.xsk_fallback, ActionType::drop);
    EXPECT_EQ(parse_rule("proto=47 action=drop", "r").match.proto, 47);
    EXPECT_EQ(parse_rule("proto=udp action=drop", "r").match.proto, 17);
    EXPECT_EQ(parse_rule("proto=icmp icmp_type=8 action=drop", "r").match.proto, 1);
    EXPECT_EQ(parse_rule("family=ipv6 src=@v6only action=drop", "r").text,
              "priority=0 family=ipv6 src=@v6only action=drop");
    EXPECT_EQ(parse_rule("vlan=0 action=drop", "r").match.vlan, 0);
    EXPECT_EQ(parse_rule("priority=2147483647 action=drop", "r").priority, 2147483647);
    EXPECT_EQ(parse_rule("priority=-2147483648 action=drop", "r").priority, INT32_MIN);
    EXPECT_EQ(parse_rule("id=4294967295 action=drop", "r").id, 4294967295u);
}

TEST(RuleParser, ImpliedProtocolsStayAbsent)
{
    // Ports imply tcp-or-udp and flags imply tcp without setting proto: the
    // classifier checks the packet's protocol for those fields anyway.
    Rule ports = parse_rule("dport=53 action=drop", "r");
    EXPECT_FALSE(ports.match.proto);
    Rule flags = parse_rule("tcp_flags=syn,!ack,!rst dport=80 action=drop", "r");
    EXPECT_FALSE(flags.match.proto);
    EXPECT_EQ(flags.match.tcp_flags, (TcpFlagsMatch{0x16, 0x02}));
    EXPECT_EQ(flags.text, "priority=0 dport=80 tcp_flags=SYN,!RST,!ACK action=drop");
    Rule icmp = parse_rule("icmp_type=3 icmp_code=4 action=drop", "r");
    EXPECT_FALSE(icmp.match.proto);
}

TEST(RuleParser, BlanksAndQuotes)
{
    Rule r = parse_rule("  \tpriority=\"7\"   iif=\"eth1\"\naction=\"drop\"  ", "r");
    EXPECT_EQ(r.priority, 7);
    EXPECT_EQ(r.match.iif, "eth1");
    EXPECT_EQ(r.action.type, ActionType::drop);
    EXPECT_EQ(parse_rule("src=\"10.0.0.0/8\" action=pass", "r").match.src->prefix().str(),
              "10.0.0.0/8");
    expect_rule_error("iif=\"eth 0\" action=drop", "iif", {"'eth 0'", "not a valid interface"});
    expect_rule_error("iif=\"eth0 action=drop", "iif", {"unterminated"});
    expect_rule_error("iif=\"eth0\"x action=drop", "iif", {"closing quote"});
    expect_rule_error("iif=\"\" action=drop", "iif", {"empty value"});
}

TEST(RuleParser, ErrorsNameTheKey)
{
    expect_rule_error("src=10.0.0.0/33 action=drop", "src", {"prefix length 33 > 32 in '10.0.0.0/33'"});
    expect_rule_error("dst=10.0.0.1/24 action=drop", "dst", {"did you mean 10.0.0.0/24?"});
    expect_rule_error("src=bogus action=drop", "src", {"'bogus' is not an IPv4 address"});
    expect_rule_error("src=@ action=drop", "src", {"not a valid set name"});
    expect_rule_error("src=@9lives action=drop", "src", {"'9lives'"});
    expect_rule_error("dport=70000 action=drop", "dport", {"70000 is out of range 0-65535"});
    EXPECT_STREQ([] {
        try {
            parse_rule("proto=tcp dport=70000 action=drop", "rule 3");
        } catch (const PolicyError& e) {
            return std::string(e.what());
        }
        return std::string();
    }().c_str(),
                 "rule 3: dport: 70000 is out of range 0-65535");
    expect_rule_error("sport=99999999999999999999999 action=drop", "sport", {"out of range"});
    expect_rule_error("sport=80-70 action=drop", "sport", {"80-70", "low end above"});
    expect_rule_error("sport=80- action=drop", "sport", {"not a number"});
    expect_rule_error("dport=-1 action=drop", "dport", {"not a number"});
    expect_rule_error("dport=http action=drop", "dport", {"'http' is not a number"});
    expect_rule_error("action=frob", "action", {"'frob' is not one of"});
    expect_rule_error("action=redirect", "action", {"redirect:IFACE"});
    expect_rule_error("action=redirect:", "action", {"redirect:IFACE"});
    expect_rule_error("action=redirect:a/b", "action", {"'a/b'", "not a valid interface"});
    expect_rule_error("action=Drop", "action", {"'Drop'"});
    expect_rule_error("priority=1 dport=22", "action", {"missing"});
    expect_rule_error("", "action", {"missing"});
    expect_rule_error("prio=1 action=drop", "prio", {"unknown key", "priority"});
    expect_rule_error("action=drop action=pass", "action", {"given twice"});
    expect_rule_error("dport=1 dport=2 action=pass", "dport", {"given twice"});
    expect_rule_error("drop", "drop", {"missing '='"});
    expect_rule_error("action=drop tcp", "tcp", {"missing '='"});
    expect_rule_error("=drop", "=drop", {"missing key"});
    expect_rule_error("action= proto=tcp", "action", {"empty value"});
    expect_rule_error("priority=high action=drop", "priority", {"'high' is not a number"});
    expect_rule_error("priority=2147483648 action=drop", "priority", {"out of range"});
    expect_rule_error("vlan=4096 action=drop", "vlan", {"4096 is out of range 0-4095"});
    expect_rule_error("family=inet action=drop", "family", {"'inet' is not ipv4 or ipv6"});
    expect_rule_error("proto=sctp action=drop", "proto", {"'sctp'"});
    expect_rule_error("proto=256 action=drop", "proto", {"'256'"});
    expect_rule_error("iif=averyveryverylongname action=drop", "iif", {"not a valid interface"});
    expect_rule_error("icmp_type=256 action=drop", "icmp_type", {"256 is out of range 0-255"});
    expect_rule_error("icmp_type=1 icmp_code=300 action=drop", "icmp_code", {"out of range 0-255"});
    expect_rule_error("tcp_flags=SYN,FOO action=drop", "tcp_flags", {"'FOO' is not a TCP flag"});
    expect_rule_error("tcp_flags=SYN,,ACK action=drop", "tcp_flags", {"empty flag name"});
    expect_rule_error("tcp_flags=! action=drop", "tcp_flags", {"empty flag name"});
    expect_rule_error("tcp_flags=SYN,!syn action=drop", "tcp_flags", {"SYN appears twice"});
    expect_rule_error("fallback=maybe action=xsk", "fallback", {"'maybe' is not pass or drop"});
    expect_rule_error("id=0 action=drop", "id", {"at least 1"});
    expect_rule_error("id=4294967296 action=drop", "id", {"out of range"});
}

TEST(RuleParser, ConsistencyErrors)
{
    expect_rule_error("src=10.0.0.0/8 dst=2001:db8::/32 action=drop", "dst",
                      {"IPv6", "IPv4", "one family"});
    expect_rule_error("family=ipv4 src=2001:db8::/32 action=drop", "src", {"IPv6 but family=ipv4"});
    expect_rule_error("family=ipv6 dst=192.0.2.0/24 action=drop", "dst", {"IPv4 but family=ipv6"});
    expect_rule_error("proto=icmp dport=80 action=drop", "dport", {"needs proto=tcp or proto=udp",
                                                                    "proto=icmp"});
    expect_rule_error("proto=47 sport=80 action=drop", "sport", {"proto=47"});
    expect_rule_error("proto=udp tcp_flags=SYN action=drop", "tcp_flags", {"needs proto=tcp",
                                                                           "proto=udp"});
    expect_rule_error("proto=tcp icmp_type=8 action=drop", "icmp_type", {"proto=icmp or proto=icmpv6"});
    expect_rule_error("dport=1 icmp_type=8 action=drop", "icmp_type", {"sport/dport"});
    expect_rule_error("tcp_flags=SYN icmp_type=8 action=drop", "icmp_type", {"tcp_flags"});
    expect_rule_error("proto=icmp family=ipv6 action=drop", "proto", {"icmpv6"});
    expect_rule_error("proto=icmp src=2001:db8::/32 action=drop", "proto", {"icmpv6"});
    expect_rule_error("proto=icmpv6 dst=10.0.0.0/8 action=drop", "proto", {"family ipv4"});
    expect_rule_error("proto=1 family=ipv6 icmp_type=1 action=drop", "proto", {"icmpv6"});
    expect_rule_error("icmp_code=3 action=drop", "icmp_code", {"needs icmp_type"});
    expect_rule_error("fallback=drop action=drop", "fallback", {"only applies to action=xsk"});
    expect_rule_error("fallback=pass action=redirect:eth1", "fallback", {"action=redirect"});
}

TEST(RuleParser, EtherNamesAndNumbers)
{
    EXPECT_EQ(parse_rule("priority=1 ether=arp action=pass", "r").text,
              "priority=1 ether=arp action=pass");
    EXPECT_EQ(*parse_rule("ether=lldp action=drop", "r").match.ether, 0x88cc);
    EXPECT_EQ(*parse_rule("ether=0x0806 action=drop", "r").match.ether, 0x0806);
    EXPECT_EQ(parse_rule("ether=0x0806 action=drop", "r").text, "priority=0 ether=arp action=drop");
    EXPECT_EQ(parse_rule("ether=0X88B5 action=drop", "r").text,
              "priority=0 ether=0x88b5 action=drop");
    EXPECT_EQ(parse_rule("ether=0x86DD action=drop", "r").text, "priority=0 ether=ipv6 action=drop");
    // ether=ipv4/ipv6 leave family absent (they say it already).
    Rule v4 = parse_rule("ether=ipv4 proto=tcp dport=22 action=pass", "r");
    EXPECT_FALSE(v4.match.family.has_value());
    EXPECT_EQ(v4.text, "priority=0 ether=ipv4 proto=tcp dport=22 action=pass");
    EXPECT_EQ(ether_name(0x9100), "0x9100");
    EXPECT_EQ(parse_ether("0x1"), std::optional<uint16_t>(1)); // range is validate_rule's
    for (const char* bad : {"0x", "0x10000", "0xg", "806", "ARP", "0x-1", "x0806", "0x 1"})
        EXPECT_FALSE(parse_ether(bad).has_value()) << bad;
    expect_rule_error("ether=rarp action=drop", "ether", {"'rarp' is not arp, lldp, ipv4, ipv6 or 0xNNNN"});
    expect_rule_error("ether=0x05ff action=drop", "ether", {"0x05ff", "802.3 length"});
    expect_rule_error("ether=0x8100 action=drop", "ether", {"VLAN tag", "vlan="});
    expect_rule_error("ether=0x88a8 action=drop", "ether", {"VLAN tag"});
}

TEST(RuleParser, EtherContradictions)
{
    expect_rule_error("ether=arp proto=tcp action=drop", "proto",
                      {"needs an IPv4 or IPv6 packet", "ether=arp frames are not IP"});
    expect_rule_error("ether=arp src=10.0.0.0/8 action=drop", "src", {"ether=arp"});
    expect_rule_error("ether=lldp dst=@blocklist action=drop", "dst", {"ether=lldp"});
    expect_rule_error("ether=0x88b5 family=ipv4 action=drop", "family", {"ether=0x88b5"});
    expect_rule_error("ether=arp dport=53 action=drop", "dport", {"not IP"});
    expect_rule_error("ether=arp tcp_flags=SYN action=drop", "tcp_flags", {"not IP"});
    expect_rule_error("ether=arp icmp_type=8 action=drop", "icmp_type", {"not IP"});
    expect_rule_error("ether=ipv6 src=10.0.0.0/8 action=drop", "src",
                      {"10.0.0.0/8 is IPv4 but ether=ipv6"});
    expect_rule_error("ether=ipv4 dst=2001:db8::/32 action=drop", "dst", {"IPv6 but ether=ipv4"});
    expect_rule_error("ether=ipv4 family=ipv6 action=drop", "family", {"ipv6 contradicts ether=ipv4"});
    expect_rule_error("ether=ipv6 proto=icmp action=drop", "proto", {"ether=ipv6", "icmpv6"});
    expect_rule_error("ether=ipv4 proto=icmpv6 action=drop", "proto", {"ether=ipv4", "use icmp"});
    // What agrees is accepted.
    EXPECT_NO_THROW(parse_rule("ether=arp vlan=10 iif=eth0 action=pass", "r"));
    EXPECT_NO_THROW(parse_rule("ether=ipv6 src=@mixed proto=icmpv6 icmp_type=135 action=pass", "r"));
    EXPECT_NO_THROW(parse_rule("ether=ipv4 family=ipv4 src=10.0.0.0/8 action=pass", "r"));
    // Rules built in code get the same checks.
    Rule r = parse_rule("ether=arp action=drop", "r");
    r.match.proto = 6;
    EXPECT_THROW(validate_rule(r, "r"), PolicyError);
}

TEST(RuleParser, ValidateRuleChecksCodeBuiltRules)
{
    Rule ok = parse_rule("proto=tcp dport=80 action=pass", "r");
    EXPECT_NO_THROW(validate_rule(ok, "rule 1"));

    auto expect_invalid = [](Rule r, const std::string& key) {
        try {
            validate_rule(r, "rule 9");
            ADD_FAILURE() << "accepted " << format_rule(r);
        } catch (const PolicyError& e) {
            EXPECT_EQ(e.key(), key) << e.what();
        }
    };
    Rule r = ok;
    r.match.dport = PortRange{90, 80};
    expect_invalid(r, "dport");
    r = ok;
    r.match.vlan = 5000;
    expect_invalid(r, "vlan");
    r = ok;
    r.match.tcp_flags = TcpFlagsMatch{0x02, 0x12};
    expect_invalid(r, "tcp_flags");
    r = ok;
    r.match.tcp_flags = TcpFlagsMatch{0, 0};
    expect_invalid(r, "tcp_flags");
    r = ok;
    Prefix p = Prefix::parse("10.0.0.0/8");
    p.addr[3] = 1; // a host bit below the length
    r.match.src = AddrMatch{p};
    expect_invalid(r, "src");
    r = ok;
    r.match.family = Family::other;
    expect_invalid(r, "family");
    r = ok;
    r.action.xsk_fallback = ActionType::drop;
    expect_invalid(r, "fallback");
    r = ok;
    r.action.type = ActionType::xsk;
    r.action.xsk_fallback = ActionType::count;
    expect_invalid(r, "fallback");
    r = ok;
    r.action.type = ActionType::redirect;
    expect_invalid(r, "action");
    r = ok;
    r.match.iif = "";
    expect_invalid(r, "iif");
    r = ok;
    r.match.dst = AddrMatch{std::string("bad name")};
    expect_invalid(r, "dst");
}

TEST(RuleParser, Helpers)
{
    EXPECT_STREQ(tcp_flag_name(0x01), "FIN");
    EXPECT_STREQ(tcp_flag_name(0x80), "CWR");
    EXPECT_EQ(tcp_flag_name(0x03), nullptr);
    EXPECT_EQ(tcp_flag_name(0), nullptr);
    EXPECT_EQ(tcp_flag_bit("ece"), 0x40);
    EXPECT_EQ(tcp_flag_bit("Psh"), 0x08);
    EXPECT_EQ(tcp_flag_bit("URG"), 0x20);
    EXPECT_EQ(tcp_flag_bit("SYNN"), std::nullopt);
    EXPECT_EQ(format_tcp_flags({0xff, 0x0f}), "FIN,SYN,RST,PSH,!ACK,!URG,!ECE,!CWR");
    EXPECT_EQ(proto_name(6), "tcp");
    EXPECT_EQ(proto_name(17), "udp");
    EXPECT_EQ(proto_name(1), "icmp");
    EXPECT_EQ(proto_name(58), "icmpv6");
    EXPECT_EQ(proto_name(132), "132");
    EXPECT_EQ(parse_proto("icmpv6"), 58);
    EXPECT_EQ(parse_proto("0"), 0);
    EXPECT_EQ(parse_proto("255"), 255);
    EXPECT_EQ(parse_proto("256"), std::nullopt);
    EXPECT_EQ(parse_proto("TCP"), std::nullopt);
    EXPECT_EQ(parse_proto(""), std::nullopt);
    EXPECT_TRUE(valid_set_name("_a.b-c9"));
    EXPECT_FALSE(valid_set_name("-a"));
    EXPECT_FALSE(valid_set_name("a b"));
    EXPECT_FALSE(valid_set_name("a@b"));
    EXPECT_TRUE(valid_iface_name("enp3s0f1.100"));
    EXPECT_FALSE(valid_iface_name("a:b"));
    EXPECT_FALSE(valid_iface_name(".."));
    EXPECT_FALSE(valid_iface_name("0123456789abcdef"));
    EXPECT_TRUE(valid_iface_name("0123456789abcde"));
    Action a;
    a.type = ActionType::redirect;
    a.redirect_iface = "eth9";
    EXPECT_EQ(format_action(a), "redirect:eth9");
    EXPECT_EQ(std::string(action_name(ActionType::count)), "count");
    EXPECT_EQ(std::string(family_name(Family::ipv6)), "ipv6");
}

TEST(Policy, EvaluationOrderIsPriorityThenId)
{
    Policy p;
    for (auto [id, prio] : {std::pair{5u, 10}, {1u, 20}, {3u, 10}, {2u, -1}, {4u, 20}}) {
        Rule r = parse_rule("action=drop", "r");
        r.id = id;
        r.priority = prio;
        p.rules.push_back(r);
    }
    std::vector<uint32_t> ids;
    for (const Rule& r : p.evaluation_order())
        ids.push_back(r.id);
    EXPECT_EQ(ids, (std::vector<uint32_t>{2, 3, 5, 1, 4}));
}

TEST(PolicyError, MessageForm)
{
    PolicyError e("rule 3", "dport", "70000 is out of range 0-65535");
    EXPECT_STREQ(e.what(), "rule 3: dport: 70000 is out of range 0-65535");
    EXPECT_EQ(e.where(), "rule 3");
    EXPECT_EQ(e.key(), "dport");
    EXPECT_EQ(e.problem(), "70000 is out of range 0-65535");
    EXPECT_STREQ(PolicyError("big.txt:4", "", "bad").what(), "big.txt:4: bad");
}

namespace {

// A random rule that passes validate_rule, built field by field so that
// every value form (ranges, negated flags, sets, both families) appears.
Rule random_rule(std::mt19937& rng)
{
    auto chance = [&rng](int percent) { return static_cast<int>(rng() % 100) < percent; };
    auto below = [&rng](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    Rule r;
    Match& m = r.match;
    r.priority = static_cast<int32_t>(rng());
    Family fam = chance(50) ? Family::ipv4 : Family::ipv6;
    auto random_prefix = [&] {
        Prefix p;
        p.family = fam;
        p.len = static_cast<uint8_t>(below(p.max_len() + 1));
        for (unsigned i = 0; i < p.max_len() / 8; ++i)
            p.addr[i] = static_cast<uint8_t>(rng());
        // Clear host bits so the prefix is one the parser would produce.
        for (unsigned bit = p.len; bit < p.max_len(); ++bit)
            p.addr[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
        return p;
    };
    auto random_addr = [&]() -> AddrMatch {
        if (chance(30))
            return AddrMatch{std::string(chance(50) ? "block_list" : "Allow.v-6")};
        return AddrMatch{random_prefix()};
    };
    if (chance(30))
        m.iif = chance(50) ? "eth0" : "veth-lab.12";
    if (chance(30))
        m.vlan = static_cast<uint16_t>(below(4096));
    if (chance(40))
        m.src = random_addr();
    if (chance(40))
        m.dst = random_addr();
    bool has_prefix = (m.src && !m.src->is_set()) || (m.dst && !m.dst->is_set());
    if (has_prefix || chance(30))
        m.family = fam;
    int l4 = static_cast<int>(below(5)); // 0 none, 1 tcp/udp ports, 2 tcp flags, 3 icmp, 4 proto only
    if (l4 == 1) {
        if (chance(70))
            m.proto = chance(50) ? 6 : 17;
        auto range = [&] {
            uint16_t a = static_cast<uint16_t>(rng()), b = static_cast<uint16_t>(rng());
            if (chance(50))
                b = a;
            return PortRange{std::min(a, b), std::max(a, b)};
        };
        if (chance(60))
            m.sport = range();
        if (!m.sport || chance(50))
            m.dport = range();
        if (m.proto == 6 && chance(40))
            m.tcp_flags = TcpFlagsMatch{0x12, 0x10};
    } else if (l4 == 2) {
        if (chance(50))
            m.proto = 6;
        uint8_t mask = static_cast<uint8_t>(1 + below(255));
        m.tcp_flags = TcpFlagsMatch{mask, static_cast<uint8_t>(rng() & mask)};
    } else if (l4 == 3) {
        if (m.family || chance(50))
            m.proto = m.family == Family::ipv6 ? 58 : m.family == Family::ipv4 ? 1
                                                    : chance(50)               ? 1
                                                                               : 58;
        m.icmp_type = static_cast<uint8_t>(rng());
        if (chance(50))
            m.icmp_code = static_cast<uint8_t>(rng());
    } else if (l4 == 4) {
        uint8_t p = static_cast<uint8_t>(rng());
        bool icmp_mismatch = (p == 1 && m.family == Family::ipv6) || (p == 58 && m.family == Family::ipv4);
        if (!icmp_mismatch)
            m.proto = p;
    }
    if (chance(25)) {
        // ether= that agrees with the rest: any type without IP fields,
        // else the family's (icmp and icmpv6 name one too).
        const bool ip_field = m.family || m.src || m.dst || m.proto || m.sport || m.dport ||
                              m.tcp_flags || m.icmp_type;
        std::vector<uint16_t> types = {0x0800, 0x86dd};
        if (!ip_field)
            types = {0x0800, 0x86dd, 0x0806, 0x88cc, 0x88b5, 0x0600, 0xffff};
        if (m.family || m.proto == 1 || m.proto == 58)
            types = {m.family == Family::ipv6 || m.proto == 58 ? uint16_t(0x86dd) : uint16_t(0x0800)};
        m.ether = types[below(uint32_t(types.size()))];
    }
    switch (below(5)) {
    case 0: r.action.type = ActionType::drop; break;
    case 1: r.action.type = ActionType::pass; break;
    case 2: r.action.type = ActionType::count; break;
    case 3:
        r.action.type = ActionType::xsk;
        r.action.xsk_fallback = chance(50) ? ActionType::pass : ActionType::drop;
        break;
    default:
        r.action.type = ActionType::redirect;
        r.action.redirect_iface = "out" + std::to_string(below(100));
    }
    if (chance(20)) {
        // Blanks, quotes, backslashes, '=' and UTF-8: what quoting must survive.
        static const std::string pieces[] = {"a", " ", "\"", "\\", "=", "x=y", "é", "ssh", "#"};
        for (uint32_t n = 1 + below(12); n > 0; --n)
            r.comment += pieces[below(9)];
    }
    return r;
}

} // namespace

TEST(RuleParser, FormatParseRoundTrip)
{
    std::mt19937 rng(20240611);
    for (int i = 0; i < 3000; ++i) {
        Rule r = random_rule(rng);
        ASSERT_NO_THROW(validate_rule(r, "random")) << format_rule(r);
        std::string text = format_rule(r);
        Rule back;
        ASSERT_NO_THROW(back = parse_rule(text, "random")) << text;
        EXPECT_EQ(back.match, r.match) << text;
        EXPECT_EQ(back.action, r.action) << text;
        EXPECT_EQ(back.priority, r.priority) << text;
        EXPECT_EQ(back.comment, r.comment) << text;
        EXPECT_EQ(back.text, text);
        // The canonical form is a fixed point.
        EXPECT_EQ(format_rule(back), text);
    }
}

TEST(RuleParser, Comments)
{
    Rule r = parse_rule("proto=tcp dport=22 action=drop comment=\"ssh from \\\"outside\\\"\"", "t");
    EXPECT_EQ(r.comment, "ssh from \"outside\"");
    EXPECT_EQ(r.text, "priority=0 proto=tcp dport=22 action=drop comment=\"ssh from \\\"outside\\\"\"");
    EXPECT_EQ(parse_rule("action=pass comment=one-word", "t").text,
              "priority=0 action=pass comment=\"one-word\"");
    // The comment does not take part in matching.
    EXPECT_EQ(parse_rule("proto=udp action=pass comment=\"x\"", "t").match,
              parse_rule("proto=udp action=pass", "t").match);

    auto error_of = [](const std::string& text) {
        try {
            parse_rule(text, "rule 1");
        } catch (const PolicyError& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_NE(error_of("action=drop comment=\"" + std::string(129, 'x') + "\"").find(
                  "comment: is 129 bytes, longer than 128"),
              std::string::npos);
    EXPECT_NE(error_of("action=drop comment=\"a\tb\"").find("control character"), std::string::npos);
    EXPECT_NE(error_of("action=drop comment=\"open").find("unterminated"), std::string::npos);
    EXPECT_EQ(parse_rule("action=drop comment=\"" + std::string(128, 'x') + "\"", "t").comment.size(),
              128u);
}

TEST(RuleParser, RateLimits)
{
    Rule r = parse_rule("proto=udp dport=53 limit=1000/s burst=200 per=src action=drop", "rule 1");
    ASSERT_TRUE(r.match.limit);
    EXPECT_EQ(r.match.limit->amount, 1000u);
    EXPECT_EQ(r.match.limit->unit, RateUnit::per_second);
    EXPECT_EQ(r.match.limit->burst, 200u);
    EXPECT_EQ(r.match.limit->per, LimitPer::src);
    EXPECT_EQ(r.text, "priority=0 proto=udp dport=53 limit=1000/s burst=200 per=src action=drop");

    // Defaults: per rule, burst unset (default_burst), and not printed.
    r = parse_rule("per=rule limit=5/m action=pass", "rule 1");
    EXPECT_EQ(r.text, "priority=0 limit=5/m action=pass");
    EXPECT_EQ(default_burst(*r.match.limit), 5u);
    for (const char* rate : {"300kbit/s", "10mbit/s", "1/s", "60000000000/m"})
        EXPECT_EQ(format_rate(*parse_rule(std::string("limit=") + rate + " action=drop", "r")
                                   .match.limit),
                  rate);
    EXPECT_EQ(parse_rule("limit=10mbit/s per=dst action=drop", "r").text,
              "priority=0 limit=10mbit/s per=dst action=drop");
    EXPECT_EQ(default_burst(*parse_rule("limit=10mbit/s action=drop", "r").match.limit), 125000u);
    EXPECT_EQ(default_burst(*parse_rule("limit=8kbit/s action=drop", "r").match.limit), 9216u);

    expect_rule_error("limit=10 action=drop", "limit", {"'10'", "N/s, N/m, Nkbit/s or Nmbit/s"});
    expect_rule_error("limit=10/h action=drop", "limit", {"'10/h'", "not a rate"});
    expect_rule_error("limit=0/s action=drop", "limit", {"0/s", "1-1000000000"});
    expect_rule_error("limit=2000000/mbit/s action=drop", "limit", {"not a rate"});
    expect_rule_error("limit=2000000mbit/s action=drop", "limit", {"2000000mbit/s", "1-1000000"});
    expect_rule_error("limit=1/s burst=0 action=drop", "burst", {"0 is out of range 1-4294967295"});
    expect_rule_error("limit=1/s burst=x action=drop", "burst", {"'x'"});
    expect_rule_error("limit=1/s per=host action=drop", "per", {"'host'", "src, dst or rule"});
    expect_rule_error("burst=5 action=drop", "burst", {"needs limit=RATE"});
    expect_rule_error("per=src action=drop", "per", {"needs limit=RATE"});
    expect_rule_error("limit=1/s limit=2/s action=drop", "limit", {"twice"});
}

TEST(RuleParser, RateLimitParams)
{
    RateLimit l;
    l.amount = 1000;
    l.burst = 10;
    LimitParams p = limit_params(l);
    EXPECT_EQ(p.cost_ns(1500), 1'000'000u); // packets: the frame size does not count
    EXPECT_EQ(p.tol_ns, 10'000'000u);
    uint64_t tat = 0;
    int passed = 0;
    for (int i = 0; i < 100; i++) // 100 at once: the burst conforms
        passed += !limit_step(p, tat, 5'000'000'000, 64);
    EXPECT_EQ(passed, 10);
    // A second later another 1000 have accrued, capped at the burst.
    passed = 0;
    for (int i = 0; i < 100; i++)
        passed += !limit_step(p, tat, 6'000'000'000, 64);
    EXPECT_EQ(passed, 10);

    l.unit = RateUnit::mbit_per_second; // 1000 Mbit/s: 8 ns per byte
    l.amount = 1000;
    l.burst = 1500;
    p = limit_params(l);
    EXPECT_EQ(p.cost_ns(1500), 12'000u);
    EXPECT_EQ(p.tol_ns, 12'000u);
    tat = 0;
    EXPECT_FALSE(limit_step(p, tat, 1'000'000, 1500));
    EXPECT_TRUE(limit_step(p, tat, 1'000'000, 64));
    EXPECT_FALSE(limit_step(p, tat, 1'012'000, 1500));
    // The tag follows the parameters, so a changed limit starts a new bucket.
    RateLimit other = l;
    other.per = LimitPer::src;
    EXPECT_NE(limit_params(other).tag, p.tag);
    EXPECT_EQ(limit_params(l).tag, p.tag);
}

TEST(RuleParser, SyncookieAction)
{
    Rule r = parse_rule("proto=tcp dport=80 tcp_flags=SYN,!ACK action=syncookie", "rule 1");
    EXPECT_EQ(r.action.type, ActionType::syncookie);
    EXPECT_EQ(r.text, "priority=0 proto=tcp dport=80 tcp_flags=SYN,!ACK action=syncookie");
    expect_rule_error("dport=80 action=syncookie", "action", {"syncookie needs proto=tcp"});
    expect_rule_error("proto=udp dport=80 action=syncookie", "action", {"syncookie needs proto=tcp"});
    expect_rule_error("proto=tcp action=cookie", "action", {"count, syncookie"});
}
