// SPDX-License-Identifier: GPL-2.0-only
// The rule language's parser, printer and consistency checks (docs/RULES.md).
#include "lib/lang/rule_parser.hpp"

#include "lib/lang/rule_words.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <limits>
#include <set>

namespace xdpfw {

namespace {

constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;
constexpr uint8_t proto_icmpv6 = 58;

constexpr std::array<const char*, 8> tcp_flag_names = {"FIN", "SYN", "RST", "PSH",
                                                       "ACK", "URG", "ECE", "CWR"};

constexpr std::array<std::string_view, 22> known_keys = {
    "priority",  "iif",       "vlan",      "ether",     "family", "src",      "dst",
    "proto",     "sport",     "dport",     "tcp_flags", "icmp_type", "icmp_code", "ct",
    "limit",     "burst",     "per",       "action",    "fallback", "id",       "sample",
    "comment"};

// Ethertypes the parser never leaves in the ether field: it walks VLAN tags.
constexpr uint16_t tpid_8021q = 0x8100, tpid_8021ad = 0x88a8;
constexpr uint16_t min_ethertype = 0x0600; // below: an 802.3 length field

struct EtherLabel {
    uint16_t type;
    const char* name;
};
constexpr EtherLabel ether_labels[] = {{ethertype_ipv4, "ipv4"},
                                       {ethertype_arp, "arp"},
                                       {ethertype_ipv6, "ipv6"},
                                       {ethertype_lldp, "lldp"}};

TcpFlagsMatch parse_tcp_flags(std::string_view v, const std::string& where)
{
    TcpFlagsMatch m;
    size_t pos = 0;
    while (true) {
        size_t comma = v.find(',', pos);
        std::string_view item = v.substr(pos, comma == std::string_view::npos ? v.npos : comma - pos);
        bool clear = !item.empty() && item[0] == '!';
        std::string_view name = clear ? item.substr(1) : item;
        if (name.empty())
            throw PolicyError(where, "tcp_flags", "empty flag name in " + single_quoted(v));
        auto bit = tcp_flag_bit(name);
        if (!bit)
            throw PolicyError(where, "tcp_flags",
                              single_quoted(name) +
                                  " is not a TCP flag (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR)");
        if (m.mask & *bit)
            throw PolicyError(where, "tcp_flags",
                              std::string(tcp_flag_name(*bit)) + " appears twice in " + single_quoted(v));
        m.mask |= *bit;
        if (!clear)
            m.value |= *bit;
        if (comma == std::string_view::npos)
            break;
        pos = comma + 1;
    }
    return m;
}

Action parse_action(std::string_view v, const std::string& where)
{
    Action a;
    if (v == "drop")
        a.type = ActionType::drop;
    else if (v == "pass")
        a.type = ActionType::pass;
    else if (v == "xsk")
        a.type = ActionType::xsk;
    else if (v == "count")
        a.type = ActionType::count;
    else if (v == "syncookie")
        a.type = ActionType::syncookie;
    else if (v == "redirect" || v.starts_with("redirect:")) {
        a.type = ActionType::redirect;
        if (v == "redirect" || v.size() == 9)
            throw PolicyError(where, "action", "redirect needs an interface: redirect:IFACE");
        a.redirect_iface = std::string(v.substr(9));
        if (!valid_iface_name(a.redirect_iface))
            throw PolicyError(where, "action",
                              single_quoted(a.redirect_iface) + " is not a valid interface name");
    } else
        throw PolicyError(where, "action",
                          single_quoted(v) + " is not one of drop, pass, xsk, redirect:IFACE, count, syncookie");
    return a;
}

AddrMatch parse_addr(std::string_view v, const std::string& where, const std::string& key)
{
    if (v[0] == '@') {
        std::string_view name = v.substr(1);
        if (!valid_set_name(name))
            throw PolicyError(where, key,
                              single_quoted(name) + " is not a valid set name ([A-Za-z_][A-Za-z0-9_.-]*)");
        return AddrMatch{std::string(name)};
    }
    try {
        return AddrMatch{Prefix::parse(std::string(v))};
    } catch (const std::invalid_argument& e) {
        throw PolicyError(where, key, e.what());
    }
}

const char* proto_label(uint8_t proto)
{
    switch (proto) {
    case proto_tcp: return "tcp";
    case proto_udp: return "udp";
    case proto_icmp: return "icmp";
    case proto_icmpv6: return "icmpv6";
    }
    return nullptr;
}

void check_prefix(const AddrMatch& a, const std::string& where, const std::string& key)
{
    if (a.is_set()) {
        if (!valid_set_name(a.set_name()))
            throw PolicyError(where, key,
                              single_quoted(a.set_name()) +
                                  " is not a valid set name ([A-Za-z_][A-Za-z0-9_.-]*)");
        return;
    }
    const Prefix& p = a.prefix();
    if (p.family != Family::ipv4 && p.family != Family::ipv6)
        throw PolicyError(where, key, "prefix has no address family");
    if (p.len > p.max_len())
        throw PolicyError(where, key,
                          "prefix length " + std::to_string(p.len) + " > " +
                              std::to_string(p.max_len()));
    // The message comes from re-parsing the printed form, the single place
    // that explains the host-bit rule; printing every prefix of a large
    // policy on each commit would cost more than the check.
    if (!p.host_bits_set())
        return;
    try {
        Prefix::parse(p.str());
    } catch (const std::invalid_argument& e) {
        throw PolicyError(where, key, e.what());
    }
    throw PolicyError(where, key, p.str() + " has host bits set");
}

// Comments are printed in list, stats, logs and metric labels: bounded, one
// line, no control characters (UTF-8 is fine).
void check_comment(const std::string& comment, const std::string& where)
{
    if (comment.size() > max_comment_bytes)
        throw PolicyError(where, "comment",
                          "is " + std::to_string(comment.size()) + " bytes, longer than " +
                              std::to_string(max_comment_bytes));
    for (unsigned char c : comment)
        if (c < 0x20 || c == 0x7f)
            throw PolicyError(where, "comment",
                              "holds a control character (newline, tab, ...); comments are "
                              "one line of text");
}

std::string family_upper(Family f)
{
    return f == Family::ipv4 ? "IPv4" : f == Family::ipv6 ? "IPv6" : "non-IP";
}

// ether= against the rule's IP fields: a non-IP ethertype admits no IP
// field at all, ether=ipv4/ipv6 only its own family.
void check_ether(const Match& m, const std::string& where)
{
    const uint16_t type = *m.ether;
    const std::string ether = "ether=" + ether_name(type);
    if (type < min_ethertype)
        throw PolicyError(where, "ether",
                          ether_name(type) + " is below 0x0600: an 802.3 length, not an ethertype");
    if (type == tpid_8021q || type == tpid_8021ad)
        throw PolicyError(where, "ether",
                          ether_name(type) +
                              " is a VLAN tag; ether= is the type after the tags (match the "
                              "tag with vlan=)");
    const Family f = ethertype_family(type);
    if (f == Family::other) {
        // family last: the parser derives it from a src/dst prefix, and
        // the error should name the key the rule's author wrote.
        const std::pair<const char*, bool> ip_fields[] = {
            {"src", m.src.has_value()},     {"dst", m.dst.has_value()},
            {"proto", m.proto.has_value()}, {"sport", m.sport.has_value()},
            {"dport", m.dport.has_value()}, {"tcp_flags", m.tcp_flags.has_value()},
            {"icmp_type", m.icmp_type.has_value()}, {"icmp_code", m.icmp_code.has_value()},
            {"ct", m.ct.has_value()}, {"family", m.family.has_value()}};
        for (const auto& [key, present] : ip_fields)
            if (present)
                throw PolicyError(where, key,
                                  "needs an IPv4 or IPv6 packet, but " + ether +
                                      " frames are not IP");
        return;
    }
    for (auto [key, addr] : {std::pair{"src", &m.src}, std::pair{"dst", &m.dst}})
        if (*addr && !(*addr)->is_set() && (*addr)->prefix().family != f)
            throw PolicyError(where, key,
                              (*addr)->prefix().str() + " is " +
                                  family_upper((*addr)->prefix().family) + " but " + ether);
    if (m.family && *m.family != f)
        throw PolicyError(where, "family",
                          std::string(family_name(*m.family)) + " contradicts " + ether);
}

// proto=icmp/icmpv6 against the family the rule's packets must have:
// explicit or implied by src/dst (the parser sets it), or by ether=ipv4/ipv6.
void check_icmp_family(const Match& m, const std::string& where)
{
    std::optional<Family> family = m.family;
    if (!family && m.ether && ethertype_family(*m.ether) != Family::other)
        family = ethertype_family(*m.ether);
    if (!m.proto || !family)
        return;
    const std::string by = m.family ? "family " + std::string(family_name(*family))
                                    : "ether=" + ether_name(*m.ether);
    if (*m.proto == proto_icmp && *family == Family::ipv6)
        throw PolicyError(where, "proto", "icmp is IPv4's protocol; with " + by + " use icmpv6");
    if (*m.proto == proto_icmpv6 && *family == Family::ipv4)
        throw PolicyError(where, "proto", "icmpv6 is IPv6's protocol; with " + by + " use icmp");
}

// The values of ether= and family=, or a PolicyError naming the key.
uint16_t ether_word(std::string_view v, const std::string& where)
{
    std::optional<uint16_t> type = parse_ether(v);
    if (!type)
        throw PolicyError(where, "ether", single_quoted(v) + " is not arp, lldp, ipv4, ipv6 or 0xNNNN");
    return *type;
}

Family family_word(std::string_view v, const std::string& where)
{
    if (v == "ipv4")
        return Family::ipv4;
    if (v == "ipv6")
        return Family::ipv6;
    throw PolicyError(where, "family", single_quoted(v) + " is not ipv4 or ipv6");
}

// ct=: a comma list of connection tracking states.
uint8_t ct_word(std::string_view v, const std::string& where)
{
    uint8_t mask = 0;
    size_t pos = 0;
    while (true) {
        const size_t comma = v.find(',', pos);
        const std::string_view item = v.substr(pos, comma == v.npos ? v.npos : comma - pos);
        std::optional<uint8_t> bit;
        for (unsigned i = 0; i < ct_state_count; i++)
            if (item == ct_state_name(static_cast<CtState>(i)))
                bit = static_cast<uint8_t>(1u << i);
        if (!bit)
            throw PolicyError(where, "ct",
                              single_quoted(item) +
                                  " is not a ct state (new, established, related, invalid)");
        if (mask & *bit)
            throw PolicyError(where, "ct", single_quoted(item) + " appears twice in " + single_quoted(v));
        mask |= *bit;
        if (comma == v.npos)
            return mask;
        pos = comma + 1;
    }
}

// limit=, burst= and per=, in any order: burst and per fill the limit,
// whatever the order (parse_rule checks limit= was there).
void limit_word(Match& m, const std::string& key, const std::string& v, const std::string& where)
{
    if (!m.limit) {
        m.limit = RateLimit{};
        m.limit->amount = 0;
    }
    if (key == "limit") {
        std::optional<RateLimit> rate = parse_rate(v);
        if (!rate)
            throw PolicyError(where, key,
                              single_quoted(v) + " is not a rate: N/s, N/m, Nkbit/s or Nmbit/s");
        m.limit->amount = rate->amount;
        m.limit->unit = rate->unit;
    } else if (key == "burst") {
        m.limit->burst = parse_rule_unsigned(v, max_burst, where, key);
    } else {
        std::optional<LimitPer> per = parse_limit_per(v);
        if (!per)
            throw PolicyError(where, key, single_quoted(v) + " is not src, dst or rule");
        m.limit->per = *per;
    }
}

void check_limit(const RateLimit& l, const std::string& where)
{
    const uint64_t max = max_rate_amount(l.unit);
    if (l.amount < 1 || l.amount > max)
        throw PolicyError(where, "limit",
                          format_rate(l) + ": the rate must be 1-" + std::to_string(max) +
                              (l.bytes() ? "" : " packets") + " per " +
                              (l.unit == RateUnit::per_minute ? "minute" : "second") +
                              (l.bytes() ? " in its unit" : ""));
    if (l.burst && (*l.burst < 1 || *l.burst > max_burst))
        throw PolicyError(where, "burst",
                          std::to_string(*l.burst) + " is out of range 1-" + std::to_string(max_burst));
    if (l.per != LimitPer::rule && l.per != LimitPer::src && l.per != LimitPer::dst)
        throw PolicyError(where, "per", "must be src, dst or rule");
}

} // namespace

std::string format_ct(uint8_t mask)
{
    std::string s;
    for (unsigned i = 0; i < ct_state_count; i++)
        if (mask & (1u << i)) {
            if (!s.empty())
                s += ',';
            s += ct_state_name(static_cast<CtState>(i));
        }
    return s;
}

const char* tcp_flag_name(uint8_t bit)
{
    for (size_t i = 0; i < tcp_flag_names.size(); ++i)
        if (bit == (1u << i))
            return tcp_flag_names[i];
    return nullptr;
}

std::optional<uint8_t> tcp_flag_bit(std::string_view name)
{
    for (size_t i = 0; i < tcp_flag_names.size(); ++i) {
        std::string_view n = tcp_flag_names[i];
        if (n.size() == name.size() &&
            std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
                return a == (b >= 'a' && b <= 'z' ? static_cast<char>(b - 'a' + 'A') : b);
            }))
            return static_cast<uint8_t>(1u << i);
    }
    return std::nullopt;
}

