// SPDX-License-Identifier: GPL-2.0-only
// The one table of error codes and their wire names.
#include "lib/model/error.hpp"

#include <algorithm>
#include <utility>

namespace xdpfw {

namespace {

using Entry = std::pair<ErrorCode, std::string_view>;

// In enum order: error_name() indexes it.
constexpr std::array<Entry, error_code_count> error_code_names = {{
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
    {ErrorCode::internal, "internal"},
}};

constexpr bool in_enum_order()
{
    for (size_t i = 0; i < error_code_names.size(); ++i)
        if (size_t(error_code_names[i].first) != i)
            return false;
    return true;
}
static_assert(in_enum_order(), "error_code_names must list the codes in enum order");

} // namespace

const std::array<ErrorCode, error_code_count>& all_error_codes()
{
    static const auto codes = [] {
        std::array<ErrorCode, error_code_count> out{};
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = error_code_names[i].first;
        return out;
    }();
    return codes;
}

std::string_view error_name(ErrorCode code)
{
    const auto i = size_t(code);
    return i < error_code_names.size() ? error_code_names[i].second : "internal";
}

std::optional<ErrorCode> error_code_from_name(std::string_view name)
{
    auto it = std::find_if(error_code_names.begin(), error_code_names.end(),
                           [&](const Entry& e) { return e.second == name; });
    if (it == error_code_names.end())
        return std::nullopt;
    return it->first;
}

} // namespace xdpfw
