// SPDX-License-Identifier: GPL-2.0-only
// The pages of xdpfw_tables (abi.h): the rule bitmaps of each generation and
// the IPv4 tables, in 256 KiB inner maps created as the policy needs them,
// so kernel memory follows the policy instead of the configured maxima.
#pragma once

#include "lib/base/unique_fd.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/tables/compiled_policy.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace xdpfw {

// Keeps the slots of xdpfw_tables. A commit writes the inactive
// generation's bitmap pages (in place; new pages only when the bitmaps
// grow) and stages its IPv4 pages; publish() puts every changed slot in
// with one batched update (the kernel waits for one RCU grace period after
// an update of a map-in-map, so a commit that changes no slot pays none).
// IPv4 pages are immutable once published and found again by the identity
// of their PagedTable pages: a page both generations hold is one map, and a
// commit that changes a few prefixes creates a few pages. After the switch
// has settled, collapse() points the retired generation's IPv4 slots at the
// live pages, so at rest the IPv4 tables exist once.
//
// Not thread-safe: PolicyMaps calls collapse() from its settling task and
// everything else only after joining that task.
class TableSlots {
public:
    // outer_fd: xdpfw_tables. Reads which map each slot holds now (maps an
    // earlier process published are reused only as bitmap pages, which are
    // rewritten whole; IPv4 pages are never trusted to hold a given page).
    TableSlots(int outer_fd, TableLayout layout);
    ~TableSlots();
    TableSlots(const TableSlots&) = delete;
    TableSlots& operator=(const TableSlots&) = delete;

    // The bitmaps of p into generation gen's bitmap pages (the generation
    // must not be live); missing pages are created and staged.
    void write_bitmaps(uint32_t gen, const CompiledPolicy& p, uint32_t stride);
    // Stages the pages of one direction's IPv4 table for generation gen; an
    // empty table (t.tbl24 empty) releases whatever pages the slots held.
    void stage_v4(uint32_t gen, uint32_t dir, const V4Table& t);
    // Writes the staged slots (BpfError on failure: the staged generation's
    // slots are then re-read, which is harmless while it is not live).
    void publish();
    // Drops what was staged and not published.
    void discard();
    // After a grace period since `live` became live: the retired
    // generation's IPv4 slots take the live ones' maps; pages no slot holds
    // are forgotten (the kernel frees them with their last reference).
    void collapse(uint32_t retired, uint32_t live);

private:
    class Mapping;
    struct PageKey {
        std::vector<const PagedTable::Page*> parts;
        size_t slots;
        auto operator<=>(const PageKey&) const = default;
    };
    struct CachedPage {
        std::vector<std::shared_ptr<PagedTable::Page>> parts; // keeps the identity valid
        uint32_t id = 0;
        UniqueFd fd; // until published: nothing else holds the map
    };
    struct BitmapPage {
        uint32_t id = 0;
        std::unique_ptr<Mapping> view; // kept: a commit touches no new page of it
    };
    struct Staged {
        uint32_t slot;
        UniqueFd fd;
        uint32_t id;
    };

    // Kernel page k of t is PagedTable pages [16k, 16k + 16) of t.
    std::vector<uint32_t> page_buf_; // create_page()'s kernel page, assembled
    static PageKey page_key(const PagedTable& t, uint32_t k);
    // Creates and writes the map of kernel page k (cached once published).
    uint32_t create_page(const PagedTable& t, uint32_t k, PageKey key);
    void stage_part(uint32_t gen, uint32_t dir, uint32_t part, const PagedTable& t,
                    uint32_t region_pages);
    // Stages the shared empty page into a slot that holds something else.
    void release(uint32_t slot);
    void share(uint32_t from, uint32_t to);
    BitmapPage& bitmap_page(uint32_t gen, uint32_t page);
    void stage(uint32_t slot, UniqueFd fd, uint32_t id);
    void read_slots();
    uint32_t table_slot(uint32_t gen, uint32_t dir, uint32_t part, uint32_t page) const;

    int outer_;
    TableLayout layout_;
    std::vector<uint32_t> slot_id_; // inner map id per slot, 0: empty
    std::map<PageKey, CachedPage> cache_;
    std::map<PageKey, CachedPage> fresh_; // created, not yet published
    std::vector<Staged> staged_;
    uint32_t empty_id_ = 0;
    std::vector<BitmapPage> bitmaps_[XDPFW_GENERATIONS];
};

// A page for xdpfw_tables: an array of one xdpfw_kpage (abi.h; BpfError).
UniqueFd create_page_map(const char* name);

} // namespace xdpfw
