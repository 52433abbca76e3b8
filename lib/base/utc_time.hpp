// SPDX-License-Identifier: GPL-2.0-only
// UTC timestamps as text: RFC 3339 with milliseconds, and reading them back.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace xdpfw {

// RFC 3339 in UTC with milliseconds: "2024-05-01T12:00:00.123Z".
std::string format_utc_time(std::chrono::system_clock::time_point t);

// Reads what format_utc_time() writes ("YYYY-MM-DDTHH:MM:SS[.fraction]Z",
// up to 9 fraction digits); nullopt for anything else, including impossible
// dates and times.
std::optional<std::chrono::system_clock::time_point> parse_utc_time(std::string_view s);

} // namespace xdpfw
