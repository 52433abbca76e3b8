// SPDX-License-Identifier: GPL-2.0-only
// The specialised tier's program: the largest spec still passes the
// verifier (its ranges are branch-free, its address lookups a global
// function), and it classifies such a policy like the reference.
#include "lib/lang/rule_parser.hpp"
#include "lib/reference/reference.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/policy_text.hpp"
#include "testing/private_netns.hpp"
#include "testing/random_policy.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

namespace xdpfw::test {
namespace {

// 64 rules, 63 of them count rules, every scalar field at its range limit,
// both address fields, a flags table: the most code a spec can make.
Policy widest_policy()
{
    std::vector<std::string> texts;
    const char* ifs[] = {"eth0", "eth1", "test0"};
    for (uint32_t i = 0; i < XDPFW_SPEC_MAX_RULES; i++) {
        std::string t = fmt::format("priority={} ", i);
        switch (i % 6) {
        case 0: t += fmt::format("proto=udp dport={}-{}", 1000 + 10 * i, 1004 + 10 * i); break;
        case 1: t += fmt::format("proto=tcp sport={} tcp_flags=SYN,!ACK", 2000 + 10 * i); break;
        case 2: t += fmt::format("vlan={} src=@a", i); break;
        case 3: t += fmt::format("iif={} dst=@b", ifs[i % 3]); break;
        case 4: t += fmt::format("proto=icmp icmp_type={}", i % 16); break;
        default: t += fmt::format("src=10.{}.0.0/16 dst=192.0.2.{}/32", i, i); break;
        }
        t += i + 1 == XDPFW_SPEC_MAX_RULES ? " action=drop" : " action=count";
        texts.push_back(t);
    }
    Policy p;
    p.default_action = ActionType::pass;
    for (size_t i = 0; i < texts.size(); i++) {
        Rule r = parse_rule(texts[i], "rule");
        r.id = uint32_t(i + 1);
        p.rules.push_back(r);
    }
    p.sets["a"] = {Prefix::parse("198.51.100.0/24"), Prefix::parse("2001:db8::/32")};
    p.sets["b"] = {Prefix::parse("203.0.113.0/24")};
    return p;
}

TEST(SpecTier, WidestSpecLoadsAndMatchesTheReference)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::specialised);
    const Policy p = widest_policy();
    ASSERT_NO_THROW(h.commit(p));
    ASSERT_TRUE(h.spec_live()) << h.spec_why_not();
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(h.spec_program()->prog_fd(), &info, &len), 0);
    RecordProperty("verified_insns", std::to_string(info.verified_insns));

    std::mt19937_64 rng(0x51de);
    PacketGenerator gen(p);
    auto resolve = h.compile_options().resolve;
    for (int k = 0; k < 3000; k++) {
        PacketFields pkt = gen.next(rng);
        pkt.ifindex = 1;
        if (pkt.family == Family::ipv6 &&
            (pkt.proto == 0 || pkt.proto == 43 || pkt.proto == 44 || pkt.proto == 51 || pkt.proto == 60))
            pkt.proto = 59;
        const Verdict want = classify(p, pkt, resolve);
        const RunResult got = h.run(build_frame(spec_from_fields(pkt, rng)));
        ASSERT_EQ(got.verdict.rule_index, want.rule_index < 0 ? XDPFW_NO_RULE : uint32_t(want.rule_index))
            << describe(pkt);
    }
}

} // namespace
} // namespace xdpfw::test
