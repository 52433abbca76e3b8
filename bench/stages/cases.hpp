// SPDX-License-Identifier: GPL-2.0-only
// The policies and frames of xdpfw-stage-bench: each case's frames hit its
// policy's last (deciding) rule, whose action is drop.
#pragma once

#include "lib/model/policy.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace xdpfw::bench {

struct StageCase {
    std::string name;
    Policy policy;
    std::vector<std::vector<uint8_t>> frames; // rotated: 8 source addresses
};

// rules-1: `proto=udp dport=9999 action=drop`; rules-1000 and rules-10000:
// decoys on distinct UDP ports, then that rule; rules-1000+set-100k: 999
// decoys, then `proto=udp src=@big dport=9999 action=drop` with big holding
// 100,000 /24s spread over the IPv4 space and 198.18.0.0/16 (the sources).
std::vector<StageCase> stage_cases();

} // namespace xdpfw::bench
