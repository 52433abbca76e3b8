// SPDX-License-Identifier: GPL-2.0-only
// History entries and their JSON.
#include "lib/store/history.hpp"

#include "lib/base/utc_time.hpp"
#include "lib/lang/json_fields.hpp"

namespace xdpfw {

void push_history(std::deque<HistoryEntry>& history, HistoryEntry e)
{
    history.push_back(std::move(e));
    while (history.size() > history_cap)
        history.pop_front();
}

nlohmann::json history_entry_json(const HistoryEntry& e)
{
    return {{"version", e.version}, {"time", format_utc_time(e.time)}, {"summary", e.summary}};
}

std::chrono::system_clock::time_point utc_time_field(const nlohmann::json& obj,
                                                     const std::string& where, const char* key)
{
    using namespace json_fields;
    const std::string& t = string(field(obj, where, key), join(where, key));
    auto tp = parse_utc_time(t);
    if (!tp)
        fail(join(where, key), "'" + t + "' is not an RFC 3339 UTC time");
    return *tp;
}

HistoryEntry history_entry_from_json(const nlohmann::json& e, const std::string& where)
{
    using namespace json_fields;
    object(e, where);
    HistoryEntry h;
    h.version = unsigned_int(field(e, where, "version"), join(where, "version"));
    h.time = utc_time_field(e, where, "time");
    h.summary = string(field(e, where, "summary"), join(where, "summary"));
    return h;
}

} // namespace xdpfw
