// SPDX-License-Identifier: GPL-2.0-only
// RAII owner of the loaded socket-filter tap program (bpf/xdpfw_tap.bpf.c):
// its filter in .rodata, a verifier rejection thrown as BpfError with the
// verifier log, as the XDP program's loader does (lib/kernel/loader.hpp).
#pragma once

#include <xdpfw/abi.h>

#include <cstdint>
#include <memory>

struct xdpfw_tap_bpf; // generated skeleton

namespace xdpfw::tap {

class TapProgram {
public:
    static TapProgram load(const xdpfw_tap_filter& filter);
    TapProgram(TapProgram&&) noexcept;
    TapProgram& operator=(TapProgram&&) noexcept;
    ~TapProgram();

    int prog_fd() const;
    uint32_t prog_id() const; // as `bpftool prog show` lists it

private:
    struct Deleter { void operator()(xdpfw_tap_bpf*) const; };
    explicit TapProgram(std::unique_ptr<xdpfw_tap_bpf, Deleter> s);
    std::unique_ptr<xdpfw_tap_bpf, Deleter> skel_;
};

} // namespace xdpfw::tap
