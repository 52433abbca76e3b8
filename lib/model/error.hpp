// SPDX-License-Identifier: GPL-2.0-only
// The error codes of the control protocol (docs/PROTOCOL.md, "Error codes")
// and the exceptions that carry one from where an error arises to the wire.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace xdpfw {

// Exactly the codes docs/PROTOCOL.md documents, in its order. The wire name
// of each is in error_code_names (error.cpp), the one table both the daemon
// and xdpfwctl use.
enum class ErrorCode : uint8_t {
    bad_json,
    bad_request,
    unknown_command,
    too_large,
    permission_denied,
    invalid_rule,
    invalid_prefix,
    invalid_policy,
    unknown_set,
    set_exists,
    set_in_use,
    unknown_rule,
    rule_exists,
    capacity,
    kernel_error,
    busy,
    confirm_pending,
    not_pending,
    unknown_version,
    internal,
};

inline constexpr size_t error_code_count = size_t(ErrorCode::internal) + 1;

// Every code, in declaration order (tests, docs).
const std::array<ErrorCode, error_code_count>& all_error_codes();

// "bad_json", "capacity", ...
std::string_view error_name(ErrorCode code);

// The code with this wire name; nullopt for a name this build does not know
// (a newer daemon's, or a client's own such as "timeout").
std::optional<ErrorCode> error_code_from_name(std::string_view name);

// An error with its protocol code; what() is the message the client sees.
class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const { return code_; }

private:
    ErrorCode code_;
};

// A command that cannot be carried out (unknown_rule, rule_exists,
// unknown_set, set_exists, invalid_rule, capacity, kernel_error, ...): what
// the policy store and the commands throw.
class CommandError : public Error {
public:
    using Error::Error;
};

} // namespace xdpfw
