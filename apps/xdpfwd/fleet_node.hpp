// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd in fleet mode (docs/FLEET.md): the follower that applies the
// policy in etcd through the daemon's commit path, the revision it last
// applied (saved beside the state file, so a restart does not commit the
// same policy again), and the refusal of local policy changes.
#pragma once

#include "apps/xdpfwd/fleet_config.hpp"
#include "lib/fleet/follower.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace xdpfw {

class FleetNode {
public:
    // apply commits a policy (the store's replace under the daemon's store
    // lock) and returns the local version it became; status is the node's
    // report. local_version: the version live now (for the saved revision).
    FleetNode(const FleetConfig& cfg, std::filesystem::path saved_file, uint64_t local_version,
              std::function<uint64_t(const Policy&, const std::string&)> apply,
              std::function<nlohmann::json()> status);
    ~FleetNode();

    void start() { follower_->start(); }
    void stop() { follower_->stop(); }
    // The daemon's `status`, "fleet" (docs/PROTOCOL.md).
    nlohmann::json state() const { return follower_->local_state(); }

    // An error response for a control request that would change the policy
    // (the fleet's policy is changed through etcd: `xdpfwctl --etcd`); a dry
    // run and every read pass (nullopt).
    std::optional<nlohmann::json> refusal(const std::string& line) const;

private:
    FleetConfig cfg_;
    std::filesystem::path saved_file_;
    std::unique_ptr<fleet::Follower> follower_;
};

} // namespace xdpfw
