// SPDX-License-Identifier: GPL-2.0-only
// Rate limits (limit= burst= per=): the model, its text and the bucket arithmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xdpfw {

// N/s and N/m count packets; Nkbit/s and Nmbit/s count the frame's bytes.
enum class RateUnit : uint8_t { per_second = 0, per_minute = 1, kbit_per_second = 2,
                                mbit_per_second = 3 };
// One bucket per rule, or one per source / destination address (an IPv4
// /32, an IPv6 /64).
enum class LimitPer : uint8_t { rule = 0, src = 1, dst = 2 };

struct RateLimit {
    uint64_t amount = 1; // N of the rate
    RateUnit unit = RateUnit::per_second;
    // Packets (packet rates) or bytes (bit rates) the bucket holds; unset:
    // default_burst().
    std::optional<uint64_t> burst;
    LimitPer per = LimitPer::rule;
    bool operator==(const RateLimit&) const = default;

    bool bytes() const { return unit == RateUnit::kbit_per_second || unit == RateUnit::mbit_per_second; }
};

// Largest N per unit (a packet costs at least a nanosecond, a byte a
// picosecond-scale fraction that still fits the arithmetic).
uint64_t max_rate_amount(RateUnit unit);
constexpr uint64_t max_burst = 0xffffffffull;

// The burst when none is given: 5 packets for packet rates (nftables'
// default); for bit rates 100 ms of the rate, at least 9216 bytes (a jumbo
// frame, so a single frame never exceeds an idle bucket).
uint64_t default_burst(const RateLimit& limit);

// "1000/s", "5/m", "300kbit/s", "10mbit/s"; nullopt if the text is not one.
std::optional<RateLimit> parse_rate(std::string_view text);
std::string format_rate(const RateLimit& limit);
const char* limit_per_name(LimitPer per);
std::optional<LimitPer> parse_limit_per(std::string_view text);

// The bucket's integer arithmetic, shared by the compiler (for the XDP
// program, abi.h struct xdpfw_limit) and the reference classifier: a packet
// of `len` bytes costs cost_ns(len) ns of the bucket and conforms while
// max(tat, now) + cost - now <= tol_ns (then tat becomes that sum).
struct LimitParams {
    uint64_t cost_q16 = 0; // ns per unit (packet or byte) << 16, rounded up
    uint64_t tol_ns = 0;   // the burst in ns
    uint64_t tag = 0;      // hash of the parameters and per, never 0
    bool bytes = false;
    LimitPer per = LimitPer::rule;

    uint64_t cost_ns(uint32_t len) const
    {
        return ((bytes ? uint64_t{len} : 1) * cost_q16 + 0xffff) >> 16;
    }
};
LimitParams limit_params(const RateLimit& limit);

// One step of a bucket: true when the packet is over the limit (tat kept),
// false when it conforms (tat advanced). tat of a new bucket: now.
bool limit_step(const LimitParams& p, uint64_t& tat, uint64_t now_ns, uint32_t len);

} // namespace xdpfw
