// SPDX-License-Identifier: GPL-2.0-only
// TableSlots: the pages of xdpfw_tables, made per commit, found again by identity.
#include "lib/kernel/table_slots.hpp"

#include "lib/model/policy.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace xdpfw {

namespace {

constexpr uint32_t parts_per_kpage = XDPFW_KPAGE_SLOTS / PagedTable::page_slots;
static_assert(XDPFW_KPAGE_SLOTS % PagedTable::page_slots == 0);
constexpr size_t page_bytes = sizeof(xdpfw_kpage);
static_assert(page_bytes == size_t{XDPFW_KPAGE_SLOTS} * 4);

UniqueFd open_id(uint32_t id)
{
    return UniqueFd(id ? bpf_map_get_fd_by_id(id) : -1);
}

uint32_t map_id(int fd)
{
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len))
        throw BpfError(errno, "read info of a table page");
    return info.id;
}

} // namespace

// A writable mapping of one page (BPF_F_MMAPABLE). IPv4 pages are mapped
// only while they are written, so the daemon's RSS does not carry them.
class TableSlots::Mapping {
public:
    explicit Mapping(int fd)
    {
        void* p = mmap(nullptr, page_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            throw BpfError(errno, "mmap a table page");
        base_ = p;
    }
    ~Mapping() { munmap(base_, page_bytes); }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    template <typename T> T* as() const { return static_cast<T*>(base_); }

private:
    void* base_ = nullptr;
};

UniqueFd create_page_map(const char* name)
{
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
    UniqueFd fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, name, 4, page_bytes, 1, &opts));
    if (fd.get() < 0)
        throw BpfError(errno, fmt::format("create table page {}", name));
    return fd;
}

TableSlots::TableSlots(int outer_fd, TableLayout layout) : outer_(outer_fd), layout_(layout)
{
    read_slots();
}

TableSlots::~TableSlots() = default;

void TableSlots::read_slots()
{
    slot_id_.assign(layout_.slots, 0);
    for (uint32_t k = 0; k < slot_id_.size(); k++) {
        uint32_t id = 0;
        if (bpf_map_lookup_elem(outer_, &k, &id) == 0)
            slot_id_[k] = id;
        else if (errno != ENOENT)
            throw BpfError(errno, fmt::format("read xdpfw_tables[{}]", k));
    }
}

uint32_t TableSlots::table_slot(uint32_t gen, uint32_t dir, uint32_t part, uint32_t page) const
{
    return xdpfw_table_slot(gen, dir, part, page, layout_.bitmap_pages, layout_.chunk_pages,
                            layout_.host_pages);
}

void TableSlots::stage(uint32_t slot, UniqueFd fd, uint32_t id)
{
    staged_.push_back(Staged{slot, std::move(fd), id});
}

void TableSlots::release(uint32_t slot)
{
    if (!slot_id_[slot] || slot_id_[slot] == empty_id_)
        return;
    UniqueFd fd = open_id(empty_id_);
    if (fd.get() < 0) {
        fd = create_page_map("xdpfw_nopage");
        empty_id_ = map_id(fd.get());
    }
    stage(slot, std::move(fd), empty_id_);
}

// Page `page` of generation gen's bitmaps, mapped: the map the slot holds
// when this object mapped it (or an earlier process left it there: bitmap
// pages are rewritten whole), else a new one, staged.
TableSlots::BitmapPage& TableSlots::bitmap_page(uint32_t gen, uint32_t page)
{
    const uint32_t slot = xdpfw_bitmap_slot(gen, page);
    auto& pages = bitmaps_[gen & 1];
    if (pages.size() <= page)
        pages.resize(page + 1);
    BitmapPage& bp = pages[page];
    if (bp.view && bp.id == slot_id_[slot])
        return bp;
    UniqueFd fd = slot_id_[slot] != empty_id_ ? open_id(slot_id_[slot]) : UniqueFd();
    const bool fresh = fd.get() < 0;
    if (fresh)
        fd = create_page_map("xdpfw_bitmaps");
    bp.view = std::make_unique<Mapping>(fd.get());
    bp.id = map_id(fd.get());
    if (fresh)
        stage(slot, std::move(fd), bp.id);
    return bp;
}

