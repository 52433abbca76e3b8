// SPDX-License-Identifier: GPL-2.0-only
// MapUpgrade: moving an instance to maps of another layout (a build whose
// kernel/user ABI changed, or other capacities) while its program filters.
#pragma once

#include "lib/base/unique_fd.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace xdpfw {

class XdpfwObject;

// The pinned maps of a running instance cannot be reused by this build: the
// old pins move to <pin_dir>-old, where the running program keeps them
// alive, and the new object is loaded into a fresh <pin_dir>. The counters'
// maps are carried over by pin (hard links in bpffs) when their layout is
// the new build's, so old and new program count into the same maps; the
// flow table and the rate limit buckets by installing the old inner maps.
// The daemon then commits the saved policy into the new maps and replaces
// the old program on each interface atomically (docs/DAEMON.md,
// "Upgrading"). finish() drops the old pins, abort() puts them back.
class MapUpgrade {
public:
    // Renames pin_dir aside and links the carried maps' pins into a fresh
    // pin_dir. Throws BpfError when bpffs refuses (then nothing moved).
    static MapUpgrade begin(const std::string& pin_dir);

    // The carried maps' pins in the new directory: removed again when the
    // new build cannot reuse them (its load failed), so it loads fresh ones.
    void unlink_carried();
    // Names of the maps the new object shares with the old program.
    std::vector<std::string> shared_maps(const XdpfwObject& obj) const;
    // Counters of maps that could not be shared (another size, or the
    // per-CPU rule counters of a build before xdpfw_rule_counters), copied
    // from the old maps for the given rule ids: the old program's counts
    // after the copy and before the swap are lost. Returns the rules copied.
    size_t copy_counters(const XdpfwObject& obj, const std::vector<uint32_t>& rule_ids) const;
    // The old flow table and limit buckets, when their entries are this
    // build's, become the new object's. Returns what was carried.
    std::vector<std::string> carry_inner_tables(const XdpfwObject& obj) const;

    const std::string& old_dir() const { return old_dir_; }
    uint32_t old_program_id() const { return old_prog_id_; }
    // An fd of the old program (-1 when none was pinned).
    int old_program_fd() const { return old_prog_.get(); }

    // Success: the old pins go (the old maps live as long as something
    // holds them). Failure: the new pins go and the old ones come back.
    void finish();
    void abort() noexcept;

private:
    MapUpgrade(std::string pin_dir, std::string old_dir);
    size_t copy_rule_counters(const XdpfwObject& obj, const std::vector<uint32_t>& rule_ids) const;
    std::string pin_dir_, old_dir_;
    UniqueFd old_prog_;
    uint32_t old_prog_id_ = 0;
    std::vector<std::string> linked_;
};

} // namespace xdpfw
