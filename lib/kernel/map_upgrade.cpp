// SPDX-License-Identifier: GPL-2.0-only
// MapUpgrade: an instance's pins moved aside for maps of another layout.
#include "lib/kernel/map_upgrade.hpp"

#include <xdpfw/abi.h>

#include "lib/kernel/attach.hpp"
#include "lib/kernel/loader.hpp"
#include "xdpfw_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace xdpfw {
namespace {

// Counters and the notes kept beside them: what both programs may share
// (never a policy table, which the new daemon rewrites while the old
// program still reads it).
constexpr const char* kCarried[] = {"xdpfw_rule_counters", "xdpfw_reason_stats", "xdpfw_ct_stats",
                                    "xdpfw_ct_info"};
// The rule counters of builds before xdpfw_rule_counters: a per-CPU array,
// one counter per rule id. Copied from, never shared.
constexpr const char* kPerCpuRuleStats = "xdpfw_rule_stats";

bool map_info(int fd, bpf_map_info& mi)
{
    mi = {};
    uint32_t len = sizeof(mi);
    return bpf_obj_get_info_by_fd(fd, &mi, &len) == 0;
}

uint32_t map_id(int fd)
{
    bpf_map_info mi;
    return map_info(fd, mi) ? mi.id : 0;
}

UniqueFd pinned(const std::string& path)
{
    return UniqueFd(std::filesystem::exists(path) ? bpf_obj_get(path.c_str()) : -1);
}

// The old rule counters, [cpu][i] for rule id ids[i] (zero where the old map
// has none): from an xdpfw_rule_counters of another size, or from the
// per-CPU xdpfw_rule_stats of an older build. Empty when there is neither.
std::vector<std::vector<xdpfw_counter>> old_rule_counters(const std::string& old_dir,
                                                          const std::vector<uint32_t>& ids)
{
    std::vector<std::vector<xdpfw_counter>> per_cpu;
    bpf_map_info mi;
    if (const UniqueFd old = pinned(old_dir + "/xdpfw_rule_counters");
        old.get() >= 0 && map_info(old.get(), mi) && mi.type == BPF_MAP_TYPE_ARRAY &&
        mi.key_size == 4 && mi.value_size % sizeof(xdpfw_counter) == 0) {
        const size_t slots = mi.value_size / sizeof(xdpfw_counter);
        std::vector<xdpfw_counter> value(slots);
        for (uint32_t cpu = 0; cpu < mi.max_entries; cpu++) {
            auto& row = per_cpu.emplace_back(ids.size());
            if (bpf_map_lookup_elem(old.get(), &cpu, value.data()))
                continue;
            for (size_t i = 0; i < ids.size(); i++)
                if (ids[i] < slots)
                    row[i] = value[ids[i]];
        }
        return per_cpu;
    }
    const int ncpus = libbpf_num_possible_cpus();
    const UniqueFd old = pinned(old_dir + "/" + kPerCpuRuleStats);
    if (ncpus <= 0 || old.get() < 0 || !map_info(old.get(), mi) ||
        mi.type != BPF_MAP_TYPE_PERCPU_ARRAY || mi.value_size != sizeof(xdpfw_counter))
        return per_cpu;
    per_cpu.assign(size_t(ncpus), std::vector<xdpfw_counter>(ids.size()));
    std::vector<xdpfw_counter> v(static_cast<size_t>(ncpus));
    for (size_t i = 0; i < ids.size(); i++)
        if (bpf_map_lookup_elem(old.get(), &ids[i], v.data()) == 0)
            for (int cpu = 0; cpu < ncpus; cpu++)
                per_cpu[cpu][i] = v[cpu];
    return per_cpu;
}

} // namespace

MapUpgrade::MapUpgrade(std::string pin_dir, std::string old_dir)
    : pin_dir_(std::move(pin_dir)), old_dir_(std::move(old_dir))
{
}

MapUpgrade MapUpgrade::begin(const std::string& pin_dir)
{
    MapUpgrade u(pin_dir, pin_dir + "-old");
    if (std::filesystem::exists(u.old_dir_))
        throw BpfError(EEXIST, u.old_dir_ + " exists: an earlier upgrade did not finish; remove "
                                            "it once no program uses its maps");
    u.old_prog_ = pinned(pin_dir + "/prog");
    u.old_prog_id_ = u.old_prog_.get() >= 0 ? prog_id_of(u.old_prog_.get()) : 0;
    if (::rename(pin_dir.c_str(), u.old_dir_.c_str()) != 0)
        throw BpfError(errno, "move the pins of " + pin_dir + " to " + u.old_dir_);
    try {
        make_pin_dir(pin_dir);
        for (const char* name : kCarried) {
            const std::string from = u.old_dir_ + "/" + name, to = pin_dir + "/" + name;
            if (std::filesystem::exists(from)) {
                if (::link(from.c_str(), to.c_str()) != 0)
                    throw BpfError(errno, "link the pin " + from + " to " + to);
                u.linked_.push_back(name);
            }
        }
    } catch (...) {
        u.abort();
        throw;
    }
    return u;
}

void MapUpgrade::unlink_carried()
{
    for (const std::string& name : linked_)
        ::unlink((pin_dir_ + "/" + name).c_str());
    linked_.clear();
}

std::vector<std::string> MapUpgrade::shared_maps(const XdpfwObject& obj) const
{
    std::vector<std::string> shared;
    for (const char* name : kCarried) {
        const bpf_map* m = bpf_object__find_map_by_name(obj.skel()->obj, name);
        const UniqueFd old = pinned(old_dir_ + "/" + name);
        if (m && old.get() >= 0 && map_id(old.get()) == map_id(bpf_map__fd(m)))
            shared.push_back(name);
    }
    return shared;
}

