// SPDX-License-Identifier: GPL-2.0-only
// The bitmap pool: each distinct rule bitmap is stored once and referred to
// by index from every table slot that admits exactly those rules.
#include "lib/compiler/detail.hpp"

#include <algorithm>
#include <string>

namespace xdpfw::detail {

size_t BitsHash::operator()(const Bits& b) const
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ b.size();
    for (uint64_t w : b) {
        h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdULL;
    }
    // fmix64: the pool indexes by the low bits.
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return static_cast<size_t>(h);
}

void BitmapPool::reserve(size_t n)
{
    while (slots_.size() < 2 * n)
        grow();
}

void BitmapPool::grow()
{
    std::vector<uint32_t> bigger(std::max<size_t>(64, slots_.size() * 2), 0);
    const size_t mask = bigger.size() - 1;
    for (uint32_t id = 0; id < out_.size(); ++id) {
        size_t i = BitsHash{}(out_[id]) & mask;
        while (bigger[i])
            i = (i + 1) & mask;
        bigger[i] = id + 1;
    }
    slots_ = std::move(bigger);
}

uint32_t BitmapPool::intern(const Bits& b)
{
    if ((out_.size() + 1) * 2 > slots_.size())
        grow();
    const size_t mask = slots_.size() - 1;
    size_t i = BitsHash{}(b) & mask;
    for (; slots_[i]; i = (i + 1) & mask)
        if (out_[slots_[i] - 1] == b)
            return slots_[i] - 1;
    if (out_.size() >= capacity_)
        throw CapacityError("policy", "",
                            "too many distinct rule bitmaps (more than max_bitmaps=" +
                                std::to_string(capacity_) +
                                "); the rules combine field values in too many ways");
    auto id = static_cast<uint32_t>(out_.size());
    out_.push_back(b);
    slots_[i] = id + 1;
    return id;
}

} // namespace xdpfw::detail
