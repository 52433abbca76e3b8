// SPDX-License-Identifier: GPL-2.0-only
// Opens the tap skeleton, writes its filter into .rodata and loads it.
#include "lib/tap/program.hpp"

#include "lib/kernel/loader.hpp"
#include "xdpfw_tap_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>

namespace xdpfw::tap {

void TapProgram::Deleter::operator()(xdpfw_tap_bpf* s) const
{
    xdpfw_tap_bpf__destroy(s);
}

TapProgram::TapProgram(std::unique_ptr<xdpfw_tap_bpf, Deleter> s) : skel_(std::move(s)) {}
TapProgram::TapProgram(TapProgram&&) noexcept = default;
TapProgram& TapProgram::operator=(TapProgram&&) noexcept = default;
TapProgram::~TapProgram() = default;

TapProgram TapProgram::load(const xdpfw_tap_filter& filter)
{
    VerifiedLoad vl;
    std::unique_ptr<xdpfw_tap_bpf, Deleter> s(xdpfw_tap_bpf__open_opts(vl.open_opts()));
    if (!s)
        throw BpfError(errno, "open xdpfw tap BPF object");
    // Before load: the verifier sees the filter as constants.
    s->rodata->cfg_tap = filter;
    vl.load([&] { return xdpfw_tap_bpf__load(s.get()); }, "load xdpfw tap socket filter");
    return TapProgram(std::move(s));
}

int TapProgram::prog_fd() const
{
    return bpf_program__fd(skel_->progs.xdpfw_tap);
}

uint32_t TapProgram::prog_id() const
{
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd(), &info, &len))
        throw BpfError(errno, "read the tap program's info");
    return info.id;
}

} // namespace xdpfw::tap
