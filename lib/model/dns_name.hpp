// SPDX-License-Identifier: GPL-2.0-only
// DNS names as inspection rules write them (dns_name=, dns_suffix=): the
// checks and conversions the rule language and the matcher share.
#pragma once

#include <string>
#include <string_view>

namespace xdpfw::inspect {

// Rule names: returns "" if text is a usable name, else what is wrong.
// Labels are 1-63 characters of letters, digits, '-' and '_', separated by
// single dots; one trailing dot is allowed; at most 253 characters without it.
std::string dns_name_problem(std::string_view text);

// Lower-case, without the trailing dot. text must pass dns_name_problem().
std::string normalize_dns_name(std::string_view text);

// "evil.example" -> "\x04evil\x07example\x00". name must be normalized.
std::string dns_name_to_wire(std::string_view name);

// Wire form back to lower-case dotted text (for logs and tests); bytes other
// than letters, digits, '-' and '_' print as \DDD (RFC 4343 style).
std::string dns_wire_to_text(std::string_view wire);

} // namespace xdpfw::inspect
