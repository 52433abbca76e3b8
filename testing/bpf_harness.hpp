// SPDX-License-Identifier: GPL-2.0-only
// Loads the XDP program (with record_verdict), commits policies and runs
// frames through BPF_PROG_RUN (repeat=1). Needs root; no network.
#pragma once

#include "lib/compiler/compiler.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "lib/kernel/spec_program.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace xdpfw::test {

struct RunResult {
    uint32_t xdp_action = 0;           // XDP_DROP, XDP_PASS, XDP_REDIRECT, ...
    xdpfw_last_verdict verdict{};      // reason, winning rule
};

// Which program run() uses: the general one, or the specialised tier's
// program for the policy of the last commit that had a spec (docs/
// ARCHITECTURE.md, "Tiers"): specialised, its compiled form only;
// generated, the generated program where the spec has one (as xdpfwd runs
// it), else the compiled. Without a spec, the general program.
enum class Tier { general, specialised, generated };

class BpfHarness {
public:
    explicit BpfHarness(LoadOptions opts = {});
    // Tier::specialised or generated: every later commit builds the spec program for its
    // policy (when it has a spec), unless the tier is frozen: then the spec
    // program of an earlier policy stays, as in the window between a commit
    // and the daemon's program swap.
    void set_tier(Tier t) { tier_ = t; }
    void freeze_tier(bool frozen) { frozen_ = frozen; }
    // True when run() goes through a spec program built for the live policy
    // (generated or compiled).
    bool spec_live() const { return spec_ && spec_->key() == live_spec_key_; }
    // The specialised program run() uses, if any (its key may be stale).
    const SpecProgram* spec_program() const { return spec_ ? &*spec_ : nullptr; }
    // Why the last commit's policy has no spec ("" when it has one).
    const std::string& spec_why_not() const { return spec_why_not_; }
    // The policy of the last commit as compiled (its tables and spec), or
    // null before the first: tests tell from it which table layouts and
    // spec paths a packet takes.
    const CompiledPolicy* compiled() const { return compiled_.get(); }
    // Compiles and commits; interface names resolve through if_nametoindex,
    // plus "test0" -> 1 (lo, the BPF_PROG_RUN ingress device).
    void commit(const Policy& policy);
    RunResult run(const std::vector<uint8_t>& frame);
    // The same, received on ingress_ifindex (a device of the current
    // network namespace) instead of lo.
    RunResult run(const std::vector<uint8_t>& frame, uint32_t ingress_ifindex);
    // The same through prog_fd (the general program or a SpecProgram loaded
    // on this object's maps, whatever the tier), `repeat` times in one
    // BPF_PROG_RUN: the result is the last run's, the counters count all.
    // It reads nothing commit() writes, so one thread may run frames while
    // another commits (run() too, unless those commits load spec programs:
    // Tier::specialised and not frozen). One running thread at a time:
    // xdpfw_last is one global.
    RunResult run_program(int prog_fd, const std::vector<uint8_t>& frame, uint32_t repeat = 1,
                          uint32_t ingress_ifindex = 0) const;
    PolicyMaps& maps() { return *maps_; }
    XdpfwObject& object() { return obj_; }
    CompileOptions compile_options() const;

private:
    XdpfwObject obj_;
    std::unique_ptr<PolicyMaps> maps_;
    std::shared_ptr<CompileCache> cache_ = make_compile_cache();
    uint64_t version_ = 0;
    Tier tier_ = Tier::general;
    bool frozen_ = false;
    std::optional<SpecProgram> spec_;
    uint64_t live_spec_key_ = 0;
    std::string spec_why_not_;
    std::shared_ptr<const CompiledPolicy> compiled_;
};

} // namespace xdpfw::test
