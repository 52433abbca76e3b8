// SPDX-License-Identifier: GPL-2.0-only
// The inspection rule model: what an AF_XDP worker looks for in a packet's
// L4 payload (byte patterns, DNS query names) and the verdict it gives.
// Rule text is parsed by lib/lang/inspect_rules.hpp; semantics are in
// docs/RULES.md, "Inspection rules".
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace xdpfw::inspect {

// What a worker does with a packet.
enum class Verdict : uint8_t { drop = 0, forward = 1 };

const char* verdict_name(Verdict v); // "drop", "forward"

// Limits a rule set must respect (checked by validate() and compile()).
inline constexpr uint32_t max_rules = 4096;          // rule ids 1..max_rules-1 (counter slots)
inline constexpr size_t max_pattern_len = 1024;      // bytes of one byte pattern
inline constexpr uint32_t max_payload_offset = 65535; // offset + pattern length <= this
inline constexpr size_t max_dns_text_len = 253;      // "a.b.c" text form, no trailing dot
inline constexpr size_t max_dns_label_len = 63;

inline constexpr uint8_t proto_tcp = 6;
inline constexpr uint8_t proto_udp = 17;
inline constexpr uint16_t dns_port = 53;

// A byte pattern. With offset, the bytes must sit exactly at that offset of
// the L4 payload (a memcmp); without, anywhere in the L4 payload (Hyperscan).
// Matching is byte-exact (case-sensitive). text only says how the canonical
// form prints it: text:"..." (true) or hex:... (false).
struct BytePattern {
    std::vector<uint8_t> bytes;
    std::optional<uint32_t> offset;
    bool text = false;
    bool operator==(const BytePattern&) const = default;
};

// The first question name of a DNS query (UDP, destination port 53).
// name is lower-case dotted text without a trailing dot ("evil.example").
// exact: the whole query name equals name; otherwise (suffix) the query name
// is name or ends with "." + name, on a label boundary, so "evil.example"
// matches "a.evil.example" but not "notevil.example". Case-insensitive (ASCII).
struct DnsMatch {
    std::string name;
    bool suffix = false;
    bool operator==(const DnsMatch&) const = default;
};

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 0;
    bool contains(uint32_t port) const { return port >= lo && port <= hi; }
    bool operator==(const PortRange&) const = default;
};

// One inspection rule: exactly one of a byte pattern or a DNS match, optional
// L4 filters, a verdict. All present fields must hold.
struct InspectRule {
    uint32_t id = 0;      // 1..max_rules-1, unique in a rule set; the counter slot
    int32_t priority = 0; // lower wins; ties by id (lower first)
    std::variant<BytePattern, DnsMatch> what;
    std::optional<uint8_t> proto; // proto_tcp or proto_udp
    std::optional<PortRange> sport;
    std::optional<PortRange> dport;
    Verdict action = Verdict::drop;
    std::string text;     // canonical text (format_inspect_rule), informational
    bool operator==(const InspectRule&) const = default;

    bool is_dns() const { return std::holds_alternative<DnsMatch>(what); }
    const BytePattern& pattern() const { return std::get<BytePattern>(what); }
    const DnsMatch& dns() const { return std::get<DnsMatch>(what); }
};

// A rule set that cannot be used. key names the rule field ("pattern",
// "dns_suffix", "id", ...) or is empty for set-wide problems; what() is
// "rule N: key: problem".
class InspectError : public std::runtime_error {
public:
    InspectError(std::string where, std::string key, std::string problem);
    const std::string& where() const { return where_; }
    const std::string& key() const { return key_; }
    const std::string& problem() const { return problem_; }

private:
    std::string where_, key_, problem_;
};

// Checks one rule built in code: exactly one match kind, pattern length
// 1..max_pattern_len, offset + length <= max_payload_offset, a valid DNS
// name (dns_name_problem), proto tcp/udp, DNS rules only with proto=udp and
// a dport range holding 53, ports lo <= hi. Throws InspectError.
void validate(const InspectRule& rule, const std::string& where);

// The verdicts of frames no rule decides.
struct RuleSetOptions {
    Verdict default_verdict = Verdict::forward;  // no rule matched
    Verdict malformed_verdict = Verdict::drop;   // parse_frame() refused the frame
    bool operator==(const RuleSetOptions&) const = default;
};

} // namespace xdpfw::inspect

namespace xdpfw {

// A whole inspection policy: rules (ids unique) and the two verdicts.
struct InspectPolicy {
    std::vector<inspect::InspectRule> rules;
    inspect::RuleSetOptions options;
    bool operator==(const InspectPolicy&) const = default;
};

} // namespace xdpfw
