// SPDX-License-Identifier: GPL-2.0-only
// A commit awaiting confirmation (`--confirm SECONDS`, like JunOS `commit
// confirmed`): when it is due, the policy it replaced comes back as a new
// version. Saved with the store's state (the snapshot's "pending_confirm"),
// so it survives a daemon restart.
#pragma once

#include "lib/model/policy.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace xdpfw {

struct PendingConfirm {
    std::chrono::system_clock::time_point deadline; // whole milliseconds
    uint64_t version = 0;          // the latest commit awaiting confirmation
    uint64_t rollback_version = 0; // the version whose policy comes back
    std::shared_ptr<const Policy> rollback_policy;
};

// Longest --confirm: a day.
constexpr uint64_t max_confirm_seconds = 86400;

// {"deadline": RFC 3339, "version", "rollback_version", "policy": state form}
nlohmann::json pending_to_json(const PendingConfirm& p);
// PolicyFieldError naming where ("pending_confirm.deadline") when it cannot.
PendingConfirm pending_from_json(const nlohmann::json& j, const std::string& where,
                                 uint32_t max_rules);

} // namespace xdpfw
