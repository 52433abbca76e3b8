// SPDX-License-Identifier: GPL-2.0-only
// A program of the specialised tier (bpf/xdpfw_spec.bpf.c): the XDP program
// with one policy's struct xdpfw_spec in .rodata, on the maps of a loaded
// general object, and for a lean spec the generated program in front of it
// (gen_program.hpp; docs/ARCHITECTURE.md, "Tiers").
#pragma once

#include "lib/kernel/gen_program.hpp"
#include "lib/kernel/loader.hpp"

#include <xdpfw/abi.h>

#include <memory>
#include <string>

struct xdpfw_spec_bpf;

namespace xdpfw {

class SpecProgram {
public:
    // Loads the specialised program for spec on general's maps (and its
    // xdpfw_last), and the generated program in front of it when the spec
    // has one. A bitmaps spec (abi.h) has the generated program alone, in
    // front of the general one. Throws BpfError with the verifier log on a
    // refusal.
    static SpecProgram load(const XdpfwObject& general, const xdpfw_spec& spec);
    // The compiled program only (tests and benchmarks compare the two);
    // throws for a bitmaps spec.
    static SpecProgram load_compiled(const XdpfwObject& general, const xdpfw_spec& spec);

    // The program to attach: the generated one if any, else the compiled.
    int prog_fd() const;
    // The compiled program (the generated one's fallback); for a bitmaps
    // spec, the general program.
    int compiled_fd() const;
    bool generated() const { return gen_ != nullptr; }
    // "generated" or "compiled".
    const char* form() const { return gen_ ? "generated" : "compiled"; }
    // Why there is no generated program ("" when there is one).
    const std::string& generated_why_not() const { return why_not_; }
    uint64_t key() const { return key_; }

private:
    SpecProgram(std::shared_ptr<xdpfw_spec_bpf> s, uint64_t key) : skel_(std::move(s)), key_(key) {}
    static SpecProgram load_form(const XdpfwObject& general, const xdpfw_spec& spec, bool generate);
    std::shared_ptr<xdpfw_spec_bpf> skel_;
    std::shared_ptr<GeneratedProgram> gen_;
    std::string why_not_;
    uint64_t key_ = 0;
    int general_fd_ = -1; // a bitmaps spec's fallback
};

} // namespace xdpfw
