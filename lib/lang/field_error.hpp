// SPDX-License-Identifier: GPL-2.0-only
// PolicyFieldError: a policy document (JSON or YAML) that cannot be read,
// with what kind of problem it is, so each reader can report it its way.
#pragma once

#include "lib/model/policy.hpp"

#include <string>
#include <utility>

namespace xdpfw {

// where() names the field: a JSON path ("policy.sets.s[0]") or a YAML
// position ("policy.yaml:7", with key() the YAML key). The control protocol
// turns the kind into its error code (docs/PROTOCOL.md).
class PolicyFieldError : public PolicyError {
public:
    enum class Kind {
        type,         // a value of the wrong type (expected() and got() say which)
        missing,      // a required key is absent
        value,        // a value of the right type that means nothing (a verdict, a format)
        unknown_key,  // a key the document does not have
        set_name,     // not [A-Za-z_][A-Za-z0-9_.-]*, or given twice
        prefix,       // a set's prefix does not parse
        rule,         // a rule's text does not parse, or its id is out of range
        unknown_set,  // a rule names a set the policy does not have
        duplicate_id, // two rules with one id
    };

    PolicyFieldError(Kind kind, std::string where, std::string key, std::string problem)
        : PolicyError(std::move(where), std::move(key), std::move(problem), code_of(kind)),
          kind_(kind)
    {
    }
    // The protocol's code for each kind (docs/PROTOCOL.md, "Error codes").
    static constexpr ErrorCode code_of(Kind kind)
    {
        switch (kind) {
        case Kind::type: return ErrorCode::bad_request;
        case Kind::prefix: return ErrorCode::invalid_prefix;
        case Kind::rule: return ErrorCode::invalid_rule;
        case Kind::unknown_set: return ErrorCode::unknown_set;
        case Kind::missing:
        case Kind::value:
        case Kind::unknown_key:
        case Kind::set_name:
        case Kind::duplicate_id: return ErrorCode::invalid_policy;
        }
        return ErrorCode::invalid_policy;
    }
    // A Kind::type error: "expected <expected>, got <got>".
    static PolicyFieldError wrong_type(std::string where, std::string key, std::string expected,
                                       std::string got)
    {
        PolicyFieldError e(Kind::type, std::move(where), std::move(key),
                           "expected " + expected + ", got " + got);
        e.expected_ = std::move(expected);
        e.got_ = std::move(got);
        return e;
    }

    Kind kind() const { return kind_; }
    const std::string& expected() const { return expected_; }
    const std::string& got() const { return got_; }

private:
    Kind kind_;
    std::string expected_, got_;
};

} // namespace xdpfw
