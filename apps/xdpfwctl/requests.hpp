// SPDX-License-Identifier: GPL-2.0-only
// Building control protocol requests (docs/PROTOCOL.md) from xdpfwctl's
// arguments. Files named on the command line are read and checked here, so
// their errors name the file and line before anything is sent.
#pragma once

#include "lib/model/policy.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xdpfw::ctl {

nlohmann::json status_request();
// The words are joined with single spaces into the rule text.
nlohmann::json rule_add_request(const std::vector<std::string>& words);
nlohmann::json rule_del_request(uint32_t rule_id);
// rule.replace: the rule with this id gets the words' rule.
nlohmann::json rule_replace_request(uint32_t rule_id, const std::vector<std::string>& words);
nlohmann::json rule_list_request();
// Inspection rules (docs/RULES.md, "Inspection rules"); words joined as for rules.
nlohmann::json inspect_add_request(const std::vector<std::string>& words);
nlohmann::json inspect_del_request(uint32_t rule_id);
nlohmann::json inspect_list_request();
nlohmann::json set_create_request(const std::string& name);
nlohmann::json set_add_request(const std::string& name, const std::vector<std::string>& prefixes);
nlohmann::json set_del_request(const std::string& name, const std::vector<std::string>& prefixes);
// Reads a prefix file (parse_prefix_lines); throws ClientError with code
// io_error (cannot open) or invalid_prefix ("FILE:LINE: problem").
nlohmann::json set_load_request(const std::string& name, const std::filesystem::path& file);
// set.destroy: the whole set (refused by the daemon while a rule uses it).
nlohmann::json set_destroy_request(const std::string& name);
// policy.get: the live policy, for `save`.
nlohmann::json policy_get_request();
nlohmann::json set_list_request(const std::optional<std::string>& name);
// Reads the YAML policy and its set files (load_policy_file); throws
// ClientError with code invalid_policy naming the file, rule and key.
nlohmann::json load_request(const std::filesystem::path& file);
nlohmann::json history_request(std::optional<unsigned> limit);
nlohmann::json stats_request();
nlohmann::json confirm_request();
// version: the default (the previous version) when nullopt.
nlohmann::json rollback_request(std::optional<uint64_t> version);
// to: the live version when nullopt.
nlohmann::json diff_request(uint64_t from, std::optional<uint64_t> to);
nlohmann::json detach_request();
nlohmann::json ct_list_request(std::optional<unsigned> limit);
nlohmann::json ct_flush_request();

// The `policy` argument of `load`: default, malformed, rules as canonical
// text with "id=N " in front (file order), sets as prefix strings: the
// codec's document form (lib/lang/policy_codec.hpp).
nlohmann::json policy_to_json(const Policy& policy);

} // namespace xdpfw::ctl
