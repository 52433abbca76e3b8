// SPDX-License-Identifier: GPL-2.0-only
// UTC timestamps as text (RFC 3339, "Z" only).
#include "lib/base/utc_time.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace xdpfw {

namespace {

// n decimal digits at pos, or nullopt when any is missing or not a digit.
std::optional<unsigned> digits(std::string_view s, size_t pos, size_t n)
{
    if (pos + n > s.size())
        return std::nullopt;
    unsigned v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return std::nullopt;
        v = v * 10 + unsigned(s[i] - '0');
    }
    return v;
}

} // namespace

std::string format_utc_time(std::chrono::system_clock::time_point t)
{
    using namespace std::chrono;
    auto secs = floor<seconds>(t);
    auto ms = duration_cast<milliseconds>(t - secs).count();
    std::time_t tt = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
    return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_utc_time(std::string_view s)
{
    using namespace std::chrono;
    auto y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
    auto h = digits(s, 11, 2), mi = digits(s, 14, 2), se = digits(s, 17, 2);
    if (!y || !mo || !d || !h || !mi || !se || s.size() < 20 || s[4] != '-' || s[7] != '-' ||
        s[10] != 'T' || s[13] != ':' || s[16] != ':' || *h > 23 || *mi > 59 || *se > 59)
        return std::nullopt;
    year_month_day ymd{year(int(*y)), month(*mo), day(*d)};
    if (!ymd.ok())
        return std::nullopt;
    size_t pos = 19;
    nanoseconds frac{0};
    if (s[pos] == '.') {
        ++pos;
        size_t start = pos;
        int64_t scale = 100000000;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (pos - start >= 9)
                return std::nullopt;
            frac += nanoseconds((s[pos] - '0') * scale);
            scale /= 10;
            ++pos;
        }
        if (pos == start)
            return std::nullopt;
    }
    if (pos + 1 != s.size() || s[pos] != 'Z')
        return std::nullopt;
    auto t = sys_days(ymd) + hours(*h) + minutes(*mi) + seconds(*se) + frac;
    return time_point_cast<system_clock::duration>(t);
}

} // namespace xdpfw
