// SPDX-License-Identifier: GPL-2.0-only
// The specialised tier's form of a policy (lib/compiler/specialise.hpp):
// which policies fit, the ranges and constants it derives, and a key that
// follows the rules and the IPv4 prefixes it holds, not what it reads live.
#include "lib/compiler/compiler.hpp"
#include "lib/compiler/specialise.hpp"
#include "testing/policy_text.hpp"
#include "testing/random_policy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <map>

namespace xdpfw {
namespace {

CompiledPolicy compiled(const Policy& p)
{
    return compile(p, CompileOptions{.resolve = test::fake_ifindex});
}

TEST(Specialise, OneRuleBecomesRangesAndConstants)
{
    const CompiledPolicy c = compiled(test::make_policy({"proto=udp dport=53 action=drop"}));
    ASSERT_TRUE(c.spec) << c.spec_why_not;
    const xdpfw_spec& s = *c.spec;
    EXPECT_NE(s.key, 0u);
    EXPECT_EQ(s.n_rules, 1u);
    EXPECT_EQ(s.terminal, 1u);
    EXPECT_EQ(s.one_terminal, 1u); // rule 0
    EXPECT_EQ(s.n_count, 0u);
    EXPECT_EQ(s.lookup, 0u);
    EXPECT_EQ(s.rules[0].rule_id, 1u);
    EXPECT_EQ(s.rules[0].action, XDPFW_ACT_DROP);
    // dport: the rule on 53 only.
    const xdpfw_spec_field& d = s.f[XDPFW_FIELD_DPORT];
    ASSERT_EQ(d.n_ranges, 1u);
    EXPECT_EQ(d.other, 0u);
    EXPECT_EQ(d.r[0].lo, 53u);
    EXPECT_EQ(d.r[0].span, 0u);
    EXPECT_EQ(d.r[0].bits, 1u);
    // proto: UDP over IPv4 and over IPv6 (family * 256 + 17).
    const xdpfw_spec_field& p = s.f[XDPFW_FIELD_PROTO];
    ASSERT_EQ(p.n_ranges, 2u);
    EXPECT_EQ(p.r[0].lo, 256u + 17);
    EXPECT_EQ(p.r[1].lo, 512u + 17);
    // Unused fields admit the rule everywhere: folded into base.
    EXPECT_EQ(s.f[XDPFW_FIELD_VLAN].n_ranges, 0u);
    EXPECT_EQ(s.base, 1u);
    // The program tests only the scalar fields named in `ranged`.
    EXPECT_EQ(s.ranged, (1u << XDPFW_FIELD_PROTO) | (1u << XDPFW_FIELD_DPORT));
    EXPECT_EQ(s.flags_table, 0u);
}

TEST(Specialise, CountRulesAddressesAndFlags)
{
    const CompiledPolicy c = compiled(test::make_policy(
        {"priority=1 src=@bad action=count", "priority=2 proto=tcp tcp_flags=SYN,!ACK action=drop",
         "priority=3 dst=192.0.2.0/24 action=pass"},
        ActionType::pass, {{"bad", {"198.51.100.0/24"}}}));
    ASSERT_TRUE(c.spec) << c.spec_why_not;
    const xdpfw_spec& s = *c.spec;
    EXPECT_EQ(s.n_count, 1u);
    EXPECT_EQ(s.terminal, 0b110u);
    EXPECT_EQ(s.one_terminal, 0u); // two terminal rules
    EXPECT_EQ(s.lookup, (1u << XDPFW_FIELD_SRC) | (1u << XDPFW_FIELD_DST));
    // One prefix per direction: IPv4 as one range each. Outside it a field
    // admits the rules that do not name it; inside, all three.
    EXPECT_EQ(s.v4_inline, (1u << XDPFW_FIELD_SRC) | (1u << XDPFW_FIELD_DST));
    const xdpfw_spec_field& src = s.f[XDPFW_FIELD_SRC];
    ASSERT_EQ(src.n_ranges, 1u);
    EXPECT_EQ(src.other, 0b110u);
    EXPECT_EQ(src.r[0].lo, (198u << 24) | (51u << 16) | (100u << 8));
    EXPECT_EQ(src.r[0].span, 255u);
    EXPECT_EQ(src.r[0].bits, 0b111u);
    const xdpfw_spec_field& dst = s.f[XDPFW_FIELD_DST];
    ASSERT_EQ(dst.n_ranges, 1u);
    EXPECT_EQ(dst.other, 0b011u);
    EXPECT_EQ(dst.r[0].lo, (192u << 24) | (2u << 8));
    ASSERT_EQ(s.flags_table, 1u);
    EXPECT_EQ(s.tcp_flags[0x02] & 0b010, 0b010u); // SYN
    EXPECT_EQ(s.tcp_flags[0x12] & 0b010, 0u);     // SYN+ACK
    EXPECT_EQ(s.tcp_flags[XDPFW_FLAGS_SLOTS - 1] & 0b010, 0u); // no TCP header
    EXPECT_EQ(s.tcp_flags[0x12] & 0b101, 0b101u); // the others do not look at flags
}

// The key covers what the program takes from the spec: the rules, and a
// direction's IPv4 prefixes while they are few enough to be ranges; IPv6
// prefixes and large sets are read from the live tables.
TEST(Specialise, KeyFollowsRulesAndInlinedPrefixes)
{
    const auto with_set = [](std::vector<std::string> prefixes, const std::string& port) {
        return compiled(test::make_policy({"src=@s action=drop", "proto=tcp dport=" + port + " action=pass"},
                                          ActionType::drop, {{"s", prefixes}}));
    };
    const CompiledPolicy a = with_set({"10.0.0.0/8"}, "22");
    const CompiledPolicy b = with_set({"10.0.0.0/8", "2001:db8::/32"}, "22");
    const CompiledPolicy b4 = with_set({"10.0.0.0/8", "192.0.2.0/24"}, "22");
    const CompiledPolicy c = with_set({"10.0.0.0/8"}, "23");
    ASSERT_TRUE(a.spec && b.spec && b4.spec && c.spec);
    EXPECT_EQ(a.spec->v4_inline, 1u << XDPFW_FIELD_SRC);
    EXPECT_EQ(a.spec->key, b.spec->key);  // IPv6 prefixes are read live
    EXPECT_NE(a.spec->key, b4.spec->key); // IPv4 ones are in the program
    EXPECT_NE(a.spec->key, c.spec->key);
    EXPECT_EQ(a.spec->key, with_set({"10.0.0.0/8"}, "22").spec->key); // deterministic

    // Seventeen separate /24s: too many ranges, so IPv4 is read live too,
    // and two such sets share a key.
    std::vector<std::string> many, other;
    for (int i = 0; i < 17; i++) {
        many.push_back(fmt::format("10.{}.0.0/24", 2 * i));
        other.push_back(fmt::format("10.{}.0.0/24", 2 * i + 1));
    }
    const CompiledPolicy m = with_set(many, "22"), o = with_set(other, "22");
    ASSERT_TRUE(m.spec && o.spec);
    EXPECT_EQ(m.spec->v4_inline, 0u);
    EXPECT_EQ(m.spec->lookup, 1u << XDPFW_FIELD_SRC);
    EXPECT_EQ(m.spec->f[XDPFW_FIELD_SRC].n_ranges, 0u);
    EXPECT_EQ(m.spec->key, o.spec->key);
    EXPECT_NE(m.spec->key, a.spec->key);
}

// Past one word's spec (more rules, more ranges), a policy gets a bitmaps
// spec (abi.h, xdpfw_spec.bitmaps): the generated program reads the live
// bitmaps. A count rule, a rate limit or ct= leave it to the general program,
// and why_not says both why.
TEST(Specialise, PoliciesThatDoNotFitGetTheBitmapsSpecOrSayWhy)
{
    Policy many;
    for (uint32_t i = 1; i <= XDPFW_SPEC_MAX_RULES + 1; i++)
        many.rules.push_back(test::make_policy({fmt::format("dport={} action=drop", i)}).rules[0]);
    for (uint32_t i = 0; i < many.rules.size(); i++)
        many.rules[i].id = i + 1;
    CompiledPolicy c = compiled(many);
    ASSERT_TRUE(c.spec) << c.spec_why_not;
    EXPECT_EQ(c.spec->bitmaps, 1u);
    EXPECT_EQ(c.spec->n_rules, XDPFW_SPEC_MAX_RULES + 1);
    EXPECT_EQ(c.spec->bm.n_words, 2u);
    EXPECT_EQ(c.spec->bm.n_summary, 1u);
    EXPECT_EQ(c.spec->bm.stride, xdpfw_bitmap_stride(1, 2));
    EXPECT_EQ(c.spec->bm.used_fields, 1u << XDPFW_FIELD_DPORT);
    EXPECT_EQ(c.spec->bm.all_bitmap, c.bitmap_ref(c.all_bitmap));
    EXPECT_EQ(c.spec->bm.pages, 1u);
    EXPECT_EQ(c.spec->terminal, 0u); // nothing of the one-word spec
    const uint64_t key = c.spec->key;
    EXPECT_NE(key, 0u);

    // Its key follows what the program takes as constants: a third word.
    Policy more = many;
    for (uint32_t i = 0; i < 64; i++) {
        more.rules.push_back(test::make_policy({fmt::format("dport={} action=pass", 1000 + i)}).rules[0]);
        more.rules.back().id = uint32_t(more.rules.size());
    }
    const CompiledPolicy m = compiled(more);
    ASSERT_TRUE(m.spec && m.spec->bitmaps);
    EXPECT_EQ(m.spec->bm.n_words, 3u);
    EXPECT_NE(m.spec->key, key);

    // A count rule: no spec, and the reasons for both forms.
    many.rules[7].action.type = ActionType::count;
    c = compiled(many);
    EXPECT_FALSE(c.spec);
    EXPECT_NE(c.spec_why_not.find("65 rules"), std::string::npos) << c.spec_why_not;
    EXPECT_NE(c.spec_why_not.find("rule 8 counts"), std::string::npos) << c.spec_why_not;
    many.rules[7].action.type = ActionType::drop;

    // 17 separate ports: one range too many for dport, so bitmaps.
    many.rules.resize(XDPFW_SPEC_MAX_RANGES + 1);
    for (uint32_t i = 0; i < many.rules.size(); i++)
        many.rules[i].match.dport = PortRange{uint16_t(100 + 2 * i), uint16_t(100 + 2 * i)};
    c = compiled(many);
    ASSERT_TRUE(c.spec) << c.spec_why_not;
    EXPECT_EQ(c.spec->bitmaps, 1u);
    many.rules.back().match.ct = uint8_t(1u << unsigned(CtState::established));
    c = compiled(many);
    EXPECT_FALSE(c.spec);
    EXPECT_NE(c.spec_why_not.find("dport"), std::string::npos) << c.spec_why_not;
    EXPECT_NE(c.spec_why_not.find("ct="), std::string::npos) << c.spec_why_not;
    many.rules.pop_back();
    c = compiled(many);
    ASSERT_TRUE(c.spec);
    EXPECT_EQ(c.spec->bitmaps, 0u);
}

// The lean lane (spec.h) takes the policies whose every packet it can decide
// with the record in registers: terminal rules that drop or pass without
// sampling, no ct=, addresses only as IPv4 ranges.
TEST(Specialise, LeanLaneTakesDropPassPoliciesWithoutTablesOrState)
{
    const std::map<std::string, std::vector<std::string>> sets = {
        {"few", {"198.51.100.0/24", "2001:db8::/32"}}};
    std::map<std::string, std::vector<std::string>> big;
    for (int i = 0; i < 2 * XDPFW_SPEC_MAX_RANGES + 2; i++)
        big["few"].push_back(fmt::format("10.{}.0.0/16", 2 * i));
    struct Case {
        std::vector<std::string> rules;
        const std::map<std::string, std::vector<std::string>>* sets;
        uint32_t lean;
    };
    const Case cases[] = {
        {{"proto=udp dport=53 action=drop"}, &sets, 1},
        {{"priority=1 dport=22 action=count", "priority=2 proto=tcp action=pass",
          "priority=3 tcp_flags=SYN,!ACK action=drop"}, &sets, 1},
        // IPv4 ranges (IPv6 packets then take the full path).
        {{"src=@few action=drop", "dst=192.0.2.1 action=pass"}, &sets, 1},
        {{"iif=eth0 vlan=7 action=pass"}, &sets, 1},
        {{"dport=80 action=drop sample=100"}, &sets, 0},
        {{"dport=80 action=xsk"}, &sets, 0},
        {{"dport=80 action=redirect:eth1"}, &sets, 0},
        {{"proto=tcp dport=80 tcp_flags=SYN,!ACK action=syncookie"}, &sets, 0},
        {{"ct=established action=pass", "dport=22 action=drop"}, &sets, 0},
        // Too many IPv4 ranges: the address is looked up in the tables.
        {{"src=@few action=drop"}, &big, 0},
    };
    for (const Case& c : cases) {
        const CompiledPolicy cp = compiled(test::make_policy(c.rules, ActionType::pass, *c.sets));
        ASSERT_TRUE(cp.spec) << c.rules[0] << ": " << cp.spec_why_not;
        EXPECT_EQ(cp.spec->lean, c.lean) << fmt::format("{}", fmt::join(c.rules, " / "));
    }
    // lean is part of what the key covers.
    EXPECT_NE(compiled(test::make_policy({"dport=80 action=drop"})).spec->key,
              compiled(test::make_policy({"dport=80 action=drop sample=100"})).spec->key);
}

// The spec against the compiled tables, value by value: the rules a field
// admits in the spec (range or other, or base for folded fields) are the
// rules its table entry admits; for inlined IPv4 addresses, the rules of
// the address's class.
TEST(Specialise, RangesReproduceTheTablesOnRandomPolicies)
{
    std::mt19937_64 rng(0x5bec);
    int fitted = 0, inlined = 0;
    for (int pi = 0; pi < 40; pi++) {
        test::RandomPolicyOptions o;
        o.max_rules = 12;
        const CompiledPolicy c = compiled(test::random_policy(rng, o));
        if (!c.spec)
            continue;
        fitted++;
        const xdpfw_spec& s = *c.spec;
        // The scalar fields the program tests are those in `ranged`
        // (spec.h), exactly the ones with ranges.
        for (unsigned f : {XDPFW_FIELD_IFINDEX, XDPFW_FIELD_VLAN, XDPFW_FIELD_PROTO,
                           XDPFW_FIELD_SPORT, XDPFW_FIELD_DPORT, XDPFW_FIELD_ICMP,
                           XDPFW_FIELD_ETHER, XDPFW_FIELD_CT})
            ASSERT_EQ((s.ranged >> f) & 1, s.f[f].n_ranges ? 1u : 0u)
                << "policy " << pi << " field " << f;
        for (unsigned f : {XDPFW_FIELD_SRC, XDPFW_FIELD_DST, XDPFW_FIELD_TCP_FLAGS})
            ASSERT_EQ((s.ranged >> f) & 1, 0u) << "policy " << pi << " field " << f;
        auto admits = [&](unsigned f, uint32_t v) {
            const xdpfw_spec_field& fl = s.f[f];
            if (!fl.n_ranges)
                return fl.other;
            for (uint32_t i = 0; i < fl.n_ranges; i++)
                if (v - fl.r[i].lo <= fl.r[i].span)
                    return fl.r[i].bits;
            return fl.other;
        };
        auto word = [&](uint32_t bitmap) { return c.n_words ? c.bitmaps[bitmap][0] : 0; };
        const std::pair<unsigned, const std::vector<uint32_t>*> tables[] = {
            {XDPFW_FIELD_VLAN, &c.vlan}, {XDPFW_FIELD_PROTO, &c.proto},
            {XDPFW_FIELD_SPORT, &c.sport}, {XDPFW_FIELD_DPORT, &c.dport},
            {XDPFW_FIELD_ICMP, &c.icmp}};
        for (const auto& [f, table] : tables)
            for (uint32_t v = 0; v < table->size(); v++)
                ASSERT_EQ(admits(f, v) & s.base, word((*table)[v]) & s.base)
                    << "policy " << pi << " field " << f << " value " << v;
        // Inlined IPv4 addresses: every range's edges and random addresses
        // against the table lookup.
        for (unsigned d = 0; d < XDPFW_DIRECTIONS; d++) {
            const unsigned f = XDPFW_FIELD_SRC + d;
            if (!(s.v4_inline & (1u << f)))
                continue;
            inlined++;
            std::vector<uint32_t> probe;
            for (uint32_t i = 0; i < s.f[f].n_ranges; i++)
                for (uint32_t e : {s.f[f].r[i].lo, s.f[f].r[i].lo + s.f[f].r[i].span})
                    for (uint32_t delta : {0u, 1u, ~0u})
                        probe.push_back(e + delta);
            for (int i = 0; i < 2000; i++)
                probe.push_back(static_cast<uint32_t>(rng()));
            for (uint32_t a : probe)
                ASSERT_EQ(admits(f, a) & s.base,
                          word(c.addr[d].class_bitmap[c.addr[d].v4->lookup(a)]) & s.base)
                    << "policy " << pi << " direction " << d << " address " << std::hex << a;
        }
    }
    EXPECT_GE(fitted, 20);
    EXPECT_GE(inlined, 5);
}

} // namespace
} // namespace xdpfw
