// SPDX-License-Identifier: GPL-2.0-only
// Hash64: a 64-bit content hash (not cryptographic) fed 8 bytes at a time,
// for telling whether two things that should be equal are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace xdpfw {

class Hash64 {
public:
    // Bytes in 8-byte words (the last one zero-padded) and their count, so
    // "ab" + "c" and "a" + "bc" differ.
    Hash64& bytes(const void* data, size_t n)
    {
        const auto* p = static_cast<const unsigned char*>(data);
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            std::memcpy(&w, p + i, 8);
            word(w);
        }
        if (i < n) {
            uint64_t w = 0;
            std::memcpy(&w, p + i, n - i);
            word(w);
        }
        return word(n);
    }
    Hash64& text(std::string_view s) { return bytes(s.data(), s.size()); }
    // A value whose bytes are all of it (no padding: equal values hash alike).
    template <typename T> Hash64& value(const T& v)
    {
        static_assert(std::has_unique_object_representations_v<T>);
        return bytes(&v, sizeof v);
    }
    Hash64& word(uint64_t w)
    {
        w *= 0x87c37b91114253d5ull;
        w = (w << 31) | (w >> 33);
        w *= 0x4cf5ad432745937full;
        h_ ^= w;
        h_ = ((h_ << 27) | (h_ >> 37)) * 5 + 0x52dce729;
        return *this;
    }
    // Finalised (avalanched) value.
    uint64_t digest() const
    {
        uint64_t h = h_;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 33;
        return h;
    }

private:
    uint64_t h_ = 0x9e3779b97f4a7c15ull;
};

} // namespace xdpfw
