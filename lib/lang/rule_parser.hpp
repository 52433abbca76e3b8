// SPDX-License-Identifier: GPL-2.0-only
// The rule language: "key=value" words to a Rule and back (docs/RULES.md).
// The CLI, the control protocol and rule files all go through parse_rule.
#pragma once

#include "lib/model/policy.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace xdpfw {

// Parses one rule. where names it in errors ("rule 3", "policy.yaml:7: rule 2");
// every error is a PolicyError naming the key. Sets the family implied by
// src/dst prefixes and fills Rule::text with format_rule(). Set references
// (@name) are not resolved here; validate_policy() does that.
Rule parse_rule(std::string_view text, const std::string& where);

// Canonical text: fixed key order, no id, priority always present, family only
// when no prefix implies it. parse_rule(format_rule(r)) gives back r's
// priority, match, action and comment.
std::string format_rule(const Rule& rule);

// The consistency checks parse_rule applies, for rules built in code (value
// ranges, family agreement, fields that need a protocol, fallback only with
// xsk). Throws PolicyError naming the key.
void validate_rule(const Rule& rule, const std::string& where);

// TCP flag names in header bit order: FIN=0x01 SYN RST PSH ACK URG ECE CWR=0x80.
// Returns nullptr unless bit is exactly one flag bit.
const char* tcp_flag_name(uint8_t bit);
// Case-insensitive; nullopt for unknown names.
std::optional<uint8_t> tcp_flag_bit(std::string_view name);
// "SYN,!ACK": bits of mask in header order, '!' where the value bit is clear.
std::string format_tcp_flags(const TcpFlagsMatch& flags);

// "tcp", "udp", "icmp", "icmpv6", or the decimal number for other protocols.
std::string proto_name(uint8_t proto);

// "established,related": the ct= states of a mask (bit 1 << CtState), in
// the order new, established, related, invalid.
std::string format_ct(uint8_t mask);
// Accepts the names above and decimal numbers 0-255; nullopt otherwise.
std::optional<uint8_t> parse_proto(std::string_view text);

// "ipv4", "arp", "ipv6", "lldp", or 0xNNNN (four lower-case hex digits).
std::string ether_name(uint16_t ethertype);
// Accepts the names above and 0x followed by 1-4 hex digits; nullopt
// otherwise. Range checks (0x0600 and up, not a VLAN TPID) are validate_rule's.
std::optional<uint16_t> parse_ether(std::string_view text);

// "drop", "pass", "xsk", "count" or "redirect:IFACE".
std::string format_action(const Action& action);

// Set names: [A-Za-z_][A-Za-z0-9_.-]*
bool valid_set_name(std::string_view name);
// Linux interface names: 1-15 bytes, no '/', ':' or blanks, not "." or "..".
bool valid_iface_name(std::string_view name);

} // namespace xdpfw
