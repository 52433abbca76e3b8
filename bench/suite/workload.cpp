// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's workloads and their rendering per device under test.
#include "bench/suite/workload.hpp"

#include "lib/lang/rule_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <stdexcept>

namespace xdpfw::bench {

namespace {

constexpr const char* kSetName = "big";

// Ranges no decoy or set entry may touch: the traffic's sources (a
// neighbouring /15) and the lab's own 10.0.0.0/8.
bool reserved(uint32_t addr, uint8_t len)
{
    const uint32_t first = addr, last = addr | ~v4_mask(len);
    auto overlaps = [&](uint32_t net, unsigned nlen) {
        const uint32_t nlast = net | ~v4_mask(nlen);
        return first <= nlast && net <= last;
    };
    return overlaps(kTrafficSrc, 15) || overlaps(0x0a000000, 8);
}

// Disjoint IPv4 ranges, keyed by first address: nftables interval sets
// refuse overlapping elements, so the set is kept free of them for every DUT.
class Disjoint {
public:
    bool insert(uint32_t addr, uint8_t len)
    {
        const uint32_t last = addr | ~v4_mask(len);
        auto next = ranges_.upper_bound(addr);
        if (next != ranges_.end() && next->first <= last)
            return false;
        if (next != ranges_.begin() && std::prev(next)->second >= addr)
            return false;
        ranges_.emplace(addr, last);
        return true;
    }

private:
    std::map<uint32_t, uint32_t> ranges_;
};

std::string nft_src(const BenchRule& r)
{
    return r.src_is_set ? fmt::format("ip saddr @{}", kSetName)
                        : fmt::format("ip saddr {}", v4_text(r.src.addr, r.src.len));
}

} // namespace

V4Pfx traffic_prefix(uint32_t sources)
{
    if (sources < 1 || sources > kMaxSources)
        throw std::invalid_argument(fmt::format("{} sources: the benchmark's traffic has 1 to {}",
                                                sources, kMaxSources));
    uint8_t len = 32;
    while ((uint64_t{1} << (32 - len)) < sources)
        --len;
    return {kTrafficSrc, len};
}

Workload make_workload(size_t n_rules, size_t set_size, bool drop, uint32_t sources)
{
    Workload w;
    w.drop = drop;
    w.traffic = traffic_prefix(sources);
    const size_t decoys = drop ? n_rules - 1 : n_rules;
    Rng rng(0xbe7c0001);
    w.rules.reserve(n_rules);
    for (size_t i = 0; i < decoys; ++i) {
        BenchRule r;
        uint8_t len = rng.below(2) ? 32 : 24;
        uint32_t addr;
        do
            addr = random_unicast(rng) & v4_mask(len);
        while (reserved(addr, len));
        r.src = {addr, len};
        r.proto = rng.below(4) == 0 ? 6 : 17;
        if (i % 4 == 0) {
            r.dport = kTrafficDport;
        } else {
            do
                r.dport = static_cast<uint16_t>(1 + rng.below(65535));
            while (r.dport == kTrafficDport);
        }
        w.rules.push_back(r);
    }
    if (drop) {
        BenchRule last;
        last.src_is_set = set_size > 0;
        last.src = w.traffic;
        last.proto = 17;
        last.dport = kTrafficDport;
        w.rules.push_back(last);
    }
    if (set_size > 0 && drop) {
        Rng srng(0xbe7c0002);
        Disjoint taken;
        taken.insert(w.traffic.addr, w.traffic.len);
        w.set.reserve(set_size);
        w.set.push_back(w.traffic);
        while (w.set.size() < set_size) {
            const V4Pfx p = random_mix_prefix(srng);
            if (!reserved(p.addr, p.len) && taken.insert(p.addr, p.len))
                w.set.push_back(p);
        }
    }
    return w;
}

Policy to_policy(const Workload& w)
{
    Policy p;
    p.default_action = ActionType::pass;
    if (!w.set.empty()) {
        std::vector<Prefix> s;
        s.reserve(w.set.size());
        for (const auto& e : w.set)
            s.push_back(to_prefix(e.addr, e.len));
        std::sort(s.begin(), s.end());
        p.sets.emplace(kSetName, std::move(s));
    }
    if (w.ct_established) {
        Rule r;
        r.id = 1;
        r.priority = 100;
        r.match.ct = uint8_t(1u << unsigned(CtState::established));
        r.action.type = ActionType::drop;
        r.text = format_rule(r);
        p.rules.push_back(std::move(r));
        return p;
    }
    uint32_t id = 0;
    for (const auto& br : w.rules) {
        Rule r;
        r.id = ++id;
        r.priority = 100;
        r.match.family = Family::ipv4;
        r.match.src = br.src_is_set ? AddrMatch{std::string(kSetName)}
                                    : AddrMatch{to_prefix(br.src.addr, br.src.len)};
        r.match.proto = br.proto;
        r.match.dport = PortRange{br.dport, br.dport};
        r.action.type = ActionType::drop;
        if (w.xsk && w.drop && id == w.rules.size()) {
            r.action.type = ActionType::xsk;
            r.action.xsk_fallback = ActionType::drop;
        }
        const std::string where = fmt::format("bench rule {}", id);
        validate_rule(r, where);
        r.text = format_rule(r);
        p.rules.push_back(std::move(r));
    }
    return p;
}

std::string to_nft(const Workload& w, const std::string& table, const std::string& dev)
{
    std::string out = fmt::format("table netdev {} {{\n", table);
    out += "  counter hit { }\n";
    if (!w.set.empty()) {
        out += fmt::format("  set {} {{\n    type ipv4_addr; flags interval;\n    elements = {{\n",
                           kSetName);
        for (size_t i = 0; i < w.set.size(); ++i)
            out += fmt::format("      {}{}\n", v4_text(w.set[i].addr, w.set[i].len),
                               i + 1 < w.set.size() ? "," : "");
        out += "    }\n  }\n";
    }
    out += fmt::format("  chain ingress {{\n    type filter hook ingress device \"{}\" priority 0; "
                       "policy accept;\n",
                       dev);
    for (size_t i = 0; i < w.rules.size(); ++i) {
        const BenchRule& r = w.rules[i];
        const bool hit = w.drop && i + 1 == w.rules.size();
        out += fmt::format("    {} {} dport {} counter{} drop\n", nft_src(r),
                           r.proto == 6 ? "tcp" : "udp", r.dport, hit ? " name hit" : "");
    }
    if (!w.drop) // the pass path: count what got past every rule
        out += "    counter name hit\n";
    out += "  }\n}\n";
    return out;
}

std::string to_iptables(const Workload& w, const std::string& dev)
{
    std::string out = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
    for (const BenchRule& r : w.rules) {
        const std::string src =
            r.src_is_set ? fmt::format("-m set --match-set {} src", kSetName)
                         : fmt::format("-s {}", v4_text(r.src.addr, r.src.len));
        out += fmt::format("-A PREROUTING -i {} {} -p {} --dport {} -j DROP\n", dev, src,
                           r.proto == 6 ? "tcp" : "udp", r.dport);
    }
    out += "COMMIT\n";
    return out;
}

std::string to_ipset(const Workload& w)
{
    if (w.set.empty())
        return {};
    // hashsize: a power of two near the element count keeps the buckets short.
    size_t hs = 1024;
    while (hs < w.set.size())
        hs <<= 1;
    std::string out = fmt::format("create {} hash:net family inet hashsize {} maxelem {}\n",
                                  kSetName, hs, std::max<size_t>(w.set.size() * 2, 65536));
    for (const auto& e : w.set)
        out += fmt::format("add {} {}\n", kSetName, v4_text(e.addr, e.len));
    return out;
}

} // namespace xdpfw::bench