size_t MapUpgrade::copy_counters(const XdpfwObject& obj, const std::vector<uint32_t>& rule_ids) const
{
    const int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0)
        return 0;
    const std::vector<std::string> shared = shared_maps(obj);
    const auto is_shared = [&](const std::string& n) {
        return std::find(shared.begin(), shared.end(), n) != shared.end();
    };
    std::vector<xdpfw_counter> v(static_cast<size_t>(ncpus));
    // Copies keys of map name that is not shared; returns how many.
    const auto copy = [&](const char* name, const std::vector<uint32_t>& keys) {
        const UniqueFd old = pinned(old_dir_ + "/" + name);
        const bpf_map* m = bpf_object__find_map_by_name(obj.skel()->obj, name);
        size_t n = 0;
        if (old.get() < 0 || !m || is_shared(name))
            return n;
        for (uint32_t key : keys)
            if (bpf_map_lookup_elem(old.get(), &key, v.data()) == 0 &&
                bpf_map_update_elem(bpf_map__fd(m), &key, v.data(), BPF_ANY) == 0)
                ++n;
        return n;
    };
    std::vector<uint32_t> reasons(XDPFW_REASON_COUNT);
    for (uint32_t r = 0; r < XDPFW_REASON_COUNT; r++)
        reasons[r] = r;
    copy("xdpfw_reason_stats", reasons);
    return is_shared("xdpfw_rule_counters") ? 0 : copy_rule_counters(obj, rule_ids);
}

// Into the new object's xdpfw_rule_counters (no program counts there yet),
// CPU by CPU; the counts of an old CPU the new map has no value for go to
// CPU 0's (the sums stay).
size_t MapUpgrade::copy_rule_counters(const XdpfwObject& obj,
                                      const std::vector<uint32_t>& rule_ids) const
{
    const auto old = old_rule_counters(old_dir_, rule_ids);
    const bpf_map* m = obj.skel()->maps.xdpfw_rule_counters;
    const uint32_t cpus = bpf_map__max_entries(m);
    const size_t slots = bpf_map__value_size(m) / sizeof(xdpfw_counter);
    if (old.empty() || cpus == 0)
        return 0;
    std::vector<std::vector<xdpfw_counter>> values(cpus, std::vector<xdpfw_counter>(slots));
    for (uint32_t cpu = 0; cpu < cpus; cpu++)
        if (bpf_map_lookup_elem(bpf_map__fd(m), &cpu, values[cpu].data()))
            throw BpfError(errno, fmt::format("read xdpfw_rule_counters[{}]", cpu));
    size_t copied = 0;
    for (size_t i = 0; i < rule_ids.size(); i++) {
        if (rule_ids[i] >= slots)
            continue;
        for (size_t cpu = 0; cpu < old.size(); cpu++) {
            xdpfw_counter& to = values[cpu < cpus ? cpu : 0][rule_ids[i]];
            to.packets += old[cpu][i].packets;
            to.bytes += old[cpu][i].bytes;
        }
        ++copied;
    }
    for (uint32_t cpu = 0; cpu < cpus; cpu++)
        if (bpf_map_update_elem(bpf_map__fd(m), &cpu, values[cpu].data(), BPF_ANY))
            throw BpfError(errno, fmt::format("write xdpfw_rule_counters[{}]", cpu));
    return copied;
}

std::vector<std::string> MapUpgrade::carry_inner_tables(const XdpfwObject& obj) const
{
    struct Inner {
        const char* outer;
        uint32_t key_size, value_size;
    };
    const Inner inners[] = {
        {"xdpfw_ct", sizeof(xdpfw_ct_key), sizeof(xdpfw_ct_entry)},
        {"xdpfw_limit_keys", sizeof(xdpfw_limit_key), sizeof(xdpfw_bucket)},
    };
    std::vector<std::string> carried;
    const uint32_t zero = 0;
    for (const Inner& in : inners) {
        const UniqueFd old_outer = pinned(old_dir_ + "/" + in.outer);
        const bpf_map* m = bpf_object__find_map_by_name(obj.skel()->obj, in.outer);
        uint32_t id = 0;
        if (old_outer.get() < 0 || !m || bpf_map_lookup_elem(old_outer.get(), &zero, &id) || !id)
            continue;
        const UniqueFd table(bpf_map_get_fd_by_id(id));
        bpf_map_info mi;
        if (table.get() < 0 || !map_info(table.get(), mi) || mi.key_size != in.key_size ||
            mi.value_size != in.value_size)
            continue;
        const int fd = table.get();
        if (bpf_map_update_elem(bpf_map__fd(m), &zero, &fd, BPF_ANY) == 0)
            carried.push_back(in.outer);
    }
    return carried;
}

void MapUpgrade::finish()
{
    remove_pin_dir(old_dir_);
}

void MapUpgrade::abort() noexcept
{
    try {
        remove_pin_dir(pin_dir_);
    } catch (const std::exception& e) {
        spdlog::error("event=upgrade_abort dir={} error=\"{}\"", pin_dir_, e.what());
    }
    if (::rename(old_dir_.c_str(), pin_dir_.c_str()) != 0)
        spdlog::error("event=upgrade_abort msg=\"cannot move {} back to {}: {}\"", old_dir_,
                      pin_dir_, std::strerror(errno));
}

} // namespace xdpfw
