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

// The traffic: 60-byte UDP frames from 256 sources of kTrafficSrc to the DUT
// veth's address, 256 source ports, one destination port (where the pass
// path's socket listens).
inline constexpr uint32_t kTrafficSrc = 0xc6120000; // 198.18.0.0/24 (RFC 2544 range)
inline constexpr uint8_t kTrafficSrcLen = 24;
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

struct Workload {
    // Decoy rules first, then (when `drop`) the rule that drops the traffic.
    // The decoys never match the traffic but a quarter of them name its
    // destination port, so the classifiers do real work on every field.
    std::vector<BenchRule> rules;
    bool drop = true;            // the last rule matches the traffic; else default pass
    // xdpfw only (the xsk path): the last rule's action is `xsk fallback=drop`
    // (to the AF_XDP socket of the receiving queue) instead of drop.
    bool xsk = false;
    std::vector<V4Pfx> set;      // "big": non-overlapping, holds the traffic's /24 when drop
    size_t n_rules() const { return rules.size(); }
};

// n_rules >= 1 rules; with set_size > 0 the last rule is `src=@big udp
// dport=5001` (and big holds set_size prefixes, the traffic's /24 among
// them), else `src=198.18.0.0/24 udp dport=5001`. drop = false (the pass
// path) gives n_rules decoys and no set. Reproducible: fixed seeds.
Workload make_workload(size_t n_rules, size_t set_size, bool drop);

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
