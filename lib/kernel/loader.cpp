// SPDX-License-Identifier: GPL-2.0-only
// Opens, sizes and loads the xdpfw skeleton; checks map layouts against abi.h.
#include "lib/kernel/loader.hpp"

#include "lib/abi/abi_check.hpp"
#include "lib/base/proc.hpp"
#include "lib/base/unique_fd.hpp"
#include "lib/kernel/gen_program.hpp"
#include "lib/kernel/knobs.hpp"
#include "lib/kernel/log.hpp"
#include "xdpfw_bpf.skel.h"
#include "xdpfw_stages_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <optional>
#include <set>
#include <vector>

namespace xdpfw {

BpfError::BpfError(int err, const std::string& what, std::string verifier_log)
    : std::system_error(err, std::generic_category(),
                        verifier_log.empty() ? what : what + "\nverifier log:\n" + verifier_log),
      log_(std::move(verifier_log))
{
}

void XdpfwObject::Deleter::operator()(xdpfw_bpf* s) const
{
    xdpfw_bpf__destroy(s);
}

XdpfwObject::XdpfwObject(std::unique_ptr<xdpfw_bpf, Deleter> s, LoadOptions o)
    : skel_(std::move(s)), opts_(std::move(o))
{
}
XdpfwObject::XdpfwObject(XdpfwObject&&) noexcept = default;
XdpfwObject& XdpfwObject::operator=(XdpfwObject&&) noexcept = default;
XdpfwObject::~XdpfwObject() = default;

int XdpfwObject::prog_fd() const
{
    return stages_ ? bpf_program__fd(stages_->progs.xdpfw_main)
                   : bpf_program__fd(skel_->progs.xdpfw_main);
}

namespace {

void check(int err, const std::string& what)
{
    if (err)
        throw BpfError(err < 0 ? -err : err, what);
}

struct MapLayout {
    const char* name;
    size_t key, value; // 0: not checked
};

void check_layout(xdpfw_bpf* s)
{
    const MapLayout layouts[] = {
        {"xdpfw_ctrl", 4, sizeof(xdpfw_ctrl)},
        {"xdpfw_policy", 4, sizeof(xdpfw_policy_hdr)},
        {"xdpfw_scalars", 4, sizeof(xdpfw_scalar_table)},
        {"xdpfw_rules", 4, 0}, // one value of whole xdpfw_rules, sized at load
        {"xdpfw_addr_class", 4, 0}, // one value, sized at load
        {"xdpfw_tables", 4, 4},
        {"xdpfw_v6_prefixes", sizeof(xdpfw_v6_key), 4},
        {"xdpfw_iif", 4, sizeof(xdpfw_iif_table)},
        {"xdpfw_ifindex", sizeof(xdpfw_ifindex_key), 4},
        {"xdpfw_ether", sizeof(xdpfw_ether_key), 4},
        {"xdpfw_rule_counters", 4, 0}, // one value per CPU, sized at load
        {"xdpfw_reason_stats", 4, sizeof(xdpfw_counter)},
        {"xdpfw_tx_ports", 4, 4},
        {"xdpfw_xsks", 4, 4},
        {"xdpfw_xsk_ports", 4, 4},
        {"xdpfw_progs", 4, 4},
        {"xdpfw_ct", 4, 4},
        {"xdpfw_ct_stats", 4, 8},
        {"xdpfw_ct_info", 4, sizeof(xdpfw_ct_info)},
        {"xdpfw_ct_scratch", 4, 48},
        {"xdpfw_limits", 4, sizeof(xdpfw_limit)},
        {"xdpfw_limit_rule", 4, sizeof(xdpfw_bucket)},
        {"xdpfw_limit_keys", 4, 4},
        {"xdpfw_limit_scratch", 4, 24},
        {"xdpfw_syncookie_pass", 4, 8},
        {"xdpfw_sc_scratch", 4, 116},
    };
    for (const auto& l : layouts) {
        bpf_map* m = bpf_object__find_map_by_name(s->obj, l.name);
        if (!m)
            throw BpfError(ENOENT, fmt::format("map {} missing from the BPF object", l.name));
        if (bpf_map__key_size(m) != l.key || (l.value && bpf_map__value_size(m) != l.value))
            throw BpfError(EINVAL, fmt::format("map {}: key/value size {}/{} differs from abi.h {}/{}",
                                               l.name, bpf_map__key_size(m),
                                               bpf_map__value_size(m), l.key, l.value));
    }
}

// The kernel sets BPF_F_RDONLY_PROG on every devmap it creates (programs
// must not write through a lookup), so the pinned map's flags never equal
// the definition's, and libbpf before 1.3 refuses to reuse the pin
// ("parameter mismatch"): a restarted daemon could not adopt its pins. Such
// a pin is checked here, ignoring that flag, and reused by fd. Returns false
// when there is no pin yet (libbpf creates and pins the map).
bool reuse_pinned_devmap(bpf_map* m, const std::string& path)
{
    const UniqueFd fd(bpf_obj_get(path.c_str()));
    if (fd.get() < 0) {
        if (errno == ENOENT)
            return false;
        throw BpfError(errno, "open pinned map " + path);
    }
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (const int err = bpf_obj_get_info_by_fd(fd.get(), &info, &len) ? errno : 0)
        throw BpfError(err, "read info of pinned map " + path);
    if (info.type != uint32_t(bpf_map__type(m)) || info.key_size != bpf_map__key_size(m) ||
        info.value_size != bpf_map__value_size(m) ||
        info.max_entries != bpf_map__max_entries(m) ||
        (info.map_flags & ~uint32_t(BPF_F_RDONLY_PROG)) != bpf_map__map_flags(m))
        throw BpfError(EINVAL, fmt::format("pinned map {} (type {}, key/value {}/{}, {} entries, "
                                           "flags {:#x}) differs from the program's map",
                                           path, info.type, info.key_size, info.value_size,
                                           info.max_entries, info.map_flags));
    // libbpf keeps its own duplicate; ours closes when fd goes out of scope.
    check(bpf_map__reuse_fd(m, fd.get()), "reuse pinned map " + path);
    return true;
}

} // namespace

namespace {
struct VerifiedLoadState {
    std::vector<char> log = std::vector<char>(1 << 22);
    bpf_object_open_opts opts{};
    std::optional<LibbpfLogCapture> capture;
};
} // namespace

VerifiedLoad::VerifiedLoad()
{
    auto st = std::make_shared<VerifiedLoadState>();
    st->opts.sz = sizeof(st->opts);
    // With log level 0 libbpf loads without a log and retries with one into
    // this buffer only when the kernel refuses.
    st->opts.kernel_log_buf = st->log.data();
    st->opts.kernel_log_size = st->log.size();
    st->opts.kernel_log_level = 0;
    state_ = st;
}

const bpf_object_open_opts* VerifiedLoad::open_opts() const
{
    return &static_cast<VerifiedLoadState*>(state_.get())->opts;
}

void VerifiedLoad::begin_capture()
{
    static_cast<VerifiedLoadState*>(state_.get())->capture.emplace();
}

void VerifiedLoad::finish(int err, const std::string& what)
{
    auto* st = static_cast<VerifiedLoadState*>(state_.get());
    std::string captured = st->capture ? st->capture->text() : std::string();
    st->capture.reset();
    if (!err)
        return;
    std::string vlog(st->log.data(), strnlen(st->log.data(), st->log.size()));
    throw BpfError(err < 0 ? -err : err, what, vlog.empty() ? captured : vlog);
}

namespace {

// The maps a loaded program uses, by id.
std::vector<uint32_t> prog_map_ids(int prog_fd)
{
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
        throw BpfError(errno, "read program info");
    std::vector<uint32_t> ids(info.nr_map_ids);
    info = bpf_prog_info{};
    info.nr_map_ids = static_cast<uint32_t>(ids.size());
    info.map_ids = reinterpret_cast<uint64_t>(ids.data());
    len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
        throw BpfError(errno, "read program info");
    ids.resize(std::min<size_t>(ids.size(), info.nr_map_ids));
    return ids;
}

// id -> name of the xdpfw maps (not .rodata/.bss, which belong to one load)
// a program uses.
std::map<uint32_t, std::string> xdpfw_maps_of(int prog_fd)
{
    std::map<uint32_t, std::string> out;
    for (uint32_t id : prog_map_ids(prog_fd)) {
        const UniqueFd fd(bpf_map_get_fd_by_id(id));
        if (fd.get() < 0)
            throw BpfError(errno, fmt::format("open map id {}", id));
        bpf_map_info mi{};
        uint32_t len = sizeof(mi);
        if (const int err = bpf_obj_get_info_by_fd(fd.get(), &mi, &len) ? errno : 0)
            throw BpfError(err, fmt::format("read info of map id {}", id));
        const std::string name = mi.name;
        // xdpfw_progs only routes the specialised tier to the general
        // program: not a table either reads.
        if (name.rfind("xdpfw_", 0) == 0 && name.find('.') == std::string::npos &&
            name != "xdpfw_progs")
            out.emplace(id, name);
    }
    return out;
}

} // namespace

uint64_t XdpfwObject::map_bytes() const
{
    uint64_t total = 0;
    const bpf_map* map;
    bpf_object__for_each_map(map, skel_->obj)
    {
        const int fd = bpf_map__fd(map);
        if (fd >= 0)
            total += bpf_map_memlock_bytes(fd).value_or(0);
    }
    // The inner maps of xdpfw_tables (the policy's bitmaps and IPv4 pages),
    // each once however many slots share it.
    const int outer = bpf_map__fd(skel_->maps.xdpfw_tables);
    std::set<uint32_t> ids;
    for (uint32_t k = 0; k < bpf_map__max_entries(skel_->maps.xdpfw_tables); k++) {
        uint32_t id = 0;
        if (bpf_map_lookup_elem(outer, &k, &id) == 0 && id)
            ids.insert(id);
    }
    // The flow table (inner map of xdpfw_ct), once a policy used ct=, and
    // the address buckets of limits (xdpfw_limit_keys), once one had per=.
    const uint32_t zero = 0;
    for (const bpf_map* outer : {skel_->maps.xdpfw_ct, skel_->maps.xdpfw_limit_keys}) {
        uint32_t id = 0;
        if (bpf_map_lookup_elem(bpf_map__fd(outer), &zero, &id) == 0 && id)
            ids.insert(id);
    }
    for (uint32_t id : ids) {
        const UniqueFd fd(bpf_map_get_fd_by_id(id));
        if (fd.get() >= 0)
            total += bpf_map_memlock_bytes(fd.get()).value_or(0);
    }
    return total;
}

std::string XdpfwObject::program_mismatch(int other_fd) const
{
    // This object's maps (what any build of the program here may use: the
    // general program all of them, the specialised tier's a subset).
    std::map<uint32_t, std::string> mine;
    const bpf_map* map;
    bpf_object__for_each_map(map, skel_->obj)
    {
        const std::string name = bpf_map__name(map);
        bpf_map_info mi{};
        uint32_t len = sizeof(mi);
        if (name.find('.') == std::string::npos && name != "xdpfw_progs" &&
            bpf_obj_get_info_by_fd(bpf_map__fd(map), &mi, &len) == 0)
            mine.emplace(mi.id, name);
    }
    // The maps every build reads: a program without one of them does not
    // read the policy this object writes.
    static constexpr const char* kCore[] = {"xdpfw_ctrl", "xdpfw_policy", "xdpfw_tables",
                                            "xdpfw_rule_counters", "xdpfw_reason_stats"};
    auto theirs = xdpfw_maps_of(other_fd);
    // A generated program (gen_program.hpp) has maps of its own, and reads
    // no table but through its fallback.
    bool generated = false;
    for (auto it = theirs.begin(); it != theirs.end();)
        if (it->second.rfind(kGeneratedMapPrefix, 0) == 0) {
            generated = true;
            it = theirs.erase(it);
        } else {
            ++it;
        }
    std::vector<std::string> problems;
    for (const auto& [id, name] : theirs)
        if (!mine.count(id))
            problems.push_back(fmt::format("it uses a map {} (id {}) that this build's program does not", name, id));
    for (const auto& [id, name] : mine) {
        const bool core = std::find(std::begin(kCore), std::end(kCore), name) != std::end(kCore) &&
                          !(generated && name == "xdpfw_tables");
        if (core && !theirs.count(id))
            problems.push_back(fmt::format("it does not use this build's map {} (id {})", name, id));
    }
    return fmt::format("{}", fmt::join(problems, "; "));
}

TableLayout table_layout(const Capacities& c)
{
    TableLayout t;
    const uint32_t words = c.max_rules / 64;
    const uint64_t bitmap_words =
        uint64_t{c.max_bitmaps} * xdpfw_bitmap_stride((words + 63) / 64, words);
    t.bitmap_pages = static_cast<uint32_t>((bitmap_words + XDPFW_KPAGE_WORDS - 1) /
                                           XDPFW_KPAGE_WORDS);
    t.chunk_pages = xdpfw_kpages(uint64_t{c.max_v4_chunks} * XDPFW_CHUNK_SLOTS);
    t.host_pages = xdpfw_kpages(uint64_t{xdpfw_host_buckets(c.max_v4_hosts)} * XDPFW_BLOCK_SLOTS);
    t.slots = xdpfw_table_slots(t.bitmap_pages, t.chunk_pages, t.host_pages);
    return t;
}

LoadOptions small_load_options()
{
    LoadOptions o;
    o.caps.max_rules = 64;
    o.caps.max_bitmaps = 256;
    o.caps.max_addr_classes = 256;
    o.caps.max_v4_chunks = 16;
    o.caps.max_v4_hosts = 1024;
    o.caps.max_v6_prefixes = 1024;
    o.caps.max_queues = 4;
    o.ct_max_flows = 4096;
    return o;
}

void share_maps(bpf_object* obj, const xdpfw_bpf* from, bool with_bss)
{
    bpf_map* m;
    bpf_object__for_each_map(m, obj)
    {
        const char* name = bpf_map__name(m);
        const char* dot = std::strchr(name, '.');
        const bpf_map* theirs;
        if (dot && with_bss && std::strcmp(dot, ".bss") == 0)
            theirs = from->maps.bss;
        else if (dot)
            continue;
        else
            theirs = bpf_object__find_map_by_name(from->obj, name);
        if (!theirs)
            throw BpfError(ENOENT, fmt::format("share maps: xdpfw has no map {}", name));
        check(bpf_map__reuse_fd(m, bpf_map__fd(theirs)), fmt::format("reuse map {}", name));
    }
}

namespace {

// The stage build of the program on the maps of the loaded production
// object prod, with its knobs and cfg_stop_after = stop.
std::shared_ptr<xdpfw_stages_bpf> load_stages(const xdpfw_bpf* prod, uint32_t stop)
{
    if (stop >= XDPFW_STAGE_COUNT)
        throw BpfError(EINVAL, fmt::format("no stage {} to stop after", stop));
    VerifiedLoad vl;
    std::shared_ptr<xdpfw_stages_bpf> s(xdpfw_stages_bpf__open_opts(vl.open_opts()),
                                        [](xdpfw_stages_bpf* p) { xdpfw_stages_bpf__destroy(p); });
    if (!s)
        throw BpfError(errno, "open xdpfw stage BPF object");
    // One source, so one rodata layout.
    static_assert(sizeof(*s->rodata) == sizeof(*prod->rodata));
    std::memcpy(s->rodata, prod->rodata, sizeof(*s->rodata));
    s->rodata->cfg_stop_after = stop;
    share_maps(s->obj, prod);
    vl.load([&] { return xdpfw_stages_bpf__load(s.get()); }, "load xdpfw stage BPF program");
    return s;
}

} // namespace

XdpfwObject XdpfwObject::load(const LoadOptions& opts)
{
    const Capacities& o = opts.caps;
    check_map_capacities(o);
    VerifiedLoad vl;
    xdpfw_bpf* raw = xdpfw_bpf__open_opts(vl.open_opts());
    if (!raw)
        throw BpfError(errno, "open xdpfw BPF object");
    std::unique_ptr<xdpfw_bpf, Deleter> s(raw);

    const TableLayout tl = table_layout(o);
    set_knobs(s->rodata, opts);

    const uint32_t gens = XDPFW_GENERATIONS, dirs = XDPFW_DIRECTIONS;
    // One value: the program reads a rule at its offset (bpf/lib/maps.h).
    check(bpf_map__set_value_size(s->maps.xdpfw_rules, gens * o.max_rules * sizeof(xdpfw_rule)),
          "size xdpfw_rules");
    check(bpf_map__set_value_size(s->maps.xdpfw_addr_class,
                                  XDPFW_BLOCKS(gens * dirs * o.max_addr_classes) *
                                      sizeof(xdpfw_block)),
          "size xdpfw_addr_class");
    check(bpf_map__set_max_entries(s->maps.xdpfw_tables, tl.slots),
          "size xdpfw_tables");
    check(bpf_map__set_max_entries(s->maps.xdpfw_v6_prefixes, gens * dirs * o.max_v6_prefixes),
          "size xdpfw_v6_prefixes");
    // One value per possible CPU, each every rule's counter (bpf/lib/maps.h).
    const int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0)
        throw BpfError(ncpus < 0 ? -ncpus : EINVAL, "count the possible CPUs");
    check(bpf_map__set_max_entries(s->maps.xdpfw_rule_counters, uint32_t(ncpus)),
          "size xdpfw_rule_counters");
    check(bpf_map__set_value_size(s->maps.xdpfw_rule_counters, o.max_rules * sizeof(xdpfw_counter)),
          "size xdpfw_rule_counters");
    check(bpf_map__set_max_entries(s->maps.xdpfw_xsks, o.max_queues), "size xdpfw_xsks");
    check(bpf_map__set_max_entries(s->maps.xdpfw_limits, gens * o.max_rules), "size xdpfw_limits");
    check(bpf_map__set_max_entries(s->maps.xdpfw_limit_rule, o.max_rules),
          "size xdpfw_limit_rule");
    check(bpf_map__set_max_entries(s->maps.xdpfw_syncookie_pass, o.max_rules),
          "size xdpfw_syncookie_pass");
    check_layout(s.get());

