// SPDX-License-Identifier: GPL-2.0-only
// compare_pinned_hash(): the current hash scheme, then the older one.
#include "apps/xdpfwd/adoption.hpp"

#include "lib/compiler/source_hash.hpp"
#include "lib/kernel/content_hash.hpp"

namespace xdpfw {

PinnedHash compare_pinned_hash(const CompiledPolicy& mine, const Policy& saved, uint64_t pinned)
{
    if (pinned == 0)
        return PinnedHash::differs;
    if (content_hash(mine) == pinned)
        return PinnedHash::same;
    // Policies without sets hash alike in both schemes: only a policy with
    // sets can match here. The next commit pins scheme 2.
    if (!saved.sets.empty() &&
        content_hash(mine, policy_source_hash(saved, SourceHashScheme::v1)) == pinned)
        return PinnedHash::same_scheme1;
    return PinnedHash::differs;
}

} // namespace xdpfw
