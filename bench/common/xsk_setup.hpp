// SPDX-License-Identifier: GPL-2.0-only
// What the two benchmarks of the AF_XDP path share (xdpfw-xsk-bench and the
// xdpfw-xsk/... cases of xdpfw-bench): the inspection rules the workers run,
// the engine's view of a loaded xdpfw object's XskMap, and the counters of
// the workers of one interface.
#pragma once

#include "lib/inspect/inspect.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/xsk/engine.hpp"

#include <memory>
#include <string>
#include <vector>

namespace xdpfw::bench {

// The three example inspection rules (DNS suffix, hex pattern, text
// pattern at offset 0). The benchmarks' UDP frames match none of them, so
// every frame is inspected in full.
const std::vector<std::string>& xsk_nomatch_inspect_rules();

// A pattern every generated payload holds (packet_builder's payload bytes
// i * 7 + 1 from its start): with it, every frame is dropped by verdict.
inline constexpr const char* kXskPayloadDropRule = "priority=40 pattern=hex:01080f161d action=drop";

// Parses the rule texts (ids 1..n in order) and compiles them. Throws
// PolicyError naming the rule.
std::shared_ptr<const inspect::RuleSet> compile_inspect_rules(const std::vector<std::string>& texts);

// The object's xdpfw_xsks and xdpfw_xsk_ports maps, for xsk::Engine.
xsk::XskMapFds xsk_map_fds(const XdpfwObject& obj);

// The counters of the engine's workers on `ifname`, summed over its queues.
// Throws std::runtime_error when no worker serves it.
xsk::WorkerStats interface_stats(const xsk::Engine& engine, const std::string& ifname);

} // namespace xdpfw::bench