    if (!opts.pin_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(opts.pin_dir, ec);
        if (ec)
            throw BpfError(ec.value(), "create pin directory " + opts.pin_dir);
        bpf_map* m;
        bpf_object__for_each_map(m, s->obj)
        {
            const char* name = bpf_map__name(m);
            if (std::strncmp(name, "xdpfw_", 6) != 0 || std::strchr(name, '.'))
                continue; // .rodata/.bss ("xdpfw_bp.rodata") belong to one load
            std::string path = opts.pin_dir + "/" + name;
            const bpf_map_type type = bpf_map__type(m);
            if ((type == BPF_MAP_TYPE_DEVMAP || type == BPF_MAP_TYPE_DEVMAP_HASH) &&
                reuse_pinned_devmap(m, path))
                continue;
            check(bpf_map__set_pin_path(m, path.c_str()), "set pin path " + path);
        }
    }

    // The kernel's verifier log, or libbpf's own messages (a map it could
    // not create or reuse), go into the error.
    vl.load([&] { return xdpfw_bpf__load(s.get()); }, "load xdpfw BPF program");
    // The specialised tier's programs tail-call this one for a policy not
    // their own (bpf/xdpfw_spec.bpf.c).
    const uint32_t zero = 0;
    const int general = bpf_program__fd(s->progs.xdpfw_main);
    check(bpf_map_update_elem(bpf_map__fd(s->maps.xdpfw_progs), &zero, &general, BPF_ANY) ? -errno : 0,
          "put the general program in xdpfw_progs");
    auto stages = opts.stop_after ? load_stages(s.get(), opts.stop_after) : nullptr;
    XdpfwObject obj(std::move(s), opts);
    obj.stages_ = std::move(stages);
    return obj;
}

} // namespace xdpfw
