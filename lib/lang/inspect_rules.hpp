// SPDX-License-Identifier: GPL-2.0-only
// The inspection rule language (docs/RULES.md, "Inspection rules"): key=value
// text to inspect::InspectRule and back, and YAML inspection rule files.
// Same word syntax, quoting and error style (PolicyError) as the header rules.
//
//   priority=10 dns_suffix=evil.example action=drop
//   priority=20 pattern=hex:deadbeef action=drop
//   priority=30 pattern=text:"GET /admin" offset=0 action=drop
#pragma once

#include "lib/model/policy.hpp"
#include "lib/model/inspect_rule.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace xdpfw {

// Parses one inspection rule; where names it in errors ("rule 3",
// "inspect.yaml:7: rule 2"). Keys: priority, id, pattern, offset, dns_name,
// dns_suffix, proto, sport, dport, action. Fills InspectRule::text with the
// canonical form. Throws PolicyError naming the key.
inspect::InspectRule parse_inspect_rule(std::string_view text, const std::string& where);

// Canonical text: priority always, then pattern (text:"..." for printable
// text patterns, else hex:), offset, dns_name/dns_suffix, proto, sport,
// dport, action; no id. parse_inspect_rule(format_inspect_rule(r)) == r
// except for id and text.
std::string format_inspect_rule(const inspect::InspectRule& rule);

// YAML inspection file:
//   default: forward      # no rule matched: drop|forward, default forward
//   malformed: drop       # frame that does not parse: drop|forward, default drop
//   rules:
//     - priority=10 dns_suffix=evil.example action=drop
//     - 'priority=30 pattern=text:"GET /admin #1" action=drop'
// Rule number N gets id N unless it says id=; ids must be unique and below
// inspect::max_rules. Errors name "source:line: rule N: key: problem".
InspectPolicy parse_inspect_yaml(const std::string& yaml, const std::string& source_name);
InspectPolicy load_inspect_file(const std::filesystem::path& path);

} // namespace xdpfw
