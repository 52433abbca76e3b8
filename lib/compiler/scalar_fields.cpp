// SPDX-License-Identifier: GPL-2.0-only
// Scalar fields (ingress interface, VLAN, family+protocol, ports, TCP flags,
// ICMP type/code, ethertype, ct state): per field, a table from packet value to bitmap
// index.
#include "lib/compiler/detail.hpp"

#include <algorithm>
#include <map>

namespace xdpfw::detail {

namespace {

// A value range [lo, hi] one rule admits in a scalar field. A rule's spans are
// disjoint (see the callers), so entering and leaving can set and clear.
struct Span {
    uint32_t lo, hi, rule;
};

// Fills a table of `slots` entries: slot v gets the bitmap of the rules not
// using the field (base) plus those with a span holding v. A sweep over span
// boundaries interns one bitmap per elementary interval instead of per slot.
std::vector<uint32_t> build_scalar(uint32_t slots, const Bits& base, const std::vector<Span>& spans,
                                   BitmapPool& pool)
{
    struct Event {
        uint32_t pos;
        bool enter; // leaves sort first so adjacent spans of one rule stay set
        uint32_t rule;
        bool operator<(const Event& o) const
        {
            return pos != o.pos ? pos < o.pos : enter < o.enter;
        }
    };
    std::vector<Event> events;
    events.reserve(spans.size() * 2);
    for (const Span& s : spans) {
        uint32_t hi = std::min(s.hi, slots - 1);
        if (s.lo > hi)
            continue;
        events.push_back({s.lo, true, s.rule});
        events.push_back({hi + 1, false, s.rule});
    }
    std::sort(events.begin(), events.end());

    std::vector<uint32_t> table(slots);
    Bits cur = base;
    uint32_t pos = 0;
    size_t e = 0;
    while (pos < slots) {
        uint32_t next = e < events.size() ? std::min(events[e].pos, slots) : slots;
        if (next > pos) {
            std::fill(table.begin() + pos, table.begin() + next, pool.intern(cur));
            pos = next;
        }
        while (e < events.size() && events[e].pos == pos) {
            if (events[e].enter)
                set_bit(cur, events[e].rule);
            else
                clear_bit(cur, events[e].rule);
            ++e;
        }
    }
    return table;
}

// Adds the values 0..255 where pred holds as merged spans.
template <typename Pred> void add_byte_spans(std::vector<Span>& out, uint32_t rule, Pred pred)
{
    for (uint32_t v = 0; v < 256;) {
        if (!pred(v)) {
            ++v;
            continue;
        }
        uint32_t lo = v;
        while (v < 256 && pred(v))
            ++v;
        out.push_back({lo, v - 1, rule});
    }
}

// Ports: the packet's value is XDPFW_PORT_NONE unless TCP or UDP with an
// L4 header, so a port rule implicitly requires TCP or UDP.
std::vector<uint32_t> port_table(CompileState& s, std::optional<PortRange> Match::*field,
                                 xdpfw_field f)
{
    std::vector<Span> spans;
    for (uint32_t i = 0; i < s.n(); ++i)
        if (const auto& r = s.rules[i].match.*field) {
            s.use(f);
            spans.push_back({r->lo, std::min<uint32_t>(r->hi, XDPFW_PORT_NONE - 1), i});
        }
    return build_scalar(XDPFW_PORT_SLOTS,
                        s.base_without([&](const Match& m) { return (m.*field).has_value(); }),
                        spans, s.pool);
}

// A field whose rules name a few values of a large domain (interfaces,
// ethertypes): a bitmap per value some rule names (into out), and one for
// every other value (returned): the rules that do not use the field.
// key_of(rule) is the value the rule names, or nullopt.
template <typename KeyOf>
uint32_t compile_keyed(CompileState& s, xdpfw_field f, KeyOf key_of,
                       std::map<uint32_t, uint32_t>& out)
{
    std::vector<std::optional<uint32_t>> keys(s.n());
    Bits base = s.empty;
    for (uint32_t i = 0; i < s.n(); ++i) {
        keys[i] = key_of(s.rules[i]);
        if (!keys[i])
            set_bit(base, i);
    }
    std::map<uint32_t, Bits> per_key;
    for (uint32_t i = 0; i < s.n(); ++i) {
        if (!keys[i])
            continue;
        s.use(f);
        set_bit(per_key.try_emplace(*keys[i], base).first->second, i);
    }
    for (const auto& [key, bits] : per_key)
        out.emplace(key, s.pool.intern(bits));
    return s.pool.intern(base);
}

} // namespace

void compile_ifindex(CompileState& s)
{
    s.out.ifindex_default = compile_keyed(
        s, XDPFW_FIELD_IFINDEX,
        [&](const Rule& r) -> std::optional<uint32_t> {
            if (!r.match.iif)
                return std::nullopt;
            return resolve_iface(s.opts, r, "iif", *r.match.iif);
        },
        s.out.ifindex);
}

// Ethertype: like the interface, a map for the values rules name (a hash in
// the kernel) and a default for every other value.
void compile_ether(CompileState& s)
{
    s.out.ether_default = compile_keyed(
        s, XDPFW_FIELD_ETHER,
        [](const Rule& r) -> std::optional<uint32_t> { return r.match.ether; }, s.out.ether);
}

// VLAN: one value per rule; untagged frames (NONE) match no vlan= rule.
void compile_vlan(CompileState& s)
{
    std::vector<Span> spans;
    for (uint32_t i = 0; i < s.n(); ++i)
        if (const auto& v = s.rules[i].match.vlan) {
            s.use(XDPFW_FIELD_VLAN);
            if (*v < XDPFW_VLAN_NONE)
                spans.push_back({*v, *v, i});
        }
    s.out.vlan = build_scalar(XDPFW_VLAN_SLOTS,
                              s.base_without([](const Match& m) { return m.vlan.has_value(); }),
                              spans, s.pool);
}

// Family and protocol: index family * 256 + proto; non-IP packets use
// index 0 and carry no protocol, so a proto= rule never admits them.
void compile_proto(CompileState& s)
{
    auto uses = [](const Match& m) { return m.family.has_value() || m.proto.has_value(); };
    std::vector<Span> spans;
    for (uint32_t i = 0; i < s.n(); ++i) {
        const Match& m = s.rules[i].match;
        if (!uses(m))
            continue;
        s.use(XDPFW_FIELD_PROTO);
        for (uint32_t f : {XDPFW_FAMILY_OTHER, XDPFW_FAMILY_IPV4, XDPFW_FAMILY_IPV6}) {
            if (m.family && static_cast<uint32_t>(*m.family) != f)
                continue;
            if (f == XDPFW_FAMILY_OTHER) {
                // Only an explicit family=other admits non-IP packets.
                if (m.family && !m.proto)
                    spans.push_back({0, 0, i});
            } else if (m.proto) {
                spans.push_back({f * 256 + *m.proto, f * 256 + *m.proto, i});
            } else {
                spans.push_back({f * 256, f * 256 + 255, i});
            }
        }
    }
    s.out.proto = build_scalar(XDPFW_PROTO_SLOTS, s.base_without(uses), spans, s.pool);
}

void compile_ports(CompileState& s)
{
    s.out.sport = port_table(s, &Match::sport, XDPFW_FIELD_SPORT);
    s.out.dport = port_table(s, &Match::dport, XDPFW_FIELD_DPORT);
}

// TCP flags: (flags & mask) == value over the 256 flag bytes; NONE (not
// TCP, or no L4 header) matches no flags rule.
void compile_tcp_flags(CompileState& s)
{
    std::vector<Span> spans;
    for (uint32_t i = 0; i < s.n(); ++i)
        if (const auto& t = s.rules[i].match.tcp_flags) {
            s.use(XDPFW_FIELD_TCP_FLAGS);
            TcpFlagsMatch fm = *t;
            add_byte_spans(spans, i, [fm](uint32_t v) { return (v & fm.mask) == fm.value; });
        }
    s.out.tcp_flags = build_scalar(
        XDPFW_FLAGS_SLOTS, s.base_without([](const Match& m) { return m.tcp_flags.has_value(); }),
        spans, s.pool);
}

// ICMP: index type << 8 | code; a type without code admits every code.
void compile_icmp(CompileState& s)
{
    auto uses = [](const Match& m) { return m.icmp_type.has_value() || m.icmp_code.has_value(); };
    std::vector<Span> spans;
    for (uint32_t i = 0; i < s.n(); ++i) {
        const Match& m = s.rules[i].match;
        if (!uses(m))
            continue;
        s.use(XDPFW_FIELD_ICMP);
        if (m.icmp_type && m.icmp_code) {
            uint32_t v = (uint32_t{*m.icmp_type} << 8) | *m.icmp_code;
            spans.push_back({v, v, i});
        } else if (m.icmp_type) {
            uint32_t t = uint32_t{*m.icmp_type} << 8;
            spans.push_back({t, t | 0xff, i});
        } else {
            for (uint32_t t = 0; t < 256; ++t)
                spans.push_back({(t << 8) | *m.icmp_code, (t << 8) | *m.icmp_code, i});
        }
    }
    s.out.icmp = build_scalar(XDPFW_ICMP_SLOTS, s.base_without(uses), spans, s.pool);
}

// Connection tracking state: one bit per state a rule names; a packet that
// is not IP (XDPFW_CT_NONE) matches no ct= rule. Left empty (never read)
// when no rule uses it.
void compile_ct(CompileState& s)
{
    std::vector<Span> spans;
    for (uint32_t i = 0; i < s.n(); ++i)
        if (const auto& ct = s.rules[i].match.ct) {
            s.use(XDPFW_FIELD_CT);
            for (uint32_t st = 0; st < ct_state_count; ++st)
                if (*ct & (1u << st))
                    spans.push_back({st, st, i});
        }
    if (spans.empty())
        return;
    s.out.ct = build_scalar(XDPFW_CT_SLOTS,
                            s.base_without([](const Match& m) { return m.ct.has_value(); }), spans,
                            s.pool);
}

} // namespace xdpfw::detail
