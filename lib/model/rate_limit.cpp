// SPDX-License-Identifier: GPL-2.0-only
// Rate limit text and the token bucket's integer arithmetic (rate_limit.hpp).
#include "lib/model/rate_limit.hpp"

#include "lib/base/hash64.hpp"

#include <algorithm>
#include <charconv>

namespace xdpfw {

namespace {

struct UnitText {
    RateUnit unit;
    std::string_view suffix;
};
constexpr UnitText unit_texts[] = {{RateUnit::per_second, "/s"},
                                   {RateUnit::per_minute, "/m"},
                                   {RateUnit::kbit_per_second, "kbit/s"},
                                   {RateUnit::mbit_per_second, "mbit/s"}};

// ns per unit << 16 in the numerator, N in the denominator.
uint64_t cost_numerator(RateUnit unit)
{
    switch (unit) {
    case RateUnit::per_second: return 1'000'000'000ull << 16;
    case RateUnit::per_minute: return 60'000'000'000ull << 16;
    case RateUnit::kbit_per_second: return 8'000'000ull << 16;     // 8e9 ns / 1000 bit
    case RateUnit::mbit_per_second: return 8'000ull << 16;
    }
    return 0;
}

constexpr uint64_t max_tol_ns = 1ull << 62; // ~146 years: never exceeded

} // namespace

uint64_t max_rate_amount(RateUnit unit)
{
    switch (unit) {
    case RateUnit::per_second: return 1'000'000'000ull;      // 1 ns a packet
    case RateUnit::per_minute: return 60'000'000'000ull;
    case RateUnit::kbit_per_second: return 1'000'000'000ull; // 1 Tbit/s
    case RateUnit::mbit_per_second: return 1'000'000ull;
    }
    return 0;
}

uint64_t default_burst(const RateLimit& limit)
{
    if (!limit.bytes())
        return 5;
    const uint64_t per_s = limit.amount * (limit.unit == RateUnit::kbit_per_second ? 1000 : 1'000'000) / 8;
    return std::max<uint64_t>(9216, per_s / 10);
}

std::optional<RateLimit> parse_rate(std::string_view text)
{
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        digits++;
    if (digits == 0 || digits > 12)
        return std::nullopt;
    RateLimit l;
    std::from_chars(text.data(), text.data() + digits, l.amount);
    const std::string_view suffix = text.substr(digits);
    for (const UnitText& u : unit_texts)
        if (suffix == u.suffix) {
            l.unit = u.unit;
            return l;
        }
    return std::nullopt;
}

std::string format_rate(const RateLimit& limit)
{
    for (const UnitText& u : unit_texts)
        if (u.unit == limit.unit)
            return std::to_string(limit.amount) + std::string(u.suffix);
    return std::to_string(limit.amount);
}

const char* limit_per_name(LimitPer per)
{
    switch (per) {
    case LimitPer::rule: return "rule";
    case LimitPer::src: return "src";
    case LimitPer::dst: return "dst";
    }
    return "rule";
}

std::optional<LimitPer> parse_limit_per(std::string_view text)
{
    for (LimitPer p : {LimitPer::rule, LimitPer::src, LimitPer::dst})
        if (text == limit_per_name(p))
            return p;
    return std::nullopt;
}

LimitParams limit_params(const RateLimit& limit)
{
    LimitParams p;
    p.bytes = limit.bytes();
    p.per = limit.per;
    const uint64_t n = std::clamp<uint64_t>(limit.amount, 1, max_rate_amount(limit.unit));
    p.cost_q16 = (cost_numerator(limit.unit) + n - 1) / n;
    const unsigned __int128 burst = limit.burst.value_or(default_burst(limit));
    // Packet rates: burst packets of cost_ns(1) each fit exactly.
    const unsigned __int128 tol = p.bytes ? (burst * p.cost_q16 + 0xffff) >> 16
                                          : burst * p.cost_ns(1);
    p.tol_ns = tol > max_tol_ns ? max_tol_ns : static_cast<uint64_t>(tol);
    const uint64_t tag = Hash64()
                             .word(p.cost_q16)
                             .word(p.tol_ns)
                             .word(uint64_t(p.bytes) << 8 | uint64_t(p.per))
                             .digest();
    p.tag = tag ? tag : 1;
    return p;
}

bool limit_step(const LimitParams& p, uint64_t& tat, uint64_t now_ns, uint32_t len)
{
    const uint64_t next = std::max(tat, now_ns) + p.cost_ns(len);
    if (next - now_ns > p.tol_ns)
        return true;
    tat = next;
    return false;
}

} // namespace xdpfw
