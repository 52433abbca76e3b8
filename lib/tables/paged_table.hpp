// SPDX-License-Identifier: GPL-2.0-only
// PagedTable: a u32 array in copy-on-write pages, so compiles share the
// unchanged parts of the large address tables and the map writer skips them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace xdpfw {

// A table of u32 in copy-on-write pages of 4096 entries (16 KiB). Copies
// share pages; writing through mut() copies a shared page first. So a
// compile that changes a few entries of the 64 MiB DIR-24 table copies a few
// pages, and the map writer rewrites only the pages that are not the very
// ones a generation already holds. Pages of one repeated value are shared.
class PagedTable {
public:
    static constexpr size_t page_slots = 4096;
    using Page = std::array<uint32_t, page_slots>;

    PagedTable() = default;
    explicit PagedTable(const std::vector<uint32_t>& flat);
    // n entries of one value, sharing one page.
    static PagedTable uniform(size_t n, uint32_t value);

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    uint32_t operator[](size_t i) const { return (*pages_[i / page_slots])[i % page_slots]; }
    // Entry i for writing (i < size()); the page is copied if shared.
    uint32_t& mut(size_t i);
    // Grows with entries of value `fill`, or shrinks.
    void resize(size_t n, uint32_t fill);
    // Appends n entries of value v; whole pages of it share one page.
    void append(size_t n, uint32_t v);
    const std::vector<std::shared_ptr<Page>>& pages() const { return pages_; }
    std::vector<uint32_t> flat() const;

private:
    std::vector<std::shared_ptr<Page>> pages_;
    size_t size_ = 0;
    std::unordered_map<uint32_t, std::shared_ptr<Page>> uniform_; // append()'s shared pages
};

} // namespace xdpfw
