// SPDX-License-Identifier: GPL-2.0-only
// The snapshot file: its JSON envelope around the codec's policy.
#include "lib/store/snapshot.hpp"

#include "lib/lang/json_fields.hpp"
#include "lib/lang/policy_codec.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/store/durable_file.hpp"
#include "lib/store/policy_store.hpp"

#include <nlohmann/json.hpp>

namespace xdpfw {

namespace {

constexpr int state_format = 1;

// The parsed file, or a PolicyError naming the field.
Snapshot snapshot_from_text(const std::string& text, uint32_t max_rules)
{
    using namespace json_fields;
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        // e.what() starts with "[json.exception.parse_error.101] ".
        std::string msg = e.what();
        if (auto p = msg.find("] "); p != std::string::npos)
            msg.erase(0, p + 2);
        fail("", "not JSON: " + msg);
    }
    if (!root.is_object())
        fail("", std::string("expected a JSON object, got ") + root.type_name());
    const nlohmann::json& format = field(root, "", "format");
    if (!format.is_number_integer() || format.get<int64_t>() != state_format)
        fail("format", "unsupported format " + format.dump() + " (this xdpfwd reads " +
                           std::to_string(state_format) + ")");
    Snapshot s;
    s.version = unsigned_int(field(root, "", "version"), "version");
    s.policy = policy_from_json(field(root, "", "policy"), "policy", PolicyForm::state, max_rules);
    try {
        validate_policy(s.policy);
    } catch (const PolicyError& e) {
        fail("policy", e.what());
    }
    const nlohmann::json& hj = array(field(root, "", "history"), "history");
    for (size_t i = 0; i < hj.size(); ++i)
        push_history(s.history, history_entry_from_json(hj[i], index("history", i)));
    if (auto it = root.find("pending_confirm"); it != root.end())
        s.pending = pending_from_json(*it, "pending_confirm", max_rules);
    s.bytes = text.size();
    return s;
}

} // namespace

std::string snapshot_text(const Policy& policy, uint64_t version,
                          const std::deque<HistoryEntry>& history,
                          const PendingConfirm* pending)
{
    nlohmann::json hist = nlohmann::json::array();
    for (const HistoryEntry& h : history)
        hist.push_back(history_entry_json(h));
    nlohmann::json j = {{"format", state_format},
                        {"version", version},
                        {"policy", policy_to_json(policy, PolicyForm::state)},
                        {"history", std::move(hist)}};
    if (pending)
        j["pending_confirm"] = pending_to_json(*pending);
    // replace: a summary may carry a path from the daemon's config that is
    // not UTF-8; that must not make the state unsavable.
    return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<Snapshot> read_snapshot(const std::filesystem::path& file, uint32_t max_rules)
{
    std::optional<std::string> text = read_whole_file(file, "state file");
    if (!text)
        return std::nullopt;
    try {
        return snapshot_from_text(*text, max_rules);
    } catch (const PolicyError& e) {
        throw CommandError(ErrorCode::invalid_policy, "state file " + file.string() + ": " + e.what());
    }
}

} // namespace xdpfw
