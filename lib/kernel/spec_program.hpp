// SPDX-License-Identifier: GPL-2.0-only
// A program of the specialised tier (bpf/xdpfw_spec.bpf.c): the XDP program
// with one policy's struct xdpfw_spec in .rodata, on the maps of a loaded
// general object (docs/ARCHITECTURE.md, "Tiers").
#pragma once

#include "lib/kernel/loader.hpp"

#include <xdpfw/abi.h>

#include <memory>

struct xdpfw_spec_bpf;

namespace xdpfw {

class SpecProgram {
public:
    // Loads the specialised program for spec on general's maps (and its
    // xdpfw_last). Throws BpfError with the verifier log on a refusal.
    static SpecProgram load(const XdpfwObject& general, const xdpfw_spec& spec);

    int prog_fd() const;
    uint64_t key() const { return key_; }

private:
    SpecProgram(std::shared_ptr<xdpfw_spec_bpf> s, uint64_t key) : skel_(std::move(s)), key_(key) {}
    std::shared_ptr<xdpfw_spec_bpf> skel_;
    uint64_t key_ = 0;
};

} // namespace xdpfw
