// SPDX-License-Identifier: GPL-2.0-only
// The one table of error codes and their wire names.
#include "lib/model/error.hpp"

#include "lib/base/enum_names.hpp"

namespace xdpfw {

namespace {

// In enum order (static_assert below).
constexpr EnumNames<ErrorCode, error_code_count> error_code_names = {{{
    {ErrorCode::bad_json, "bad_json"},
    {ErrorCode::bad_request, "bad_request"},
    {ErrorCode::unknown_command, "unknown_command"},
    {ErrorCode::too_large, "too_large"},
    {ErrorCode::permission_denied, "permission_denied"},
    {ErrorCode::invalid_rule, "invalid_rule"},
    {ErrorCode::invalid_prefix, "invalid_prefix"},
    {ErrorCode::invalid_policy, "invalid_policy"},
    {ErrorCode::unknown_set, "unknown_set"},
    {ErrorCode::set_exists, "set_exists"},
    {ErrorCode::set_in_use, "set_in_use"},
    {ErrorCode::unknown_rule, "unknown_rule"},
    {ErrorCode::rule_exists, "rule_exists"},
    {ErrorCode::capacity, "capacity"},
    {ErrorCode::kernel_error, "kernel_error"},
    {ErrorCode::busy, "busy"},
    {ErrorCode::confirm_pending, "confirm_pending"},
    {ErrorCode::not_pending, "not_pending"},
    {ErrorCode::unknown_version, "unknown_version"},
    {ErrorCode::internal, "internal"},
}}};
static_assert(error_code_names.in_order(), "error_code_names must list the codes in enum order");

constexpr std::array<ErrorCode, error_code_count> error_codes = error_code_names.values();

} // namespace

const std::array<ErrorCode, error_code_count>& all_error_codes()
{
    return error_codes;
}

std::string_view error_name(ErrorCode code)
{
    return error_code_names.name(code, "internal");
}

std::optional<ErrorCode> error_code_from_name(std::string_view name)
{
    return error_code_names.find(name);
}

} // namespace xdpfw
