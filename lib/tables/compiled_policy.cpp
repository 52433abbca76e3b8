// SPDX-License-Identifier: GPL-2.0-only
// Address table lookups: the C++ side of the DIR-24 + host table walk and
// the IPv6 longest-prefix probe the XDP program does; bitmap references.
#include "lib/tables/compiled_policy.hpp"

#include <algorithm>

namespace xdpfw {

uint32_t CompiledPolicy::bitmap_ref(uint32_t index) const
{
    if (index >= bitmaps.size()) // no rules: no bitmap, and no word is read
        return xdpfw_ref(index, 0);
    const std::vector<uint64_t>& b = bitmaps[index];
    const auto first = std::find_if(b.begin(), b.end(), [](uint64_t w) { return w != 0; });
    return xdpfw_ref(index, first == b.end() ? XDPFW_REF_HINT_MAX : uint32_t(first - b.begin()));
}

std::vector<uint32_t> CompiledPolicy::bitmap_refs() const
{
    std::vector<uint32_t> refs(bitmaps.size());
    for (uint32_t i = 0; i < refs.size(); ++i)
        refs[i] = bitmap_ref(i);
    return refs;
}

std::optional<size_t> V4Table::find_host(uint32_t addr) const
{
    const size_t b = size_t{xdpfw_host_bucket(addr, host_buckets)} * XDPFW_BLOCK_SLOTS;
    for (size_t k = 0; k < XDPFW_HOST_SLOTS; ++k)
        if (hosts[b + 2 * k] == addr && (hosts[b + 2 * k + 1] & XDPFW_HOST_VALID))
            return b + 2 * k;
    return std::nullopt;
}

uint32_t V4Table::lookup(uint32_t addr) const
{
    if (tbl24.empty())
        return 0;
    uint32_t e = tbl24[addr >> 8];
    uint32_t value = e & XDPFW_TBL24_VALUE_MASK;
    switch (e >> XDPFW_TBL24_KIND_SHIFT) {
    case XDPFW_TBL24_CHUNK: return chunks[size_t{value} * XDPFW_CHUNK_SLOTS + (addr & 0xff)];
    case XDPFW_TBL24_HOSTS: {
        const auto at = find_host(addr);
        return at ? hosts[*at + 1] & XDPFW_TBL24_VALUE_MASK : value;
    }
    default: return value;
    }
}

std::array<uint8_t, 16> v6_masked(const std::array<uint8_t, 16>& a, unsigned len)
{
    std::array<uint8_t, 16> out{};
    for (unsigned i = 0; i < 16; ++i) {
        if (len >= 8 * (i + 1))
            out[i] = a[i];
        else if (len > 8 * i)
            out[i] = static_cast<uint8_t>(a[i] & (0xff << (8 - (len - 8 * i))));
    }
    return out;
}

size_t V6Table::size() const
{
    size_t n = 0;
    for (const auto& [len, m] : by_len)
        n += m.size();
    return n;
}

uint32_t V6Table::lookup(const std::array<uint8_t, 16>& addr) const
{
    for (const auto& [len, m] : by_len) {
        auto it = m.find(v6_masked(addr, len));
        if (it != m.end())
            return it->second;
    }
    return 0;
}

} // namespace xdpfw
