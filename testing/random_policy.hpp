// SPDX-License-Identifier: GPL-2.0-only
// Random policies and packets for differential tests (compiled tables and the
// BPF program against the reference classifier), plus a fake interface table.
#pragma once

#include "lib/model/policy.hpp"
#include "lib/reference/reference.hpp"

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace xdpfw::test {

// "test0" -> 1, "eth0" -> 2, "eth1" -> 3; anything else throws PolicyError.
uint32_t fake_ifindex(const std::string& name);
// The names fake_ifindex knows, for iif= and redirect:.
const std::vector<std::string>& fake_iface_names();

struct RandomPolicyOptions {
    size_t min_rules = 1;
    size_t max_rules = 40;
    size_t max_sets = 3;           // named sets; rules refer to them as @setN
    size_t max_set_prefixes = 300; // per set, mixed lengths
    double field_chance = 0.25;    // chance that a rule uses a given match field
    double count_chance = 0.15;    // chance that a rule's action is count
    int priorities = 4;            // priorities drawn from 0..priorities-1 (ties happen)
    // True: every rule passes validate_rule() (what the parser would accept).
    // False: also contradictory rules (proto=udp with tcp_flags, family=other,
    // icmp_code without icmp_type, empty port ranges, ether=arp with IP
    // fields), which must match nothing.
    bool only_valid = true;
    bool allow_redirect = true;    // redirect:eth0 / redirect:eth1 actions
    bool allow_xsk = true;
    // Names iif= draws from; empty: fake_iface_names().
    std::vector<std::string> ifaces;
    // Chance that a rule gets a rate limit whose outcome does not depend on
    // the clock: one no test can exceed (1e9/s, the largest burst) or one
    // every packet after a bucket's first is over (1/m, burst 1), per rule,
    // source or destination. The reference then runs at a fixed time.
    double limit_chance = 0;
};

Policy random_policy(std::mt19937_64& rng, const RandomPolicyOptions& opts);

// One small change of the kind an operator makes, applied to policy: a rule
// with a literal prefix added (or one removed), a few prefixes added to or
// removed from a set (hosts of one /24 included, so blocks move between leaf,
// host table and chunk), a set created and referenced. Returns what it did, for
// failure messages. Rule ids stay below max_rule_id.
std::string random_edit(std::mt19937_64& rng, Policy& policy, const RandomPolicyOptions& opts,
                        uint32_t max_rule_id = 4096);

// Packets biased toward the policy's values: addresses inside (or just next
// to) its prefixes, its VLANs, port range ends, flag patterns and ICMP types,
// so that most rules are hit. Fields are consistent the way the BPF parser
// fills them: ports only for TCP/UDP, flags only for TCP, ICMP type/code only
// for ICMP (IPv4) / ICMPv6 (IPv6), all of them absent when has_l4 is false
// (non-first fragments), and no addresses or protocol for non-IP frames,
// which carry an ethertype instead (ARP, LLDP, ones no rule names, and the
// rules' own).
class PacketGenerator {
public:
    explicit PacketGenerator(const Policy& policy);
    PacketFields next(std::mt19937_64& rng) const;

private:
    std::vector<Prefix> v4_, v6_;
    std::vector<uint16_t> vlans_, ports_;
    std::vector<uint8_t> protos_, flags_, icmp_types_, icmp_codes_;
    std::vector<uint16_t> ethers_; // non-IP ethertypes the rules name
};

// One packet; builds a PacketGenerator each call (use the class in loops).
PacketFields random_packet(std::mt19937_64& rng, const Policy& policy);

// Readable one-line forms for failure messages.
std::string describe(const PacketFields& pkt);
std::string describe(const Verdict& v);
std::string describe(const Policy& policy); // rules in evaluation order, set sizes

} // namespace xdpfw::test
