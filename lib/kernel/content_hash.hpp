// SPDX-License-Identifier: GPL-2.0-only
// The content hash the map writer pins with each commit (xdpfw_ctrl.content_hash):
// what a restarted daemon compares its saved state against (docs/DAEMON.md,
// "adoption check").
#pragma once

#include "lib/tables/compiled_policy.hpp"

#include <cstdint>

namespace xdpfw {

// Covers the policy the tables were compiled from (CompiledPolicy::source_hash:
// rules, sets, verdicts) and the parts of the tables that do not depend on
// how a compile laid them out: the rule array in evaluation order (ids,
// counter slots, actions, resolved redirect interfaces), the header fields
// (rule count, used fields, default and malformed verdicts) and the ingress
// interfaces named by iif rules (resolved ifindexes). The bitmap and address
// tables themselves are covered through the source: an incremental compile
// numbers classes, chunks and bitmaps differently from a fresh one of the
// same policy (they classify alike), so their bytes cannot be compared.
// Never 0 (0 in the pinned map means "unknown").
uint64_t content_hash(const CompiledPolicy& policy);
// The same with another hash of its source in place of policy.source_hash
// (the adoption check's older hash scheme, lib/compiler/source_hash.hpp).
uint64_t content_hash(const CompiledPolicy& policy, uint64_t source_hash);

} // namespace xdpfw
