// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's workloads: the traffic every case receives, and the policy
// each case filters it with (N rules, a prefix set of S entries, or both),
// rendered for each device under test: an xdpfw Policy, an nftables netdev
// ingress table, iptables-restore and ipset-restore input.
#pragma once

#include "bench/common/prefix_mix.hpp"
#include "lib/model/policy.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace xdpfw::bench {

// The traffic: 60-byte UDP frames from the first `sources` addresses of
// 198.18.0.0/15 (RFC 2544's range, which no decoy or set entry touches;
// default 65,536 sources: 198.18.0.0/16) to the DUT veth's address, 256
// source ports, one destination port (where the pass path's socket
// listens). Enough sources that the tables' entries and caches a DUT keeps
// per source or per flow are not all hot.
inline constexpr uint32_t kTrafficSrc = 0xc6120000; // 198.18.0.0
inline constexpr uint32_t kDefaultSources = 65536;
inline constexpr uint32_t kMaxSources = 131072; // all of 198.18.0.0/15
inline constexpr uint16_t kTrafficSportFirst = 1024;
inline constexpr uint32_t kTrafficSportCount = 256;
inline constexpr uint16_t kTrafficDport = 5001;

// One firewall rule in a form every DUT can express: source prefix or the
// set, protocol, destination port; drop.
struct BenchRule {
    bool src_is_set = false; // src = @big
    V4Pfx src{};             // when !src_is_set
    uint8_t proto = 17;      // 6 or 17
    uint16_t dport = 0;
};

// The prefix the policies name for the traffic: the shortest one from
// kTrafficSrc that holds its first `sources` addresses (1..kMaxSources).
V4Pfx traffic_prefix(uint32_t sources);

struct Workload {
    // Decoy rules first, then (when `drop`) the rule that drops the traffic.
    // The decoys never match the traffic but a quarter of them name its
    // destination port, so the classifiers do real work on every field.
    std::vector<BenchRule> rules;
    bool drop = true;            // the last rule matches the traffic; else default pass
    // xdpfw only (the xsk path): the last rule's action is `xsk fallback=drop`
    // (to the AF_XDP socket of the receiving queue) instead of drop.
    bool xsk = false;
    std::vector<V4Pfx> set;      // "big": non-overlapping, holds `traffic` when drop
    V4Pfx traffic{};             // traffic_prefix() of the run's sources
    // xdpfw only: the one rule is `ct=established action=drop` and the DUT
    // presets every flow of the traffic as established (answered UDP).
    bool ct_established = false;
    size_t n_rules() const { return rules.size(); }
};

// n_rules >= 1 rules; with set_size > 0 the last rule is `src=@big udp
// dport=5001` (and big holds set_size prefixes, traffic_prefix(sources)
// among them), else `src=<traffic_prefix(sources)> udp dport=5001`, so
// every source of the traffic hits it. drop = false (the pass path) gives
// n_rules decoys and no set. Reproducible: fixed seeds; the decoys and the
// set's other entries do not depend on `sources`.
Workload make_workload(size_t n_rules, size_t set_size, bool drop,
                       uint32_t sources = kDefaultSources);

// xdpfw: rules in order (ids 1..n, one priority), default pass.
Policy to_policy(const Workload& w);

// nft -f input: table netdev <table> with the set (flags interval) and an
// ingress chain on `dev`; every rule counts; the dropping rule (on the pass
// path: a last rule that only counts) counts into the named counter "hit".
std::string to_nft(const Workload& w, const std::string& table, const std::string& dev);

// iptables-restore input for table raw, chain PREROUTING, rules on `dev`;
// the set is the ipset "big" (ipset_restore()).
std::string to_iptables(const Workload& w, const std::string& dev);
// ipset restore input creating hash:net "big" with the set (empty if none).
std::string to_ipset(const Workload& w);

} // namespace xdpfw::bench
