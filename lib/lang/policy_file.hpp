// SPDX-License-Identifier: GPL-2.0-only
// YAML policy files (default and malformed verdicts, named sets, rules; read
// and written by policy_codec.hpp), set files and whole-policy validation.
// The format is in docs/RULES.md.
#pragma once

#include "lib/model/policy.hpp"

#include <filesystem>
#include <istream>
#include <string>

namespace xdpfw {

// Reads and parses a policy file; set files are relative to its directory.
// Throws PolicyError naming the file, the rule number and line, the key and
// the problem.
Policy load_policy_file(const std::filesystem::path& path);

// The same from text already in memory. base_dir resolves {file: ...} sets;
// source_name is the name errors use (usually the file name).
Policy parse_policy_yaml(const std::string& yaml, const std::filesystem::path& base_dir,
                         const std::string& source_name);

// One prefix per line; '#' starts a comment, blank lines are skipped. Errors
// say "<source>:<line>: <problem>". The result is deduplicated and sorted.
PrefixSet parse_prefix_lines(std::istream& in, const std::string& source);

// Sorts and deduplicates a set's prefixes (the form PrefixSet promises).
void normalize_set(PrefixSet& set);

// A rule's @set references name sets the policy has; PolicyFieldError
// (Kind::unknown_set) at where, key src or dst, otherwise.
void check_set_refs(const Rule& rule, const Policy& policy, const std::string& where);

// Whole-policy checks: default and malformed are drop or pass, set names are
// valid, every rule passes validate_rule(), rule ids are >= 1 and unique, and
// every @set a rule names exists. Throws PolicyError with code unknown_set
// (a missing set), invalid_policy (ids, default actions, set names) or
// invalid_rule (a rule's own problem).
void validate_policy(const Policy& policy);

// The policy as a YAML file that parse_policy_yaml() reads back into an equal
// Policy: sets inline, rules with their ids (policy_to_yaml()).
std::string format_policy_yaml(const Policy& policy);

} // namespace xdpfw
