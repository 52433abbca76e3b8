// SPDX-License-Identifier: GPL-2.0-only
// Reproducible inputs shared by the benchmarks: a splitmix64 generator and
// random unicast IPv4 prefixes with the length mix of IP reputation feeds
// (docs/BENCHMARKS.md, "Prefix mix").
#pragma once

#include "lib/model/policy.hpp"

#include <cstdint>
#include <string>

namespace xdpfw::bench {

// splitmix64: the same sequence on every platform (the std distributions
// differ between standard libraries, and the sets must be reproducible).
class Rng {
public:
    explicit Rng(uint64_t seed) : s_(seed) {}
    uint64_t next()
    {
        uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform enough in [0, n) for n far below 2^64.
    uint64_t below(uint64_t n) { return next() % n; }

private:
    uint64_t s_;
};

struct V4Pfx {
    uint32_t addr; // host order, masked to len
    uint8_t len;
};

inline uint32_t v4_mask(unsigned len)
{
    return len ? ~uint32_t{0} << (32 - len) : 0;
}

// A unicast address, 1.0.0.0 - 223.255.255.255 (where blocklist entries and
// real sources live).
uint32_t random_unicast(Rng& rng);

// A prefix length drawn from the mix: 50% /32, 35% /24, 11.5% /16-/23
// weighted toward the longer ones, 3% /25-/31, 0.002% /8-/15.
uint8_t random_mix_length(Rng& rng);

// random_unicast() masked to random_mix_length() (duplicates possible).
V4Pfx random_mix_prefix(Rng& rng);

// The policy model's prefix for addr (host order) / len.
Prefix to_prefix(uint32_t addr, uint8_t len);

// "a.b.c.d/len".
std::string v4_text(uint32_t addr, unsigned len);
// "a.b.c.d".
std::string v4_addr_text(uint32_t addr);

// Table room a set of 1M prefixes of the mix needs in the xdpfw object:
// about half are /32s (host routes) and ~3% are /25-/31 (a chunk per /24
// block holding them; 30,195 of them in the benchmarks' 1M set).
constexpr uint32_t kMix1MHostRoutes = 600000;
constexpr uint32_t kMix1MChunks = 40960;

} // namespace xdpfw::bench
