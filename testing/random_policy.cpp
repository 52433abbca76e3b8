// SPDX-License-Identifier: GPL-2.0-only
// Random policies and packets for differential tests, and the fake interface table.
#include "testing/random_policy.hpp"

#include "lib/lang/policy_file.hpp"

#include "lib/lang/rule_parser.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <set>

namespace xdpfw::test {

namespace {

using Rng = std::mt19937_64;

template <typename T> T uniform(Rng& rng, T lo, T hi)
{
    return static_cast<T>(std::uniform_int_distribution<int64_t>(lo, hi)(rng));
}

bool chance(Rng& rng, double p) { return std::bernoulli_distribution(p)(rng); }

template <typename T> const T& pick(Rng& rng, const std::vector<T>& v)
{
    return v[uniform<size_t>(rng, 0, v.size() - 1)];
}

void mask_to_len(Prefix& p)
{
    unsigned bytes = p.max_len() / 8;
    for (unsigned i = 0; i < bytes; ++i) {
        unsigned keep = p.len >= 8 * (i + 1) ? 8 : p.len > 8 * i ? p.len - 8 * i : 0;
        p.addr[i] &= static_cast<uint8_t>(keep ? 0xff << (8 - keep) : 0);
    }
    for (unsigned i = bytes; i < 16; ++i)
        p.addr[i] = 0;
}

// Regions the random prefixes cluster in, so that they nest and overlap:
// 203.0.113.0/24 and 2001:db8:0:1::/64 are dense (chunks, many hosts in one
// block), the wider ones sparse (host-table blocks, /24 leaves).
struct Region {
    Prefix base;
    std::vector<uint8_t> lens; // lengths drawn for prefixes inside
};

const std::vector<Region>& regions(Family f)
{
    static const std::vector<Region> v4 = {
        {Prefix::parse("10.0.0.0/8"), {8, 12, 16, 20, 23, 24, 24, 26, 28, 32, 32, 32}},
        {Prefix::parse("192.168.0.0/16"), {16, 20, 24, 25, 27, 29, 31, 32, 32}},
        {Prefix::parse("203.0.113.0/24"), {24, 25, 26, 28, 30, 32, 32, 32, 32}},
        {Prefix::parse("0.0.0.0/0"), {0, 1, 4, 7, 8, 16, 24, 32}},
    };
    static const std::vector<Region> v6 = {
        {Prefix::parse("2001:db8::/32"), {32, 40, 48, 56, 64, 64, 96, 127, 128, 128}},
        {Prefix::parse("2001:db8:0:1::/64"), {64, 72, 96, 112, 120, 128, 128, 128}},
        {Prefix::parse("fd00::/8"), {8, 16, 33, 48, 128}},
        {Prefix::parse("::/0"), {0, 3, 16, 64, 128}},
    };
    return f == Family::ipv4 ? v4 : v6;
}

// A random address inside p (host bits random).
std::array<uint8_t, 16> address_in(Rng& rng, const Prefix& p)
{
    std::array<uint8_t, 16> a = p.addr;
    unsigned bits = p.max_len();
    for (unsigned b = p.len; b < bits; ++b)
        if (chance(rng, 0.5))
            a[b / 8] |= static_cast<uint8_t>(0x80 >> (b % 8));
    return a;
}

Prefix random_prefix(Rng& rng, Family f)
{
    const Region& r = pick(rng, regions(f));
    Prefix p;
    p.family = f;
    p.addr = address_in(rng, r.base);
    p.len = pick(rng, r.lens);
    mask_to_len(p);
    return p;
}

std::string fmt_hex(unsigned v)
{
    char buf[16];
    std::snprintf(buf, sizeof(buf), "0x%02x", v);
    return buf;
}

std::string addr_str(Family f, const std::array<uint8_t, 16>& a)
{
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(f == Family::ipv6 ? AF_INET6 : AF_INET, a.data(), buf, sizeof(buf));
    return buf;
}

constexpr uint8_t tcp = 6, udp = 17, icmp = 1, icmpv6 = 58;

// Non-IP ethertypes the packets and rules use: ARP, LLDP, one no rule
// names by name (0x88b5, local experimental), and 0x9100 (an old QinQ TPID
// the parser does not treat as a VLAN tag).
const std::vector<uint16_t>& non_ip_ethertypes()
{
    static const std::vector<uint16_t> types = {ethertype_arp, ethertype_lldp, 0x88b5, 0x9100};
    return types;
}

bool has_ip_field(const Match& m)
{
    return m.family || m.src || m.dst || m.proto || m.sport || m.dport || m.tcp_flags ||
           m.icmp_type || m.icmp_code;
}

// ether= for a rule whose other fields are chosen: a valid rule gets its
// family's ethertype (or, with no IP field, any), an invalid one anything.
uint16_t random_ether(Rng& rng, const Match& m, bool only_valid)
{
    std::vector<uint16_t> choice = {ethertype_ipv4, ethertype_ipv6};
    if (!only_valid || !has_ip_field(m))
        choice.insert(choice.end(), non_ip_ethertypes().begin(), non_ip_ethertypes().end());
    if (only_valid && m.family)
        choice = {*m.family == Family::ipv4 ? ethertype_ipv4 : ethertype_ipv6};
    // icmp/icmpv6 name the family too.
    if (only_valid && !m.family && m.proto == icmp)
        choice = {ethertype_ipv4};
    if (only_valid && !m.family && m.proto == icmpv6)
        choice = {ethertype_ipv6};
    return pick(rng, choice);
}

// The match of one random rule. With only_valid the fields agree the way
// validate_rule() demands; otherwise contradictions are welcome.
Match random_match(Rng& rng, const RandomPolicyOptions& o, const std::vector<std::string>& sets)
{
    Match m;
    auto want = [&] { return chance(rng, o.field_chance); };
    const auto& ifs = o.ifaces.empty() ? fake_iface_names() : o.ifaces;

    if (want())
        m.iif = pick(rng, ifs);
    if (want()) {
        static const std::vector<uint16_t> vlans = {0, 1, 10, 100, 4095};
        m.vlan = chance(rng, 0.7) ? pick(rng, vlans) : uniform<uint16_t>(rng, 0, 4095);
        if (!o.only_valid && chance(rng, 0.1))
            m.vlan = uniform<uint16_t>(rng, 4096, 65535);
    }
    if (want()) {
        m.family = chance(rng, 0.5) ? Family::ipv4 : Family::ipv6;
        if (!o.only_valid && chance(rng, 0.2))
            m.family = Family::other;
    }
    // Address matches: a set or a literal prefix. A literal prefix implies
    // the family (the parser sets it), unless we are making contradictions.
    std::optional<Family> literal_family;
    for (auto* am : {&m.src, &m.dst}) {
        if (!chance(rng, o.field_chance * 1.6))
            continue;
        if (!sets.empty() && chance(rng, 0.5)) {
            *am = AddrMatch{pick(rng, sets)};
            continue;
        }
        Family f = chance(rng, 0.5) ? Family::ipv4 : Family::ipv6;
        if (o.only_valid) {
            if (literal_family)
                f = *literal_family;
            else if (m.family)
                f = *m.family;
        }
        literal_family = f;
        *am = AddrMatch{random_prefix(rng, f)};
        if (o.only_valid)
            m.family = f;
    }

    // L4 fields. Valid rules use one kind: ports and/or flags, or ICMP.
    bool icmp_kind = chance(rng, 0.3);
    if (!o.only_valid || !icmp_kind) {
        for (auto* pr : {&m.sport, &m.dport}) {
            if (!want())
                continue;
            static const std::vector<PortRange> ranges = {
                {22, 22}, {53, 53}, {80, 80}, {443, 443}, {0, 1023}, {1024, 65535},
                {8000, 8100}, {0, 0}, {65535, 65535}, {0, 65535}};
            PortRange r = pick(rng, ranges);
            if (chance(rng, 0.3)) {
                r.lo = uniform<uint16_t>(rng, 0, 65535);
                r.hi = uniform<uint16_t>(rng, r.lo, 65535);
            }
            if (!o.only_valid && chance(rng, 0.05))
                std::swap(r.lo, r.hi);
            *pr = r;
        }
        if (want()) {
            TcpFlagsMatch f;
            f.mask = uniform<uint8_t>(rng, 1, 255);
            if (chance(rng, 0.5))
                f.mask = chance(rng, 0.5) ? 0x12 : 0x02; // SYN,ACK / SYN
            f.value = static_cast<uint8_t>(uniform<uint8_t>(rng, 0, 255) & f.mask);
            if (!o.only_valid && chance(rng, 0.1))
                f.value = uniform<uint8_t>(rng, 0, 255);
            m.tcp_flags = f;
        }
    }
    if (!o.only_valid || icmp_kind) {
        static const std::vector<uint8_t> types = {0, 3, 8, 11, 128, 129, 135, 136};
        if (want()) {
            m.icmp_type = chance(rng, 0.8) ? pick(rng, types) : uniform<uint8_t>(rng, 0, 255);
            if (chance(rng, 0.4))
                m.icmp_code = uniform<uint8_t>(rng, 0, 3);
        } else if (!o.only_valid && chance(rng, o.field_chance * 0.3)) {
            m.icmp_code = uniform<uint8_t>(rng, 0, 3);
        }
    }

    if (want()) {
        std::vector<uint8_t> allowed;
        if (!o.only_valid) {
            allowed = {tcp, udp, icmp, icmpv6, 0, 47, 132, uniform<uint8_t>(rng, 0, 255)};
        } else if (m.tcp_flags) {
            allowed = {tcp};
        } else if (m.sport || m.dport) {
            allowed = {tcp, udp};
        } else if (m.icmp_type) {
            if (m.family != Family::ipv6)
                allowed.push_back(icmp);
            if (m.family != Family::ipv4)
                allowed.push_back(icmpv6);
        } else {
            allowed = {tcp, udp, 47, 132, 0};
            if (m.family != Family::ipv6)
                allowed.push_back(icmp);
            if (m.family != Family::ipv4)
                allowed.push_back(icmpv6);
        }
        m.proto = pick(rng, allowed);
    }
    if (chance(rng, o.field_chance * 0.6))
        m.ether = random_ether(rng, m, o.only_valid);
    return m;
}

Action random_action(Rng& rng, const RandomPolicyOptions& o)
{
    Action a;
    if (chance(rng, o.count_chance)) {
        a.type = ActionType::count;
        return a;
    }
    std::vector<ActionType> types = {ActionType::drop, ActionType::drop, ActionType::pass,
                                     ActionType::pass};
    if (o.allow_xsk)
        types.push_back(ActionType::xsk);
    if (o.allow_redirect)
        types.push_back(ActionType::redirect);
    a.type = pick(rng, types);
    if (a.type == ActionType::xsk && chance(rng, 0.5))
        a.xsk_fallback = ActionType::drop;
    if (a.type == ActionType::redirect)
        a.redirect_iface = chance(rng, 0.5) ? "eth0" : "eth1";
    return a;
}

} // namespace

uint32_t fake_ifindex(const std::string& name)
{
    if (name == "test0")
        return 1;
    if (name == "eth0")
        return 2;
    if (name == "eth1")
        return 3;
    throw PolicyError("interface", name, "no such interface");
}

const std::vector<std::string>& fake_iface_names()
{
    static const std::vector<std::string> names = {"test0", "eth0", "eth1"};
    return names;
}

Policy random_policy(Rng& rng, const RandomPolicyOptions& o)
{
    Policy p;
    p.default_action = chance(rng, 0.5) ? ActionType::drop : ActionType::pass;
    p.malformed_action = chance(rng, 0.5) ? ActionType::drop : ActionType::pass;
    p.default_non_ip_action = chance(rng, 0.5) ? ActionType::drop : ActionType::pass;

    std::vector<std::string> set_names;
    size_t n_sets = uniform<size_t>(rng, 0, o.max_sets);
    for (size_t s = 0; s < n_sets; ++s) {
        std::string name = "set" + std::to_string(s);
        // v4 only, v6 only or mixed; sometimes empty.
        int kind = uniform<int>(rng, 0, 2);
        size_t n = chance(rng, 0.1) ? 0 : uniform<size_t>(rng, 1, o.max_set_prefixes);
        std::set<Prefix> prefixes;
        for (size_t i = 0; i < n; ++i) {
            Family f = kind == 0 ? Family::ipv4 : kind == 1 ? Family::ipv6
                       : chance(rng, 0.5)      ? Family::ipv4
                                               : Family::ipv6;
            prefixes.insert(random_prefix(rng, f));
        }
        p.sets[name].edit([&](std::vector<Prefix>& v) { v.assign(prefixes.begin(), prefixes.end()); });
        set_names.push_back(name);
    }

    size_t n_rules = uniform<size_t>(rng, o.min_rules, o.max_rules);
    // Distinct ids in random insertion order, so (priority, id) reorders them.
    std::vector<uint32_t> ids;
    for (uint32_t id = 1; ids.size() < n_rules; id += uniform<uint32_t>(rng, 1, 3))
        ids.push_back(id);
    std::shuffle(ids.begin(), ids.end(), rng);
    for (uint32_t id : ids) {
        Rule r;
        r.id = id;
        r.priority = uniform<int32_t>(rng, 0, std::max(o.priorities, 1) - 1);
        r.match = random_match(rng, o, set_names);
        r.action = random_action(rng, o);
        if (chance(rng, o.limit_chance)) {
            RateLimit l;
            const bool never = chance(rng, 0.5);
            l.amount = never ? max_rate_amount(RateUnit::per_second) : 1;
            l.unit = never ? RateUnit::per_second : RateUnit::per_minute;
            l.burst = never ? max_burst : 1;
            l.per = pick(rng, std::vector<LimitPer>{LimitPer::rule, LimitPer::src, LimitPer::dst});
            r.match.limit = l;
        }
        r.text = format_rule(r);
        p.rules.push_back(std::move(r));
    }
    return p;
}

std::string random_edit(Rng& rng, Policy& p, const RandomPolicyOptions& o, uint32_t max_rule_id)
{
    auto family = [&] { return chance(rng, 0.8) ? Family::ipv4 : Family::ipv6; };
    const int what = uniform<int>(rng, 0, 9);
    if (what <= 2 || (what <= 4 && p.rules.empty())) {
        // A rule with a literal prefix (and maybe more fields).
        std::set<uint32_t> used;
        for (const Rule& r : p.rules)
            used.insert(r.id);
        uint32_t id = uniform<uint32_t>(rng, 1, max_rule_id - 1);
        while (used.count(id))
            id = id % (max_rule_id - 1) + 1;
        Rule r;
        r.id = id;
        r.priority = uniform<int32_t>(rng, 0, std::max(o.priorities, 1) - 1);
        RandomPolicyOptions fo = o;
        fo.field_chance = 0.1;
        r.match = random_match(rng, fo, {});
        (chance(rng, 0.5) ? r.match.src : r.match.dst) = AddrMatch{random_prefix(rng, family())};
        r.action = random_action(rng, o);
        r.text = format_rule(r);
        p.rules.push_back(r);
        return "rule add " + r.text;
    }
    if (what <= 4) {
        size_t i = uniform<size_t>(rng, 0, p.rules.size() - 1);
        std::string text = p.rules[i].text;
        p.rules.erase(p.rules.begin() + ptrdiff_t(i));
        return "rule del " + text;
    }
    if (p.sets.empty() || what == 9) {
        // A new set, referenced by a new rule.
        std::string name = "set" + std::to_string(p.sets.size() + 10);
        while (p.sets.count(name))
            name += "x";
        std::vector<Prefix> set;
        for (int k = uniform<int>(rng, 0, 20); k > 0; --k)
            set.push_back(random_prefix(rng, family()));
        p.sets[name] = std::move(set);
        normalize_set(p.sets[name]);
        std::set<uint32_t> used;
        for (const Rule& r : p.rules)
            used.insert(r.id);
        uint32_t id = 1;
        while (used.count(id))
            ++id;
        Rule r;
        r.id = id;
        (chance(rng, 0.5) ? r.match.src : r.match.dst) = AddrMatch{name};
        r.action = random_action(rng, o);
        r.text = format_rule(r);
        p.rules.push_back(r);
        return "set " + name + " with rule " + r.text;
    }
    auto it = p.sets.begin();
    std::advance(it, uniform<size_t>(rng, 0, p.sets.size() - 1));
    // Edited as a copy and assigned back: the set the previous compile saw
    // keeps its prefixes (PrefixSet shares them).
    std::vector<Prefix> set = it->second.prefixes();
    if (what <= 6 || set.empty()) {
        // Add a few: sometimes hosts of one /24, to move a block between
        // leaf, host table and chunk.
        std::string added;
        Prefix block = random_prefix(rng, Family::ipv4);
        block.len = 24;
        mask_to_len(block);
        for (int k = uniform<int>(rng, 1, 6); k > 0; --k) {
            Prefix pf = random_prefix(rng, family());
            if (chance(rng, 0.5)) {
                pf = block;
                pf.addr[3] = static_cast<uint8_t>(uniform<int>(rng, 0, 255));
                pf.len = chance(rng, 0.8) ? 32 : 30;
                mask_to_len(pf);
            }
            set.push_back(pf);
            added += " " + pf.str();
        }
        it->second = std::move(set);
        normalize_set(it->second);
        return "set add " + it->first + added;
    }
    std::string removed;
    for (int k = uniform<int>(rng, 1, 4); k > 0 && !set.empty(); --k) {
        size_t i = uniform<size_t>(rng, 0, set.size() - 1);
        removed += " " + set[i].str();
        set.erase(set.begin() + ptrdiff_t(i));
    }
    it->second = std::move(set);
    return "set del " + it->first + removed;
}

PacketGenerator::PacketGenerator(const Policy& policy)
{
    auto add_prefix = [&](const Prefix& pf) {
        (pf.family == Family::ipv4 ? v4_ : v6_).push_back(pf);
    };
    for (const auto& [name, set] : policy.sets)
        for (const Prefix& pf : set.prefixes())
            add_prefix(pf);
    for (const Rule& r : policy.rules) {
        const Match& m = r.match;
        for (const auto* am : {&m.src, &m.dst})
            if (*am && !(*am)->is_set())
                add_prefix((*am)->prefix());
        if (m.vlan && *m.vlan < 4096)
            vlans_.push_back(*m.vlan);
        for (const auto* pr : {&m.sport, &m.dport}) {
            if (!*pr)
                continue;
            for (int d : {-1, 0, 1}) {
                ports_.push_back(static_cast<uint16_t>((*pr)->lo + d));
                ports_.push_back(static_cast<uint16_t>((*pr)->hi + d));
            }
        }
        if (m.proto)
            protos_.push_back(*m.proto);
        if (m.tcp_flags)
            flags_.push_back(m.tcp_flags->value);
        if (m.icmp_type)
            icmp_types_.push_back(*m.icmp_type);
        if (m.icmp_code)
            icmp_codes_.push_back(*m.icmp_code);
        if (m.ether && ethertype_family(*m.ether) == Family::other)
            ethers_.push_back(*m.ether);
    }
}

PacketFields PacketGenerator::next(Rng& rng) const
{
    PacketFields pkt;
    static const std::vector<uint32_t> ifindexes = {1, 2, 3, 9};
    pkt.ifindex = pick(rng, ifindexes);
    if (chance(rng, 0.6))
        pkt.vlan = !vlans_.empty() && chance(rng, 0.7) ? pick(rng, vlans_)
                                                       : uniform<uint16_t>(rng, 0, 4095);

    double f = std::uniform_real_distribution<double>(0, 1)(rng);
    pkt.family = f < 0.42 ? Family::ipv4 : f < 0.84 ? Family::ipv6 : Family::other;
    if (pkt.family == Family::other) {
        // non-IP: an ethertype, no addresses, protocol or L4 fields
        pkt.ether = !ethers_.empty() && chance(rng, 0.5) ? pick(rng, ethers_)
                                                          : pick(rng, non_ip_ethertypes());
        return pkt;
    }

    const auto& pool = pkt.family == Family::ipv4 ? v4_ : v6_;
    for (auto* a : {&pkt.src, &pkt.dst}) {
        double how = std::uniform_real_distribution<double>(0, 1)(rng);
        Prefix inside;
        if (!pool.empty() && how < 0.75) {
            inside = pick(rng, pool); // inside a policy prefix
        } else if (how < 0.9) {
            inside = pick(rng, regions(pkt.family)).base; // near them
        } else {
            inside.family = pkt.family; // anywhere
            inside.len = 0;
        }
        *a = address_in(rng, inside);
        if (chance(rng, 0.15)) {
            // Just outside (or deeper inside): flip one bit near the boundary.
            int max_bit = static_cast<int>(inside.max_len()) - 1;
            int bit = std::clamp(inside.len + uniform<int>(rng, -2, 1), 0, max_bit);
            (*a)[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
        }
    }

    const bool v4 = pkt.family == Family::ipv4;
    std::vector<uint8_t> protos = {tcp, tcp, udp, udp, v4 ? icmp : icmpv6, icmp, icmpv6, 47};
    if (!protos_.empty() && chance(rng, 0.4))
        pkt.proto = pick(rng, protos_);
    else if (chance(rng, 0.9))
        pkt.proto = pick(rng, protos);
    else
        pkt.proto = uniform<uint8_t>(rng, 0, 255);

    bool ports = pkt.proto == tcp || pkt.proto == udp;
    bool is_icmp = (v4 && pkt.proto == icmp) || (!v4 && pkt.proto == icmpv6);
    // Only protocols the parser understands carry L4 fields; 15% of those
    // are non-first fragments.
    pkt.has_l4 = (ports || is_icmp) && chance(rng, 0.85);
    if (!pkt.has_l4)
        return pkt;
    if (ports) {
        auto port = [&]() -> uint16_t {
            return !ports_.empty() && chance(rng, 0.6) ? pick(rng, ports_)
                                                        : uniform<uint16_t>(rng, 0, 65535);
        };
        pkt.sport = port();
        pkt.dport = port();
    }
    if (pkt.proto == tcp) {
        pkt.tcp_flags = uniform<uint8_t>(rng, 0, 255);
        if (!flags_.empty() && chance(rng, 0.5)) {
            // A rule's value bits with a few random others.
            uint8_t noise = chance(rng, 0.5) ? uniform<uint8_t>(rng, 0, 255) : 0;
            pkt.tcp_flags = static_cast<uint8_t>(pick(rng, flags_) | (noise & 0xe0));
        }
    }
    if (is_icmp) {
        pkt.icmp_type = !icmp_types_.empty() && chance(rng, 0.6) ? pick(rng, icmp_types_)
                                                                 : uniform<uint8_t>(rng, 0, 255);
        pkt.icmp_code = !icmp_codes_.empty() && chance(rng, 0.5) ? pick(rng, icmp_codes_)
                                                                 : uniform<uint8_t>(rng, 0, 3);
    }
    return pkt;
}

PacketFields random_packet(Rng& rng, const Policy& policy)
{
    return PacketGenerator(policy).next(rng);
}

std::string describe(const PacketFields& pkt)
{
    std::string s = "ifindex=" + std::to_string(pkt.ifindex);
    s += pkt.vlan ? " vlan=" + std::to_string(*pkt.vlan) : " untagged";
    s += std::string(" family=") + family_name(pkt.family);
    if (pkt.family == Family::other)
        return s + " ether=" + fmt_hex(pkt.ether);
    s += " src=" + addr_str(pkt.family, pkt.src) + " dst=" + addr_str(pkt.family, pkt.dst);
    s += " proto=" + std::to_string(pkt.proto);
    if (!pkt.has_l4)
        return s + " (no L4)";
    s += " sport=" + std::to_string(pkt.sport) + " dport=" + std::to_string(pkt.dport);
    s += " flags=" + fmt_hex(pkt.tcp_flags);
    s += " icmp=" + std::to_string(pkt.icmp_type) + "/" + std::to_string(pkt.icmp_code);
    return s;
}

std::string describe(const Verdict& v)
{
    std::string s = action_name(v.action);
    s += v.rule_index < 0 ? std::string(" (default)")
                          : " rule_index=" + std::to_string(v.rule_index) +
                                " id=" + std::to_string(v.rule_id);
    s += " counted=[";
    for (size_t i = 0; i < v.counted.size(); ++i)
        s += (i ? "," : "") + std::to_string(v.counted[i]);
    return s + "]";
}

std::string describe(const Policy& policy)
{
    std::string s = std::string("default=") + action_name(policy.default_action) +
                    " default_non_ip=" + action_name(policy.default_non_ip_action) + "\n";
    for (const Rule& r : policy.evaluation_order()) {
        s += "  id=" + std::to_string(r.id) + " " + r.text;
        if (r.match.tcp_flags)
            s += " [flags mask " + fmt_hex(r.match.tcp_flags->mask) + " value " +
                 fmt_hex(r.match.tcp_flags->value) + "]";
        if (r.match.icmp_code && !r.match.icmp_type)
            s += " [icmp_code " + std::to_string(*r.match.icmp_code) + " alone]";
        s += "\n";
    }
    for (const auto& [name, set] : policy.sets)
        s += "  set @" + name + ": " + std::to_string(set.prefixes().size()) + " prefixes\n";
    return s;
}

} // namespace xdpfw::test
