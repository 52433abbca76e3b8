// SPDX-License-Identifier: GPL-2.0-only
// The adoption check's comparison (docs/DAEMON.md, "The adoption check"):
// the content hash a commit pinned against the saved state's compile.
#pragma once

#include "lib/model/policy.hpp"
#include "lib/tables/compiled_policy.hpp"

#include <cstdint>

namespace xdpfw {

enum class PinnedHash {
    same,         // pinned by this build's hash scheme
    same_scheme1, // pinned by a build before source hash scheme 2, same policy
    differs,      // another policy (or none pinned: 0)
};

// mine: the compile of saved (its source_hash of scheme 2).
PinnedHash compare_pinned_hash(const CompiledPolicy& mine, const Policy& saved, uint64_t pinned);

} // namespace xdpfw
