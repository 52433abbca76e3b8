// SPDX-License-Identifier: GPL-2.0-only
// Lockout checks: representative neighbour discovery and ARP packets through
// the reference classifier.
#include "lib/reference/lockout.hpp"

#include "lib/reference/reference.hpp"

#include <arpa/inet.h>

#include <limits>
#include <set>

namespace xdpfw {

namespace {

constexpr uint8_t proto_icmpv6 = 58;

struct Probe {
    const char* what; // the packet's kind, as the warning names it
    PacketFields pkt;
};

std::array<uint8_t, 16> v6(const char* text)
{
    std::array<uint8_t, 16> a{};
    inet_pton(AF_INET6, text, a.data());
    return a;
}

PacketFields icmpv6(uint8_t type, const char* src, const char* dst)
{
    PacketFields p;
    p.family = Family::ipv6;
    p.proto = proto_icmpv6;
    p.has_l4 = true;
    p.icmp_type = type;
    p.src = v6(src);
    p.dst = v6(dst);
    return p;
}

// What a host sends and receives to keep its IPv6 neighbours (RFC 4861):
// solicitations to multicast, answers to unicast, duplicate address
// detection from the unspecified address.
const std::vector<Probe>& nd_probes()
{
    static const std::vector<Probe> probes = {
        {"router solicitation", icmpv6(133, "fe80::1", "ff02::2")},
        {"router advertisement", icmpv6(134, "fe80::2", "ff02::1")},
        {"neighbour solicitation", icmpv6(135, "fe80::1", "ff02::1:ff00:2")},
        {"neighbour solicitation", icmpv6(135, "fe80::1", "fe80::2")},
        {"neighbour solicitation", icmpv6(135, "::", "ff02::1:ff00:1")},
        {"neighbour advertisement", icmpv6(136, "fe80::2", "fe80::1")},
        {"neighbour advertisement", icmpv6(136, "fe80::2", "ff02::1")},
    };
    return probes;
}

const std::vector<Probe>& arp_probes()
{
    static const std::vector<Probe> probes = [] {
        PacketFields p;
        p.family = Family::other;
        p.ether = ethertype_arp;
        return std::vector<Probe>{{"ARP", p}};
    }();
    return probes;
}

// The kinds of probe the policy drops, and on which interfaces.
struct Dropped {
    std::vector<std::string> kinds; // in probe order, each once
    std::vector<std::string> on;    // interface names
    size_t checked = 0;             // interfaces evaluated
};

Dropped dropped(const Policy& policy, const std::vector<Probe>& probes,
                const std::vector<LockoutInterface>& interfaces)
{
    // No interfaces: one that no iif= rule names.
    constexpr uint32_t nowhere = std::numeric_limits<uint32_t>::max();
    std::vector<LockoutInterface> where = interfaces;
    if (where.empty())
        where.push_back({"", nowhere});
    Dropped d;
    std::set<std::string> seen;
    for (const LockoutInterface& i : where) {
        auto resolve = [&](const std::string& name) {
            for (const LockoutInterface& j : where)
                if (j.name == name && !name.empty())
                    return j.ifindex;
            return nowhere - 1; // matches no packet's interface
        };
        bool here = false;
        for (const Probe& probe : probes) {
            PacketFields pkt = probe.pkt;
            pkt.ifindex = i.ifindex;
            if (classify(policy, pkt, resolve).action != ActionType::drop)
                continue;
            here = true;
            if (seen.insert(probe.what).second)
                d.kinds.push_back(probe.what);
        }
        if (here && !i.name.empty())
            d.on.push_back(i.name);
        d.checked++;
    }
    return d;
}

std::string join(const std::vector<std::string>& items)
{
    std::string s;
    for (size_t i = 0; i < items.size(); ++i)
        s += (i ? ", " : "") + items[i];
    return s;
}

// " on eth0, eth1" when the packets are dropped on some interfaces only.
std::string where_text(const Dropped& d)
{
    if (d.on.empty() || d.on.size() == d.checked)
        return "";
    return " on " + join(d.on);
}

} // namespace

std::vector<std::string> lockout_warnings(const Policy& policy,
                                          const std::vector<LockoutInterface>& interfaces)
{
    std::vector<std::string> out;
    if (policy.default_action == ActionType::drop) {
        Dropped d = dropped(policy, nd_probes(), interfaces);
        if (!d.kinds.empty())
            out.push_back(
                "default: drop drops IPv6 neighbour discovery (" + join(d.kinds) + ")" +
                where_text(d) +
                ": no rule passes it, so the host loses its IPv6 neighbours; pass ICMPv6 "
                "types 133-136 first (e.g. priority=0 proto=icmpv6 icmp_type=135 action=pass, "
                "and likewise 133, 134, 136)");
    }
    if (policy.default_non_ip_action == ActionType::drop) {
        Dropped d = dropped(policy, arp_probes(), interfaces);
        if (!d.kinds.empty())
            out.push_back("default_non_ip: drop drops ARP" + where_text(d) +
                          ": no rule passes it, so the host loses its IPv4 neighbours; pass "
                          "it first (e.g. priority=0 ether=arp action=pass)");
    }
    return out;
}

} // namespace xdpfw
