// SPDX-License-Identifier: GPL-2.0-only
// `xdpfwctl save [FILE]`: the live policy (policy.get) as a YAML rule file
// that `xdpfwctl load FILE` commits back unchanged.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace xdpfw::ctl {

// The rule file for a policy.get result: a comment line naming the version
// and the time, then the policy (lib/lang/policy_codec.hpp, policy_to_yaml).
// Throws ClientError(bad_response) when the result holds no valid policy.
std::string saved_policy_text(const nlohmann::json& result);

// Without file: the text, for stdout. With one: writes it next to the file
// and renames it into place (a reader never sees half a file, an existing
// file is replaced only by a complete one), then returns what to print
// ("saved version N (R rules, S sets) to FILE"). ClientError io_error when
// the file cannot be written.
std::string save_policy(const nlohmann::json& result, const std::optional<std::filesystem::path>& file);

} // namespace xdpfw::ctl
