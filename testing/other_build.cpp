// SPDX-License-Identifier: GPL-2.0-only
// OtherBuildProgram (other_build.hpp).
#include "testing/other_build.hpp"

#include "lib/abi/abi_check.hpp" // the skeleton names the program's types
#include "lib/kernel/attach.hpp"
#include "lib/kernel/loader.hpp"
#include "xdpfw_stages_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace xdpfw::test {

namespace {

bpf_prog_info prog_info(int fd, std::vector<uint32_t>* map_ids = nullptr)
{
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len))
        throw BpfError(errno, "read program info");
    if (map_ids) {
        map_ids->resize(info.nr_map_ids);
        info = bpf_prog_info{};
        info.nr_map_ids = uint32_t(map_ids->size());
        info.map_ids = reinterpret_cast<uint64_t>(map_ids->data());
        len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd, &info, &len))
            throw BpfError(errno, "read program map ids");
    }
    return info;
}

// The bytes of the .rodata of the general program in pin_dir/xdpfw_progs.
std::vector<uint8_t> general_rodata(const std::string& pin_dir)
{
    const std::string progs = pin_dir + "/xdpfw_progs";
    const UniqueFd progs_fd(bpf_obj_get(progs.c_str()));
    if (progs_fd.get() < 0)
        throw BpfError(errno, "open " + progs);
    const uint32_t zero = 0;
    uint32_t general_id = 0;
    if (bpf_map_lookup_elem(progs_fd.get(), &zero, &general_id))
        throw BpfError(errno, "read the general program's id from " + progs);
    const UniqueFd general(bpf_prog_get_fd_by_id(general_id));
    if (general.get() < 0)
        throw BpfError(errno, fmt::format("open program id {}", general_id));
    std::vector<uint32_t> ids;
    prog_info(general.get(), &ids);
    for (uint32_t id : ids) {
        const UniqueFd m(bpf_map_get_fd_by_id(id));
        bpf_map_info mi{};
        uint32_t len = sizeof(mi);
        if (m.get() < 0 || bpf_obj_get_info_by_fd(m.get(), &mi, &len))
            continue;
        if (!std::strstr(mi.name, ".rodata"))
            continue;
        std::vector<uint8_t> bytes(mi.value_size);
        if (bpf_map_lookup_elem(m.get(), &zero, bytes.data()))
            throw BpfError(errno, "read the general program's .rodata");
        return bytes;
    }
    throw BpfError(ENOENT, "the general program has no .rodata");
}

} // namespace

uint64_t prog_tag(int prog_fd)
{
    const bpf_prog_info info = prog_info(prog_fd);
    uint64_t tag = 0;
    std::memcpy(&tag, info.tag, sizeof(tag));
    return tag;
}

OtherBuildProgram OtherBuildProgram::load(const std::string& pin_dir)
{
    VerifiedLoad vl;
    OtherBuildProgram p;
    p.skel_.reset(xdpfw_stages_bpf__open_opts(vl.open_opts()),
                  [](xdpfw_stages_bpf* s) { xdpfw_stages_bpf__destroy(s); });
    if (!p.skel_)
        throw BpfError(errno, "open the stage build");
    // One source, so one .rodata section (the knobs and the constants).
    const std::vector<uint8_t> rodata = general_rodata(pin_dir);
    size_t size = 0;
    // libbpf 1.1 hands the section back const; it is this object's copy,
    // written before load as the skeleton's rodata pointer is.
    auto* mine = const_cast<void*>(bpf_map__initial_value(p.skel_->maps.rodata, &size));
    if (!mine || rodata.size() != size)
        throw BpfError(EINVAL, fmt::format("the general program's .rodata has {} bytes, the stage "
                                           "build's {}",
                                           rodata.size(), size));
    std::memcpy(mine, rodata.data(), size);
    p.skel_->rodata->cfg_stop_after = XDPFW_STAGE_FULL;
    bpf_map* m;
    bpf_object__for_each_map(m, p.skel_->obj)
    {
        const char* name = bpf_map__name(m);
        if (std::strchr(name, '.'))
            continue; // .rodata/.bss: this load's own
        const std::string path = pin_dir + "/" + name;
        const UniqueFd fd(bpf_obj_get(path.c_str()));
        if (fd.get() < 0)
            throw BpfError(errno, "open pinned map " + path);
        if (int err = bpf_map__reuse_fd(m, fd.get()))
            throw BpfError(-err, "reuse pinned map " + path);
    }
    vl.load([&] { return xdpfw_stages_bpf__load(p.skel_.get()); }, "load the stage build");
    return p;
}

OtherBuildProgram::OtherBuildProgram(OtherBuildProgram&&) noexcept = default;
OtherBuildProgram::~OtherBuildProgram() = default;

int OtherBuildProgram::fd() const
{
    return bpf_program__fd(skel_->progs.xdpfw_main);
}

uint32_t OtherBuildProgram::id() const
{
    return prog_id_of(fd());
}

} // namespace xdpfw::test
