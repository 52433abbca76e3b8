// SPDX-License-Identifier: GPL-2.0-only
// The hash of what a compile reads from a policy (rules, sets, default and
// malformed verdicts; not the inspection rules, which no kernel table holds).
#pragma once

#include "lib/model/policy.hpp"

#include <cstdint>

namespace xdpfw {

// Equal for policies that compile alike, whatever their rules' order in the
// vector; differs when any rule's id, priority, match or action, any set's
// prefixes, or the default or malformed verdict differs.
uint64_t policy_source_hash(const Policy& policy);

} // namespace xdpfw
