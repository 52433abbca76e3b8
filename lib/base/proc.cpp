// SPDX-License-Identifier: GPL-2.0-only
// process_rss_bytes(), bpf_map_memlock_bytes(): read from /proc.
#include "lib/base/proc.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace xdpfw {

namespace {

// The number after "key:" on the first line of file that starts with key.
std::optional<uint64_t> proc_field(const std::string& file, const std::string& key)
{
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key + ":", 0) != 0)
            continue;
        std::istringstream rest(line.substr(key.size() + 1));
        uint64_t v = 0;
        if (rest >> v)
            return v;
        return std::nullopt;
    }
    return std::nullopt;
}

} // namespace

std::optional<uint64_t> process_rss_bytes()
{
    auto kib = proc_field("/proc/self/status", "VmRSS");
    if (!kib)
        return std::nullopt;
    return *kib * 1024;
}

std::optional<uint64_t> bpf_map_memlock_bytes(int fd)
{
    const std::string file = "/proc/self/fdinfo/" + std::to_string(fd);
    if (!proc_field(file, "map_type"))
        return std::nullopt;
    return proc_field(file, "memlock");
}

} // namespace xdpfw
