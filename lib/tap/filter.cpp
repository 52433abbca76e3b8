// SPDX-License-Identifier: GPL-2.0-only
// Match words -> struct xdpfw_tap_filter (see filter.hpp).
#include "lib/tap/filter.hpp"

#include "lib/lang/rule_parser.hpp"
#include "lib/lang/rule_words.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

namespace xdpfw::tap {

namespace {

const std::string where = "tap";

constexpr std::array<std::string_view, 11> match_keys = {
    "vlan", "ether", "family", "src", "dst", "proto", "sport", "dport", "tcp_flags", "icmp_type",
    "icmp_code"};

const std::string match_key_list = [] {
    std::string s;
    for (std::string_view k : match_keys)
        s += (s.empty() ? "" : ", ") + std::string(k);
    return s;
}();

// Why a rule word that is not a match field has no place in a tap.
const char* refused_because(std::string_view key)
{
    if (key == "action" || key == "fallback")
        return "not a match word: the tap only captures, it takes no action";
    if (key == "priority" || key == "id")
        return "not a match word: a tap is one match, not a rule in an order";
    if (key == "iif")
        return "not a tap word: the tap captures on the interface -i names";
    return nullptr;
}

// The prefix as four network-order words and its mask.
void put_prefix(const Prefix& p, __u32 (&addr)[4], __u32 (&mask)[4])
{
    std::array<uint8_t, 16> m{};
    for (unsigned bit = 0; bit < p.len; ++bit)
        m[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
    std::memcpy(addr, p.addr.data(), sizeof(addr));
    std::memcpy(mask, m.data(), sizeof(mask));
}

__u32 prefix_words(const std::optional<AddrMatch>& a, const char* key, __u32 (&addr)[4],
                   __u32 (&mask)[4])
{
    if (!a)
        return 0;
    if (a->is_set())
        throw PolicyError(where, key,
                          "@" + a->set_name() +
                              " is a set reference; the tap matches literal prefixes only "
                              "(sets live in the daemon)");
    put_prefix(a->prefix(), addr, mask);
    return 1;
}

} // namespace

std::string_view tap_words()
{
    return match_key_list;
}

Match parse_tap_match(std::string_view text)
{
    for (const RuleWord& w : split_rule_words(text, where)) {
        if (const char* why = refused_because(w.key))
            throw PolicyError(where, w.key, std::string(why) + " (match words: " +
                                                match_key_list + ")");
        if (std::find(match_keys.begin(), match_keys.end(), w.key) == match_keys.end())
            throw PolicyError(where, w.key,
                              "unknown key (match words: " + match_key_list + ")");
    }
    // The rule parser checks values and combinations; the action it needs
    // is ours, not the operator's.
    Match m = parse_rule(std::string(text) + " action=pass", where).match;
    tap_filter(m); // refuses set references
    return m;
}

xdpfw_tap_filter tap_filter(const Match& m)
{
    xdpfw_tap_filter f{};
    if (m.iif)
        throw PolicyError(where, "iif", refused_because("iif"));
    if (m.vlan) {
        f.fields |= XDPFW_TAP_VLAN;
        f.vlan = *m.vlan;
    }
    if (m.ether) {
        f.fields |= XDPFW_TAP_ETHER;
        f.ether = *m.ether;
    }
    // A literal prefix implies its family; the filter compares the family
    // before the addresses, so an IPv4 prefix never meets an IPv6 address.
    std::optional<Family> family = m.family;
    for (const auto* a : {&m.src, &m.dst})
        if (!family && *a && !(*a)->is_set())
            family = (*a)->prefix().family;
    if (family) {
        f.fields |= XDPFW_TAP_FAMILY;
        f.family = static_cast<__u32>(*family);
    }
    if (prefix_words(m.src, "src", f.src, f.src_mask))
        f.fields |= XDPFW_TAP_SRC;
    if (prefix_words(m.dst, "dst", f.dst, f.dst_mask))
        f.fields |= XDPFW_TAP_DST;
    if (m.proto) {
        f.fields |= XDPFW_TAP_PROTO;
        f.proto = *m.proto;
    }
    if (m.sport) {
        f.fields |= XDPFW_TAP_SPORT;
        f.sport_lo = m.sport->lo;
        f.sport_hi = m.sport->hi;
    }
    if (m.dport) {
        f.fields |= XDPFW_TAP_DPORT;
        f.dport_lo = m.dport->lo;
        f.dport_hi = m.dport->hi;
    }
    if (m.tcp_flags) {
        f.fields |= XDPFW_TAP_TCP_FLAGS;
        f.flags_mask = m.tcp_flags->mask;
        f.flags_value = m.tcp_flags->value;
    }
    if (m.icmp_type) {
        f.fields |= XDPFW_TAP_ICMP_TYPE;
        f.icmp_type = *m.icmp_type;
    }
    if (m.icmp_code) {
        f.fields |= XDPFW_TAP_ICMP_CODE;
        f.icmp_code = *m.icmp_code;
    }
    return f;
}

} // namespace xdpfw::tap