std::string format_tcp_flags(const TcpFlagsMatch& flags)
{
    std::string s;
    for (size_t i = 0; i < tcp_flag_names.size(); ++i) {
        uint8_t bit = static_cast<uint8_t>(1u << i);
        if (!(flags.mask & bit))
            continue;
        if (!s.empty())
            s += ',';
        if (!(flags.value & bit))
            s += '!';
        s += tcp_flag_names[i];
    }
    return s;
}

std::string proto_name(uint8_t proto)
{
    const char* label = proto_label(proto);
    return label ? label : std::to_string(proto);
}

std::optional<uint8_t> parse_proto(std::string_view text)
{
    for (uint8_t p : {proto_tcp, proto_udp, proto_icmp, proto_icmpv6})
        if (text == proto_label(p))
            return p;
    if (text.empty() || text.size() > 3 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    unsigned x = 0;
    std::from_chars(text.data(), text.data() + text.size(), x);
    if (x > 255)
        return std::nullopt;
    return static_cast<uint8_t>(x);
}

std::string ether_name(uint16_t ethertype)
{
    for (const EtherLabel& l : ether_labels)
        if (l.type == ethertype)
            return l.name;
    char buf[8];
    std::snprintf(buf, sizeof(buf), "0x%04x", ethertype);
    return buf;
}

std::optional<uint16_t> parse_ether(std::string_view text)
{
    for (const EtherLabel& l : ether_labels)
        if (text == l.name)
            return l.type;
    if (text.size() < 3 || text.size() > 6 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
        return std::nullopt;
    unsigned v = 0;
    auto [end, ec] = std::from_chars(text.data() + 2, text.data() + text.size(), v, 16);
    if (ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return static_cast<uint16_t>(v);
}

std::string format_action(const Action& action)
{
    if (action.type == ActionType::redirect)
        return "redirect:" + action.redirect_iface;
    return action_name(action.type);
}

bool valid_set_name(std::string_view name)
{
    auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (name.empty() || !alpha(name[0]))
        return false;
    return std::all_of(name.begin() + 1, name.end(), [&](char c) {
        return alpha(c) || digit(c) || c == '.' || c == '-';
    });
}

bool valid_iface_name(std::string_view name)
{
    // The kernel's dev_valid_name(): IFNAMSIZ is 16 including the NUL.
    if (name.empty() || name.size() > 15 || name == "." || name == "..")
        return false;
    return std::none_of(name.begin(), name.end(), [](char c) {
        return c == '/' || c == ':' || c == '"' || is_rule_blank(c) || c == '\0';
    });
}

void validate_rule(const Rule& rule, const std::string& where)
{
    const Match& m = rule.match;
    if (m.iif && !valid_iface_name(*m.iif))
        throw PolicyError(where, "iif", single_quoted(*m.iif) + " is not a valid interface name");
    if (m.vlan && *m.vlan > 4095)
        throw PolicyError(where, "vlan", std::to_string(*m.vlan) + " is out of range 0-4095");
    if (m.family && *m.family != Family::ipv4 && *m.family != Family::ipv6)
        throw PolicyError(where, "family", "must be ipv4 or ipv6");
    if (m.src)
        check_prefix(*m.src, where, "src");
    if (m.dst)
        check_prefix(*m.dst, where, "dst");
    if (m.src && m.dst && !m.src->is_set() && !m.dst->is_set() &&
        m.src->prefix().family != m.dst->prefix().family)
        throw PolicyError(where, "dst",
                          m.dst->prefix().str() + " is " + family_upper(m.dst->prefix().family) +
                              " but src " + m.src->prefix().str() + " is " +
                              family_upper(m.src->prefix().family) +
                              "; src and dst must be of one family");
    for (auto [key, addr] : {std::pair{"src", &m.src}, std::pair{"dst", &m.dst}}) {
        if (m.family && *addr && !(*addr)->is_set() && (*addr)->prefix().family != *m.family)
            throw PolicyError(where, key,
                              (*addr)->prefix().str() + " is " +
                                  family_upper((*addr)->prefix().family) + " but family=" +
                                  family_name(*m.family));
    }
    if (m.ether)
        check_ether(m, where);
    check_icmp_family(m, where);
    for (auto [key, ports] : {std::pair{"sport", &m.sport}, std::pair{"dport", &m.dport}}) {
        if (!*ports)
            continue;
        if ((*ports)->lo > (*ports)->hi)
            throw PolicyError(where, key, "range has its low end above its high end");
        if (m.proto && *m.proto != proto_tcp && *m.proto != proto_udp)
            throw PolicyError(where, key,
                              "needs proto=tcp or proto=udp, not proto=" + proto_name(*m.proto));
    }
    if (m.tcp_flags) {
        if (m.tcp_flags->mask == 0)
            throw PolicyError(where, "tcp_flags", "names no flag");
        if (m.tcp_flags->value & ~m.tcp_flags->mask)
            throw PolicyError(where, "tcp_flags", "value has bits outside the mask");
        if (m.proto && *m.proto != proto_tcp)
            throw PolicyError(where, "tcp_flags",
                              "needs proto=tcp, not proto=" + proto_name(*m.proto));
    }
    if (m.icmp_code && !m.icmp_type)
        throw PolicyError(where, "icmp_code", "needs icmp_type");
    if (m.ct && (*m.ct == 0 || *m.ct >= (1u << ct_state_count)))
        throw PolicyError(where, "ct", "names no state (new, established, related, invalid)");
    if (m.icmp_type) {
        if (m.proto && *m.proto != proto_icmp && *m.proto != proto_icmpv6)
            throw PolicyError(where, "icmp_type",
                              "needs proto=icmp or proto=icmpv6, not proto=" + proto_name(*m.proto));
        // Without proto the fields still imply one; two that disagree can
        // never match and are certainly a mistake.
        if (m.sport || m.dport)
            throw PolicyError(where, "icmp_type",
                              "cannot be combined with sport/dport (those need tcp or udp)");
        if (m.tcp_flags)
            throw PolicyError(where, "icmp_type",
                              "cannot be combined with tcp_flags (that needs tcp)");
    }
    if (m.limit)
        check_limit(*m.limit, where);
    const Action& a = rule.action;
    if (a.type == ActionType::redirect) {
        if (!valid_iface_name(a.redirect_iface))
            throw PolicyError(where, "action",
                              single_quoted(a.redirect_iface) + " is not a valid interface name");
    } else if (!a.redirect_iface.empty()) {
        throw PolicyError(where, "action",
                          std::string("an interface is set but the action is ") +
                              action_name(a.type));
    }
    if (a.type == ActionType::syncookie && (!m.proto || *m.proto != proto_tcp))
        throw PolicyError(where, "action", "syncookie needs proto=tcp (it answers TCP SYNs)");
    if (a.xsk_fallback != ActionType::pass && a.xsk_fallback != ActionType::drop)
        throw PolicyError(where, "fallback", "must be pass or drop");
    if (a.type != ActionType::xsk && a.xsk_fallback != ActionType::pass)
        throw PolicyError(where, "fallback", "only applies to action=xsk");
    if (rule.sample && !a.terminal()) // an event names the rule that decided the verdict
        throw PolicyError(where, "sample", "needs a rule that decides the verdict, not action=count");
    check_comment(rule.comment, where);
}

namespace {

uint32_t parse_sample(std::string_view v, const std::string& where)
{
    const auto n = static_cast<uint32_t>(parse_rule_unsigned(v, max_rule_sample, where, "sample"));
    if (n == 0)
        throw PolicyError(where, "sample", "must be 1 (every packet) or more");
    return n;
}

} // namespace

Rule parse_rule(std::string_view text, const std::string& where)
{
    Rule rule;
    Match& m = rule.match;
    std::optional<Family> explicit_family;
    bool have_action = false, have_fallback = false, have_limit = false;

    for (RuleWord& w : split_known_rule_words(text, where, known_keys)) {
        const std::string& key = w.key;
        const std::string& v = w.value;

        if (key == "priority") {
            rule.priority = parse_rule_priority(v, where);
        } else if (key == "id") {
            rule.id = parse_rule_id(v, std::numeric_limits<uint32_t>::max(), where);
        } else if (key == "iif") {
            if (!valid_iface_name(v))
                throw PolicyError(where, key, single_quoted(v) + " is not a valid interface name");
            m.iif = v;
        } else if (key == "vlan") {
            m.vlan = static_cast<uint16_t>(parse_rule_unsigned(v, 4095, where, key));
        } else if (key == "ether") {
            m.ether = ether_word(v, where);
        } else if (key == "family") {
            explicit_family = family_word(v, where);
        } else if (key == "src") {
            m.src = parse_addr(v, where, key);
        } else if (key == "dst") {
            m.dst = parse_addr(v, where, key);
        } else if (key == "proto") {
            m.proto = parse_proto(v);
            if (!m.proto)
                throw PolicyError(where, key,
                                  single_quoted(v) + " is not tcp, udp, icmp, icmpv6 or a number 0-255");
        } else if (key == "sport") {
            m.sport = parse_rule_ports(v, where, key);
        } else if (key == "dport") {
            m.dport = parse_rule_ports(v, where, key);
        } else if (key == "tcp_flags") {
            m.tcp_flags = parse_tcp_flags(v, where);
        } else if (key == "icmp_type") {
            m.icmp_type = static_cast<uint8_t>(parse_rule_unsigned(v, 255, where, key));
        } else if (key == "icmp_code") {
            m.icmp_code = static_cast<uint8_t>(parse_rule_unsigned(v, 255, where, key));
        } else if (key == "ct") {
            m.ct = ct_word(v, where);
        } else if (key == "limit" || key == "burst" || key == "per") {
            limit_word(m, key, v, where);
            have_limit = have_limit || key == "limit";
        } else if (key == "action") {
            // Keep a fallback parsed before the action.
            ActionType fallback = rule.action.xsk_fallback;
            rule.action = parse_action(v, where);
            rule.action.xsk_fallback = fallback;
            have_action = true;
        } else if (key == "comment") {
            rule.comment = v;
        } else if (key == "fallback") {
            if (v == "pass")
                rule.action.xsk_fallback = ActionType::pass;
            else if (v == "drop")
                rule.action.xsk_fallback = ActionType::drop;
            else
                throw PolicyError(where, key, single_quoted(v) + " is not pass or drop");
            have_fallback = true;
        } else if (key == "sample") {
            rule.sample = parse_sample(v, where);
        }
    }
    if (m.limit && !have_limit)
        throw PolicyError(where, m.limit->burst ? "burst" : "per", "needs limit=RATE");
    if (!have_action)
        throw PolicyError(where, "action",
                          "missing; every rule needs one (drop, pass, xsk, redirect:IFACE, count)");
    if (have_fallback && rule.action.type != ActionType::xsk)
        throw PolicyError(where, "fallback",
                          std::string("only applies to action=xsk, not action=") +
                              action_name(rule.action.type));

    if (explicit_family)
        m.family = explicit_family;
    else if (m.src && !m.src->is_set())
        m.family = m.src->prefix().family;
    else if (m.dst && !m.dst->is_set())
        m.family = m.dst->prefix().family;
    validate_rule(rule, where);
    rule.text = format_rule(rule);
    return rule;
}

std::string format_rule(const Rule& rule)
{
    const Match& m = rule.match;
    std::string s = "priority=" + std::to_string(rule.priority);
    auto add = [&s](const char* key, const std::string& value) {
        s += ' ';
        s += key;
        s += '=';
        s += value;
    };
    auto addr_text = [](const AddrMatch& a) {
        return a.is_set() ? "@" + a.set_name() : a.prefix().str();
    };
    auto ports_text = [](const PortRange& r) {
        return r.lo == r.hi ? std::to_string(r.lo)
                            : std::to_string(r.lo) + "-" + std::to_string(r.hi);
    };
    if (m.iif)
        add("iif", *m.iif);
    if (m.vlan)
        add("vlan", std::to_string(*m.vlan));
    if (m.ether)
        add("ether", ether_name(*m.ether));
    if (m.family) {
        // The parser derives the family from a prefix, so printing it again
        // would only repeat what src/dst already say.
        bool implied = (m.src && !m.src->is_set() && m.src->prefix().family == *m.family) ||
                       (m.dst && !m.dst->is_set() && m.dst->prefix().family == *m.family);
        if (!implied)
            add("family", family_name(*m.family));
    }
    if (m.src)
        add("src", addr_text(*m.src));
    if (m.dst)
        add("dst", addr_text(*m.dst));
    if (m.proto)
        add("proto", proto_name(*m.proto));
    if (m.sport)
        add("sport", ports_text(*m.sport));
    if (m.dport)
        add("dport", ports_text(*m.dport));
    if (m.tcp_flags)
        add("tcp_flags", format_tcp_flags(*m.tcp_flags));
    if (m.icmp_type)
        add("icmp_type", std::to_string(*m.icmp_type));
    if (m.icmp_code)
        add("icmp_code", std::to_string(*m.icmp_code));
    if (m.ct)
        add("ct", format_ct(*m.ct));
    if (m.limit) {
        add("limit", format_rate(*m.limit));
        if (m.limit->burst)
            add("burst", std::to_string(*m.limit->burst));
        if (m.limit->per != LimitPer::rule)
            add("per", limit_per_name(m.limit->per));
    }
    add("action", format_action(rule.action));
    if (rule.action.type == ActionType::xsk)
        add("fallback", action_name(rule.action.xsk_fallback));
    if (rule.sample)
        add("sample", std::to_string(rule.sample));
    if (!rule.comment.empty())
        add("comment", quote_rule_value(rule.comment));
    return s;
}

} // namespace xdpfw
