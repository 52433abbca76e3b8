// SPDX-License-Identifier: GPL-2.0-only
// Inspection rule parser, printer and YAML file reader.
#include "lib/lang/inspect_rules.hpp"

#include "lib/lang/rule_parser.hpp"
#include "lib/lang/rule_words.hpp"
#include "lib/lang/yaml_nodes.hpp"
#include "lib/model/dns_name.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>

namespace xdpfw {

namespace {

using inspect::InspectRule;
using inspect::Verdict;

constexpr std::array<std::string_view, 10> inspect_keys = {
    "priority", "id", "pattern", "offset", "dns_name", "dns_suffix", "proto", "sport", "dport",
    "action"};

bool printable(uint8_t c)
{
    return c >= 0x20 && c <= 0x7e;
}

int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

inspect::BytePattern parse_pattern(std::string_view v, const std::string& where)
{
    inspect::BytePattern p;
    if (v.starts_with("hex:")) {
        std::string_view hex = v.substr(4);
        if (hex.empty())
            throw PolicyError(where, "pattern", "empty pattern (hex: needs at least one byte)");
        if (hex.size() % 2)
            throw PolicyError(where, "pattern",
                              "odd number of hex digits (" + std::to_string(hex.size()) +
                                  ") in " + single_quoted(v));
        for (size_t i = 0; i < hex.size(); i += 2) {
            int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
            if (hi < 0 || lo < 0)
                throw PolicyError(where, "pattern",
                                  single_quoted(hex.substr(i, 2)) + " is not a hex byte in " +
                                      single_quoted(v));
            p.bytes.push_back(static_cast<uint8_t>(hi << 4 | lo));
        }
    } else if (v.starts_with("text:")) {
        std::string_view text = v.substr(5);
        if (text.empty())
            throw PolicyError(where, "pattern", "empty pattern (text: needs at least one character)");
        for (char c : text)
            if (!printable(static_cast<uint8_t>(c)))
                throw PolicyError(where, "pattern",
                                  "text patterns are printable ASCII; write other bytes as hex:");
        p.bytes.assign(text.begin(), text.end());
        p.text = true;
    } else {
        throw PolicyError(where, "pattern",
                          single_quoted(v) + " is neither hex:HEXBYTES nor text:\"TEXT\"");
    }
    if (p.bytes.size() > inspect::max_pattern_len)
        throw PolicyError(where, "pattern",
                          std::to_string(p.bytes.size()) + " bytes, more than " +
                              std::to_string(inspect::max_pattern_len));
    return p;
}

std::string format_pattern(const inspect::BytePattern& p)
{
    if (p.text && std::all_of(p.bytes.begin(), p.bytes.end(), printable))
        return "text:" + quote_rule_value(std::string(p.bytes.begin(), p.bytes.end()));
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = "hex:";
    for (uint8_t b : p.bytes) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

std::string format_ports(const inspect::PortRange& r)
{
    return r.lo == r.hi ? std::to_string(r.lo) : std::to_string(r.lo) + "-" + std::to_string(r.hi);
}

inspect::PortRange to_inspect_ports(const PortRange& r)
{
    return {r.lo, r.hi};
}

Verdict parse_inspect_verdict(std::string_view v, const std::string& where, const std::string& key)
{
    if (v == "drop")
        return Verdict::drop;
    if (v == "forward")
        return Verdict::forward;
    throw PolicyError(where, key, single_quoted(v) + " is not drop or forward");
}

} // namespace

InspectRule parse_inspect_rule(std::string_view text, const std::string& where)
{
    InspectRule rule;
    std::optional<inspect::BytePattern> pattern;
    std::optional<uint32_t> offset;
    std::optional<inspect::DnsMatch> dns;
    const char* dns_key = nullptr;
    bool have_action = false;

    for (RuleWord& w : split_known_rule_words(text, where, inspect_keys)) {
        const std::string& key = w.key;
        const std::string& v = w.value;

        if (key == "priority") {
            rule.priority = parse_rule_priority(v, where);
        } else if (key == "id") {
            rule.id = parse_rule_id(v, inspect::max_rules - 1, where);
        } else if (key == "pattern") {
            pattern = parse_pattern(v, where);
        } else if (key == "offset") {
            offset = static_cast<uint32_t>(
                parse_rule_unsigned(v, inspect::max_payload_offset - 1, where, key));
        } else if (key == "dns_name" || key == "dns_suffix") {
            if (dns)
                throw PolicyError(where, key, std::string("cannot be combined with ") + dns_key);
            if (std::string problem = inspect::dns_name_problem(v); !problem.empty())
                throw PolicyError(where, key, problem);
            dns = inspect::DnsMatch{inspect::normalize_dns_name(v), key == "dns_suffix"};
            dns_key = key == "dns_suffix" ? "dns_suffix" : "dns_name";
        } else if (key == "proto") {
            if (v == "tcp")
                rule.proto = inspect::proto_tcp;
            else if (v == "udp")
                rule.proto = inspect::proto_udp;
            else
                throw PolicyError(where, key,
                                  single_quoted(v) + " is not tcp or udp (only their payload is inspected)");
        } else if (key == "sport") {
            rule.sport = to_inspect_ports(parse_rule_ports(v, where, key));
        } else if (key == "dport") {
            rule.dport = to_inspect_ports(parse_rule_ports(v, where, key));
        } else if (key == "action") {
            rule.action = parse_inspect_verdict(v, where, key);
            have_action = true;
        }
    }
    if (pattern && dns)
        throw PolicyError(where, "pattern",
                          std::string("cannot be combined with ") + dns_key + " (one match per rule)");
    if (!pattern && !dns)
        throw PolicyError(where, "pattern",
                          "missing; every rule needs pattern=, dns_name= or dns_suffix=");
    if (offset && !pattern)
        throw PolicyError(where, "offset", "only applies to pattern=");
    if (!have_action)
        throw PolicyError(where, "action", "missing; every rule needs one (drop or forward)");
    if (pattern) {
        pattern->offset = offset;
        rule.what = std::move(*pattern);
    } else {
        rule.what = std::move(*dns);
    }
    try {
        inspect::validate(rule, where);
    } catch (const inspect::InspectError& e) {
        throw PolicyError(e.where(), e.key(), e.problem());
    }
    rule.text = format_inspect_rule(rule);
    return rule;
}

std::string format_inspect_rule(const InspectRule& rule)
{
    std::string s = "priority=" + std::to_string(rule.priority);
    auto add = [&s](const char* key, const std::string& value) {
        s += ' ';
        s += key;
        s += '=';
        s += value;
    };
    if (rule.is_dns()) {
        add(rule.dns().suffix ? "dns_suffix" : "dns_name", rule.dns().name);
    } else {
        add("pattern", format_pattern(rule.pattern()));
        if (rule.pattern().offset)
            add("offset", std::to_string(*rule.pattern().offset));
    }
    if (rule.proto)
        add("proto", proto_name(*rule.proto));
    if (rule.sport)
        add("sport", format_ports(*rule.sport));
    if (rule.dport)
        add("dport", format_ports(*rule.dport));
    add("action", inspect::verdict_name(rule.action));
    return s;
}

InspectPolicy parse_inspect_yaml(const std::string& yaml, const std::string& source_name)
{
    YAML::Node root = yaml_load(yaml, source_name);
    InspectPolicy policy;
    YAML::Node rules_node;
    yaml_for_each_top_key(
        root, source_name, "a mapping with default, malformed and rules",
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
            const std::string where = yaml_at(source_name, value);
            if (key == "default" || key == "malformed") {
                if (!value.IsScalar())
                    throw PolicyError(where, key, "expected drop or forward, got " + yaml_kind(value));
                Verdict v = parse_inspect_verdict(value.Scalar(), where, key);
                (key == "default" ? policy.options.default_verdict
                                  : policy.options.malformed_verdict) = v;
            } else if (key == "rules") {
                rules_node = value;
            } else {
                throw PolicyError(yaml_at(source_name, key_node), key,
                                  "unknown top-level key (known: default, malformed, rules)");
            }
        });
    std::map<uint32_t, size_t> id_owner; // id -> rule number, for the duplicate message
    yaml_for_each_rule_string(
        rules_node, source_name, [&](const std::string& text, const std::string& where, size_t number) {
            InspectRule rule = parse_inspect_rule(text, where);
            if (rule.id == 0) {
                if (number >= inspect::max_rules)
                    throw PolicyError(where, "id",
                                      "more than " + std::to_string(inspect::max_rules - 1) +
                                          " inspection rules");
                rule.id = static_cast<uint32_t>(number);
            }
            if (auto [it, fresh] = id_owner.emplace(rule.id, number); !fresh)
                throw PolicyError(where, "id",
                                  std::to_string(rule.id) + " is already used by rule " +
                                      std::to_string(it->second));
            policy.rules.push_back(std::move(rule));
        });
    return policy;
}

InspectPolicy load_inspect_file(const std::filesystem::path& path)
{
    return parse_inspect_yaml(read_policy_text(path), path.string());
}

} // namespace xdpfw
