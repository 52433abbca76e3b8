// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's memory figures: the kernel memory a DUT's policy takes (the
// memlock of a BPF program's maps, or what the kernel charged to a memory
// cgroup while nft, ipset or iptables-restore installed a ruleset) and the
// RSS of this process.
#pragma once

#include <cstdint>
#include <string>

namespace xdpfw::bench {

// Sum of the `memlock` line of /proc/self/fdinfo (the kernel's
// map_mem_usage(): what the map's memory costs now, preallocated or not) of
// every map the BPF program prog_fd uses. Throws BpfError.
uint64_t program_map_bytes(int prog_fd);

// The same for the XDP program attached to ifindex in the calling thread's
// network namespace. Throws BpfError, std::runtime_error when none is.
uint64_t attached_xdp_map_bytes(int ifindex);

// RssAnon of this process in bytes: its heap and stacks. Not VmRSS: the
// BPF array maps a process mmaps (xdpfw's policy maps) are file pages of
// its RSS, and they are the kernel's memory, counted apart.
uint64_t self_anon_rss_bytes();

// A memory cgroup made for one DUT's setup, a child of the one this process
// runs in (so the machine's own limits still apply to what it charges):
// the commands wrap() returns join it, and kernel_bytes() is the kernel
// memory charged to it, which after the commands have exited is what the
// ruleset they installed holds (nf_tables, x_tables and ipset allocate it
// charged to the installing task's cgroup). Removed on destruction.
class KmemCgroup {
public:
    // Throws std::runtime_error saying why no cgroup can be made here.
    KmemCgroup();
    ~KmemCgroup();
    KmemCgroup(const KmemCgroup&) = delete;
    KmemCgroup& operator=(const KmemCgroup&) = delete;

    // cmd (for /bin/sh, e.g. lab::run_in) made to move its shell into the
    // cgroup first, so every process it starts is charged there.
    std::string wrap(const std::string& cmd) const;
    // Kernel memory charged: v1 memory.kmem.usage_in_bytes, v2 the `kernel`
    // line of memory.stat. Throws std::runtime_error.
    uint64_t kernel_bytes() const;

private:
    std::string dir_;
    bool v2_ = false;
};

} // namespace xdpfw::bench
