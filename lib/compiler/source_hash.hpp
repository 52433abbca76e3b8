// SPDX-License-Identifier: GPL-2.0-only
// The hash of what a compile reads from a policy (rules, sets, default and
// malformed verdicts; not the inspection rules, which no kernel table holds).
#pragma once

#include "lib/model/policy.hpp"

#include <cstdint>

namespace xdpfw {

// How sets are hashed. v1 (xdpfw before 2026-12-07) chained every prefix
// field by field, ~5 ms for a million prefixes on every commit; v2 chains
// only each set's PrefixSet::digest(), a sum of one hash per prefix kept
// with the set (an unchanged set is not hashed again, set.add/set.del
// update it by the changed prefixes). Rules and verdicts hash alike in
// both, so a policy without sets has one hash. Commits pin v2; the
// adoption check also accepts v1, what an older build pinned
// (apps/xdpfwd/adoption.hpp).
enum class SourceHashScheme : uint8_t { v1 = 1, v2 = 2 };

// Equal for policies that compile alike, whatever their rules' order in the
// vector; differs when any rule's id, priority, match or action, any set's
// prefixes, or the default or malformed verdict differs.
uint64_t policy_source_hash(const Policy& policy,
                            SourceHashScheme scheme = SourceHashScheme::v2);

} // namespace xdpfw
