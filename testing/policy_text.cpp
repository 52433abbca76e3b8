// SPDX-License-Identifier: GPL-2.0-only
// Test policies and frames from short texts.
#include "testing/policy_text.hpp"

#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"

namespace xdpfw::test {

Policy make_policy(const std::vector<std::string>& rules, ActionType default_action,
                   std::map<std::string, std::vector<std::string>> sets)
{
    Policy p;
    p.default_action = default_action;
    uint32_t id = 1;
    for (const auto& text : rules) {
        Rule r = parse_rule(text, "rule " + std::to_string(id));
        r.id = id++;
        p.rules.push_back(std::move(r));
    }
    for (auto& [name, prefixes] : sets) {
        PrefixSet s;
        for (const auto& t : prefixes)
            s.edit([&](std::vector<Prefix>& v) { v.push_back(Prefix::parse(t)); });
        normalize_set(s);
        p.sets[name] = std::move(s);
    }
    validate_policy(p);
    return p;
}

FrameSpec frame(const std::string& src, const std::string& dst, uint8_t proto, uint16_t sport,
                uint16_t dport)
{
    FrameSpec f;
    Prefix s = Prefix::parse(src), d = Prefix::parse(dst);
    f.family = s.family;
    f.src = s.addr;
    f.dst = d.addr;
    f.proto = proto;
    f.sport = sport;
    f.dport = dport;
    if (proto == 58)
        f.icmp_type = 128;
    return f;
}

} // namespace xdpfw::test

namespace xdpfw::test {

FrameSpec spec_from_fields(const PacketFields& pkt, std::mt19937_64& rng)
{
    auto coin = [&](int percent) { return int(rng() % 100) < percent; };
    FrameSpec f;
    if (pkt.vlan) {
        f.vlans.push_back(VlanTag{uint16_t(coin(50) ? 0x8100 : 0x88a8), *pkt.vlan});
        if (coin(30))
            f.vlans.push_back(VlanTag{0x8100, uint16_t(rng() % 4096)});
    }
    f.family = pkt.family;
    if (pkt.family == Family::other) {
        f.other_ethertype = pkt.ether;
        return f;
    }
    f.src = pkt.src;
    f.dst = pkt.dst;
    f.proto = pkt.proto;
    const bool v4 = pkt.family == Family::ipv4;
    const bool l4_kind = pkt.proto == 6 || pkt.proto == 17 || (v4 && pkt.proto == 1) ||
                         (!v4 && pkt.proto == 58);
    if (!pkt.has_l4 && l4_kind) {
        f.fragment = true;
        f.frag_offset = uint16_t(1 + rng() % 500);
        f.more_fragments = coin(50);
    } else if (pkt.has_l4 && coin(15)) {
        f.fragment = true; // first fragment: L4 header present
        f.frag_offset = 0;
        f.more_fragments = true;
    }
    f.sport = pkt.sport;
    f.dport = pkt.dport;
    f.tcp_flags = pkt.tcp_flags;
    f.icmp_type = pkt.icmp_type;
    f.icmp_code = pkt.icmp_code;
    if (v4) {
        if (coin(20))
            f.ipv4_options.assign(size_t(1 + rng() % 40), 1); // NOPs
    } else {
        if (coin(20))
            f.ipv6_ext.push_back(Ext6::hop_by_hop);
        for (Ext6 e : {Ext6::dest_opts, Ext6::routing, Ext6::auth})
            if (coin(15))
                f.ipv6_ext.push_back(e);
    }
    f.payload_len = size_t(rng() % 64);
    return f;
}

} // namespace xdpfw::test
