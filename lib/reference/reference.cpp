// SPDX-License-Identifier: GPL-2.0-only
// The reference classifier: each rule checked field by field, in evaluation order.
#include "lib/reference/reference.hpp"

#include <algorithm>

namespace xdpfw {

namespace {

constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;
constexpr uint8_t proto_icmpv6 = 58;

bool addr_matches(const AddrMatch& m, const Policy& policy, Family family,
                  const std::array<uint8_t, 16>& addr)
{
    if (family != Family::ipv4 && family != Family::ipv6)
        return false;
    if (!m.is_set())
        return m.prefix().family == family && m.prefix().contains(addr);
    auto it = policy.sets.find(m.set_name());
    // validate_policy() refuses unknown sets; an unknown one here matches
    // nothing rather than everything.
    if (it == policy.sets.end())
        return false;
    return std::any_of(it->second.prefixes().begin(), it->second.prefixes().end(),
                       [&](const Prefix& p) { return p.family == family && p.contains(addr); });
}

bool is_ip(Family f)
{
    return f == Family::ipv4 || f == Family::ipv6;
}

} // namespace

uint16_t ethertype(const PacketFields& pkt)
{
    return pkt.family == Family::ipv4   ? ethertype_ipv4
           : pkt.family == Family::ipv6 ? ethertype_ipv6
                                        : pkt.ether;
}

bool rule_matches(const Rule& rule, const Policy& policy, const PacketFields& pkt,
                  const IfaceResolver& resolve)
{
    const Match& m = rule.match;
    if (m.iif && resolve(*m.iif) != pkt.ifindex)
        return false;
    if (m.vlan && (!pkt.vlan || *pkt.vlan != *m.vlan))
        return false;
    if (m.family && *m.family != pkt.family)
        return false;
    if (m.ether && *m.ether != ethertype(pkt))
        return false;
    if (m.ct && (!is_ip(pkt.family) || !(*m.ct & (1u << static_cast<unsigned>(pkt.ct)))))
        return false;
    if (m.src && !addr_matches(*m.src, policy, pkt.family, pkt.src))
        return false;
    if (m.dst && !addr_matches(*m.dst, policy, pkt.family, pkt.dst))
        return false;
    if (m.proto && (!is_ip(pkt.family) || pkt.proto != *m.proto))
        return false;
    // Ports, flags and ICMP fields exist only with a parsed L4 header: a
    // non-first fragment never matches them (no evasion by fragmenting).
    bool tcp_udp = pkt.has_l4 && is_ip(pkt.family) &&
                   (pkt.proto == proto_tcp || pkt.proto == proto_udp);
    if (m.sport && (!tcp_udp || !m.sport->contains(pkt.sport)))
        return false;
    if (m.dport && (!tcp_udp || !m.dport->contains(pkt.dport)))
        return false;
    if (m.tcp_flags) {
        bool tcp = pkt.has_l4 && is_ip(pkt.family) && pkt.proto == proto_tcp;
        if (!tcp || (pkt.tcp_flags & m.tcp_flags->mask) != m.tcp_flags->value)
            return false;
    }
    if (m.icmp_type || m.icmp_code) {
        bool icmp = pkt.has_l4 && ((pkt.family == Family::ipv4 && pkt.proto == proto_icmp) ||
                                   (pkt.family == Family::ipv6 && pkt.proto == proto_icmpv6));
        if (!icmp)
            return false;
        if (m.icmp_type && pkt.icmp_type != *m.icmp_type)
            return false;
        if (m.icmp_code && pkt.icmp_code != *m.icmp_code)
            return false;
    }
    return true;
}

bool LimitState::over(const Rule& rule, const PacketFields& pkt, uint64_t now_ns, uint32_t len)
{
    const RateLimit& limit = *rule.match.limit;
    const LimitParams p = limit_params(limit);
    Key key{rule.id, 0, 0, {}};
    if (limit.per != LimitPer::rule) {
        const bool dst = limit.per == LimitPer::dst;
        std::get<1>(key) = static_cast<uint8_t>(pkt.family);
        std::get<2>(key) = dst;
        // IPv4 /32, IPv6 /64; non-IP frames share the all-zero key.
        const size_t n = pkt.family == Family::ipv4 ? 4 : pkt.family == Family::ipv6 ? 8 : 0;
        std::copy_n((dst ? pkt.dst : pkt.src).begin(), n, std::get<3>(key).begin());
    }
    auto [it, added] = buckets_.try_emplace(key, Bucket{now_ns, p.tag});
    if (it->second.tag != p.tag)
        it->second = Bucket{now_ns, p.tag};
    return limit_step(p, it->second.tat, now_ns, len);
}

Verdict classify(const Policy& policy, const PacketFields& pkt, const IfaceResolver& resolve,
                 LimitClock* clock)
{
    Verdict v;
    v.action = is_ip(pkt.family) ? policy.default_action : policy.default_non_ip_action;
    std::vector<Rule> order = policy.evaluation_order();
    for (size_t i = 0; i < order.size(); ++i) {
        const Rule& rule = order[i];
        if (!rule_matches(rule, policy, pkt, resolve))
            continue;
        if (rule.match.limit &&
            (!clock || !clock->state.over(rule, pkt, clock->now_ns, clock->len)))
            continue;
        if (!rule.action.terminal()) {
            v.counted.push_back(rule.id);
            continue;
        }
        v.action = rule.action.type;
        v.rule_index = static_cast<int>(i);
        v.rule_id = rule.id;
        return v;
    }
    return v;
}

} // namespace xdpfw
