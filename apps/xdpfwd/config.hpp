// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd configuration: a YAML file (--config) whose every key can also be
// set by a command-line flag, flags winning. docs/DAEMON.md lists the keys.
#pragma once

#include "apps/xdpfwd/fleet_config.hpp"
#include "lib/model/policy.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "lib/metrics/listen_address.hpp"
#include "lib/xsk/engine.hpp"

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xdpfw {

struct DaemonConfig {
    std::string instance = "default";
    std::vector<std::string> interfaces;
    std::string attach_mode = "auto";       // auto, native, generic
    ActionType default_action = ActionType::pass;
    ActionType malformed_action = ActionType::drop;
    ActionType default_non_ip_action = ActionType::pass; // non-IP frames no rule matches
    std::string socket = "/run/xdpfw/xdpfwd.sock";
    mode_t socket_mode = 0660;
    std::string socket_group;               // name or number; empty: root only
    std::string rules;                      // initial policy file when no state exists
    std::string state_dir = "/var/lib/xdpfw";
    // Where <instance>.lock is: one daemon per instance (instance_lock.hpp).
    std::string lock_dir = "/run/xdpfw";
    // --replace-live (a flag only, never a config key: it is a decision for
    // one start): commit the rules file over a live policy whose saved
    // state cannot be loaded, instead of refusing to start.
    bool replace_live = false;
    // --upgrade-maps (a flag only, like --replace-live): when the pinned
    // maps do not fit this build or these capacities, move the saved policy
    // and the counters to new maps and swap the program atomically
    // (lib/kernel/map_upgrade.hpp) instead of refusing to start.
    bool upgrade_maps = false;
    bool detach_on_exit = false;
    std::string log_level = "info";
    size_t max_message_bytes = 32u << 20;
    size_t max_connections = 256;            // control socket clients at once
    uint32_t control_idle_timeout_seconds = 60; // 0: idle clients are never closed
    // The Prometheus endpoint (`metrics: 127.0.0.1:9469`, --metrics); off
    // unless configured.
    std::optional<metrics::ListenAddress> metrics;
    LoadOptions load;                       // capacities (max_rules, ...), ct.max_flows
    // Events (sample_default, sample_malformed, event_snaplen): what the
    // program samples besides sample= rules.
    EventSampling events;
    // `ct: {egress: false}`: no tc egress program, so the host's own
    // connections are not tracked (inline two-port mode needs none).
    bool ct_egress = true;
    // The AF_XDP engine (`xsk:` section); off unless configured. Its
    // interfaces default to `interfaces`.
    bool xsk_enabled = false;
    xsk::EngineConfig xsk;
    FleetConfig fleet;                      // `fleet:` section, --etcd... (docs/FLEET.md)

    std::filesystem::path state_file() const { return std::filesystem::path(state_dir) / (instance + ".json"); }
    std::filesystem::path lock_file() const { return std::filesystem::path(lock_dir) / (instance + ".lock"); }
};

// Reads a YAML config file; throws std::invalid_argument naming the file, the
// key and what is wrong. Unknown keys are errors.
DaemonConfig load_daemon_config(const std::filesystem::path& file);
DaemonConfig parse_daemon_config(const std::string& yaml, const std::string& source);

// Parses xdpfwd's command line (CLI11) over base (the file's values):
// --config FILE, --instance, --interface (repeatable), --mode, --default,
// --default-non-ip,
// --malformed, --socket, --socket-mode, --socket-group, --rules, --state-dir,
// --lock-dir, --replace-live, --detach-on-exit, --log-level, --max-rules,
// --max-message-bytes, --metrics, --sample-default, --sample-malformed,
// --event-snaplen.
// Returns nullopt when the parser printed help/version or an error; *exit_code
// is then what main should return.
std::optional<DaemonConfig> parse_daemon_args(int argc, const char* const* argv, int* exit_code);

// Checks the whole config (instance name, at least one interface, modes...).
void validate_daemon_config(const DaemonConfig& c);

// The engine configuration the daemon runs: c.xsk with its interfaces
// defaulted to the filtered ones.
xsk::EngineConfig xsk_engine_config(const DaemonConfig& c);

} // namespace xdpfw
