// SPDX-License-Identifier: GPL-2.0-only
// The specialised tier's generated program (lib/kernel/gen_program.hpp):
// the frames it must leave to its fallback, its counters against the
// general program's, the policies it refuses and why. Its classification
// is held to the reference by test_differential.cpp, its parsing by
// test_parser.cpp (ParserTier).
#include "lib/kernel/gen_program.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/policy_text.hpp"
#include "testing/private_netns.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <linux/bpf.h>

#include <random>

namespace xdpfw::test {
namespace {

// A harness running the generated program of policy, and one running the
// general program on the same policy.
struct Pair {
    BpfHarness gen, general;

    explicit Pair(const Policy& p)
    {
        gen.set_tier(Tier::generated);
        gen.commit(p);
        general.commit(p);
    }
    bool generated() const { return gen.spec_live() && gen.spec_program()->generated(); }
};

void expect_same(Pair& p, const std::string& what, const std::vector<uint8_t>& frame)
{
    SCOPED_TRACE(what);
    const RunResult want = p.general.run(frame), got = p.gen.run(frame);
    EXPECT_EQ(got.xdp_action, want.xdp_action);
    EXPECT_EQ(got.verdict.reason, want.verdict.reason);
    EXPECT_EQ(got.verdict.rule_index, want.verdict.rule_index);
    EXPECT_EQ(got.verdict.rule_id, want.verdict.rule_id);
}

// A later fragment's first bytes are payload, not ports: a payload that
// reads as UDP port 53 must not match dport=53. IPv4 options move the
// ports; a VLAN tag moves everything. The generated program leaves these
// frames to its fallback, so they decide as in the general program.
TEST(Generated, LaterFragmentsOptionsAndTagsDecideAsInTheGeneralProgram)
{
    enter_private_netns();
    Pair p(make_policy({"proto=udp dport=53 action=drop", "proto=tcp tcp_flags=SYN,!ACK action=drop"}));
    ASSERT_TRUE(p.generated()) << p.gen.spec_why_not() << (p.gen.spec_program() ? p.gen.spec_program()->generated_why_not() : "");

    FrameSpec dns = frame("192.0.2.1", "198.51.100.2", 17, 4000, 53);
    expect_same(p, "udp 53", build_frame(dns));
    EXPECT_EQ(p.gen.run(build_frame(dns)).xdp_action, uint32_t(XDP_DROP));

    FrameSpec later = dns;
    later.fragment = true;
    later.frag_offset = 3;
    later.payload = {0x0f, 0xa0, 0x00, 0x35, 0x00, 0x10, 0x00, 0x00, 1, 2, 3, 4};
    expect_same(p, "a later fragment whose payload reads as port 53", build_frame(later));
    EXPECT_EQ(p.gen.run(build_frame(later)).xdp_action, uint32_t(XDP_PASS));

    FrameSpec first = dns;
    first.fragment = true;
    first.more_fragments = true;
    expect_same(p, "a first fragment", build_frame(first));
    EXPECT_EQ(p.gen.run(build_frame(first)).xdp_action, uint32_t(XDP_DROP));

    FrameSpec options = dns;
    options.ipv4_options = {0x94, 0x04, 0x00, 0x00}; // router alert
    expect_same(p, "IPv4 options", build_frame(options));
    EXPECT_EQ(p.gen.run(build_frame(options)).xdp_action, uint32_t(XDP_DROP));

    FrameSpec tagged = dns;
    tagged.vlans.push_back({.vid = 7});
    expect_same(p, "a VLAN tag", build_frame(tagged));

    for (uint8_t flags : {0x02, 0x12, 0x10, 0x03}) {
        FrameSpec syn = frame("192.0.2.1", "198.51.100.2", 6, 4000, 80);
        syn.tcp_flags = flags;
        expect_same(p, "tcp flags " + std::to_string(flags), build_frame(syn));
    }
}

// Rule and reason counters (packets and bytes) move as the general
// program's, over random frames of a policy with count rules, a default
// and every field the generated program tests.
TEST(Generated, CountsPacketsAndBytesAsTheGeneralProgram)
{
    enter_private_netns();
    const Policy policy = make_policy({"proto=udp dport=1000-2000 action=count",
                                       "src=10.0.0.0/8 dport=1500 action=drop",
                                       "proto=icmp icmp_type=8 action=pass", "action=count",
                                       "dst=192.0.2.0/24 sport=53 action=pass"},
                                      ActionType::drop);
    Pair p(policy);
    ASSERT_TRUE(p.generated()) << p.gen.spec_why_not() << (p.gen.spec_program() ? p.gen.spec_program()->generated_why_not() : "");
    auto counters = [&](BpfHarness& h) {
        std::vector<xdpfw_counter> v;
        for (const Rule& r : policy.rules)
            v.push_back(h.maps().rule_counter(r.id));
        for (uint32_t r = XDPFW_REASON_FIRST_COUNTED; r < XDPFW_REASON_COUNT; r++)
            v.push_back(h.maps().reason_counters().at(r));
        return v;
    };
    std::mt19937_64 rng(7);
    const std::vector<std::string> srcs{"10.1.2.3", "11.0.0.1", "192.0.2.9"};
    const std::vector<std::string> dsts{"192.0.2.77", "198.51.100.1"};
    for (int i = 0; i < 400; i++) {
        const uint8_t proto = std::array<uint8_t, 4>{6, 17, 1, 47}[rng() % 4];
        FrameSpec f = frame(srcs[rng() % srcs.size()], dsts[rng() % dsts.size()], proto,
                            std::array<uint16_t, 3>{53, 1024, 1500}[rng() % 3],
                            std::array<uint16_t, 4>{1500, 999, 2000, 80}[rng() % 4]);
        f.icmp_type = rng() % 2 ? 8 : 0;
        f.payload_len = rng() % 200;
        expect_same(p, "frame " + std::to_string(i), build_frame(f));
    }
    const auto want = counters(p.general), got = counters(p.gen);
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); i++) {
        EXPECT_EQ(got[i].packets, want[i].packets) << "counter " << i;
        EXPECT_EQ(got[i].bytes, want[i].bytes) << "counter " << i;
    }
    EXPECT_GT(want[1].packets, 0u);
    EXPECT_GT(want[3].packets, 0u);
}

