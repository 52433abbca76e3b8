// SPDX-License-Identifier: GPL-2.0-only
// What identifies this build's XDP program and kernel libraries, for
// --version and `status` (lib/base/version.hpp has the rest).
#pragma once

#include <string>

namespace xdpfw {

// 16 hex digits of a hash (lib/base/hash64.hpp) of the BPF object embedded
// in the skeleton (xdpfw_bpf__elf_bytes()): two builds whose XDP programs
// differ print different ids, whatever their version strings say.
std::string bpf_object_id();

// "BPF object ID, built with libbpf X, libxdp Y": the details part of the
// daemon's and xdpfw-apply's version line.
std::string kernel_build_details();

} // namespace xdpfw
