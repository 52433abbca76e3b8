// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's cases: which DUT, which path (drop at the hook, pass to a
// socket, the AF_XDP path) and which workload each row measures, in run
// order.
#pragma once

#include "bench/suite/duts.hpp"

#include <string>
#include <vector>

namespace xdpfw::bench {

// drop: the DUT drops at its hook; pass: the frames go on to a UDP socket;
// xsk: xdpfw's last rule (action=xsk) redirects them to the AF_XDP engine's
// socket, whose worker inspects and drops them.
enum class Path { drop, pass, xsk };

const char* path_name(Path p);
const char* dut_name(DutKind k);

struct CaseSpec {
    std::string name;
    DutKind kind;
    Path path = Path::drop;
    size_t rules = 0, set_size = 0; // 0 rules: the sink, which takes no workload
    std::string quick_skip;         // non-empty: not run with --quick, and why
    bool ct = false;                // xdpfw: the tracked-flow fast path (Workload::ct_established)
};

// The row a case's ratio is taken against ("" for the ceilings themselves).
std::string ceiling_of(const CaseSpec& c);

// Every case of a full run, in run order: the ceilings first.
std::vector<CaseSpec> all_cases();

} // namespace xdpfw::bench