// Which policies get a generated program, and why the others do not.
TEST(Generated, OnlyLeanPoliciesAndTheirReasons)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::generated);
    struct Case {
        std::vector<std::string> rules;
        std::string why; // "" : generated
    };
    const std::vector<Case> cases{
        {{"src=198.18.0.0/16 proto=udp dport=5001 action=drop"}, ""},
        {{"iif=lo proto=tcp action=pass", "action=drop"}, ""},
        {{"proto=udp action=drop sample=10"}, "not lean"},
        {{"ct=new proto=tcp action=drop"}, "not lean"},
        {{"proto=udp action=xsk"}, "not lean"},
    };
    for (const Case& c : cases) {
        h.commit(make_policy(c.rules));
        ASSERT_TRUE(h.spec_live()) << c.rules[0] << ": " << h.spec_why_not();
        const std::string why = h.spec_program()->generated_why_not();
        EXPECT_EQ(h.spec_program()->generated(), c.why.empty()) << c.rules[0] << ": " << why;
        EXPECT_NE(why.find(c.why), std::string::npos) << c.rules[0] << ": " << why;
        EXPECT_STREQ(h.spec_program()->form(), c.why.empty() ? "generated" : "compiled");
    }
    // A spec that is not lean is refused by the generator itself.
    xdpfw_spec s{};
    s.key = 1;
    EXPECT_THROW(generate_program(s, GenMaps{}), std::invalid_argument);
}

