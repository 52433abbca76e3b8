// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl's tables and one-line answers.
#include "apps/xdpfwctl/format.hpp"

#include "lib/base/table.hpp"
#include "apps/xdpfwctl/client.hpp"
#include "lib/protocol/protocol.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <optional>

namespace xdpfw::ctl {

namespace {

using json = nlohmann::json;
using protocol::Command;

[[noreturn]] void bad(const std::string& what, const std::string& key, const char* expected)
{
    throw ClientError(ClientError::Kind::transport, "bad_response",
                      what + ": \"" + key + "\" is missing or not " + expected);
}

const json& field(const json& j, const std::string& what, const std::string& key)
{
    if (!j.is_object() || !j.contains(key))
        bad(what, key, "present");
    return j[key];
}

uint64_t count(const json& j, const std::string& what, const std::string& key)
{
    const json& v = field(j, what, key);
    if (v.is_number_unsigned())
        return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0)
        return uint64_t(v.get<int64_t>());
    bad(what, key, "a non-negative integer");
}

int64_t integer(const json& j, const std::string& what, const std::string& key)
{
    const json& v = field(j, what, key);
    if (!v.is_number_integer())
        bad(what, key, "an integer");
    return v.get<int64_t>();
}

double number(const json& j, const std::string& what, const std::string& key)
{
    const json& v = field(j, what, key);
    if (!v.is_number())
        bad(what, key, "a number");
    return v.get<double>();
}

std::string text(const json& j, const std::string& what, const std::string& key)
{
    const json& v = field(j, what, key);
    if (!v.is_string())
        bad(what, key, "a string");
    return v.get<std::string>();
}

const json& array(const json& j, const std::string& what, const std::string& key)
{
    const json& v = field(j, what, key);
    if (!v.is_array())
        bad(what, key, "a list");
    return v;
}

std::string grouped(uint64_t n)
{
    return group_digits(n);
}

std::string rate_pps(double pps)
{
    if (!(pps > 0))
        return "0";
    return group_digits((unsigned long long)std::llround(pps));
}

// Lines of "key  value" with the values in one column.
std::string key_values(const std::vector<std::pair<std::string, std::string>>& kv)
{
    size_t width = 0;
    for (const auto& [k, v] : kv)
        width = std::max(width, k.size());
    std::string out;
    for (const auto& [k, v] : kv)
        out += k + std::string(width - k.size() + 2, ' ') + v + "\n";
    return out;
}

std::string yes_no(bool b)
{
    return b ? "yes" : "no";
}

std::string version_suffix(const json& result)
{
    return " (version " + std::to_string(integer(result, "result", "version")) + ")";
}

std::string prefix_list(const json& req)
{
    size_t n = req.contains("prefixes") ? req["prefixes"].size() : 0;
    return std::to_string(n) + (n == 1 ? " prefix" : " prefixes");
}

// A string field of an informational object, or "?".
std::string string_or(const json& j, const char* key, const std::string& otherwise = "?")
{
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : otherwise;
}

// `status`'s "fleet" (the daemon follows etcd): which fleet, what is live,
// whether etcd is reachable now, and the last errors.
void add_fleet_lines(const json& f, std::vector<std::pair<std::string, std::string>>& kv)
{
    const auto num = [&](const char* key) {
        return f.contains(key) && f[key].is_number_integer() ? f[key].get<int64_t>() : int64_t(0);
    };
    kv.emplace_back("fleet", fmt::format("{} as node {}: etcd revision {} live (latest seen {})",
                                         string_or(f, "prefix"), string_or(f, "node"),
                                         num("revision"), num("latest_revision")));
    std::string urls;
    for (const json& u : f.value("endpoints", json::array()))
        if (u.is_string())
            urls += (urls.empty() ? "" : ",") + u.get<std::string>();
    kv.emplace_back("fleet etcd",
                    fmt::format("{} ({}, lease {})", urls.empty() ? "?" : urls,
                                f.value("connected", false) ? "connected" : "not connected",
                                f.value("lease_alive", false) ? "alive" : "not alive"));
    if (f.contains("error") && f["error"].is_string())
        kv.emplace_back("fleet error", f["error"].get<std::string>());
    if (f.contains("etcd_error") && f["etcd_error"].is_string())
        kv.emplace_back("fleet etcd error", f["etcd_error"].get<std::string>() + " (at " +
                                                string_or(f, "etcd_error_at") + ")");
}

} // namespace

