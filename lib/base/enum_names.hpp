// SPDX-License-Identifier: GPL-2.0-only
// A constant table of an enum's values and their names, both ways (the
// control protocol's commands and error codes use one each).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace xdpfw {

// entries lists every value of E exactly once, in declaration order, values
// 0..N-1; in_order() lets the table's owner static_assert that.
template <typename E, size_t N>
struct EnumNames {
    std::array<std::pair<E, std::string_view>, N> entries;

    constexpr bool in_order() const
    {
        for (size_t i = 0; i < N; ++i)
            if (size_t(entries[i].first) != i)
                return false;
        return true;
    }

    constexpr std::array<E, N> values() const
    {
        std::array<E, N> out{};
        for (size_t i = 0; i < N; ++i)
            out[i] = entries[i].first;
        return out;
    }

    // fallback for a value outside the enum (a cast from a bad integer).
    constexpr std::string_view name(E value, std::string_view fallback) const
    {
        const auto i = size_t(value);
        return i < N ? entries[i].second : fallback;
    }

    constexpr std::optional<E> find(std::string_view name) const
    {
        for (const auto& [value, n] : entries)
            if (n == name)
                return value;
        return std::nullopt;
    }
};

} // namespace xdpfw
