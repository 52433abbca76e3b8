// SPDX-License-Identifier: GPL-2.0-only
// The benchmarks' prefix mix (see the header).
#include "bench/common/prefix_mix.hpp"

#include <fmt/format.h>

namespace xdpfw::bench {

namespace {

// Share of each prefix length, in parts per million; docs/BENCHMARKS.md shows
// the same table.
struct LengthShare {
    uint8_t lo, hi; // lengths drawn uniformly in lo..hi
    uint32_t ppm;
};
constexpr LengthShare kMix[] = {
    {32, 32, 500000}, {24, 24, 350000}, {23, 23, 35000}, {22, 22, 30000},
    {21, 21, 20000},  {20, 20, 15000},  {19, 19, 10000}, {18, 18, 5000},
    {17, 17, 3000},   {16, 16, 2000},   {25, 31, 29980}, {8, 15, 20},
};
constexpr uint32_t mix_total()
{
    uint32_t t = 0;
    for (const auto& m : kMix)
        t += m.ppm;
    return t;
}
static_assert(mix_total() == 1000000, "the prefix mix must add up to one million ppm");

} // namespace

Prefix to_prefix(uint32_t addr, uint8_t len)
{
    Prefix p;
    p.family = Family::ipv4;
    p.len = len;
    p.addr = {static_cast<uint8_t>(addr >> 24), static_cast<uint8_t>(addr >> 16),
              static_cast<uint8_t>(addr >> 8), static_cast<uint8_t>(addr)};
    return p;
}

uint32_t random_unicast(Rng& rng)
{
    return static_cast<uint32_t>(((1 + rng.below(223)) << 24) | rng.below(1u << 24));
}

uint8_t random_mix_length(Rng& rng)
{
    uint32_t pick = static_cast<uint32_t>(rng.below(mix_total()));
    const LengthShare* share = &kMix[0];
    for (const auto& m : kMix) {
        share = &m;
        if (pick < m.ppm)
            break;
        pick -= m.ppm;
    }
    return static_cast<uint8_t>(share->lo + rng.below(share->hi - share->lo + 1u));
}

V4Pfx random_mix_prefix(Rng& rng)
{
    // The same draw order as the micro benchmark's original stream: length
    // first, then the address.
    const uint8_t len = random_mix_length(rng);
    return {random_unicast(rng) & v4_mask(len), len};
}

std::string v4_addr_text(uint32_t a)
{
    return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

std::string v4_text(uint32_t a, unsigned len)
{
    return fmt::format("{}/{}", v4_addr_text(a), len);
}

} // namespace xdpfw::bench
