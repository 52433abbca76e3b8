// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's memory figures (see the header).
#include "bench/suite/memory.hpp"

#include "lib/kernel/loader.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/if_link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace xdpfw::bench {

namespace {

// The value of "<key>:" (or "<key> ") in a key-value text file, or nothing.
std::optional<uint64_t> read_field(const std::string& path, const std::string& key)
{
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() <= key.size() || line.compare(0, key.size(), key) != 0)
            continue;
        const char sep = line[key.size()];
        if (sep != ':' && sep != ' ' && sep != '\t')
            continue;
        std::istringstream v(line.substr(key.size() + 1));
        uint64_t n = 0;
        if (v >> n)
            return n;
    }
    return std::nullopt;
}

// The number a one-value file holds.
std::optional<uint64_t> read_number(const std::string& path)
{
    uint64_t n = 0;
    if (std::ifstream(path) >> n)
        return n;
    return std::nullopt;
}

uint64_t fd_memlock(int fd)
{
    const auto v = read_field(fmt::format("/proc/self/fdinfo/{}", fd), "memlock");
    if (!v)
        throw std::runtime_error(fmt::format("no memlock line in /proc/self/fdinfo/{}", fd));
    return *v;
}

struct CgroupPlace {
    std::string dir; // this process's own cgroup directory
    bool v2 = false;
};

bool has_token(const std::string& list, const std::string& token)
{
    std::istringstream in(list);
    std::string t;
    while (std::getline(in, t, ','))
        if (t == token)
            return true;
    return false;
}

// Where this process's memory cgroup is: the v1 memory hierarchy's mount
// plus our path in it, or the v2 mount plus our path when v2 has the memory
// controller.
std::optional<CgroupPlace> own_memory_cgroup()
{
    std::string v1_path, v2_path;
    {
        std::ifstream in("/proc/self/cgroup");
        std::string line;
        while (std::getline(in, line)) {
            const auto a = line.find(':'), b = line.find(':', a + 1);
            if (a == std::string::npos || b == std::string::npos)
                continue;
            const std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
            if (ctrls.empty())
                v2_path = path;
            else if (has_token(ctrls, "memory"))
                v1_path = path;
        }
    }
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        const auto dash = line.find(" - ");
        if (dash == std::string::npos)
            continue;
        std::istringstream left(line.substr(0, dash)), right(line.substr(dash + 3));
        std::string id, parent, dev, root, mnt, fstype, source, super;
        left >> id >> parent >> dev >> root >> mnt;
        right >> fstype >> source >> super;
        auto under = [&](const std::string& path) {
            const std::string rel = root != "/" && path.rfind(root, 0) == 0 ? path.substr(root.size()) : path;
            return mnt + rel;
        };
        if (fstype == "cgroup" && !v1_path.empty() && has_token(super, "memory"))
            return CgroupPlace{under(v1_path), false};
        if (fstype == "cgroup2" && v1_path.empty() && !v2_path.empty()) {
            std::string ctl;
            std::getline(std::ifstream(under(v2_path) + "/cgroup.subtree_control"), ctl);
            std::istringstream words(ctl);
            for (std::string w; words >> w;)
                if (w == "memory")
                    return CgroupPlace{under(v2_path), true};
        }
    }
    return std::nullopt;
}

// Cgroups an earlier run left when it died: removed if their process is gone.
void remove_stale(const std::string& parent)
{
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(parent, ec)) {
        const std::string name = e.path().filename();
        if (name.rfind("xdpfw-bench-", 0) != 0)
            continue;
        const std::string pid = name.substr(12, name.find('-', 12) - 12);
        if (!std::filesystem::exists("/proc/" + pid))
            rmdir(e.path().c_str());
    }
}

} // namespace

uint64_t program_map_bytes(int prog_fd)
{
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
        throw BpfError(errno, "read the program's info");
    std::vector<uint32_t> ids(info.nr_map_ids);
    info = bpf_prog_info{};
    info.nr_map_ids = static_cast<uint32_t>(ids.size());
    info.map_ids = reinterpret_cast<uint64_t>(ids.data());
    len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
        throw BpfError(errno, "read the program's map ids");
    uint64_t total = 0;
    for (uint32_t id : ids) {
        const int fd = bpf_map_get_fd_by_id(id);
        if (fd < 0)
            throw BpfError(errno, fmt::format("open map id {}", id));
        try {
            total += fd_memlock(fd);
        } catch (...) {
            close(fd);
            throw;
        }
        close(fd);
    }
    return total;
}

uint64_t attached_xdp_map_bytes(int ifindex)
{
    uint32_t id = 0;
    if (int err = bpf_xdp_query_id(ifindex, 0, &id))
        throw BpfError(-err, "query the interface's XDP program");
    if (id == 0)
        throw std::runtime_error("no XDP program is attached");
    const int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0)
        throw BpfError(errno, fmt::format("open program id {}", id));
    try {
        const uint64_t bytes = program_map_bytes(fd);
        close(fd);
        return bytes;
    } catch (...) {
        close(fd);
        throw;
    }
}

uint64_t self_anon_rss_bytes()
{
    const auto kib = read_field("/proc/self/status", "RssAnon");
    if (!kib)
        throw std::runtime_error("no RssAnon in /proc/self/status");
    return *kib * 1024;
}

KmemCgroup::KmemCgroup()
{
    const auto place = own_memory_cgroup();
    if (!place)
        throw std::runtime_error("no memory cgroup controller is mounted for this process");
    remove_stale(place->dir);
    static std::atomic<unsigned> serial{0};
    const std::string dir = fmt::format("{}/xdpfw-bench-{}-{}", place->dir, getpid(), ++serial);
    if (mkdir(dir.c_str(), 0755) != 0)
        throw std::runtime_error(fmt::format("cannot make the memory cgroup {}: {}", dir,
                                             std::strerror(errno)));
    dir_ = dir;
    v2_ = place->v2;
}

KmemCgroup::~KmemCgroup()
{
    // Empty by now (its commands have exited): the charges stay with the
    // ruleset, which the lab's namespace frees.
    rmdir(dir_.c_str());
}

std::string KmemCgroup::wrap(const std::string& cmd) const
{
    return fmt::format("echo $$ > {}/cgroup.procs && {}", dir_, cmd);
}

uint64_t KmemCgroup::kernel_bytes() const
{
    const auto v = v2_ ? read_field(dir_ + "/memory.stat", "kernel")
                       : read_number(dir_ + "/memory.kmem.usage_in_bytes");
    if (!v)
        throw std::runtime_error("cannot read the kernel memory of cgroup " + dir_);
    return *v;
}

} // namespace xdpfw::bench
