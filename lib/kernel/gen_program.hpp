// SPDX-License-Identifier: GPL-2.0-only
// The generated form of the specialised tier (docs/ARCHITECTURE.md, "Tiers"):
// for a lean spec (abi.h, struct xdpfw_spec: lean, or lean_rules with its
// looked-up addresses' classes in class_bits), an XDP program written at run
// time, instruction by instruction, for that one policy. Its rules' values
// are immediates in the instructions, each protocol has its own straight
// path with the fields it fixes folded away before the program exists, and
// the liveness check is one direct load of xdpfw_ctrl and the header's key.
// It takes the common frame only: an untagged, option-less IPv4 first
// fragment whose headers are whole, whose looked-up addresses (if any) end
// at a DIR-24 leaf, decided by a drop or pass rule or the default verdict
// without sampling. Every other frame (and every frame of a
// policy that is no longer live) is tail-called to the compiled specialised
// program, which decides exactly as before; so the generated program never
// changes a verdict, it only reaches the same one sooner. For a bitmaps spec
// (abi.h: a policy past one word of rules or past the spec's ranges) it reads
// the used fields' bitmap references and one word of each from the live
// generation instead, takes that word's first rule when it drops or passes,
// and falls back to the general program for everything else.
#pragma once

#include "lib/base/unique_fd.hpp"
#include "lib/kernel/loader.hpp"

#include <linux/bpf.h>
#include <xdpfw/abi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xdpfw {

// The names of the maps a generated program owns begin with this
// (XdpfwObject::program_mismatch tells its programs by them).
inline constexpr const char* kGeneratedMapPrefix = "xdpfw_gen_";

// Why spec has no generated program, "" when it can have one.
std::string generated_why_not(const xdpfw_spec& spec);

// What a generated program refers to: map fds and layout constants.
struct GenMaps {
    int ctrl = -1;          // xdpfw_ctrl (one entry: read directly)
    int policy = -1;        // xdpfw_policy
    int rule_counters = -1; // xdpfw_rule_counters
    int reason_stats = -1;  // xdpfw_reason_stats
    int fallback = -1;      // a PROG_ARRAY, [0]: the compiled specialised program (bitmaps: the general)
    int flags = -1;         // flags_table: an ARRAY of one value, the spec's tcp_flags
    int classes = -1;       // looked-up addresses: an ARRAY of one value, the spec's class_bits
    int tables = -1;        // xdpfw_tables (the DIR-24 pages; bitmaps: and the bitmap pages)
    // A bitmaps spec's tables, each a one-value array read at an offset:
    int scalars = -1;       // xdpfw_scalars
    int addr_class = -1;    // xdpfw_addr_class
    int rules = -1;         // xdpfw_rules
    int iif = -1;           // xdpfw_iif
    uint32_t class_cap = 0; // address classes per generation and direction (cfg_addr_class_cap)
    uint32_t host_buckets = 0; // the loaded host-table capacity (cfg_host_buckets)
    int progs = -1;         // xdpfw_progs, [0]: the general program (if [fallback] is empty)
    int bss = -1;           // record: the .bss holding xdpfw_last
    int32_t last_off = 0;   // record: xdpfw_last's offset in it
    uint32_t max_rules = 0; // counter slots per CPU in xdpfw_rule_counters
    bool record = false;    // write xdpfw_last (LoadOptions::record_verdict)
};

// The program's instructions for spec (generated_why_not(spec) must be "").
// Pure: no kernel; throws std::invalid_argument when spec is not eligible.
std::vector<bpf_insn> generate_program(const xdpfw_spec& spec, const GenMaps& maps);

class GeneratedProgram {
public:
    // Generates and loads the program for spec on general's maps, falling
    // back to spec_prog_fd (the compiled program for the same spec). Throws
    // BpfError with the verifier log on a refusal.
    static std::shared_ptr<GeneratedProgram> load(const XdpfwObject& general,
                                                  const xdpfw_spec& spec, int spec_prog_fd);
    int prog_fd() const { return prog_.get(); }
    size_t insns() const { return insns_; }

private:
    GeneratedProgram(UniqueFd prog, UniqueFd fallback, size_t insns)
        : prog_(std::move(prog)), fallback_(std::move(fallback)), insns_(insns)
    {
    }
    UniqueFd prog_;
    // Its [0] holds the compiled program while this fd is open: the kernel
    // empties a PROG_ARRAY when its last user reference goes.
    UniqueFd fallback_;
    size_t insns_ = 0;
};

} // namespace xdpfw
