// SPDX-License-Identifier: GPL-2.0-only
// The reference classifier: the policy semantics in plain code. The BPF
// classifier and the compiled tables are tested against it.
#pragma once

#include "lib/model/policy.hpp"

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <tuple>

namespace xdpfw {

// What the parser extracts from a well-formed packet; the classifier's input.
struct PacketFields {
    uint32_t ifindex = 0;
    std::optional<uint16_t> vlan;  // outer tag's VLAN id, if tagged
    Family family = Family::other;
    // Non-IP frames: the ethertype after the VLAN tags (0x0806 for ARP).
    // IP packets' ethertype follows from family (see ethertype()).
    uint16_t ether = 0;
    std::array<uint8_t, 16> src{}; // network order; IPv4 in the first 4 bytes
    std::array<uint8_t, 16> dst{};
    uint8_t proto = 0;             // IP protocol (IPv6: after extension headers)
    // False for non-first fragments and for protocols without parsed L4
    // fields: then ports, TCP flags and ICMP type/code are absent.
    bool has_l4 = false;
    uint16_t sport = 0, dport = 0; // TCP and UDP
    uint8_t tcp_flags = 0;         // TCP
    uint8_t icmp_type = 0, icmp_code = 0; // ICMP for IPv4, ICMPv6 for IPv6
    // The connection tracking state of the packet (an input: the flow
    // table decides it, lib/reference/conntrack.hpp); IP packets only.
    CtState ct = CtState::new_;
};

// The ethertype ether= compares: family's for IPv4/IPv6, else pkt.ether.
uint16_t ethertype(const PacketFields& pkt);

struct Verdict {
    ActionType action = ActionType::pass; // drop, pass, xsk or redirect
    int rule_index = -1;                  // in evaluation order; -1: a default action
                                          // (default, or default_non_ip for non-IP)
    uint32_t rule_id = 0;                 // when rule_index >= 0
    std::vector<uint32_t> counted;        // ids of count rules passed on the way
};

// Name -> ifindex for iif= and redirect:IFACE; throws PolicyError when unknown.
using IfaceResolver = std::function<uint32_t(const std::string&)>;

// True if the rule's match holds for the packet.
bool rule_matches(const Rule& rule, const Policy& policy, const PacketFields& pkt,
                  const IfaceResolver& resolve);

// Rate limit buckets as the XDP program keeps them (bpf/lib/limits.h): per
// rule id, and for per=src/dst per address (IPv4 /32, IPv6 /64); a bucket
// made for other limit parameters (the rule's limit changed) starts full.
class LimitState {
public:
    // True when the packet (len bytes of frame, at now_ns) is over the
    // rule's limit; false when it conforms, and is charged.
    bool over(const Rule& rule, const PacketFields& pkt, uint64_t now_ns, uint32_t len);
    size_t buckets() const { return buckets_.size(); }

private:
    struct Bucket {
        uint64_t tat = 0, tag = 0;
    };
    using Key = std::tuple<uint32_t, uint8_t, uint8_t, std::array<uint8_t, 8>>;
    std::map<Key, Bucket> buckets_;
};

// The clock and bucket state a classification with rate limits runs on.
struct LimitClock {
    LimitState& state;
    uint64_t now_ns = 0;
    uint32_t len = 0; // the frame's bytes (what bit rates count)
};

// First match by (priority, id); count rules are counted and passed. No
// match: default_action for IPv4/IPv6, default_non_ip_action otherwise. A
// rule with a limit matches only over it: with a clock, as its buckets say;
// without one, never (every packet is taken as under the limit).
Verdict classify(const Policy& policy, const PacketFields& pkt, const IfaceResolver& resolve,
                 LimitClock* clock = nullptr);

} // namespace xdpfw
