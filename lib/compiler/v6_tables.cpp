// SPDX-License-Identifier: GPL-2.0-only
// IPv6 address tables: each distinct prefix gets the class of its own atoms
// merged with those of its closest enclosing prefix.
#include "lib/compiler/addr_detail.hpp"

#include <algorithm>

namespace xdpfw::detail {

namespace {

// True if prefix (a, alen) contains address b (both IPv6, network order).
bool v6_contains(const std::array<uint8_t, 16>& a, unsigned alen, const std::array<uint8_t, 16>& b)
{
    unsigned full = alen / 8;
    if (!std::equal(a.begin(), a.begin() + full, b.begin()))
        return false;
    unsigned rest = alen % 8;
    if (!rest)
        return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (b[full] & mask) == a[full];
}

} // namespace

void build_v6(std::vector<V6Item>& items, ClassBuilder& cb, const std::vector<AtomLabel>& names,
              const Capacities& caps, const std::string& key, V6Table& out)
{
    std::sort(items.begin(), items.end());
    struct Open {
        std::array<uint8_t, 16> addr;
        uint8_t len;
        uint32_t cls;
    };
    std::vector<Open> stack;
    std::vector<uint32_t> own_atoms;
    size_t n = 0;
    out.by_len.clear();
    for (size_t i = 0; i < items.size();) {
        size_t j = i;
        own_atoms.clear();
        for (; j < items.size() && items[j].addr == items[i].addr && items[j].len == items[i].len;
             ++j)
            if (own_atoms.empty() || own_atoms.back() != items[j].atom)
                own_atoms.push_back(items[j].atom);
        const auto& addr = items[i].addr;
        while (!stack.empty() && !v6_contains(stack.back().addr, stack.back().len, addr))
            stack.pop_back();
        uint32_t own = cb.own(own_atoms);
        if (++n > caps.max_v6_prefixes)
            throw CapacityError(atom_names(cb, names, own), key,
                                "more than max_v6_prefixes=" +
                                    std::to_string(caps.max_v6_prefixes) +
                                    " distinct IPv6 prefixes");
        uint32_t cls = cb.child(stack.empty() ? 0 : stack.back().cls, own);
        auto& level = out.by_len[items[i].len];
        level.emplace_hint(level.end(), addr, cls);
        stack.push_back({addr, items[i].len, cls});
        i = j;
    }
}

} // namespace xdpfw::detail