void TableSlots::write_bitmaps(uint32_t gen, const CompiledPolicy& p, uint32_t stride)
{
    // The policy's bitmap words, laid out as the program reads them (abi.h).
    std::vector<uint64_t> words(size_t{stride} * p.bitmaps.size(), 0);
    for (size_t b = 0; b < p.bitmaps.size(); b++) {
        uint64_t* out = words.data() + b * stride;
        const auto& src = p.bitmaps[b];
        for (size_t w = 0; w < src.size() && w < p.n_words; w++) {
            out[p.n_summary + w] = src[w];
            if (src[w])
                out[w / 64] |= 1ull << (w % 64);
        }
    }
    const uint32_t used = static_cast<uint32_t>((words.size() + XDPFW_KPAGE_WORDS - 1) /
                                                XDPFW_KPAGE_WORDS);
    if (used > layout_.bitmap_pages)
        throw CapacityError("policy", "bitmap words",
                            fmt::format("needs {} pages, the loaded program has room for {}", used,
                                        layout_.bitmap_pages));
    for (uint32_t page = 0; page < used; page++) {
        const size_t at = size_t{page} * XDPFW_KPAGE_WORDS;
        const size_t n = std::min<size_t>(XDPFW_KPAGE_WORDS, words.size() - at);
        std::memcpy(bitmap_page(gen, page).view->as<uint64_t>(), words.data() + at, 8 * n);
    }
    for (uint32_t page = used; page < layout_.bitmap_pages; page++) {
        if (page < bitmaps_[gen & 1].size())
            bitmaps_[gen & 1][page] = BitmapPage{};
        release(xdpfw_bitmap_slot(gen, page));
    }
}

TableSlots::PageKey TableSlots::page_key(const PagedTable& t, uint32_t k)
{
    PageKey key;
    const size_t first = size_t{k} * parts_per_kpage;
    const size_t last = std::min(first + parts_per_kpage, t.pages().size());
    for (size_t i = first; i < last; i++)
        key.parts.push_back(t.pages()[i].get());
    key.slots = std::min<size_t>(XDPFW_KPAGE_SLOTS, t.size() - size_t{k} * XDPFW_KPAGE_SLOTS);
    return key;
}

uint32_t TableSlots::create_page(const PagedTable& t, uint32_t k, PageKey key)
{
    const size_t first = size_t{k} * parts_per_kpage;
    CachedPage page;
    page.fd = create_page_map("xdpfw_page");
    // Assembled in a buffer and written with one update: mapping the new
    // map, filling it and unmapping it cost about 1.6 times as much here
    // (page faults, and a TLB flush at the unmap).
    page_buf_.resize(XDPFW_KPAGE_SLOTS);
    size_t filled = 0;
    for (size_t i = first; i < first + key.parts.size(); i++) {
        const size_t at = (i - first) * PagedTable::page_slots;
        const size_t n = std::min(PagedTable::page_slots, key.slots - at);
        std::memcpy(page_buf_.data() + at, t.pages()[i]->data(), 4 * n);
        filled = at + n;
        page.parts.push_back(t.pages()[i]);
    }
    std::fill(page_buf_.begin() + filled, page_buf_.end(), 0u);
    const uint32_t zero = 0;
    if (bpf_map_update_elem(page.fd.get(), &zero, page_buf_.data(), BPF_ANY))
        throw BpfError(errno, "write a table page");
    page.id = map_id(page.fd.get());
    const uint32_t id = page.id;
    fresh_.emplace(std::move(key), std::move(page));
    return id;
}

