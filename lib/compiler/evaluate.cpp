// SPDX-License-Identifier: GPL-2.0-only
// The software twin of the BPF classifier's walk over the compiled tables:
// AND one bitmap per used field, then the first terminal rule wins.
#include "lib/compiler/addr_detail.hpp"

#include <bit>

namespace xdpfw {

using detail::Bits;

Verdict evaluate(const CompiledPolicy& p, const PacketFields& pkt)
{
    const bool v4 = pkt.family == Family::ipv4;
    const bool v6 = pkt.family == Family::ipv6;
    const bool ip = v4 || v6;
    Verdict v;
    v.action = detail::action_type(ip ? p.default_action : p.default_non_ip_action);
    if (p.n_rules == 0)
        return v;

    Bits acc = p.bitmaps[p.all_bitmap];
    auto apply = [&](xdpfw_field f, auto index_of) {
        if (!(p.used_fields & (1u << f)))
            return;
        const Bits& b = p.bitmaps[index_of()];
        for (uint32_t w = 0; w < p.n_words; ++w)
            acc[w] &= b[w];
    };

    apply(XDPFW_FIELD_IFINDEX, [&] {
        auto it = p.ifindex.find(pkt.ifindex);
        return it != p.ifindex.end() ? it->second : p.ifindex_default;
    });
    apply(XDPFW_FIELD_VLAN, [&] { return p.vlan[pkt.vlan ? *pkt.vlan : XDPFW_VLAN_NONE]; });
    apply(XDPFW_FIELD_PROTO, [&] {
        return p.proto[static_cast<uint32_t>(pkt.family) * 256 + (ip ? pkt.proto : 0)];
    });
    for (unsigned d = 0; d < XDPFW_DIRECTIONS; ++d) {
        apply(d ? XDPFW_FIELD_DST : XDPFW_FIELD_SRC, [&] {
            const auto& a = d ? pkt.dst : pkt.src;
            uint32_t cls = 0;
            if (v4)
                cls = p.addr[d].v4->lookup(detail::load_v4(a));
            else if (v6)
                cls = p.addr[d].v6->lookup(a);
            return p.addr[d].class_bitmap[cls];
        });
    }
    const bool ports = ip && pkt.has_l4 && (pkt.proto == 6 || pkt.proto == 17);
    apply(XDPFW_FIELD_SPORT, [&] { return p.sport[ports ? pkt.sport : XDPFW_PORT_NONE]; });
    apply(XDPFW_FIELD_DPORT, [&] { return p.dport[ports ? pkt.dport : XDPFW_PORT_NONE]; });
    apply(XDPFW_FIELD_TCP_FLAGS, [&] {
        return p.tcp_flags[ip && pkt.has_l4 && pkt.proto == 6 ? pkt.tcp_flags : XDPFW_FLAGS_NONE];
    });
    apply(XDPFW_FIELD_ICMP, [&] {
        bool is_icmp = pkt.has_l4 && ((v4 && pkt.proto == 1) || (v6 && pkt.proto == 58));
        return p.icmp[is_icmp ? (uint32_t{pkt.icmp_type} << 8) | pkt.icmp_code : XDPFW_ICMP_NONE];
    });
    apply(XDPFW_FIELD_CT, [&] {
        return p.ct[ip ? static_cast<uint32_t>(pkt.ct) : uint32_t{XDPFW_CT_NONE}];
    });
    apply(XDPFW_FIELD_ETHER, [&] {
        auto it = p.ether.find(ethertype(pkt));
        return it != p.ether.end() ? it->second : p.ether_default;
    });

    for (uint32_t w = 0; w < p.n_words; ++w) {
        for (uint64_t bits = acc[w]; bits; bits &= bits - 1) {
            uint32_t i = w * 64 + static_cast<uint32_t>(std::countr_zero(bits));
            const xdpfw_rule& r = p.rules[i];
            if (r.flags & XDPFW_RULE_LIMIT) // no clock: under the limit, as classify()
                continue;
            if (r.action == XDPFW_ACT_COUNT) {
                v.counted.push_back(r.rule_id);
                continue;
            }
            v.action = detail::action_type(r.action);
            v.rule_index = static_cast<int>(i);
            v.rule_id = r.rule_id;
            return v;
        }
    }
    return v;
}

} // namespace xdpfw
