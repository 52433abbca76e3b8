// SPDX-License-Identifier: GPL-2.0-only
// Small helpers the YAML file readers share: where a node is, what kind it
// is, loading text with errors as PolicyErrors.
#pragma once

#include "lib/model/policy.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <string>

namespace xdpfw {

// "policy.yaml:7" when yaml-cpp knows where the node is, else "policy.yaml".
std::string yaml_at(const std::string& source, const YAML::Node& node);

// "nothing", "a scalar", "a list", "a mapping".
std::string yaml_kind(const YAML::Node& node);

// YAML::Load with a syntax error as PolicyError("source:line", "", "YAML syntax: ...").
YAML::Node yaml_load(const std::string& text, const std::string& source);

// Walks a file's top-level mapping. A null root visits nothing; any other
// non-mapping is an error "expected <expected>, got ..."; keys must be
// scalars and appear once. visit(key, key_node, value_node) handles each.
void yaml_for_each_top_key(
    const YAML::Node& root, const std::string& source, const std::string& expected,
    const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& visit);

// Walks a `rules:` list of rule strings (null: nothing). visit(text, where,
// number) gets each string, where = "source:line: rule N", number from 1.
void yaml_for_each_rule_string(
    const YAML::Node& rules, const std::string& source,
    const std::function<void(const std::string&, const std::string&, size_t)>& visit);

// The whole file; PolicyError(path, "", "cannot open: ...") on failure.
std::string read_policy_text(const std::filesystem::path& path);

} // namespace xdpfw
