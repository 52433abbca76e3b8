// SPDX-License-Identifier: GPL-2.0-only
// The inspection matcher on crafted frames: payload location (v4/v6, VLAN,
// extension headers, padding, fragments), fixed-offset and anywhere patterns,
// DNS names, first match by priority across kinds, filters, counters, rule
// set swaps, concurrent workers, and Hyperscan against a naive search.
#include "lib/lang/inspect_rules.hpp"
#include "lib/inspect/dns.hpp"
#include "lib/inspect/frame.hpp"
#include "lib/inspect/inspect.hpp"
#include "testing/packet_builder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

using namespace xdpfw;
using namespace xdpfw::inspect;

namespace {

std::array<uint8_t, 16> v4(uint8_t last)
{
    return {192, 0, 2, last};
}

std::array<uint8_t, 16> v6(uint8_t last)
{
    return {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
}

FrameSpec udp4(uint16_t dport = 9999)
{
    FrameSpec s;
    s.family = Family::ipv4;
    s.src = v4(1);
    s.dst = v4(2);
    s.proto = 17;
    s.dport = dport;
    return s;
}

FrameSpec tcp6()
{
    FrameSpec s;
    s.family = Family::ipv6;
    s.src = v6(1);
    s.dst = v6(2);
    s.proto = 6;
    s.dport = 80;
    return s;
}

// build_frame(spec) with payload as the L4 payload. The builder puts the
// payload last (before any frame_len padding), so it is overwritten in place.
std::vector<uint8_t> frame(FrameSpec spec, std::string_view payload)
{
    spec.payload_len = payload.size();
    std::vector<uint8_t> f = build_frame(spec);
    // With frame_len the builder pads after the IP packet; the payload ends
    // where the unpadded frame would.
    FrameSpec bare = spec;
    bare.frame_len = 0;
    const size_t end = spec.frame_len > 0 ? build_frame(bare).size() : f.size();
    std::copy(payload.begin(), payload.end(),
              f.begin() + static_cast<std::ptrdiff_t>(end - payload.size()));
    return f;
}

// A DNS query message for name, letters kept in the case given.
std::string dns_query(std::string_view name, uint16_t qdcount = 1)
{
    std::string m = {0x12, 0x34, 0x01, 0x00, static_cast<char>(qdcount >> 8),
                     static_cast<char>(qdcount), 0, 0, 0, 0, 0, 0};
    size_t start = 0;
    while (start < name.size()) {
        size_t dot = std::min(name.find('.', start), name.size());
        m += static_cast<char>(dot - start);
        m += name.substr(start, dot - start);
        start = dot + 1;
    }
    m += std::string("\x00\x00\x01\x00\x01", 5);
    return m;
}

std::shared_ptr<const RuleSet> rules(std::initializer_list<std::string> texts,
                                     RuleSetOptions options = {})
{
    InspectPolicy p;
    p.options = options;
    uint32_t id = 0;
    for (const auto& t : texts) {
        InspectRule r = parse_inspect_rule(t, "rule " + std::to_string(++id));
        if (r.id == 0)
            r.id = id;
        p.rules.push_back(r);
    }
    return compile_inspect_policy(p);
}

// The deciding rule id (0: none) for one frame.
uint32_t hit(const std::shared_ptr<const RuleSet>& set, const std::vector<uint8_t>& f)
{
    Inspector insp(set);
    return insp.inspect(f).rule_id;
}

} // namespace

TEST(InspectFrame, FindsThePayloadBehindEveryHeaderKind)
{
    struct Case {
        const char* what;
        FrameSpec spec;
    };
    FrameSpec qinq = udp4();
    qinq.vlans = {{0x88a8, 100, 0}, {0x8100, 200, 0}};
    FrameSpec opts = udp4();
    opts.ipv4_options = {1, 1, 1, 1, 1, 1, 1};
    FrameSpec ext = tcp6();
    ext.ipv6_ext = {Ext6::hop_by_hop, Ext6::routing, Ext6::dest_opts, Ext6::auth};
    FrameSpec first_frag = udp4();
    first_frag.fragment = true;
    first_frag.more_fragments = true;
    FrameSpec padded = udp4();
    padded.frame_len = 200;
    for (const Case& c : {Case{"udp4", udp4()}, Case{"tcp6", tcp6()}, Case{"qinq", qinq},
                          Case{"ipv4 options", opts}, Case{"ipv6 ext chain", ext},
                          Case{"first fragment", first_frag}, Case{"padded", padded}}) {
        auto f = frame(c.spec, "payload!");
        L4View v;
        ASSERT_EQ(parse_frame(f, v), FrameError::none) << c.what;
        ASSERT_TRUE(v.has_l4) << c.what;
        EXPECT_EQ(std::string(v.payload.begin(), v.payload.end()), "payload!") << c.what;
        EXPECT_EQ(v.dport, c.spec.dport) << c.what;
        EXPECT_EQ(v.family, c.spec.family == Family::ipv4 ? 4 : 6) << c.what;
    }
    auto q = frame(qinq, "x");
    L4View v;
    ASSERT_EQ(parse_frame(q, v), FrameError::none);
    EXPECT_EQ(v.vlan, 100);
}

TEST(InspectFrame, MalformedLayersAndPayloadlessFrames)
{
    auto f = frame(udp4(), "abcdefgh");
    L4View v;
    auto cut = [&](size_t n) { return std::span<const uint8_t>(f.data(), n); };
    EXPECT_EQ(parse_frame(cut(13), v), FrameError::l2);
    EXPECT_EQ(parse_frame(cut(30), v), FrameError::ipv4);
    EXPECT_EQ(parse_frame(cut(f.size() - 1), v), FrameError::ipv4); // total length past the end
    auto bad_udp = udp4();
    bad_udp.payload_len = 0;
    auto short_l4 = build_frame(bad_udp);
    short_l4[14 + 2] = 0;
    short_l4[14 + 3] = 20 + 4; // IP total length leaves 4 bytes for UDP
    EXPECT_EQ(parse_frame(short_l4, v), FrameError::l4);

    FrameSpec three_tags = udp4();
    three_tags.vlans = {{0x8100, 1, 0}, {0x8100, 2, 0}, {0x8100, 3, 0}};
    EXPECT_EQ(parse_frame(build_frame(three_tags), v), FrameError::l2);

    FrameSpec long_chain = tcp6();
    long_chain.ipv6_ext.assign(9, Ext6::dest_opts);
    EXPECT_EQ(parse_frame(build_frame(long_chain), v), FrameError::exthdr);
    auto g = frame(tcp6(), "abc");
    EXPECT_EQ(parse_frame(std::span<const uint8_t>(g.data(), 14 + 39), v), FrameError::ipv6);

    FrameSpec later = udp4();
    later.fragment = true;
    later.frag_offset = 10;
    ASSERT_EQ(parse_frame(frame(later, "GET /admin"), v), FrameError::none);
    EXPECT_FALSE(v.has_l4);
    EXPECT_TRUE(v.payload.empty());
    FrameSpec later6 = tcp6();
    later6.fragment = true;
    later6.frag_offset = 3;
    ASSERT_EQ(parse_frame(frame(later6, "GET /admin"), v), FrameError::none);
    EXPECT_FALSE(v.has_l4);
    FrameSpec icmp = udp4();
    icmp.proto = 1;
    ASSERT_EQ(parse_frame(frame(icmp, "GET /admin"), v), FrameError::none);
    EXPECT_FALSE(v.has_l4);
    FrameSpec arp;
    arp.family = Family::other;
    ASSERT_EQ(parse_frame(build_frame(arp), v), FrameError::none);
    EXPECT_EQ(v.family, 0);
    for (int e = 0; e < static_cast<int>(FrameError::count); ++e)
        EXPECT_STRNE(frame_error_name(static_cast<FrameError>(e)), "unknown");
}

TEST(InspectMatcher, AnywherePatternsOnV4V6VlanTcpUdp)
{
    auto set = rules({"priority=1 pattern=text:\"GET /admin\" action=drop",
                      "priority=2 pattern=hex:deadbeef action=drop"});
    FrameSpec vlan6 = tcp6();
    vlan6.vlans = {{0x8100, 7, 0}};
    vlan6.ipv6_ext = {Ext6::hop_by_hop, Ext6::fragment};
    for (const FrameSpec& spec : {udp4(), tcp6(), vlan6}) {
        EXPECT_EQ(hit(set, frame(spec, "xxGET /admin HTTP/1.1")), 1u);
        EXPECT_EQ(hit(set, frame(spec, "GET /admin")), 1u);
        EXPECT_EQ(hit(set, frame(spec, std::string("ab\xde\xad\xbe\xef", 6))), 2u);
        EXPECT_EQ(hit(set, frame(spec, "GET /admi")), 0u);
        EXPECT_EQ(hit(set, frame(spec, "get /admin")), 0u); // byte-exact
        EXPECT_EQ(hit(set, frame(spec, std::string("\xde\xad\xbe", 3))), 0u);
        EXPECT_EQ(hit(set, frame(spec, "")), 0u);
    }
}

TEST(InspectMatcher, FixedOffsetAtPayloadBoundaries)
{
    auto set = rules({"priority=1 pattern=text:\"ABCD\" offset=0 action=drop",
                      "priority=2 pattern=text:\"WXYZ\" offset=6 action=drop"});
    FrameSpec s = udp4();
    EXPECT_EQ(hit(set, frame(s, "ABCD")), 1u);            // exactly the payload
    EXPECT_EQ(hit(set, frame(s, "ABC")), 0u);             // one byte short
    EXPECT_EQ(hit(set, frame(s, "xABCD")), 0u);           // wrong offset
    EXPECT_EQ(hit(set, frame(s, "......WXYZ")), 2u);      // ends at the payload's end
    EXPECT_EQ(hit(set, frame(s, "......WXY")), 0u);       // would run past the end
    EXPECT_EQ(hit(set, frame(s, ".....WXYZ.")), 0u);
    // The UDP/TCP header bytes are not payload: offset 0 is after them.
    EXPECT_EQ(hit(rules({"pattern=hex:270f offset=0 action=drop"}), frame(s, "ABCD")), 0u);
}

TEST(InspectMatcher, LinkPaddingIsNotPayload)
{
    // Padding after the IP packet is zeros; a zero pattern must not find it.
    auto set = rules({"priority=1 pattern=hex:00000000 action=drop",
                      "priority=2 pattern=hex:00000000 offset=4 action=drop"});
    FrameSpec s = udp4();
    s.frame_len = 120;
    auto f = frame(s, "ABCD");
    ASSERT_GT(f.size(), 14u + 20 + 8 + 4 + 8);
    EXPECT_EQ(hit(set, f), 0u);
    EXPECT_EQ(hit(set, frame(s, std::string("ABCD\0\0\0\0", 8))), 1u);
}

TEST(InspectMatcher, ManyAnywherePatternsPickTheLowestPriority)
{
    InspectPolicy p;
    for (uint32_t i = 1; i <= 300; ++i)
        p.rules.push_back(parse_inspect_rule("priority=" + std::to_string(1000 - i) +
                                                 " pattern=text:\"tok" + std::to_string(i) +
                                                 "!\" action=" + (i % 2 ? "drop" : "forward"),
                                             "r"));
    for (uint32_t i = 0; i < p.rules.size(); ++i)
        p.rules[i].id = i + 1;
    auto set = compile_inspect_policy(p);
    // tok7 (priority 993) and tok250 (priority 750) both present: 250 wins.
    Inspector insp(set);
    Result r = insp.inspect(frame(udp4(), "..tok7!...tok250!..tok3x"));
    EXPECT_EQ(r.rule_id, 250u);
    EXPECT_EQ(r.verdict, inspect::Verdict::forward);
    EXPECT_EQ(r.outcome, Outcome::rule);
    EXPECT_EQ(insp.inspect(frame(udp4(), "tok299!")).rule_id, 299u);
    EXPECT_EQ(insp.inspect(frame(udp4(), "tok301!")).rule_id, 0u);
}

TEST(InspectMatcher, FirstMatchByPriorityAcrossKinds)
{
    FrameSpec s = udp4(53);
    std::string q = dns_query("www.evil.example");
    auto f = frame(s, q);
    // All three match this packet: DNS suffix, fixed offset (the header's id),
    // anywhere (the label "evil").
    const std::string dns = "dns_suffix=evil.example action=drop";
    const std::string fixed = "pattern=hex:1234 offset=0 action=forward";
    const std::string any = "pattern=text:\"evil\" action=drop";
    auto order = [&](int pd, int pf, int pa) {
        return hit(rules({"priority=" + std::to_string(pd) + " " + dns,
                          "priority=" + std::to_string(pf) + " " + fixed,
                          "priority=" + std::to_string(pa) + " " + any}),
                   f);
    };
    EXPECT_EQ(order(1, 2, 3), 1u);
    EXPECT_EQ(order(3, 1, 2), 2u);
    EXPECT_EQ(order(2, 3, 1), 3u);
    EXPECT_EQ(order(5, 5, 5), 1u); // ties: lower id
    // Ties between the anywhere and the fixed rule go to the lower id too.
    EXPECT_EQ(hit(rules({"priority=1 pattern=hex:ff action=drop",
                         "id=9 priority=0 " + any, "id=8 priority=0 " + fixed}),
                  f),
              8u);
}

TEST(InspectMatcher, DnsNamesAndSuffixesOnLabelBoundaries)
{
    auto set = rules({"priority=1 dns_suffix=evil.example action=drop",
                      "priority=2 dns_name=exact.example action=drop",
                      "priority=3 dns_suffix=Example.ORG. action=forward"});
    auto q = [&](std::string_view name, uint16_t dport = 53) {
        return hit(set, frame(udp4(dport), dns_query(name)));
    };
    EXPECT_EQ(q("evil.example"), 1u);
    EXPECT_EQ(q("a.b.EVIL.Example"), 1u);
    EXPECT_EQ(q("notevil.example"), 0u);
    EXPECT_EQ(q("evil.example.com"), 0u);
    EXPECT_EQ(q("evil"), 0u);
    EXPECT_EQ(q("exact.example"), 2u);
    EXPECT_EQ(q("EXACT.example"), 2u);
    EXPECT_EQ(q("www.exact.example"), 0u);
    EXPECT_EQ(q("www.example.org"), 3u);
    EXPECT_EQ(q("evil.example", 54), 0u); // not DNS: the port decides
    // A label that holds a dot is one label: "evil.example" inside a single
    // label must not look like the two labels of the rule.
    std::string tricky = dns_query("x");
    tricky = tricky.substr(0, 12) + std::string("\x0c" "evil.example" "\x00\x00\x01\x00\x01", 18);
    EXPECT_EQ(hit(set, frame(udp4(53), tricky)), 0u);
    // DNS over TCP and DNS from port 53 are not looked at.
    FrameSpec t = udp4(53);
    t.proto = 6;
    EXPECT_EQ(hit(set, frame(t, dns_query("evil.example"))), 0u);
    FrameSpec reply = udp4(5353);
    reply.sport = 53;
    EXPECT_EQ(hit(set, frame(reply, dns_query("evil.example"))), 0u);
}

TEST(InspectMatcher, MalformedDnsFallsThroughToPatternRulesAndIsCounted)
{
    auto set = rules({"priority=1 dns_suffix=evil.example action=drop",
                      "priority=2 pattern=text:\"evil\" action=forward"});
    Inspector insp(set);
    std::string pointer = dns_query("x").substr(0, 12) + "\x04" "evil" "\xc0\x0c";
    Result r = insp.inspect(frame(udp4(53), pointer));
    EXPECT_EQ(r.rule_id, 2u);
    std::string zero_qd = dns_query("evil.example", 0);
    EXPECT_EQ(insp.inspect(frame(udp4(53), zero_qd)).rule_id, 2u);
    EXPECT_EQ(insp.inspect(frame(udp4(53), "short")).rule_id, 0u);
    EXPECT_EQ(insp.inspect(frame(udp4(53), dns_query("a.evil.example"))).rule_id, 1u);
    InspectStats s = insp.counters().snapshot();
    EXPECT_EQ(s.dns_malformed[static_cast<size_t>(DnsStatus::compression_pointer)], 1u);
    EXPECT_EQ(s.dns_malformed[static_cast<size_t>(DnsStatus::no_question)], 1u);
    EXPECT_EQ(s.dns_malformed[static_cast<size_t>(DnsStatus::truncated_header)], 1u);
    EXPECT_EQ(s.dns_malformed_total(), 3u);
    EXPECT_EQ(s.dns_queries, 1u);
}

TEST(InspectMatcher, FiltersOnProtoAndPorts)
{
    auto set = rules({"priority=1 pattern=text:\"X\" proto=tcp action=drop",
                      "priority=2 pattern=text:\"X\" dport=1000-2000 action=drop",
                      "priority=3 pattern=text:\"X\" offset=0 sport=7 action=drop",
                      "priority=4 dns_name=a.example sport=5353 action=drop"});
    EXPECT_EQ(hit(set, frame(tcp6(), "X")), 1u);
    EXPECT_EQ(hit(set, frame(udp4(1500), "X")), 2u);
    EXPECT_EQ(hit(set, frame(udp4(999), "X")), 0u);
    FrameSpec from7 = udp4(3000);
    from7.sport = 7;
    EXPECT_EQ(hit(set, frame(from7, "X")), 3u);
    FrameSpec mdns = udp4(53);
    mdns.sport = 5353;
    EXPECT_EQ(hit(set, frame(mdns, dns_query("a.example"))), 4u);
    EXPECT_EQ(hit(set, frame(udp4(53), dns_query("a.example"))), 0u);
}

TEST(InspectMatcher, VerdictsOutcomesAndCounters)
{
    auto set = rules({"id=5 priority=1 pattern=text:\"bad\" action=drop",
                      "id=6 priority=2 pattern=text:\"ok\" action=forward"},
                     RuleSetOptions{.default_verdict = inspect::Verdict::drop,
                                    .malformed_verdict = inspect::Verdict::forward});
    Inspector a(set), b(set);
    Result r = a.inspect(frame(udp4(), "bad"));
    EXPECT_EQ(r.verdict, inspect::Verdict::drop);
    EXPECT_EQ(r.outcome, Outcome::rule);
    EXPECT_EQ(a.inspect(frame(udp4(), "ok")).verdict, inspect::Verdict::forward);
    r = a.inspect(frame(udp4(), "neither"));
    EXPECT_EQ(r.verdict, inspect::Verdict::drop);
    EXPECT_EQ(r.outcome, Outcome::no_match);
    EXPECT_EQ(r.rule_id, 0u);
    std::vector<uint8_t> runt(10, 0);
    r = b.inspect(runt);
    EXPECT_EQ(r.verdict, inspect::Verdict::forward);
    EXPECT_EQ(r.outcome, Outcome::malformed_frame);
    FrameSpec later = udp4();
    later.fragment = true;
    later.frag_offset = 100;
    EXPECT_EQ(b.inspect(frame(later, "bad")).outcome, Outcome::no_match);
    b.inspect(frame(udp4(), "bad"));

    InspectStats sa = a.counters().snapshot(), sb = b.counters().snapshot();
    EXPECT_EQ(sa.packets, 3u);
    EXPECT_EQ(sa.rule_hits, (std::map<uint32_t, uint64_t>{{5, 1}, {6, 1}}));
    EXPECT_EQ(sb.frame_malformed[static_cast<size_t>(FrameError::l2)], 1u);
    EXPECT_EQ(sb.no_payload, 1u);
    InspectStats sum = sa;
    sum += sb;
    EXPECT_EQ(sum.packets, 6u);
    EXPECT_EQ(sum.rule_hits[5], 2u);
    EXPECT_EQ(sum.verdicts[static_cast<size_t>(inspect::Verdict::drop)], 4u); // bad, neither, later, bad
    EXPECT_EQ(sum.verdicts[static_cast<size_t>(inspect::Verdict::forward)], 2u);
    EXPECT_EQ(sum.outcomes[static_cast<size_t>(Outcome::rule)], 3u);
    EXPECT_EQ(sum.outcomes[static_cast<size_t>(Outcome::no_match)], 2u);
    EXPECT_EQ(sum.outcomes[static_cast<size_t>(Outcome::malformed_frame)], 1u);
    EXPECT_EQ(sum.frame_malformed_total(), 1u);
    EXPECT_EQ(sum.bytes, sa.bytes + sb.bytes);
}

TEST(InspectMatcher, CompileRefusesBadRuleSets)
{
    auto compile_error = [](std::vector<InspectRule> rs) {
        try {
            RuleSet::compile(std::move(rs));
        } catch (const InspectError& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    InspectRule r = parse_inspect_rule("pattern=hex:00 action=drop", "r");
    r.id = 3;
    EXPECT_EQ(compile_error({r, r}), "rule id 3: id: used by two rules");
    r.id = 0;
    EXPECT_EQ(compile_error({r}), "rule id 0: id: must be 1-4095 (ids are counter slots)");
    r.id = 4096;
    EXPECT_NE(compile_error({r}).find("must be 1-4095"), std::string::npos);
    r.id = 1;
    std::get<BytePattern>(r.what).bytes.clear();
    EXPECT_EQ(compile_error({r}), "rule id 1: pattern: empty pattern");
    r.what = DnsMatch{"Upper.Case", false};
    EXPECT_NE(compile_error({r}).find("not lower-case"), std::string::npos);
    r.what = DnsMatch{"a.example", true};
    r.proto = proto_tcp;
    EXPECT_NE(compile_error({r}).find("DNS queries are UDP"), std::string::npos);
    EXPECT_EQ(RuleSet::compile({})->rules().size(), 0u);
}

TEST(InspectMatcher, RulesAreKeptInEvaluationOrder)
{
    auto set = rules({"id=3 priority=5 pattern=hex:01 action=drop",
                      "id=1 priority=5 pattern=hex:02 action=drop",
                      "id=2 priority=-1 dns_name=a.b action=drop"});
    std::vector<uint32_t> ids;
    for (const auto& r : set->rules())
        ids.push_back(r.id);
    EXPECT_EQ(ids, (std::vector<uint32_t>{2, 1, 3}));
}

TEST(InspectSlot, PublishedSetsReachWorkersOnRefresh)
{
    RuleSetSlot slot;
    Inspector insp(slot); // nothing published: defaults
    auto f = frame(udp4(), "needle");
    EXPECT_EQ(insp.inspect(f).outcome, Outcome::no_match);
    EXPECT_FALSE(insp.refresh());

    auto first = rules({"id=1 pattern=text:\"needle\" action=drop"});
    slot.publish(first);
    EXPECT_EQ(insp.inspect(f).rule_id, 0u); // not picked up before refresh
    EXPECT_TRUE(insp.refresh());
    EXPECT_FALSE(insp.refresh());
    EXPECT_EQ(insp.inspect(f).rule_id, 1u);

    // A second worker still on the first set while the slot moves on.
    Inspector other(slot);
    slot.publish(rules({"id=2 pattern=text:\"needle\" offset=0 action=forward"}));
    EXPECT_EQ(other.inspect(f).rule_id, 1u);
    EXPECT_EQ(first.use_count(), 3); // here, insp, other
    EXPECT_TRUE(insp.refresh());
    EXPECT_TRUE(other.refresh());
    EXPECT_EQ(first.use_count(), 1);
    Result r = insp.inspect(f);
    EXPECT_EQ(r.rule_id, 2u);
    EXPECT_EQ(r.verdict, inspect::Verdict::forward);
    // Counters are by id and survive the switch.
    EXPECT_EQ(insp.counters().snapshot().rule_hits, (std::map<uint32_t, uint64_t>{{1, 1}, {2, 1}}));
    slot.publish(nullptr);
    EXPECT_TRUE(insp.refresh());
    EXPECT_EQ(insp.inspect(f).outcome, Outcome::no_match);
}

TEST(InspectSlot, WorkersRunWhileSetsAreSwapped)
{
    // Two sets that give the same frame different, recognisable answers.
    auto a = rules({"id=1 pattern=text:\"needle\" action=drop"});
    auto b = rules({"id=2 priority=1 pattern=hex:00 action=forward",
                    "id=3 priority=0 pattern=text:\"needle\" action=forward"});
    RuleSetSlot slot(a);
    const auto f = frame(udp4(), "haystack needle haystack");
    std::atomic<bool> stop{false}, wrong{false};
    std::vector<std::unique_ptr<Inspector>> workers;
    for (int i = 0; i < 2; ++i)
        workers.push_back(std::make_unique<Inspector>(slot));
    std::vector<std::thread> threads;
    for (auto& w : workers)
        threads.emplace_back([&, insp = w.get()] {
            while (!stop.load()) {
                insp->refresh();
                for (int k = 0; k < 64; ++k) {
                    uint32_t id = insp->inspect(f).rule_id;
                    if (id != 1 && id != 3)
                        wrong = true;
                }
            }
        });
    for (int i = 0; i < 2000; ++i)
        slot.publish(i % 2 ? a : b);
    // Keep going until both workers have inspected packets under both sets
    // (their counters tell, without any timing).
    auto seen_both = [&] {
        InspectStats s;
        for (auto& w : workers)
            s += w->counters().snapshot();
        return s.rule_hits.count(1) && s.rule_hits.count(3);
    };
    for (int i = 0; !seen_both(); ++i) {
        slot.publish(i % 2 ? a : b);
        std::this_thread::yield();
    }
    stop = true;
    for (auto& t : threads)
        t.join();
    EXPECT_FALSE(wrong);
    InspectStats s;
    for (auto& w : workers)
        s += w->counters().snapshot();
    EXPECT_EQ(s.packets, s.rule_hits[1] + s.rule_hits[3]);
}

// Hyperscan and the fixed-offset path against a naive reference: for random
// payloads over a small alphabet (so patterns do occur) and random rule sets,
// the deciding rule must be the first in (priority, id) order whose pattern
// occurs (anywhere) or sits at its offset.
TEST(InspectMatcher, HyperscanAgreesWithNaiveSearch)
{
    std::mt19937 rng(4242);
    auto pick = [&](uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng); };
    auto random_bytes = [&](size_t n) {
        std::string s;
        for (size_t i = 0; i < n; ++i)
            s += "ab\x00\xff"[pick(4)];
        return s;
    };
    uint64_t decided = 0;
    for (int round = 0; round < 60; ++round) {
        std::vector<InspectRule> rs;
        const uint32_t nrules = 1 + pick(120);
        for (uint32_t i = 0; i < nrules; ++i) {
            InspectRule r;
            r.id = i + 1;
            r.priority = static_cast<int32_t>(pick(50));
            BytePattern p;
            std::string bytes = random_bytes(1 + pick(6));
            p.bytes.assign(bytes.begin(), bytes.end());
            if (pick(4) == 0)
                p.offset = pick(40);
            r.what = p;
            r.action = pick(2) ? inspect::Verdict::drop : inspect::Verdict::forward;
            rs.push_back(r);
        }
        auto set = RuleSet::compile(rs);
        Inspector insp(set);
        const auto& ordered = set->rules();
        for (int k = 0; k < 200; ++k) {
            std::string payload = random_bytes(pick(80));
            uint32_t want = 0;
            for (const InspectRule& r : ordered) {
                const BytePattern& p = r.pattern();
                std::string_view pat(reinterpret_cast<const char*>(p.bytes.data()), p.bytes.size());
                bool match = p.offset ? *p.offset + pat.size() <= payload.size() &&
                                            payload.compare(*p.offset, pat.size(), pat) == 0
                                      : payload.find(pat) != std::string::npos;
                if (match) {
                    want = r.id;
                    break;
                }
            }
            FrameSpec spec = pick(2) ? udp4() : tcp6();
            ASSERT_EQ(insp.inspect(frame(spec, payload)).rule_id, want)
                << "round " << round << " payload size " << payload.size();
            decided += want != 0;
        }
    }
    // The alphabet makes hits common; a run without any would test nothing.
    EXPECT_GT(decided, 1000u);
}

// The DNS tables (length bits, reversed-name hashes, byte compare) against a
// plain string reference: many random names over a tiny alphabet, so that
// names, suffixes and near-misses collide often.
TEST(InspectMatcher, DnsTablesAgreeWithAStringReference)
{
    std::mt19937 rng(99);
    auto pick = [&](uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng); };
    auto random_name = [&](uint32_t max_labels) {
        std::string name;
        for (uint32_t l = 0, n = 1 + pick(max_labels); l < n; ++l) {
            if (!name.empty())
                name += '.';
            for (uint32_t k = 0, m = 1 + pick(3); k < m; ++k)
                name += "ab"[pick(2)];
        }
        return name;
    };
    std::vector<InspectRule> rs;
    for (uint32_t i = 0; i < 300; ++i) {
        InspectRule r;
        r.id = i + 1;
        r.priority = static_cast<int32_t>(pick(100));
        r.what = DnsMatch{random_name(3), pick(2) == 1};
        rs.push_back(r);
    }
    auto set = RuleSet::compile(rs);
    Inspector insp(set);
    uint64_t decided = 0;
    for (int k = 0; k < 3000; ++k) {
        std::string name = random_name(5);
        std::string upper = name;
        for (char& c : upper)
            if (pick(2))
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        uint32_t want = 0;
        for (const InspectRule& r : set->rules()) {
            const std::string& n = r.dns().name;
            bool match = name == n || (r.dns().suffix && name.size() > n.size() &&
                                       name.ends_with("." + n));
            if (match) {
                want = r.id;
                break;
            }
        }
        ASSERT_EQ(insp.inspect(frame(udp4(53), dns_query(upper))).rule_id, want) << upper;
        decided += want != 0;
    }
    EXPECT_GT(decided, 300u);
}
