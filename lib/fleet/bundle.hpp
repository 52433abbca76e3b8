// SPDX-License-Identifier: GPL-2.0-only
// A policy as etcd holds it (docs/FLEET.md, "Keys"): a manifest at
// PREFIX/policy with the policy's rules and defaults and, for each set, the
// list of content-addressed chunks (PREFIX/chunks/<sha256>) its prefixes
// are in. A set of a million prefixes does not fit one etcd value (1.5 MiB
// by default); chunks do, and an unchanged set's chunks are not written
// again. The manifest is written last, so a node that sees it can read
// every chunk it names (at the manifest's revision, even after they were
// garbage-collected).
#pragma once

#include "lib/model/policy.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xdpfw::fleet {

// The keys under a cluster prefix ("/xdpfw/prod": no trailing slash).
struct FleetKeys {
    std::string prefix;
    std::string policy() const { return prefix + "/policy"; }
    std::string chunks() const { return prefix + "/chunks/"; }
    std::string chunk(const std::string& id) const { return chunks() + id; }
    std::string nodes() const { return prefix + "/nodes/"; }
    std::string node(const std::string& name) const { return nodes() + name; }
};
// Checks a prefix ("/" then non-empty segments, no trailing "/"); throws
// std::invalid_argument.
void check_prefix(const std::string& prefix);
// Node names: [A-Za-z0-9_.-]{1,64}; throws std::invalid_argument.
void check_node_name(const std::string& name);

// The largest chunk: well under etcd's 1.5 MiB request limit.
inline constexpr size_t chunk_bytes = 512 * 1024;

struct Bundle {
    nlohmann::json manifest;
    std::map<std::string, std::string> chunks; // id (sha256 hex) -> bytes
};

// Splits policy into its manifest and chunks; summary says what the push
// is (shown by `fleet status` and in the nodes' journals).
Bundle make_bundle(const Policy& policy, const std::string& summary);

// Every chunk id a manifest names.
std::vector<std::string> manifest_chunks(const nlohmann::json& manifest);

// The policy back from a manifest (its text) and a way to read a chunk
// (nullopt: missing). Throws std::invalid_argument when the manifest is not
// one, a chunk is missing or does not hash to its id, or the policy does
// not parse (PolicyError).
Policy open_bundle(const std::string& manifest_text,
                   const std::function<std::optional<std::string>(const std::string&)>& chunk);

std::string sha256_hex(std::string_view bytes);

} // namespace xdpfw::fleet
