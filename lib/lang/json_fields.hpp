// SPDX-License-Identifier: GPL-2.0-only
// Typed access to the fields of a parsed JSON document, every problem a
// PolicyFieldError naming the JSON path ("policy.rules[0].id"). The JSON
// counterpart of yaml_nodes.hpp.
#pragma once

#include "lib/lang/field_error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace xdpfw::json_fields {

// "policy" + "rules" -> "policy.rules"; an empty where gives just the key.
std::string join(const std::string& where, const std::string& key);
// "policy.rules" + 2 -> "policy.rules[2]".
std::string index(const std::string& where, size_t i);

// A Kind::value error at where.
[[noreturn]] void fail(const std::string& where, const std::string& problem);

// obj[key]; Kind::missing "missing \"key\"" at where when absent.
const nlohmann::json& field(const nlohmann::json& obj, const std::string& where, const char* key);
// v itself, when it is an object / an array; Kind::type otherwise.
const nlohmann::json& object(const nlohmann::json& v, const std::string& where);
const nlohmann::json& array(const nlohmann::json& v, const std::string& where,
                            const std::string& expected = "an array");
const std::string& string(const nlohmann::json& v, const std::string& where);
// An integer >= 0 (a number's value in the message when it is not).
uint64_t unsigned_int(const nlohmann::json& v, const std::string& where);

} // namespace xdpfw::json_fields
