// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's workloads: the same rules for every DUT, decoys that never
// match the traffic, sets without overlaps that hold the traffic's sources.
#include "bench/suite/workload.hpp"

#include "lib/reference/reference.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>

namespace xdpfw::bench {
namespace {

uint32_t no_iface(const std::string& name)
{
    throw PolicyError("interface", name, "none");
}

PacketFields traffic_packet(uint32_t src_host, uint16_t sport)
{
    PacketFields p;
    p.family = Family::ipv4;
    const uint32_t src = kTrafficSrc + src_host;
    p.src = {static_cast<uint8_t>(src >> 24), static_cast<uint8_t>(src >> 16),
             static_cast<uint8_t>(src >> 8), static_cast<uint8_t>(src)};
    p.dst = {10, 99, 0, 2};
    p.proto = 17;
    p.has_l4 = true;
    p.sport = sport;
    p.dport = kTrafficDport;
    return p;
}

size_t count_matches(const std::string& text, const std::string& re)
{
    const std::regex r(re);
    return static_cast<size_t>(
        std::distance(std::sregex_iterator(text.begin(), text.end(), r), std::sregex_iterator()));
}

TEST(BenchWorkload, LastRuleDropsTheTrafficAndNoDecoyMatches)
{
    for (size_t n : {1, 100, 1000}) {
        const Workload w = make_workload(n, 0, true);
        ASSERT_EQ(w.rules.size(), n);
        const Policy p = to_policy(w);
        // Every one of the default 65,536 sources hits the last rule.
        for (uint32_t host : {0u, 1u, 255u, 256u, 40000u, 65535u}) {
            const Verdict v = classify(p, traffic_packet(host, static_cast<uint16_t>(1024 + host % 256)),
                                       no_iface);
            EXPECT_EQ(v.action, ActionType::drop) << n;
            EXPECT_EQ(v.rule_id, p.rules.back().id) << n;
        }
        // A quarter of the decoys name the traffic's port: every field has
        // candidates.
        const auto on_port = std::count_if(w.rules.begin(), w.rules.end(), [](const BenchRule& r) {
            return r.dport == kTrafficDport;
        });
        EXPECT_GE(static_cast<size_t>(on_port), (n - 1) / 4) << n;
    }
}

TEST(BenchWorkload, XskPathSendsTheTrafficToTheSocketAndDropsOnFallback)
{
    Workload w = make_workload(1000, 0, true);
    w.xsk = true;
    const Policy p = to_policy(w);
    const Verdict v = classify(p, traffic_packet(9, 1033), no_iface);
    EXPECT_EQ(v.action, ActionType::xsk);
    EXPECT_EQ(v.rule_id, p.rules.back().id);
    EXPECT_EQ(p.rules.back().action.xsk_fallback, ActionType::drop);
    EXPECT_NE(p.rules.back().text.find("action=xsk"), std::string::npos) << p.rules.back().text;
    // Only the last rule changes: the decoys still drop.
    for (size_t i = 0; i + 1 < p.rules.size(); ++i)
        ASSERT_EQ(p.rules[i].action.type, ActionType::drop) << i;
}

TEST(BenchWorkload, PassPathHasOnlyDecoys)
{
    const Workload w = make_workload(1000, 0, false);
    ASSERT_EQ(w.rules.size(), 1000u);
    const Verdict v = classify(to_policy(w), traffic_packet(7, 2000), no_iface);
    EXPECT_EQ(v.action, ActionType::pass);
    EXPECT_EQ(v.rule_index, -1);
}

TEST(BenchWorkload, SetHoldsTheTrafficWithoutOverlaps)
{
    const Workload w = make_workload(1000, 100000, true);
    ASSERT_EQ(w.set.size(), 100000u);
    EXPECT_TRUE(w.rules.back().src_is_set);
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    for (const auto& p : w.set)
        ranges.emplace_back(p.addr, p.addr | ~v4_mask(p.len));
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        ASSERT_GT(ranges[i].first, ranges[i - 1].second) << "overlap at " << i;
    std::map<uint8_t, size_t> lengths;
    for (const auto& p : w.set)
        ++lengths[p.len];
    EXPECT_GT(lengths[32], 30000u); // the reputation-feed mix
    EXPECT_GT(lengths[24], 20000u);

    const Policy p = to_policy(w);
    const Verdict v = classify(p, traffic_packet(9, 1500), no_iface);
    EXPECT_EQ(v.action, ActionType::drop);
    EXPECT_EQ(v.rule_id, p.rules.back().id);
    // Reproducible: the same inputs every run.
    const Workload again = make_workload(1000, 100000, true);
    EXPECT_EQ(again.set.back().addr, w.set.back().addr);
    EXPECT_EQ(again.rules.front().src.addr, w.rules.front().src.addr);
}

TEST(BenchWorkload, NftablesHasTheSameRulesAndAnIntervalSet)
{
    const Workload w = make_workload(100, 1000, true);
    const std::string nft = to_nft(w, "t", "veth9");
    EXPECT_NE(nft.find("table netdev t {"), std::string::npos);
    EXPECT_NE(nft.find("type filter hook ingress device \"veth9\" priority 0; policy accept;"),
              std::string::npos);
    EXPECT_NE(nft.find("flags interval;"), std::string::npos);
    EXPECT_EQ(count_matches(nft, R"(dport [0-9]+ counter( name hit)? drop)"), 100u);
    EXPECT_EQ(count_matches(nft, "counter name hit drop"), 1u);
    EXPECT_NE(nft.find("ip saddr @big udp dport 5001 counter name hit drop"), std::string::npos);
    EXPECT_EQ(count_matches(nft, R"(\n      [0-9.]+/[0-9]+,?(?=\n))"), 1000u);

    const std::string pass = to_nft(make_workload(10, 0, false), "t", "veth9");
    EXPECT_EQ(count_matches(pass, " drop\n"), 10u);
    EXPECT_NE(pass.find("    counter name hit\n  }"), std::string::npos);
}

TEST(BenchWorkload, IptablesAndIpsetCarryTheSameRules)
{
    const Workload w = make_workload(100, 1000, true);
    const std::string ipt = to_iptables(w, "veth9");
    EXPECT_EQ(ipt.rfind("*raw\n", 0), 0u);
    EXPECT_EQ(count_matches(ipt, "-A PREROUTING -i veth9 "), 100u);
    EXPECT_NE(ipt.find("-m set --match-set big src -p udp --dport 5001 -j DROP"), std::string::npos);
    EXPECT_NE(ipt.find("COMMIT\n"), std::string::npos);
    const std::string ips = to_ipset(w);
    EXPECT_EQ(ips.rfind("create big hash:net family inet", 0), 0u);
    EXPECT_EQ(count_matches(ips, "\nadd big "), 1000u);
    EXPECT_NE(ips.find("add big 198.18.0.0/16\n"), std::string::npos);
    EXPECT_TRUE(to_ipset(make_workload(10, 0, true)).empty());
    EXPECT_NE(to_iptables(make_workload(1, 0, true), "v").find(
                  "-A PREROUTING -i v -s 198.18.0.0/16 -p udp --dport 5001 -j DROP"),
              std::string::npos);
    // 256 sources: the traffic and rule of the figures before --sources.
    EXPECT_NE(to_iptables(make_workload(1, 0, true, 256), "v").find(
                  "-A PREROUTING -i v -s 198.18.0.0/24 -p udp --dport 5001 -j DROP"),
              std::string::npos);
}

TEST(BenchWorkload, TrafficPrefixHoldsExactlyTheSourcesRoundedUp)
{
    EXPECT_EQ(traffic_prefix(1).len, 32);
    EXPECT_EQ(traffic_prefix(2).len, 31);
    EXPECT_EQ(traffic_prefix(256).len, 24);
    EXPECT_EQ(traffic_prefix(257).len, 23);
    EXPECT_EQ(traffic_prefix(1000).len, 22);
    EXPECT_EQ(traffic_prefix(kDefaultSources).len, 16);
    EXPECT_EQ(traffic_prefix(kMaxSources).len, 15);
    EXPECT_EQ(traffic_prefix(kDefaultSources).addr, kTrafficSrc);
    EXPECT_THROW(traffic_prefix(0), std::invalid_argument);
    EXPECT_THROW(traffic_prefix(kMaxSources + 1), std::invalid_argument);
}

// Whatever --sources is, every source hits the dropping rule (or the set),
// the next address past the prefix misses, and the decoys and the set's
// other entries stay the same, so runs with different counts compare.
TEST(BenchWorkload, EverySourceHitsAndTheRestStaysTheSame)
{
    for (uint32_t sources : {1u, 256u, 1000u, 65536u, 131072u}) {
        for (size_t set : {size_t{0}, size_t{1000}}) {
            const Workload w = make_workload(100, set, true, sources);
            const Policy p = to_policy(w);
            const uint32_t span = uint32_t{1} << (32 - w.traffic.len);
            for (uint32_t host : {0u, sources - 1, span - 1}) {
                const Verdict v = classify(p, traffic_packet(host, 1024), no_iface);
                EXPECT_EQ(v.rule_id, p.rules.back().id) << sources << " " << host;
            }
            if (span < kMaxSources) {
                const Verdict miss = classify(p, traffic_packet(span, 1024), no_iface);
                EXPECT_EQ(miss.action, ActionType::pass) << sources;
            }
            const Workload base = make_workload(100, set, true);
            for (size_t i = 0; i + 1 < w.rules.size(); ++i)
                ASSERT_EQ(w.rules[i].src.addr, base.rules[i].src.addr) << sources << " " << i;
            ASSERT_EQ(w.set.size(), base.set.size());
            for (size_t i = 1; i < w.set.size(); ++i)
                ASSERT_EQ(w.set[i].addr, base.set[i].addr) << sources << " " << i;
        }
    }
}

// The range 198.19.0.0/16 the bench_suite_miss test sends from: inside the
// reserved /15 (no decoy or set entry matches it) and outside the default
// traffic prefix, so no drop rule matches it.
TEST(BenchWorkload, TheMissRangeMatchesNoDropRule)
{
    for (size_t set : {size_t{0}, size_t{1000}}) {
        const Policy p = to_policy(make_workload(1000, set, true));
        for (uint32_t host : {65536u, 65536u + 256 + 7, 131071u})
            EXPECT_EQ(classify(p, traffic_packet(host, 1100), no_iface).action, ActionType::pass)
                << set << " " << host;
    }
}

} // namespace
} // namespace xdpfw::bench
