// SPDX-License-Identifier: GPL-2.0-only
// Opens the tap skeleton, writes its filter into .rodata and loads it.
#include "lib/tap/program.hpp"

#include "lib/kernel/loader.hpp"
#include "xdpfw_tap_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace xdpfw::tap {

void TapProgram::Deleter::operator()(xdpfw_tap_bpf* s) const
{
    xdpfw_tap_bpf__destroy(s);
}

TapProgram::TapProgram(std::unique_ptr<xdpfw_tap_bpf, Deleter> s) : skel_(std::move(s)) {}
TapProgram::TapProgram(TapProgram&&) noexcept = default;
TapProgram& TapProgram::operator=(TapProgram&&) noexcept = default;
TapProgram::~TapProgram() = default;

namespace {

// What a refused load should name besides the verifier log: the
// capabilities the program needs that this process's effective set lacks.
// Without CAP_PERFMON the verifier checks the program as an unprivileged
// one (no variable offsets into its frame buffer: "prohibited for !root");
// without CAP_BPF the kernel refuses before verifying. CAP_SYS_ADMIN
// stands for both.
std::string missing_capabilities()
{
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3]{};
    if (syscall(SYS_capget, &h, d))
        return {};
    const auto has = [&](int cap) { return (d[cap / 32].effective >> (cap % 32)) & 1u; };
    if (has(CAP_SYS_ADMIN))
        return {};
    std::string out;
    for (const auto& [cap, name] : {std::pair{CAP_BPF, "CAP_BPF"}, {CAP_PERFMON, "CAP_PERFMON"}})
        if (!has(cap))
            out += std::string(out.empty() ? "" : ", ") + name;
    return out;
}

} // namespace

TapProgram TapProgram::load(const xdpfw_tap_filter& filter)
{
    VerifiedLoad vl;
    std::unique_ptr<xdpfw_tap_bpf, Deleter> s(xdpfw_tap_bpf__open_opts(vl.open_opts()));
    if (!s)
        throw BpfError(errno, "open xdpfw tap BPF object");
    // Before load: the verifier sees the filter as constants.
    s->rodata->cfg_tap = filter;
    const std::string missing = missing_capabilities();
    vl.load([&] { return xdpfw_tap_bpf__load(s.get()); },
            missing.empty() ? "load xdpfw tap socket filter"
                            : "load xdpfw tap socket filter (this process lacks " + missing +
                                  "; the tap needs CAP_BPF, CAP_PERFMON and CAP_NET_RAW)");
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
