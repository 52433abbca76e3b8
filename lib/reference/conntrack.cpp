// SPDX-License-Identifier: GPL-2.0-only
// The reference connection tracker: the TCP state machine, datagram flows
// (UDP, ICMP echo, other protocols) and ICMP errors, in plain code.
#include "lib/reference/conntrack.hpp"

#include <algorithm>

namespace xdpfw {

namespace {

constexpr uint8_t proto_icmp = 1, proto_tcp = 6, proto_udp = 17, proto_icmpv6 = 58;
constexpr uint8_t tcp_fin = 0x01, tcp_syn = 0x02, tcp_rst = 0x04, tcp_ack = 0x10;
constexpr uint64_t ns_per_s = 1000000000ull;

bool is_icmp(Family f, uint8_t proto)
{
    return (f == Family::ipv4 && proto == proto_icmp) || (f == Family::ipv6 && proto == proto_icmpv6);
}

// Echo request (true) or reply (false); nullopt for other types.
std::optional<bool> echo_kind(Family f, uint8_t type)
{
    if (f == Family::ipv4 && (type == 8 || type == 0))
        return type == 8;
    if (f == Family::ipv6 && (type == 128 || type == 129))
        return type == 128;
    return std::nullopt;
}

bool icmp_error(Family f, uint8_t type)
{
    if (f == Family::ipv4)
        return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    return type >= 1 && type <= 4;
}

const CtEntry* live(const CtTable& t, const CtKey& k, uint64_t now)
{
    auto it = t.find(k);
    return it != t.end() && it->second.expires_ns > now ? &it->second : nullptr;
}

struct Decision {
    CtState state = CtState::invalid;
    std::optional<CtEntry> write; // expires_ns holds the timeout in seconds
};

Decision write(CtState s, uint8_t flow, uint8_t orig, uint32_t timeout)
{
    return {s, CtEntry{flow, orig, timeout}};
}

Decision tcp_step(const CtEntry* e, uint8_t dir, uint8_t flags)
{
    const bool syn = flags & tcp_syn, ack = flags & tcp_ack;
    if (!e) {
        if (syn && !ack && !(flags & tcp_rst))
            return write(CtState::new_, XDPFW_CTF_SYN_SENT, dir, XDPFW_CT_TIMEOUT_SYN_SENT);
        return {};
    }
    const uint8_t st = e->state;
    const bool orig = dir == e->orig;
    if (flags & tcp_rst)
        return write(CtState::established, XDPFW_CTF_CLOSE, e->orig, XDPFW_CT_TIMEOUT_CLOSE);
    if (syn && !ack) {
        if (st == XDPFW_CTF_SYN_SENT && orig)
            return write(CtState::new_, st, e->orig, XDPFW_CT_TIMEOUT_SYN_SENT);
        if (st == XDPFW_CTF_FIN_WAIT || st == XDPFW_CTF_CLOSE) // opened again
            return write(CtState::new_, XDPFW_CTF_SYN_SENT, dir, XDPFW_CT_TIMEOUT_SYN_SENT);
        return {};
    }
    if (syn) {
        if (!orig && (st == XDPFW_CTF_SYN_SENT || st == XDPFW_CTF_SYN_RECV))
            return write(CtState::established, XDPFW_CTF_SYN_RECV, e->orig,
                         XDPFW_CT_TIMEOUT_SYN_RECV);
        return {};
    }
    if (st == XDPFW_CTF_SYN_RECV) {
        if (!orig)
            return write(CtState::established, st, e->orig, XDPFW_CT_TIMEOUT_SYN_RECV);
        if (flags & tcp_fin)
            return write(CtState::established, XDPFW_CTF_FIN_WAIT, e->orig,
                         XDPFW_CT_TIMEOUT_FIN_WAIT);
        return write(CtState::established, XDPFW_CTF_ESTABLISHED, e->orig,
                     XDPFW_CT_TIMEOUT_ESTABLISHED);
    }
    if (st == XDPFW_CTF_FIN_WAIT || (st == XDPFW_CTF_ESTABLISHED && (flags & tcp_fin)))
        return write(CtState::established, XDPFW_CTF_FIN_WAIT, e->orig, XDPFW_CT_TIMEOUT_FIN_WAIT);
    if (st == XDPFW_CTF_ESTABLISHED)
        return write(CtState::established, st, e->orig, XDPFW_CT_TIMEOUT_ESTABLISHED);
    return {};
}

Decision datagram_step(const CtEntry* e, uint8_t dir, uint8_t proto, bool opens)
{
    uint32_t one_way = XDPFW_CT_TIMEOUT_GENERIC, both = XDPFW_CT_TIMEOUT_GENERIC;
    if (proto == proto_udp) {
        one_way = XDPFW_CT_TIMEOUT_UDP;
        both = XDPFW_CT_TIMEOUT_UDP_STREAM;
    } else if (proto == proto_icmp || proto == proto_icmpv6) {
        one_way = both = XDPFW_CT_TIMEOUT_ICMP;
    }
    if (!e)
        return opens ? write(CtState::new_, XDPFW_CTF_UNREPLIED, dir, one_way) : Decision{};
    if (e->state == XDPFW_CTF_UNREPLIED && dir == e->orig)
        return write(CtState::new_, XDPFW_CTF_UNREPLIED, e->orig, one_way);
    return write(CtState::established, XDPFW_CTF_REPLIED, e->orig, both);
}

CtState related_state(const CtTable& t, const CtPacket& pkt, uint64_t now)
{
    if (!pkt.quoted)
        return CtState::invalid;
    const auto& q = *pkt.quoted;
    const Family f = pkt.fields.family;
    const bool tracked_l4 = q.proto == proto_tcp || q.proto == proto_udp || is_icmp(f, q.proto);
    const uint16_t sp = tracked_l4 ? q.sport : 0, dp = tracked_l4 ? q.dport : 0;
    return live(t, ct_key(f, q.proto, q.src, sp, q.dst, dp).first, now) ? CtState::related
                                                                        : CtState::invalid;
}

} // namespace

std::pair<CtKey, uint8_t> ct_key(Family family, uint8_t proto, const std::array<uint8_t, 16>& src,
                                 uint16_t sport, const std::array<uint8_t, 16>& dst,
                                 uint16_t dport)
{
    std::array<uint8_t, 16> s{}, d{};
    const size_t n = family == Family::ipv4 ? 4 : 16;
    std::copy_n(src.begin(), n, s.begin());
    std::copy_n(dst.begin(), n, d.begin());
    CtKey k;
    k.family = family;
    k.proto = proto;
    if (std::pair{s, sport} <= std::pair{d, dport}) {
        k.addr_a = s, k.port_a = sport, k.addr_b = d, k.port_b = dport;
        return {k, 0};
    }
    k.addr_a = d, k.port_a = dport, k.addr_b = s, k.port_b = sport;
    return {k, 1};
}

CtStep ct_step(const CtTable& table, const CtPacket& pkt, uint64_t now_ns)
{
    const PacketFields& p = pkt.fields;
    CtStep out;
    if (p.family != Family::ipv4 && p.family != Family::ipv6) {
        out.none = true;
        return out;
    }
    uint16_t sport = 0, dport = 0;
    bool opens = true;
    if (p.proto == proto_tcp || p.proto == proto_udp) {
        if (!p.has_l4)
            return out; // a non-first fragment: no ports
        sport = p.sport;
        dport = p.dport;
    } else if (is_icmp(p.family, p.proto)) {
        if (!p.has_l4 || !pkt.icmp_rest)
            return out;
        if (icmp_error(p.family, p.icmp_type)) {
            out.state = related_state(table, pkt, now_ns);
            return out;
        }
        const auto echo = echo_kind(p.family, p.icmp_type);
        if (!echo) {
            out.state = CtState::new_; // other ICMP: not tracked
            return out;
        }
        opens = *echo;
        sport = dport = pkt.echo_id;
    }
    const auto [key, dir] = ct_key(p.family, p.proto, p.src, sport, p.dst, dport);
    const CtEntry* e = live(table, key, now_ns);
    const Decision d = p.proto == proto_tcp ? tcp_step(e, dir, p.tcp_flags)
                                            : datagram_step(e, dir, p.proto, opens);
    out.state = d.state;
    if (d.write) {
        CtEntry n = *d.write;
        n.expires_ns = now_ns + n.expires_ns * ns_per_s;
        out.write = std::pair{key, n};
    }
    return out;
}

void ct_apply(CtTable& table, const CtStep& step)
{
    if (step.write)
        table[step.write->first] = step.write->second;
}

} // namespace xdpfw
