// SPDX-License-Identifier: GPL-2.0-only
// A differently built xdpfw program on a daemon's pinned maps: what an
// older (or newer) xdpfwd would have left attached and pinned, for the
// upgrade tests.
#pragma once

#include "lib/base/unique_fd.hpp"

#include <cstdint>
#include <memory>
#include <string>

struct xdpfw_stages_bpf;

namespace xdpfw::test {

// The stage build of the program (bpf/xdpfw_stages.bpf.c: the same source
// compiled with XDPFW_STAGE_STOPS) loaded with cfg_stop_after =
// XDPFW_STAGE_FULL: the production program's verdicts, but other
// instructions, so another kernel tag and another build. Its maps are the
// ones pinned in pin_dir (every xdpfw_* map), its .rodata a copy of the
// running general program's (found through the pinned xdpfw_progs), so it
// filters exactly as the daemon's own would.
class OtherBuildProgram {
public:
    static OtherBuildProgram load(const std::string& pin_dir);
    OtherBuildProgram(OtherBuildProgram&&) noexcept;
    ~OtherBuildProgram();
    int fd() const;
    uint32_t id() const;

private:
    OtherBuildProgram() = default;
    std::shared_ptr<xdpfw_stages_bpf> skel_;
};

// The kernel's tag of a loaded program (a hash of its instructions).
uint64_t prog_tag(int prog_fd);

} // namespace xdpfw::test
