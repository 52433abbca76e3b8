// SPDX-License-Identifier: GPL-2.0-only
// The policies and frames of xdpfw-stage-bench (cases.hpp).
#include "bench/stages/cases.hpp"

#include "bench/common/prefix_mix.hpp"
#include "testing/packet_builder.hpp"
#include "testing/policy_text.hpp"

#include <fmt/format.h>

#include <set>

namespace xdpfw::bench {

namespace {

constexpr uint16_t kPort = 9999;

// n - 1 decoys on UDP ports 10000.. (none is kPort), then `last`.
Policy with_decoys(Policy p, size_t n)
{
    Rule last = p.rules.at(0);
    p.rules.clear();
    for (uint32_t i = 1; i < n; i++) {
        Rule r;
        r.id = i;
        r.match.proto = 17;
        r.match.dport = PortRange{static_cast<uint16_t>(10000 + i), static_cast<uint16_t>(10000 + i)};
        r.action.type = ActionType::drop;
        p.rules.push_back(r);
    }
    last.id = static_cast<uint32_t>(n);
    p.rules.push_back(last);
    return p;
}

// n distinct /24s drawn over the whole IPv4 space, and the sources' /16.
std::vector<std::string> spread_set(size_t n)
{
    Rng rng(11);
    std::set<uint32_t> blocks;
    while (blocks.size() < n)
        blocks.insert(static_cast<uint32_t>(rng.next()) & 0xffffff00u);
    std::vector<std::string> out{"198.18.0.0/16"};
    for (uint32_t b : blocks)
        out.push_back(fmt::format("{}.{}.{}.0/24", b >> 24, (b >> 16) & 255, (b >> 8) & 255));
    return out;
}

std::vector<std::vector<uint8_t>> frames()
{
    std::vector<std::vector<uint8_t>> out;
    for (int i = 0; i < 8; i++)
        out.push_back(build_frame(test::frame(fmt::format("198.18.{}.{}", i * 31, i * 13 + 1),
                                              "10.0.0.2", 17, 1000, kPort)));
    return out;
}

} // namespace

std::vector<StageCase> stage_cases()
{
    const std::string rule = fmt::format("proto=udp dport={} action=drop", kPort);
    auto rule_with = [](const std::string& limit) {
        return fmt::format("proto=udp dport={} {} action=drop", kPort, limit);
    };
    const Policy one = test::make_policy({rule});
    const Policy set_rule = test::make_policy({"src=@big " + rule}, ActionType::pass,
                                              {{"big", spread_set(100000)}});
    return {
        {"rules-1", one, frames()},
        {"rules-1000", with_decoys(one, 1000), frames()},
        {"rules-1000+set-100k", with_decoys(set_rule, 1000), frames()},
        {"rules-10000", with_decoys(one, 10000), frames()},
        // A limited flood (docs/BENCHMARKS.md): every frame over the limit
        // (1/m, burst 1: the first frame of a bucket conforms and meets the
        // default drop), per rule and per source (8 sources: 8 buckets of
        // the LRU hash); and every frame under it (charged, then default).
        {"limit-over/rule", test::make_policy({rule_with("limit=1/m burst=1")}, ActionType::drop),
         frames()},
        {"limit-over/src",
         test::make_policy({rule_with("limit=1/m burst=1 per=src")}, ActionType::drop), frames()},
        {"limit-under/src",
         test::make_policy({rule_with("limit=1000000000/s burst=4294967295 per=src")},
                           ActionType::drop),
         frames()},
    };
}

} // namespace xdpfw::bench
