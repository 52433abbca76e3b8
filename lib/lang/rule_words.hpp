// SPDX-License-Identifier: GPL-2.0-only
// The word level of the rule languages (header rules, docs/RULES.md, and
// inspection rules, lib/lang/inspect_rules.hpp): splitting text into
// key=value words, quoting, joining CLI arguments, and the number and port
// values both languages share. Errors are PolicyErrors naming the key.
#pragma once

#include "lib/model/policy.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xdpfw {

struct RuleWord {
    std::string key;
    std::string value;
};

// Space, tab, newline, carriage return, form feed, vertical tab.
bool is_rule_blank(char c);

// Splits text into key=value words separated by blanks. A value may end in a
// double-quoted part that keeps blanks: iif="eth0", pattern=text:"GET /a";
// inside the quotes \" and \\ are escapes; the closing quote ends the value.
std::vector<RuleWord> split_rule_words(std::string_view text, const std::string& where);

// split_rule_words, then every key must be one of known (else "unknown key
// (known keys: ...)"), at most once ("given twice"), with a non-empty value.
std::vector<RuleWord> split_known_rule_words(std::string_view text, const std::string& where,
                                             std::span<const std::string_view> known);

// value as a double-quoted part: "..." with " and \ escaped.
std::string quote_rule_value(std::string_view value);

// Joins command-line words into rule text for split_rule_words. A word the
// shell has already unquoted (no double quote, and a blank-separated piece
// without '=': pattern=text:GET /admin from pattern=text:"GET /admin") gets
// the part after its first '=' quoted again, so it stays one value. Other
// words, including a whole rule in one argument, are kept as they are.
std::string join_rule_words(const std::vector<std::string>& words);

// 'value' in single quotes, as errors print values.
std::string single_quoted(std::string_view value);

// Decimal 0..max; errors "'x' is not a number", "N is out of range 0-max".
uint64_t parse_rule_unsigned(std::string_view v, uint64_t max, const std::string& where,
                             const std::string& key);
// A rule id, 1..max ("must be at least 1").
uint32_t parse_rule_id(std::string_view v, uint32_t max, const std::string& where);
// A signed 32-bit priority.
int32_t parse_rule_priority(std::string_view v, const std::string& where);
// "N" or "N-M", 0-65535, N <= M.
PortRange parse_rule_ports(std::string_view v, const std::string& where, const std::string& key);

} // namespace xdpfw
