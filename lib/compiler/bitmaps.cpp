// SPDX-License-Identifier: GPL-2.0-only
// The bitmap pool: each distinct rule bitmap is stored once and referred to
// by index from every table slot that admits exactly those rules.
#include "lib/compiler/detail.hpp"

#include <string>

namespace xdpfw::detail {

size_t BitsHash::operator()(const Bits& b) const
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ b.size();
    for (uint64_t w : b) {
        h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdULL;
    }
    return static_cast<size_t>(h ^ (h >> 33));
}

uint32_t BitmapPool::intern(const Bits& b)
{
    auto it = index_.find(b);
    if (it != index_.end())
        return it->second;
    if (out_.size() >= capacity_)
        throw CapacityError("policy", "",
                            "too many distinct rule bitmaps (more than max_bitmaps=" +
                                std::to_string(capacity_) +
                                "); the rules combine field values in too many ways");
    auto id = static_cast<uint32_t>(out_.size());
    out_.push_back(b);
    index_.emplace(b, id);
    return id;
}

} // namespace xdpfw::detail
