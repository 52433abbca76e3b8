// SPDX-License-Identifier: GPL-2.0-only
// Loads the XDP program (with record_verdict), commits policies and runs
// frames through BPF_PROG_RUN (repeat=1). Needs root; no network.
#pragma once

#include "lib/compiler/compiler.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/policy_maps.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace xdpfw::test {

struct RunResult {
    uint32_t xdp_action = 0;           // XDP_DROP, XDP_PASS, XDP_REDIRECT, ...
    xdpfw_last_verdict verdict{};      // reason, winning rule
};

class BpfHarness {
public:
    explicit BpfHarness(LoadOptions opts = {});
    // Compiles and commits; interface names resolve through if_nametoindex,
    // plus "test0" -> 1 (lo, the BPF_PROG_RUN ingress device).
    void commit(const Policy& policy);
    RunResult run(const std::vector<uint8_t>& frame);
    // The same, received on ingress_ifindex (a device of the current
    // network namespace) instead of lo.
    RunResult run(const std::vector<uint8_t>& frame, uint32_t ingress_ifindex);
    PolicyMaps& maps() { return *maps_; }
    XdpfwObject& object() { return obj_; }
    CompileOptions compile_options() const;

private:
    XdpfwObject obj_;
    std::unique_ptr<PolicyMaps> maps_;
    std::shared_ptr<CompileCache> cache_ = make_compile_cache();
    uint64_t version_ = 0;
};

} // namespace xdpfw::test
