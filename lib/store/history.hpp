// SPDX-License-Identifier: GPL-2.0-only
// The store's commit history, and an entry as JSON (the snapshot's
// "history" items and the head of every journal line).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace xdpfw {

struct HistoryEntry {
    uint64_t version = 0;
    std::chrono::system_clock::time_point time;
    std::string summary; // "rule.add id=3: priority=10 ... action=drop"
};

// The store keeps this many of the latest commits.
constexpr size_t history_cap = 1000;

// Appends e, dropping the oldest entries past history_cap.
void push_history(std::deque<HistoryEntry>& history, HistoryEntry e);

// obj[key] as an RFC 3339 UTC time; PolicyFieldError naming where.key when
// it is missing or not one.
std::chrono::system_clock::time_point utc_time_field(const nlohmann::json& obj,
                                                     const std::string& where, const char* key);

// {"version": 3, "time": "2024-05-01T12:00:00.123Z", "summary": "..."}
nlohmann::json history_entry_json(const HistoryEntry& e);
// Reads those three fields of e (others are ignored); PolicyFieldError
// naming where ("history[2].time") when it cannot.
HistoryEntry history_entry_from_json(const nlohmann::json& e, const std::string& where);

} // namespace xdpfw
