// SPDX-License-Identifier: GPL-2.0-only
// Figures the kernel reports about this process in /proc (memory in use).
#pragma once

#include <cstdint>
#include <optional>

namespace xdpfw {

// Resident set size of this process in bytes (VmRSS of /proc/self/status).
std::optional<uint64_t> process_rss_bytes();

// Memory the kernel charges to the BPF map behind fd (the memlock line of
// /proc/self/fdinfo/FD), or nullopt when fd is not a BPF map.
std::optional<uint64_t> bpf_map_memlock_bytes(int fd);

} // namespace xdpfw
