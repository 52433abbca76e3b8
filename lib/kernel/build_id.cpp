// SPDX-License-Identifier: GPL-2.0-only
// The embedded BPF object's id and the kernel libraries' build versions.
#include "lib/kernel/build_id.hpp"

#include "lib/base/hash64.hpp"
#include "lib/abi/abi_check.hpp" // the skeleton names the program's types
#include "lib/base/version.hpp"

#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "xdpfw_bpf.skel.h"

namespace xdpfw {

std::string bpf_object_id()
{
    size_t size = 0;
    const void* elf = xdpfw_bpf__elf_bytes(&size);
    return fmt::format("{:016x}", Hash64().bytes(elf, size).digest());
}

std::string kernel_build_details()
{
    return fmt::format("BPF object {}, built with libbpf {}, libxdp {}", bpf_object_id(),
                       build::libbpf_version(), build::libxdp_version());
}

} // namespace xdpfw