void TableSlots::stage_part(uint32_t gen, uint32_t dir, uint32_t part, const PagedTable& t,
                            uint32_t region_pages)
{
    const uint32_t used = std::min<uint32_t>(xdpfw_kpages(t.size()), region_pages);
    for (uint32_t k = 0; k < region_pages; k++) {
        const uint32_t slot = table_slot(gen, dir, part, k);
        if (k >= used) {
            release(slot); // not read by the program
            continue;
        }
        PageKey key = page_key(t, k);
        if (auto it = fresh_.find(key); it != fresh_.end()) {
            if (it->second.id != slot_id_[slot])
                stage(slot, open_id(it->second.id), it->second.id);
            continue;
        }
        if (auto it = cache_.find(key); it != cache_.end()) {
            if (it->second.id == slot_id_[slot])
                continue; // the slot holds this page already
            if (UniqueFd fd = open_id(it->second.id); fd.get() >= 0) {
                stage(slot, std::move(fd), it->second.id);
                continue;
            }
            cache_.erase(it); // freed since: make it again
        }
        const uint32_t id = create_page(t, k, std::move(key));
        stage(slot, open_id(id), id);
    }
}

void TableSlots::stage_v4(uint32_t gen, uint32_t dir, const V4Table& t)
{
    static const PagedTable none;
    const bool empty = t.tbl24.empty();
    stage_part(gen, dir, XDPFW_V4_TOP, empty ? none : t.tbl24, XDPFW_TOP_PAGES);
    stage_part(gen, dir, XDPFW_V4_CHUNKS, empty ? none : t.chunks, layout_.chunk_pages);
    stage_part(gen, dir, XDPFW_V4_HOSTS, empty ? none : t.hosts, layout_.host_pages);
}

void TableSlots::publish()
{
    if (!staged_.empty()) {
        std::vector<uint32_t> keys, fds;
        for (const auto& s : staged_) {
            keys.push_back(s.slot);
            fds.push_back(static_cast<uint32_t>(s.fd.get()));
        }
        uint32_t n = static_cast<uint32_t>(keys.size());
        LIBBPF_OPTS(bpf_map_batch_opts, opts);
        if (bpf_map_update_batch(outer_, keys.data(), fds.data(), &n, &opts)) {
            const int err = errno;
            discard();
            read_slots();
            throw BpfError(err, fmt::format("publish {} table pages", keys.size()));
        }
        for (const auto& s : staged_)
            slot_id_[s.slot] = s.id;
    }
    for (auto& [key, page] : fresh_) {
        page.fd = UniqueFd(); // the slots hold it now
        cache_.insert_or_assign(key, std::move(page));
    }
    fresh_.clear();
    staged_.clear();
}

void TableSlots::discard()
{
    staged_.clear();
    fresh_.clear();
}

// Stages slot `to` to hold what slot `from` holds (nothing: the empty page).
void TableSlots::share(uint32_t from, uint32_t to)
{
    const uint32_t id = slot_id_[from];
    if (slot_id_[to] == id || !slot_id_[to])
        return;
    if (!id || id == empty_id_)
        return release(to);
    UniqueFd fd = open_id(id);
    if (fd.get() < 0)
        throw BpfError(errno, fmt::format("open table page id {}", id));
    stage(to, std::move(fd), id);
}

void TableSlots::collapse(uint32_t retired, uint32_t live)
{
    const uint32_t region_pages[] = {XDPFW_TOP_PAGES, layout_.chunk_pages, layout_.host_pages};
    for (uint32_t dir = 0; dir < XDPFW_DIRECTIONS; dir++)
        for (uint32_t part : {XDPFW_V4_TOP, XDPFW_V4_CHUNKS, XDPFW_V4_HOSTS})
            for (uint32_t k = 0; k < region_pages[part]; k++)
                share(table_slot(live, dir, part, k), table_slot(retired, dir, part, k));
    publish();
    std::set<uint32_t> held(slot_id_.begin(), slot_id_.end());
    std::erase_if(cache_, [&](const auto& e) { return !held.count(e.second.id); });
}

} // namespace xdpfw