// A bitmaps spec's program (past one word of rules): a frame whose fields'
// bitmaps meet in the word their hints name is decided there, by the
// word's first rule; a redirect rule, and the rules of a later word than
// the hints name, by the general program; the verdicts and counters are
// the general program's either way.
TEST(Generated, BitmapsProgramTakesTheWordItsFieldsName)
{
    enter_private_netns();
    std::vector<std::string> rules;
    for (int i = 0; i < 150; i++)
        rules.push_back(fmt::format("priority={} proto=udp src=10.0.{}.0/24 action={}", i, i, i % 2 ? "pass" : "drop"));
    rules.push_back("priority=200 proto=udp dport=7 action=redirect:eth0");
    rules.push_back("priority=201 proto=tcp action=drop");
    Pair p(make_policy(rules, ActionType::pass));
    ASSERT_TRUE(p.generated()) << p.gen.spec_why_not();
    ASSERT_EQ(p.gen.compiled()->spec->bitmaps, 1u);
    // Who decided each frame: 1 the generated program, 0 the general one.
    auto decided_by = [&](const std::string& what, const std::vector<uint8_t>& f) {
        const RunResult want = p.general.run(f), got = p.gen.run(f);
        EXPECT_EQ(got.xdp_action, want.xdp_action) << what;
        EXPECT_EQ(got.verdict.reason, want.verdict.reason) << what;
        EXPECT_EQ(got.verdict.rule_id, want.verdict.rule_id) << what;
        return got.verdict.generated;
    };
    for (int i : {0, 1, 63, 64, 100, 149})
        EXPECT_EQ(decided_by(fmt::format("rule {}", i),
                             build_frame(frame(fmt::format("10.0.{}.9", i), "198.51.100.2", 17, 4000, 53))),
                  1u)
            << i;
    // Rule 150 redirects: the general program acts.
    EXPECT_EQ(decided_by("redirect", build_frame(frame("10.9.0.9", "198.51.100.2", 17, 4000, 7))), 0u);
    // TCP: the last word's rule; UDP elsewhere: the default, in the last word.
    EXPECT_EQ(decided_by("tcp", build_frame(frame("10.0.3.9", "198.51.100.2", 6, 4000, 80))), 1u);
    EXPECT_EQ(decided_by("default", build_frame(frame("10.9.0.9", "198.51.100.2", 17, 4000, 53))), 1u);
    for (int i = 0; i < 150; i++)
        EXPECT_EQ(p.gen.maps().rule_counter(uint32_t(i + 1)).packets,
                  p.general.maps().rule_counter(uint32_t(i + 1)).packets);
}

// Bitmaps past one page (abi.h, XDPFW_KPAGE_WORDS): the program looks a
// page up per field.
TEST(Generated, BitmapsProgramReadsBitmapsPastOnePage)
{
    enter_private_netns();
    std::vector<std::string> rules;
    for (int i = 0; i < 3000; i++)
        rules.push_back(fmt::format("priority={} proto=udp src=10.{}.{}.0/24{} action=drop", i, i / 256, i % 256,
                                    i % 2 ? fmt::format(" dport={}", 1 + i % 40) : ""));
    Pair p(make_policy(rules, ActionType::pass));
    ASSERT_TRUE(p.generated()) << p.gen.spec_why_not();
    ASSERT_GE(p.gen.compiled()->spec->bm.pages, 2u);
    for (int i : {0, 2, 64, 1000, 2540, 2999}) {
        const std::vector<uint8_t> f =
            build_frame(frame(fmt::format("10.{}.{}.9", i / 256, i % 256), "198.51.100.2", 17, 4000, 1 + i % 40));
        const RunResult want = p.general.run(f), got = p.gen.run(f);
        EXPECT_EQ(got.verdict.rule_index, want.verdict.rule_index) << i;
        EXPECT_EQ(want.verdict.rule_index, uint32_t(i));
        EXPECT_EQ(got.verdict.generated, 1u) << i;
    }
}

} // namespace
} // namespace xdpfw::test
