// SPDX-License-Identifier: GPL-2.0-only
// The snapshot: the whole policy, its version and the history as one JSON
// file (docs/DAEMON.md, "State"). The policy is in the codec's state form.
#pragma once

#include "lib/model/policy.hpp"
#include "lib/store/history.hpp"
#include "lib/store/pending_confirm.hpp"

#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>

namespace xdpfw {

struct Snapshot {
    Policy policy;
    uint64_t version = 0;
    std::deque<HistoryEntry> history;
    std::optional<PendingConfirm> pending;
    uint64_t bytes = 0; // the file's size
};

// The file's text: {"format": 1, "version", "policy", "history"}, and
// "pending_confirm" (pending_confirm.hpp) when pending is given.
std::string snapshot_text(const Policy& policy, uint64_t version,
                          const std::deque<HistoryEntry>& history,
                          const PendingConfirm* pending = nullptr);

// Reads and validates the file; nullopt when it does not exist. Throws
// CommandError(ErrorCode::invalid_policy, "state file PATH: FIELD: problem") when it
// cannot be read. Rule ids must be below max_rules.
std::optional<Snapshot> read_snapshot(const std::filesystem::path& file, uint32_t max_rules);

} // namespace xdpfw
