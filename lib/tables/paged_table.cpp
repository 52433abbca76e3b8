// SPDX-License-Identifier: GPL-2.0-only
// PagedTable: building, copy-on-write writes, growth and flattening.
#include "lib/tables/paged_table.hpp"

#include <algorithm>

namespace xdpfw {

PagedTable::PagedTable(const std::vector<uint32_t>& flat) : size_(flat.size())
{
    std::unordered_map<uint32_t, std::shared_ptr<Page>> uniform;
    pages_.reserve((flat.size() + page_slots - 1) / page_slots);
    for (size_t at = 0; at < flat.size(); at += page_slots) {
        const size_t n = std::min(page_slots, flat.size() - at);
        const uint32_t first = flat[at];
        const bool same = n == page_slots &&
                          std::all_of(flat.begin() + at, flat.begin() + at + n,
                                      [first](uint32_t v) { return v == first; });
        if (same) {
            auto& page = uniform[first];
            if (!page) {
                page = std::make_shared<Page>();
                page->fill(first);
            }
            pages_.push_back(page);
            continue;
        }
        auto page = std::make_shared<Page>();
        std::copy_n(flat.begin() + at, n, page->begin());
        std::fill(page->begin() + n, page->end(), 0);
        pages_.push_back(std::move(page));
    }
}

PagedTable PagedTable::uniform(size_t n, uint32_t value)
{
    PagedTable t;
    auto page = std::make_shared<Page>();
    page->fill(value);
    t.pages_.assign((n + page_slots - 1) / page_slots, page);
    t.size_ = n;
    return t;
}

uint32_t& PagedTable::mut(size_t i)
{
    auto& page = pages_[i / page_slots];
    if (page.use_count() > 1)
        page = std::make_shared<Page>(*page);
    return (*page)[i % page_slots];
}

void PagedTable::resize(size_t n, uint32_t fill)
{
    size_t old = size_;
    pages_.resize((n + page_slots - 1) / page_slots);
    for (auto& page : pages_)
        if (!page)
            page = std::make_shared<Page>();
    size_ = n;
    for (size_t i = old; i < n; ++i)
        mut(i) = fill;
}

void PagedTable::append(size_t n, uint32_t v)
{
    while (n) {
        const size_t off = size_ % page_slots;
        if (off == 0 && n >= page_slots) {
            auto& page = uniform_[v];
            if (!page) {
                page = std::make_shared<Page>();
                page->fill(v);
            }
            const size_t k = n / page_slots;
            pages_.insert(pages_.end(), k, page);
            size_ += k * page_slots;
            n -= k * page_slots;
            continue;
        }
        if (off == 0)
            pages_.push_back(std::make_shared<Page>());
        else if (pages_.back().use_count() > 1)
            pages_.back() = std::make_shared<Page>(*pages_.back());
        const size_t m = std::min(n, page_slots - off);
        std::fill_n(pages_.back()->begin() + ptrdiff_t(off), m, v);
        size_ += m;
        n -= m;
    }
}

std::vector<uint32_t> PagedTable::flat() const
{
    std::vector<uint32_t> out;
    out.reserve(size_);
    for (size_t at = 0; at < size_; at += page_slots) {
        const Page& page = *pages_[at / page_slots];
        out.insert(out.end(), page.begin(), page.begin() + std::min(page_slots, size_ - at));
    }
    return out;
}

} // namespace xdpfw
