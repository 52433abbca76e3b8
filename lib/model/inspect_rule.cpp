// SPDX-License-Identifier: GPL-2.0-only
// Inspection rule checks shared by the text parser and RuleSet::compile.
#include "lib/model/inspect_rule.hpp"

#include "lib/model/dns_name.hpp"

namespace xdpfw::inspect {

namespace {

std::string join_error(const std::string& where, const std::string& key, const std::string& problem)
{
    std::string s = where;
    if (!key.empty())
        s += (s.empty() ? "" : ": ") + key;
    return s + (s.empty() ? "" : ": ") + problem;
}

} // namespace

InspectError::InspectError(std::string where, std::string key, std::string problem)
    : std::runtime_error(join_error(where, key, problem)), where_(std::move(where)),
      key_(std::move(key)), problem_(std::move(problem))
{
}

const char* verdict_name(Verdict v)
{
    return v == Verdict::drop ? "drop" : "forward";
}

void validate(const InspectRule& rule, const std::string& where)
{
    if (rule.action != Verdict::drop && rule.action != Verdict::forward)
        throw InspectError(where, "action", "must be drop or forward");
    if (rule.proto && *rule.proto != proto_tcp && *rule.proto != proto_udp)
        throw InspectError(where, "proto", "must be tcp or udp (only their payload is inspected)");
    for (auto [key, ports] : {std::pair{"sport", &rule.sport}, std::pair{"dport", &rule.dport}})
        if (*ports && (*ports)->lo > (*ports)->hi)
            throw InspectError(where, key, "range has its low end above its high end");
    if (!rule.is_dns()) {
        const BytePattern& p = rule.pattern();
        if (p.bytes.empty())
            throw InspectError(where, "pattern", "empty pattern");
        if (p.bytes.size() > max_pattern_len)
            throw InspectError(where, "pattern",
                               std::to_string(p.bytes.size()) + " bytes, more than " +
                                   std::to_string(max_pattern_len));
        if (p.text)
            for (uint8_t c : p.bytes)
                if (c < 0x20 || c > 0x7e)
                    throw InspectError(where, "pattern",
                                       "text patterns are printable ASCII; write other bytes as hex:");
        if (p.offset && *p.offset + p.bytes.size() > max_payload_offset)
            throw InspectError(where, "offset",
                               std::to_string(*p.offset) + " + pattern length " +
                                   std::to_string(p.bytes.size()) + " is past " +
                                   std::to_string(max_payload_offset) +
                                   ", the largest L4 payload");
        return;
    }
    const DnsMatch& d = rule.dns();
    const char* key = d.suffix ? "dns_suffix" : "dns_name";
    if (std::string problem = dns_name_problem(d.name); !problem.empty())
        throw InspectError(where, key, problem);
    if (normalize_dns_name(d.name) != d.name)
        throw InspectError(where, key, "'" + d.name + "' is not lower-case without a trailing dot");
    if (rule.proto && *rule.proto != proto_udp)
        throw InspectError(where, "proto", std::string("DNS queries are UDP; ") + key +
                                               " cannot match proto=tcp");
    if (rule.dport && !rule.dport->contains(dns_port))
        throw InspectError(where, "dport", std::string("DNS queries go to port 53; ") + key +
                                               " cannot match this dport");
}

} // namespace xdpfw::inspect
