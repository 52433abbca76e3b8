// SPDX-License-Identifier: GPL-2.0-only
// Human output of xdpfwctl: control protocol result objects (the response
// minus "id" and "ok", docs/PROTOCOL.md) as aligned text tables.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace xdpfw::ctl {

// Every formatter throws ClientError (bad_response) naming the field when the
// result lacks a field it needs or has one of the wrong type.

// Key/value lines (instance, version, counts, verdicts, uptime), then a table
// of interfaces with their attach mode.
std::string format_status(const nlohmann::json& status);
// rule.list: id, priority, action, rule text, in evaluation order.
std::string format_rules(const nlohmann::json& rule_list);
// set.list: a table of names and sizes; with a name, a '#' comment line and
// one prefix per line, which `xdpfwctl set load` reads back.
std::string format_sets(const nlohmann::json& set_list);
// history: version, time, summary; newest first as the daemon sends it.
std::string format_history(const nlohmann::json& history);
// stats: per-rule packets, bytes, pps and bit/s, then per-reason counters.
std::string format_stats(const nlohmann::json& stats);
// stats' "ct": the flow table's size and counters.
std::string format_ct_counters(const nlohmann::json& ct);
// ct.list: proto, src, sport, dst, dport (as the opener sent), state, expiry.
std::string format_ct_flows(const nlohmann::json& list);
// inspect.list: id, priority, action, packets, dropped, forwarded, rule.
std::string format_inspect_rules(const nlohmann::json& inspect_list);
// diff (and a dry run's "diff"): "+ rule", "- rule", "~ rule" lines, set
// changes with counts and the first prefixes, changed default verdicts;
// "no differences" when there are none.
std::string format_diff(const nlohmann::json& diff);
// A dry run's answer: "dry run: nothing committed (live version N)", then
// format_diff of its "diff".
std::string format_dry_run(const nlohmann::json& result);
// A commit confirmed's reminder from its "pending_confirm": how to keep it
// and until when. Also status's line for a pending confirmation.
std::string format_pending(const nlohmann::json& pending);
// The one-line answer of a command that changes something (rule.add prints
// just the new id, so scripts can capture it). req is the request sent.
std::string format_change(const nlohmann::json& req, const nlohmann::json& result);

// 0 -> "0", 999 -> "999", 1234 -> "1.23k", 45600000 -> "45.6M", up to "T";
// three significant digits above 1000. NaN and negatives print as "0".
std::string format_si(double value);
// Bytes as MiB with one decimal: 345678901 -> "329.7 MiB".
std::string format_mib(uint64_t bytes);
// 42 -> "42s", 302 -> "5m 02s", 11102 -> "3h 05m 02s", 183900 -> "2d 03h 05m".
std::string format_duration(double seconds);

} // namespace xdpfw::ctl
