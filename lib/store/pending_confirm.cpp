// SPDX-License-Identifier: GPL-2.0-only
// A pending confirmation as the snapshot saves it.
#include "lib/store/pending_confirm.hpp"

#include "lib/base/utc_time.hpp"
#include "lib/lang/json_fields.hpp"
#include "lib/lang/policy_codec.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/store/history.hpp"

namespace xdpfw {

nlohmann::json pending_to_json(const PendingConfirm& p)
{
    return {{"deadline", format_utc_time(p.deadline)},
            {"version", p.version},
            {"rollback_version", p.rollback_version},
            {"policy", policy_to_json(*p.rollback_policy, PolicyForm::state)}};
}

PendingConfirm pending_from_json(const nlohmann::json& j, const std::string& where,
                                 uint32_t max_rules)
{
    using namespace json_fields;
    object(j, where);
    PendingConfirm p;
    p.deadline = utc_time_field(j, where, "deadline");
    p.version = unsigned_int(field(j, where, "version"), join(where, "version"));
    p.rollback_version =
        unsigned_int(field(j, where, "rollback_version"), join(where, "rollback_version"));
    Policy policy = policy_from_json(field(j, where, "policy"), join(where, "policy"),
                                     PolicyForm::state, max_rules);
    try {
        validate_policy(policy);
    } catch (const PolicyError& e) {
        fail(join(where, "policy"), e.what());
    }
    p.rollback_policy = std::make_shared<const Policy>(std::move(policy));
    return p;
}

} // namespace xdpfw
