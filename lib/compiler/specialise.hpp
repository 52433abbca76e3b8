// SPDX-License-Identifier: GPL-2.0-only
// The specialised tier's form of a compiled policy (abi.h, struct
// xdpfw_spec): every scalar field's table reduced to the rules it admits on
// a few value ranges and elsewhere, the rules themselves as constants.
#pragma once

#include "lib/tables/compiled_policy.hpp"

#include <memory>
#include <string>

namespace xdpfw {

// The spec of p, or null with *why_not saying what does not fit. A policy
// of more than XDPFW_SPEC_MAX_RULES rules, or with a field of more than
// XDPFW_SPEC_MAX_RANGES ranges, gets a bitmaps spec (abi.h) unless a rule
// counts, has a rate limit or matches ct=. The key is a content hash of the
// spec: two compiles whose rules and scalar tables agree have the same key,
// whatever their address tables hold (those are read live), so set updates
// keep the specialised program; a bitmaps spec's key follows only the
// bitmaps' layout.
std::shared_ptr<const xdpfw_spec> specialise(const CompiledPolicy& p, std::string* why_not = nullptr);

} // namespace xdpfw
