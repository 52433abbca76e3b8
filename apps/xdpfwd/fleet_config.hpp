// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd's fleet settings (docs/FLEET.md): the `fleet:` section of the
// config file and the --etcd... flags. Off unless etcd endpoints are given.
#pragma once

#include "lib/fleet/etcd_client.hpp"

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace xdpfw {

struct FleetConfig {
    std::vector<std::string> etcd;   // endpoint URLs; empty: fleet mode off
    std::string prefix;              // /xdpfw/CLUSTER
    std::string node;                // this node's name; default: the host name
    std::string user, password_file; // etcd user/password authentication
    std::string ca_file, cert_file, key_file; // TLS (https endpoints)
    int64_t lease_ttl_seconds = 10;
    uint32_t status_interval_ms = 5000;

    bool enabled() const { return !etcd.empty(); }
    // The client options (reads the password file); throws std::invalid_argument.
    fleet::EtcdOptions etcd_options() const;
};

// The `fleet:` section: etcd, prefix, node, user, password_file, ca, cert,
// key, lease_ttl_seconds, status_interval_ms. Throws std::invalid_argument
// naming source and key.
void parse_fleet_section(const YAML::Node& n, const std::string& source, FleetConfig& f);
// --etcd URL[,URL...], --etcd-prefix, --node, --etcd-user,
// --etcd-password-file, --etcd-ca, --etcd-cert, --etcd-key.
void add_fleet_options(CLI::App& app, FleetConfig& f);
// Fills the node name; checks prefix, node and endpoints when enabled.
void validate_fleet_config(FleetConfig& f);

} // namespace xdpfw