std::string format_si(double value)
{
    if (!(value > 0))
        return "0";
    static const char* const units[] = {"", "k", "M", "G", "T"};
    size_t u = 0;
    // Round first so 999.6 prints as "1.00k", not "1000".
    auto sig3 = [](double v) { return v < 10 ? std::round(v * 100) / 100
                                     : v < 100 ? std::round(v * 10) / 10
                                               : std::round(v); };
    double v = value < 1000 ? std::round(value) : sig3(value);
    while (v >= 1000 && u + 1 < std::size(units)) {
        value /= 1000;
        v = sig3(value);
        u++;
    }
    if (u == 0)
        return fmt::format("{:.0f}", v);
    int decimals = v < 10 ? 2 : v < 100 ? 1 : 0;
    return fmt::format("{:.{}f}{}", v, decimals, units[u]);
}

std::string format_duration(double seconds)
{
    if (!(seconds > 0))
        return "0s";
    auto s = (unsigned long long)seconds;
    unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d)
        return fmt::format("{}d {:02}h {:02}m", d, h, m);
    if (h)
        return fmt::format("{}h {:02}m {:02}s", h, m, sec);
    if (m)
        return fmt::format("{}m {:02}s", m, sec);
    return fmt::format("{}s", sec);
}

std::string format_mib(uint64_t bytes)
{
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

std::string format_status(const json& st)
{
    const std::string what = "status";
    std::vector<std::pair<std::string, std::string>> kv = {
        {"instance", text(st, what, "instance")},
        {"version", std::to_string(integer(st, what, "version"))},
        {"rules", grouped(count(st, what, "rules"))},
        {"sets", grouped(count(st, what, "sets"))},
        {"default", text(st, what, "default")},
    };
    // An older daemon has no default_non_ip (its non-IP frames get default).
    if (st.contains("default_non_ip") && st["default_non_ip"].is_string())
        kv.emplace_back("default_non_ip", st["default_non_ip"].get<std::string>());
    kv.emplace_back("malformed", text(st, what, "malformed"));
    // adopted and uptime_seconds are informational; an older daemon without
    // them still gets a status.
    if (st.contains("adopted") && st["adopted"].is_boolean())
        kv.emplace_back("adopted", yes_no(st["adopted"].get<bool>()));
    if (st.contains("uptime_seconds") && st["uptime_seconds"].is_number())
        kv.emplace_back("uptime", format_duration(st["uptime_seconds"].get<double>()));
    if (st.contains("memory") && st["memory"].is_object()) {
        const json& m = st["memory"];
        auto bytes = [&](const char* key, const char* label) {
            if (m.contains(key) && m[key].is_number_integer() && m[key] >= 0)
                kv.emplace_back(label, format_mib(m[key].get<uint64_t>()));
        };
        bytes("kernel_map_bytes", "kernel maps");
        bytes("daemon_rss_bytes", "daemon RSS");
    }
    if (st.contains("tier") && st["tier"].is_object()) {
        const json& t = st["tier"];
        std::string tier = t.value("live", std::string("?"));
        // adopted_program: an earlier xdpfwd's program runs, until this
        // daemon's first swap.
        const bool adopted = t.value("adopted_program", false);
        // form: the specialised program's, generated or compiled.
        const std::string form = t.contains("form") && t["form"].is_string() ? t["form"].get<std::string>() + ", " : "";
        if (t.contains("program_id") && t["program_id"].is_number_integer())
            tier += fmt::format(" ({}program {}{})", form, t["program_id"].get<int64_t>(),
                                adopted ? ", adopted" : "");
        else if (adopted)
            tier += " (adopted)";
        if (t.value("pending", false))
            tier += ", swap pending";
        if (t.contains("general_because") && t["general_because"].is_string())
            tier += ": " + t["general_because"].get<std::string>();
        if (t.contains("compiled_because") && t["compiled_because"].is_string())
            tier += ": not generated: " + t["compiled_because"].get<std::string>();
        if (t.contains("error") && t["error"].is_string())
            tier += "; last swap failed: " + t["error"].get<std::string>();
        kv.emplace_back("tier", tier);
    }
    if (st.contains("build") && st["build"].is_object()) {
        const json& b = st["build"];
        auto field = [&](const char* key) {
            return b.contains(key) && b[key].is_string() ? b[key].get<std::string>() : "?";
        };
        std::string build = field("version") + " (git " + field("git");
        if (b.contains("bpf_object") && b["bpf_object"].is_string())
            build += ", BPF object " + b["bpf_object"].get<std::string>();
        kv.emplace_back("build", build + ")");
    }
    if (st.contains("pending_confirm") && st["pending_confirm"].is_object()) {
        std::string p = format_pending(st["pending_confirm"]);
        kv.emplace_back("pending confirm", p.substr(0, p.find('\n')));
    }
    if (st.contains("fleet") && st["fleet"].is_object())
        add_fleet_lines(st["fleet"], kv);
    const json& ifaces = array(st, what, "interfaces");
    if (ifaces.empty()) {
        kv.emplace_back("interfaces", "none attached");
        return key_values(kv);
    }
    TextTable t({"interface", "ifindex", "mode", "multiprog"});
    t.set_numeric(1);
    for (const json& i : ifaces) {
        const std::string w = "status interface";
        t.add({text(i, w, "name"), std::to_string(count(i, w, "ifindex")), text(i, w, "mode"),
               yes_no(i.value("multiprog", false))});
    }
    return key_values(kv) + "\n" + t.str();
}

std::string format_rules(const json& list)
{
    const json& rules = array(list, "rule.list", "rules");
    if (rules.empty())
        return "no rules (version " + std::to_string(integer(list, "rule.list", "version")) +
               ")\n";
    TextTable t({"id", "prio", "action", "rule"});
    t.set_numeric(0);
    t.set_numeric(1);
    for (const json& r : rules) {
        const std::string w = "rule.list rule";
        t.add({std::to_string(count(r, w, "id")), std::to_string(integer(r, w, "priority")),
               text(r, w, "action"), text(r, w, "text")});
    }
    return t.str();
}

std::string format_sets(const json& list)
{
    if (list.contains("name")) {
        const std::string w = "set.list";
        const json& prefixes = array(list, w, "prefixes");
        uint64_t size = count(list, w, "size");
        std::string out = "# set " + text(list, w, "name") + ": " + grouped(size) +
                          (size == 1 ? " prefix\n" : " prefixes\n");
        for (const json& p : prefixes) {
            if (!p.is_string())
                bad(w, "prefixes", "a list of strings");
            out += p.get<std::string>() + "\n";
        }
        return out;
    }
    const json& sets = array(list, "set.list", "sets");
    if (sets.empty())
        return "no sets\n";
    TextTable t({"set", "prefixes"});
    t.set_numeric(1);
    for (const json& s : sets)
        t.add({text(s, "set.list set", "name"), grouped(count(s, "set.list set", "size"))});
    return t.str();
}

std::string format_history(const json& hist)
{
    const json& entries = array(hist, "history", "history");
    if (entries.empty())
        return "no commits yet\n";
    TextTable t({"version", "time", "summary"});
    t.set_numeric(0);
    for (const json& e : entries) {
        const std::string w = "history entry";
        t.add({std::to_string(integer(e, w, "version")), text(e, w, "time"),
               text(e, w, "summary")});
    }
    return t.str();
}

// Inspection rules with their counters (inspect.list, stats.xsk.rules).
std::string inspect_rule_table(const json& rules, const std::string& w)
{
    TextTable t({"id", "prio", "action", "packets", "dropped", "forwarded", "rule"});
    for (size_t c : {0u, 1u, 3u, 4u, 5u})
        t.set_numeric(c);
    for (const json& r : rules)
        t.add({std::to_string(count(r, w, "id")), std::to_string(integer(r, w, "priority")),
               text(r, w, "action"), grouped(count(r, w, "packets")),
               grouped(count(r, w, "dropped")), grouped(count(r, w, "forwarded")),
               text(r, w, "text")});
    return t.str();
}

// The AF_XDP engine: one row per worker, then its drop reasons, then the
// inspection rules and the parser's malformed counts.
std::string format_xsk(const json& x)
{
    const std::string w = "stats xsk";
    std::string out = "AF_XDP engine (" + text(x, w, "mode") + " mode" +
                      (x.contains("host_device") ? ", host device " + text(x, w, "host_device") : "") +
                      (x.value("running", false) ? "" : ", stopped") + ")\n";
    TextTable t({"interface", "queue", "bind", "rx", "forwarded", "dropped", "tx", "malformed"});
    for (size_t c : {1u, 3u, 4u, 5u, 6u, 7u})
        t.set_numeric(c);
    std::string drops;
    for (const json& k : array(x, w, "workers")) {
        const std::string ww = "stats xsk worker";
        const std::string where = text(k, ww, "interface") + "/" + std::to_string(count(k, ww, "queue"));
        t.add({text(k, ww, "interface"), std::to_string(count(k, ww, "queue")), text(k, ww, "bind"),
               grouped(count(k, ww, "rx_packets")), grouped(count(k, ww, "forwarded")),
               grouped(count(k, ww, "dropped_verdict")), grouped(count(k, ww, "tx_packets")),
               grouped(count(k, ww, "malformed"))});
        const json& d = field(k, ww, "drops");
        std::string line;
        for (const auto& [name, v] : d.items())
            if (v.is_number_unsigned() && v.get<uint64_t>() > 0)
                line += " " + name + "=" + grouped(v.get<uint64_t>());
        if (!line.empty())
            drops += "  " + where + ":" + line + "\n";
    }
    out += t.str();
    out += drops.empty() ? "ring drops: none\n" : "ring drops:\n" + drops;
    const json& rules = array(x, w, "rules");
    out += rules.empty() ? "no inspection rules\n" : "\n" + inspect_rule_table(rules, "stats xsk rule");
    if (x.contains("inspect") && x["inspect"].is_object()) {
        std::string bad;
        for (const char* group : {"dns_malformed", "frame_malformed"})
            if (x["inspect"].contains(group))
                for (const auto& [name, v] : x["inspect"][group].items())
                    if (v.is_number_unsigned() && v.get<uint64_t>() > 0)
                        bad += std::string(" ") + (group[0] == 'd' ? "dns_" : "frame_") + name +
                               "=" + grouped(v.get<uint64_t>());
        out += "malformed payloads:" + (bad.empty() ? std::string(" none") : bad) + "\n";
    }
    return out;
}

std::string format_stats(const json& st)
{
    const std::string what = "stats";
    std::string out = "version " + std::to_string(integer(st, what, "version"));
    if (st.contains("time") && st["time"].is_string())
        out += "  " + st["time"].get<std::string>();
    out += "\n\n";

    const json& rules = array(st, what, "rules");
    if (rules.empty()) {
        out += "no rules\n";
    } else {
        TextTable t({"id", "prio", "action", "packets", "bytes", "pps", "bit/s", "rule"});
        for (size_t c : {0u, 1u, 3u, 4u, 5u, 6u})
            t.set_numeric(c);
        for (const json& r : rules) {
            const std::string w = "stats rule";
            t.add({std::to_string(count(r, w, "id")), std::to_string(integer(r, w, "priority")),
                   text(r, w, "action"), grouped(count(r, w, "packets")),
                   grouped(count(r, w, "bytes")), rate_pps(number(r, w, "pps")),
                   format_si(number(r, w, "bps")),
                   // Older daemons send no rule text.
                   r.contains("rule") && r["rule"].is_string() ? r["rule"].get<std::string>()
                                                              : std::string()});
        }
        out += t.str();
    }

    const json& reasons = field(st, what, "reasons");
    if (!reasons.is_object())
        bad(what, "reasons", "an object");
    // Rates per reason are not promised by the protocol; show them when the
    // daemon sends them for every reason.
    bool rates = !reasons.empty();
    for (const auto& [name, c] : reasons.items())
        rates = rates && c.is_object() && c.contains("pps") && c.contains("bps");
    std::vector<std::string> header = {"reason", "packets", "bytes"};
    if (rates) {
        header.push_back("pps");
        header.push_back("bit/s");
    }
    TextTable t(header);
    for (size_t c = 1; c < header.size(); c++)
        t.set_numeric(c);
    for (const auto& [name, c] : reasons.items()) {
        const std::string w = "stats reason " + name;
        std::vector<std::string> row = {name, grouped(count(c, w, "packets")),
                                        grouped(count(c, w, "bytes"))};
        if (rates) {
            row.push_back(rate_pps(number(c, w, "pps")));
            row.push_back(format_si(number(c, w, "bps")));
        }
        t.add(std::move(row));
    }
    out += "\n" + t.str();
    if (st.contains("ct") && st["ct"].is_object())
        out += "\n" + format_ct_counters(st["ct"]);
    if (st.contains("xsk") && st["xsk"].is_object())
        out += "\n" + format_xsk(st["xsk"]);
    return out;
}

std::string format_ct_counters(const json& ct)
{
    const std::string w = "stats ct";
    if (!field(ct, w, "table").is_boolean() || !ct["table"].get<bool>())
        return "connection tracking: no flow table (no policy used ct= yet)\n";
    std::string out = "connection tracking: " + grouped(count(ct, w, "entries")) + " of " +
                      grouped(count(ct, w, "max_flows")) + " flows (" +
                      format_si(double(count(ct, w, "table_bytes"))) + "B)\n";
    for (const char* k : {"lookups", "insertions", "evictions", "failed", "flushes"})
        out += std::string("  ") + k + " " + grouped(count(ct, w, k)) + "\n";
    return out;
}

std::string format_ct_flows(const json& list)
{
    const json& flows = array(list, "ct.list", "flows");
    if (flows.empty())
        return "no flows\n";
    TextTable t({"proto", "src", "sport", "dst", "dport", "state", "expires in"});
    for (size_t c : {2u, 4u, 6u})
        t.set_numeric(c);
    for (const json& f : flows) {
        const std::string w = "ct.list flow";
        t.add({text(f, w, "proto"), text(f, w, "src"), std::to_string(count(f, w, "sport")),
               text(f, w, "dst"), std::to_string(count(f, w, "dport")), text(f, w, "state"),
               std::to_string(count(f, w, "expires_in")) + " s"});
    }
    std::string out = t.str();
    if (list.value("truncated", false))
        out += "(more flows than listed: --limit)\n";
    return out;
}

std::string format_inspect_rules(const json& list)
{
    const json& rules = array(list, "inspect.list", "rules");
    if (rules.empty())
        return "no inspection rules (version " +
               std::to_string(integer(list, "inspect.list", "version")) + ")\n";
    return inspect_rule_table(rules, "inspect.list rule");
}

namespace {

// "+ rule 3: text" / "- rule 3: text" / "~ rule 3: before -> after"
std::string rule_lines(const json& rules, const std::string& kind)
{
    const std::string w = "diff " + kind;
    std::string out;
    for (const json& r : array(rules, w, "added"))
        out += fmt::format("+ {} {}: {}\n", kind, count(r, w, "id"), text(r, w, "text"));
    for (const json& r : array(rules, w, "removed"))
        out += fmt::format("- {} {}: {}\n", kind, count(r, w, "id"), text(r, w, "text"));
    for (const json& r : array(rules, w, "changed"))
        out += fmt::format("~ {} {}: {}\n      -> {}\n", kind, count(r, w, "id"),
                           text(r, w, "before"), text(r, w, "after"));
    return out;
}

// "a, b, c" and "..." when the list is a sample of more.
std::string sample(const json& prefixes, uint64_t total)
{
    std::string out;
    for (const json& p : prefixes)
        out += (out.empty() ? "" : ", ") + (p.is_string() ? p.get<std::string>() : p.dump());
    if (total > prefixes.size())
        out += ", ...";
    return out;
}

std::string set_line(const json& s)
{
    const std::string w = "diff set";
    const std::string change = text(s, w, "change");
    const char mark = change == "created" ? '+' : change == "removed" ? '-' : '~';
    const uint64_t added = count(s, w, "added"), removed = count(s, w, "removed");
    std::string out = fmt::format("{} set {}: size {} -> {}", mark, text(s, w, "name"),
                                  grouped(count(s, w, "size_before")),
                                  grouped(count(s, w, "size_after")));
    if (added)
        out += fmt::format("; +{} ({})", grouped(added), sample(array(s, w, "first_added"), added));
    if (removed)
        out += fmt::format("; -{} ({})", grouped(removed),
                           sample(array(s, w, "first_removed"), removed));
    return out + "\n";
}

std::string verdict_line(const json& d, const char* key)
{
    const json& v = field(d, "diff", key);
    const std::string before = text(v, key, "before"), after = text(v, key, "after");
    return before == after ? "" : fmt::format("~ {}: {} -> {}\n", key, before, after);
}

} // namespace

std::string format_diff(const json& d)
{
    std::string out = rule_lines(field(d, "diff", "rules"), "rule") +
                      rule_lines(field(d, "diff", "inspect_rules"), "inspection rule");
    for (const json& s : array(d, "diff", "sets"))
        out += set_line(s);
    out += verdict_line(d, "default") + verdict_line(d, "malformed");
    return out.empty() ? "no differences\n" : out;
}

std::string format_dry_run(const json& result)
{
    return fmt::format("dry run: nothing committed (live version {})\n",
                       integer(result, "result", "version")) +
           format_diff(field(result, "result", "diff"));
}

std::string format_pending(const json& p)
{
    const std::string w = "pending_confirm";
    return fmt::format("version {} until {} ({:.0f} s left), then version {}'s policy comes "
                       "back; `xdpfwctl confirm` keeps it\n",
                       count(p, w, "version"), text(p, w, "deadline"),
                       std::ceil(number(p, w, "seconds_left")), count(p, w, "rollback_version"));
}

namespace {

std::string detached_list(const json& result, const std::string& cmd)
{
    const json& names = array(result, cmd, "detached");
    std::string list;
    for (const json& n : names)
        list += (list.empty() ? "" : ", ") + (n.is_string() ? n.get<std::string>() : n.dump());
    return (list.empty() ? std::string("no interfaces were attached") : "detached from " + list) +
           "; xdpfwd is exiting\n";
}

} // namespace

std::string format_change(const json& req, const json& result)
{
    const std::string cmd = req.value("cmd", "");
    const std::string name = req.value("name", "");
    const std::optional<Command> known = protocol::command_from_name(cmd);
    switch (known.value_or(Command::status)) {
    case Command::rule_add:
    case Command::inspect_add: return std::to_string(count(result, cmd, "rule_id")) + "\n";
    case Command::rule_del:
        return "rule " + req.at("rule_id").dump() + " deleted" + version_suffix(result) + "\n";
    case Command::rule_replace:
        return "rule " + req.at("rule_id").dump() + " replaced" + version_suffix(result) + "\n";
    case Command::inspect_del:
        return "inspection rule " + req.at("rule_id").dump() + " deleted" +
               version_suffix(result) + "\n";
    case Command::set_create: return "set " + name + " created" + version_suffix(result) + "\n";
    case Command::set_add:
        return "set " + name + ": " + grouped(count(result, cmd, "added")) + " of " +
               prefix_list(req) + " added, size " + grouped(count(result, cmd, "size")) +
               version_suffix(result) + "\n";
    case Command::set_del:
        return "set " + name + ": " + grouped(count(result, cmd, "removed")) + " of " +
               prefix_list(req) + " removed, size " + grouped(count(result, cmd, "size")) +
               version_suffix(result) + "\n";
    case Command::set_destroy: return "set " + name + " deleted" + version_suffix(result) + "\n";
    case Command::set_load:
        return "set " + name + " loaded, size " + grouped(count(result, cmd, "size")) +
               version_suffix(result) + "\n";
    case Command::load: {
        uint64_t rules = count(result, cmd, "rules"), sets = count(result, cmd, "sets");
        return fmt::format("policy loaded: {} rule{}, {} set{}{}\n", grouped(rules),
                           rules == 1 ? "" : "s", grouped(sets), sets == 1 ? "" : "s",
                           version_suffix(result));
    }
    case Command::detach: return detached_list(result, cmd);
    case Command::confirm:
        return fmt::format("version {} confirmed\n", count(result, cmd, "confirmed"));
    case Command::rollback:
        return fmt::format("the policy of version {} is back{}\n",
                           count(result, cmd, "rolled_back_to"), version_suffix(result));
    case Command::status:
    case Command::rule_list:
    case Command::set_list:
    case Command::inspect_list:
    case Command::policy_get:
    case Command::history:
    case Command::ct_flush:
        return "flushed " + grouped(count(result, cmd, "flushed")) +
               " flows (estimated); replies drop until their flows are opened again\n";
    case Command::diff:
    case Command::ct_list:
    case Command::stats: break; // not changes: their own format_* functions
    }
    return result.dump(2) + "\n";
}

} // namespace xdpfw::ctl
