// SPDX-License-Identifier: GPL-2.0-only
// PolicyStore: validated, versioned commits and the JSON state file.
#include "controlplane/policy_store.hpp"

#include "controlplane/policy_file.hpp"
#include "controlplane/rule_parser.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>

namespace xdpfw {

namespace {

constexpr size_t history_cap = 1000;
constexpr int state_format = 1;

bool starts_with(const std::string& s, std::string_view prefix)
{
    return s.compare(0, prefix.size(), prefix) == 0;
}

// validate_policy() throws one PolicyError type for every problem; the
// protocol wants to tell a missing set from a bad rule from a bad policy.
CommandError validation_error(const PolicyError& e)
{
    if (starts_with(e.problem(), "unknown set"))
        return CommandError("unknown_set", e.what());
    if (starts_with(e.where(), "rule") && e.key() != "id")
        return CommandError("invalid_rule", e.what());
    return CommandError("invalid_policy", e.what());
}

void validate(const Policy& candidate)
{
    try {
        validate_policy(candidate);
    } catch (const PolicyError& e) {
        throw validation_error(e);
    }
}

// What the sink (compiler + map writer) refused. Capacity errors have their
// own type; errors about the compiled form or the options are bugs, not the
// user's policy.
std::string sink_error_code(const PolicyError& e)
{
    if (dynamic_cast<const CapacityError*>(&e))
        return "capacity";
    if (starts_with(e.where(), "compile options") || starts_with(e.where(), "compiled policy"))
        return "internal";
    if (starts_with(e.where(), "rule ") && e.key() == "id")
        return "invalid_rule";
    const std::string& p = e.problem();
    if (starts_with(p, "unknown set"))
        return "unknown_set";
    if (starts_with(e.where(), "rule "))
        return "invalid_rule";
    return "invalid_policy";
}

PrefixSet parse_prefixes(const std::string& set_name, const std::vector<std::string>& texts)
{
    PrefixSet out;
    out.prefixes.reserve(texts.size());
    for (const std::string& t : texts) {
        try {
            out.prefixes.push_back(Prefix::parse(t));
        } catch (const std::invalid_argument& e) {
            throw CommandError("invalid_prefix", "set " + set_name + ": " + e.what());
        }
    }
    normalize_set(out);
    return out;
}

void check_set_name(const std::string& name)
{
    if (!valid_set_name(name))
        throw CommandError("bad_request", "'" + name +
                                              "' is not a valid set name "
                                              "([A-Za-z_][A-Za-z0-9_.-]*)");
}

PrefixSet& existing_set(Policy& policy, const std::string& name)
{
    check_set_name(name);
    auto it = policy.sets.find(name);
    if (it == policy.sets.end())
        throw CommandError("unknown_set", "no set named '" + name + "'");
    return it->second;
}

// ---------------------------------------------------------------- time

std::optional<unsigned> digits(std::string_view s, size_t pos, size_t n)
{
    if (pos + n > s.size())
        return std::nullopt;
    unsigned v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return std::nullopt;
        v = v * 10 + unsigned(s[i] - '0');
    }
    return v;
}

// Reads what format_utc_time() writes ("YYYY-MM-DDTHH:MM:SS[.fraction]Z").
std::optional<std::chrono::system_clock::time_point> parse_utc_time(std::string_view s)
{
    using namespace std::chrono;
    auto y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
    auto h = digits(s, 11, 2), mi = digits(s, 14, 2), se = digits(s, 17, 2);
    if (!y || !mo || !d || !h || !mi || !se || s.size() < 20 || s[4] != '-' || s[7] != '-' ||
        s[10] != 'T' || s[13] != ':' || s[16] != ':' || *h > 23 || *mi > 59 || *se > 59)
        return std::nullopt;
    year_month_day ymd{year(int(*y)), month(*mo), day(*d)};
    if (!ymd.ok())
        return std::nullopt;
    size_t pos = 19;
    nanoseconds frac{0};
    if (s[pos] == '.') {
        ++pos;
        size_t start = pos;
        int64_t scale = 100000000;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (pos - start >= 9)
                return std::nullopt;
            frac += nanoseconds((s[pos] - '0') * scale);
            scale /= 10;
            ++pos;
        }
        if (pos == start)
            return std::nullopt;
    }
    if (pos + 1 != s.size() || s[pos] != 'Z')
        return std::nullopt;
    auto t = sys_days(ymd) + hours(*h) + minutes(*mi) + seconds(*se) + frac;
    return time_point_cast<system_clock::duration>(t);
}

// ---------------------------------------------------------------- state file

nlohmann::json state_json(const Policy& policy, uint64_t version,
                          const std::deque<HistoryEntry>& history)
{
    nlohmann::json rules = nlohmann::json::array();
    for (const Rule& r : policy.rules)
        rules.push_back({{"id", r.id}, {"text", r.text}});
    nlohmann::json sets = nlohmann::json::object();
    for (const auto& [name, set] : policy.sets) {
        nlohmann::json list = nlohmann::json::array();
        list.get_ref<nlohmann::json::array_t&>().reserve(set.prefixes.size());
        for (const Prefix& p : set.prefixes)
            list.push_back(p.str());
        sets[name] = std::move(list);
    }
    nlohmann::json hist = nlohmann::json::array();
    for (const HistoryEntry& h : history)
        hist.push_back(
            {{"version", h.version}, {"time", format_utc_time(h.time)}, {"summary", h.summary}});
    return {{"format", state_format},
            {"version", version},
            {"policy",
             {{"default", action_name(policy.default_action)},
              {"malformed", action_name(policy.malformed_action)},
              {"rules", std::move(rules)},
              {"sets", std::move(sets)}}},
            {"history", std::move(hist)}};
}

std::string state_text(const Policy& policy, uint64_t version,
                       const std::deque<HistoryEntry>& history)
{
    // replace: a summary may carry a path from the daemon's config that is
    // not UTF-8; that must not make the state unsavable.
    return state_json(policy, version, history)
               .dump(1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
}

std::filesystem::path tmp_path(const std::filesystem::path& file)
{
    std::filesystem::path t = file;
    t += ".tmp";
    return t;
}

[[noreturn]] void save_failed(const std::filesystem::path& path, const std::string& what, int err)
{
    throw CommandError("internal",
                       "state file " + path.string() + ": " + what + ": " + std::strerror(err));
}

// Writes and fsyncs "<file>.tmp"; the file itself is untouched.
void write_tmp(const std::filesystem::path& file, const std::string& data)
{
    std::filesystem::path parent = file.parent_path();
    if (!parent.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(parent, ec);
        if (ec)
            throw CommandError("internal", "state file " + file.string() +
                                               ": cannot create directory " + parent.string() +
                                               ": " + ec.message());
    }
    std::filesystem::path tmp = tmp_path(file);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        save_failed(tmp, "open", errno);
    auto fail = [&](const char* what) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        save_failed(tmp, what, err);
    };
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("write");
        }
        done += size_t(n);
    }
    if (::fsync(fd) != 0)
        fail("fsync");
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        save_failed(tmp, "close", err);
    }
}

// Renames "<file>.tmp" over the file and makes the rename durable.
void install_tmp(const std::filesystem::path& file)
{
    std::filesystem::path tmp = tmp_path(file);
    if (::rename(tmp.c_str(), file.c_str()) != 0)
        save_failed(file, "rename from " + tmp.string(), errno);
    std::filesystem::path dir = file.parent_path();
    if (dir.empty())
        dir = ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        save_failed(file, "open directory " + dir.string(), errno);
    if (::fsync(dfd) != 0) {
        int err = errno;
        ::close(dfd);
        save_failed(file, "fsync directory " + dir.string(), err);
    }
    ::close(dfd);
}

// Reading the state file: every problem names the file and the JSON path.
class StateReader {
public:
    explicit StateReader(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const std::string& where, const std::string& problem) const
    {
        throw CommandError("invalid_policy", "state file " + file_ + ": " +
                                                 (where.empty() ? "" : where + ": ") + problem);
    }

    const nlohmann::json& field(const nlohmann::json& obj, const std::string& where,
                                const char* key) const
    {
        auto it = obj.find(key);
        if (it == obj.end())
            fail(where, std::string("missing \"") + key + "\"");
        return *it;
    }

    const nlohmann::json& object(const nlohmann::json& obj, const std::string& where,
                                 const char* key) const
    {
        const nlohmann::json& v = field(obj, where, key);
        if (!v.is_object())
            fail(join(where, key), std::string("expected an object, got ") + v.type_name());
        return v;
    }

    const nlohmann::json& array(const nlohmann::json& obj, const std::string& where,
                                const char* key) const
    {
        const nlohmann::json& v = field(obj, where, key);
        if (!v.is_array())
            fail(join(where, key), std::string("expected an array, got ") + v.type_name());
        return v;
    }

    const std::string& string(const nlohmann::json& v, const std::string& where) const
    {
        if (!v.is_string())
            fail(where, std::string("expected a string, got ") + v.type_name());
        return v.get_ref<const std::string&>();
    }

    uint64_t unsigned_int(const nlohmann::json& v, const std::string& where) const
    {
        if (!v.is_number_unsigned())
            fail(where, std::string("expected a non-negative integer, got ") +
                            (v.is_number() ? v.dump() : v.type_name()));
        return v.get<uint64_t>();
    }

    ActionType verdict(const nlohmann::json& obj, const std::string& where, const char* key) const
    {
        const std::string& s = string(field(obj, where, key), join(where, key));
        if (s == "drop")
            return ActionType::drop;
        if (s == "pass")
            return ActionType::pass;
        fail(join(where, key), "'" + s + "' is not drop or pass");
    }

    static std::string join(const std::string& where, const std::string& key)
    {
        return where.empty() ? key : where + "." + key;
    }

private:
    std::string file_;
};

} // namespace

std::string format_utc_time(std::chrono::system_clock::time_point t)
{
    using namespace std::chrono;
    auto secs = floor<seconds>(t);
    auto ms = duration_cast<milliseconds>(t - secs).count();
    std::time_t tt = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
    return buf;
}

PolicyStore::PolicyStore(PolicySink& sink, uint32_t max_rules, std::filesystem::path state_file)
    : sink_(sink), max_rules_(max_rules), state_file_(std::move(state_file))
{
}

void PolicyStore::check_rule_id(uint32_t id, const std::string& where) const
{
    if (id == 0 || id >= max_rules_)
        throw CommandError(
            "invalid_rule",
            where + ": id: " + std::to_string(id) + " is out of range 1.." +
                std::to_string(max_rules_ > 0 ? max_rules_ - 1 : 0) +
                " (ids index the rule counters; max_rules=" + std::to_string(max_rules_) + ")");
}

void PolicyStore::commit(Policy candidate, std::string summary)
{
    using namespace std::chrono;
    const uint64_t next = version_ + 1;
    // Milliseconds: the state file keeps that much, so a restored history
    // equals the one that was saved.
    const system_clock::time_point now = floor<milliseconds>(system_clock::now());
    std::deque<HistoryEntry> history = history_;
    history.push_back({next, now, std::move(summary)});
    while (history.size() > history_cap)
        history.pop_front();

    const bool saving = !state_file_.empty();
    if (saving)
        write_tmp(state_file_, state_text(candidate, next, history));

    try {
        sink_.commit(candidate, next);
    } catch (...) {
        if (saving)
            ::unlink(tmp_path(state_file_).c_str());
        try {
            throw;
        } catch (const CommandError&) {
            throw;
        } catch (const PolicyError& e) {
            throw CommandError(sink_error_code(e), e.what());
        } catch (const std::system_error& e) {
            throw CommandError("kernel_error", e.what());
        } catch (const std::exception& e) {
            throw CommandError("internal", std::string("commit failed: ") + e.what());
        } catch (...) {
            throw CommandError("internal", "commit failed with an unknown exception");
        }
    }

    // A rule is new (its counter must start at zero) when its id was free
    // or held a different rule before this commit.
    std::map<uint32_t, const Rule*> before;
    for (const Rule& r : policy_.rules)
        before.emplace(r.id, &r);
    std::vector<uint32_t> created;
    for (const Rule& r : candidate.rules) {
        auto it = before.find(r.id);
        if (it == before.end() || it->second->priority != r.priority ||
            it->second->match != r.match || it->second->action != r.action)
            created.push_back(r.id);
    }

    policy_ = std::move(candidate);
    version_ = next;
    history_ = std::move(history);

    // The policy is live from here on: finish every step, then report the
    // first failure (the command's caller must learn the state was not saved).
    std::optional<CommandError> failed;
    if (saving) {
        try {
            install_tmp(state_file_);
        } catch (const CommandError& e) {
            failed.emplace(e.code(), "version " + std::to_string(next) +
                                         " is live, but saving it failed: " + e.what());
        }
    }
    if (on_rule_created) {
        for (uint32_t id : created) {
            try {
                on_rule_created(id);
            } catch (const std::exception& e) {
                if (!failed)
                    failed.emplace(dynamic_cast<const std::system_error*>(&e) ? "kernel_error"
                                                                              : "internal",
                                   "version " + std::to_string(next) +
                                       " is live, but resetting the counters of rule " +
                                       std::to_string(id) + " failed: " + e.what());
            }
        }
    }
    if (failed)
        throw *failed;
}

bool PolicyStore::restore()
{
    if (state_file_.empty())
        return false;
    const std::string name = state_file_.string();
    std::error_code ec;
    if (!std::filesystem::exists(state_file_, ec) && !ec)
        return false;
    std::ifstream in(state_file_, std::ios::binary);
    if (!in) {
        throw CommandError("invalid_policy",
                           "state file " + name + ": cannot open: " + std::strerror(errno));
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad())
        throw CommandError("invalid_policy",
                           "state file " + name + ": read error: " + std::strerror(errno));

    StateReader rd(name);
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(buf.str());
    } catch (const nlohmann::json::parse_error& e) {
        // e.what() starts with "[json.exception.parse_error.101] ".
        std::string msg = e.what();
        if (auto p = msg.find("] "); p != std::string::npos)
            msg.erase(0, p + 2);
        rd.fail("", "not JSON: " + msg);
    }
    if (!root.is_object())
        rd.fail("", std::string("expected a JSON object, got ") + root.type_name());

    const nlohmann::json& format = rd.field(root, "", "format");
    if (!format.is_number_integer() || format.get<int64_t>() != state_format)
        rd.fail("format", "unsupported format " + format.dump() + " (this xdpfwd reads " +
                              std::to_string(state_format) + ")");
    const uint64_t version = rd.unsigned_int(rd.field(root, "", "version"), "version");

    Policy policy;
    const nlohmann::json& pj = rd.object(root, "", "policy");
    policy.default_action = rd.verdict(pj, "policy", "default");
    policy.malformed_action = rd.verdict(pj, "policy", "malformed");
    const nlohmann::json& rules = rd.array(pj, "policy", "rules");
    for (size_t i = 0; i < rules.size(); ++i) {
        std::string where = "policy.rules[" + std::to_string(i) + "]";
        const nlohmann::json& rj = rules[i];
        if (!rj.is_object())
            rd.fail(where, std::string("expected an object, got ") + rj.type_name());
        uint64_t id = rd.unsigned_int(rd.field(rj, where, "id"), where + ".id");
        if (id == 0 || id >= max_rules_)
            rd.fail(where + ".id", std::to_string(id) + " is out of range 1.." +
                                       std::to_string(max_rules_ > 0 ? max_rules_ - 1 : 0) +
                                       " (max_rules=" + std::to_string(max_rules_) + ")");
        const std::string& text = rd.string(rd.field(rj, where, "text"), where + ".text");
        try {
            Rule rule = parse_rule(text, "rule " + std::to_string(id));
            rule.id = static_cast<uint32_t>(id);
            policy.rules.push_back(std::move(rule));
        } catch (const PolicyError& e) {
            rd.fail(where, e.what());
        }
    }
    const nlohmann::json& sets = rd.object(pj, "policy", "sets");
    for (const auto& [set_name, list] : sets.items()) {
        std::string where = "policy.sets." + set_name;
        if (!valid_set_name(set_name))
            rd.fail("policy.sets", "'" + set_name + "' is not a valid set name");
        if (!list.is_array())
            rd.fail(where, std::string("expected an array of prefixes, got ") + list.type_name());
        PrefixSet& set = policy.sets[set_name];
        set.prefixes.reserve(list.size());
        for (size_t i = 0; i < list.size(); ++i) {
            std::string item_where = where + "[" + std::to_string(i) + "]";
            try {
                set.prefixes.push_back(Prefix::parse(rd.string(list[i], item_where)));
            } catch (const std::invalid_argument& e) {
                rd.fail(item_where, e.what());
            }
        }
        normalize_set(set);
    }
    try {
        validate_policy(policy);
    } catch (const PolicyError& e) {
        rd.fail("policy", e.what());
    }

    std::deque<HistoryEntry> history;
    const nlohmann::json& hj = rd.array(root, "", "history");
    for (size_t i = 0; i < hj.size(); ++i) {
        std::string where = "history[" + std::to_string(i) + "]";
        const nlohmann::json& e = hj[i];
        if (!e.is_object())
            rd.fail(where, std::string("expected an object, got ") + e.type_name());
        HistoryEntry h;
        h.version = rd.unsigned_int(rd.field(e, where, "version"), where + ".version");
        const std::string& t = rd.string(rd.field(e, where, "time"), where + ".time");
        auto tp = parse_utc_time(t);
        if (!tp)
            rd.fail(where + ".time", "'" + t + "' is not an RFC 3339 UTC time");
        h.time = *tp;
        h.summary = rd.string(rd.field(e, where, "summary"), where + ".summary");
        history.push_back(std::move(h));
    }
    while (history.size() > history_cap)
        history.pop_front();

    policy_ = std::move(policy);
    version_ = version;
    history_ = std::move(history);
    return true;
}

void PolicyStore::recommit(const std::string& why)
{
    commit(policy_, why);
}

void PolicyStore::replace(Policy policy, const std::string& summary)
{
    for (auto& [name, set] : policy.sets)
        normalize_set(set);
    for (size_t i = 0; i < policy.rules.size(); ++i)
        check_rule_id(policy.rules[i].id, "rule at position " + std::to_string(i + 1));
    validate(policy);
    commit(std::move(policy), summary);
}

uint32_t PolicyStore::add_rule(std::string_view text)
{
    Rule rule;
    try {
        rule = parse_rule(text, "rule");
    } catch (const PolicyError& e) {
        throw CommandError("invalid_rule", e.what());
    }
    if (rule.id != 0) {
        check_rule_id(rule.id, "rule");
        auto holder = std::find_if(policy_.rules.begin(), policy_.rules.end(),
                                   [&](const Rule& r) { return r.id == rule.id; });
        if (holder != policy_.rules.end())
            throw CommandError("rule_exists", "rule id " + std::to_string(rule.id) +
                                                  " is taken by: " + holder->text);
    } else {
        std::vector<bool> used(max_rules_, false);
        for (const Rule& r : policy_.rules)
            if (r.id < max_rules_)
                used[r.id] = true;
        for (uint32_t id = 1; id < max_rules_ && rule.id == 0; ++id)
            if (!used[id])
                rule.id = id;
        if (rule.id == 0)
            throw CommandError("capacity",
                               "rules: no free rule id, all of 1.." +
                                   std::to_string(max_rules_ > 0 ? max_rules_ - 1 : 0) +
                                   " are in use (max_rules=" + std::to_string(max_rules_) + ")");
    }
    const uint32_t id = rule.id;
    std::string summary = "rule.add id=" + std::to_string(id) + ": " + rule.text;
    Policy candidate = policy_;
    candidate.rules.push_back(std::move(rule));
    validate(candidate);
    commit(std::move(candidate), std::move(summary));
    return id;
}

void PolicyStore::delete_rule(uint32_t id)
{
    Policy candidate = policy_;
    auto it = std::find_if(candidate.rules.begin(), candidate.rules.end(),
                           [id](const Rule& r) { return r.id == id; });
    if (it == candidate.rules.end())
        throw CommandError("unknown_rule", "no rule with id " + std::to_string(id));
    std::string summary = "rule.del id=" + std::to_string(id) + ": " + it->text;
    candidate.rules.erase(it);
    validate(candidate);
    commit(std::move(candidate), std::move(summary));
}

void PolicyStore::create_set(const std::string& name)
{
    check_set_name(name);
    if (policy_.sets.contains(name))
        throw CommandError("set_exists", "set '" + name + "' already exists");
    Policy candidate = policy_;
    candidate.sets[name];
    validate(candidate);
    commit(std::move(candidate), "set.create " + name);
}

size_t PolicyStore::add_to_set(const std::string& name, const std::vector<std::string>& prefixes)
{
    Policy candidate = policy_;
    PrefixSet& set = existing_set(candidate, name);
    PrefixSet add = parse_prefixes(name, prefixes);
    PrefixSet merged;
    merged.prefixes.reserve(set.prefixes.size() + add.prefixes.size());
    std::set_union(set.prefixes.begin(), set.prefixes.end(), add.prefixes.begin(),
                   add.prefixes.end(), std::back_inserter(merged.prefixes));
    const size_t added = merged.prefixes.size() - set.prefixes.size();
    set = std::move(merged);
    const size_t size = set.prefixes.size();
    validate(candidate);
    commit(std::move(candidate),
           "set.add " + name + ": " + std::to_string(added) + " new, size " + std::to_string(size));
    return added;
}

size_t PolicyStore::delete_from_set(const std::string& name,
                                    const std::vector<std::string>& prefixes)
{
    Policy candidate = policy_;
    PrefixSet& set = existing_set(candidate, name);
    PrefixSet del = parse_prefixes(name, prefixes);
    PrefixSet rest;
    rest.prefixes.reserve(set.prefixes.size());
    std::set_difference(set.prefixes.begin(), set.prefixes.end(), del.prefixes.begin(),
                        del.prefixes.end(), std::back_inserter(rest.prefixes));
    const size_t removed = set.prefixes.size() - rest.prefixes.size();
    set = std::move(rest);
    const size_t size = set.prefixes.size();
    validate(candidate);
    commit(std::move(candidate), "set.del " + name + ": " + std::to_string(removed) +
                                     " removed, size " + std::to_string(size));
    return removed;
}

size_t PolicyStore::load_set(const std::string& name, const std::vector<std::string>& prefixes)
{
    check_set_name(name);
    PrefixSet set = parse_prefixes(name, prefixes);
    const size_t size = set.prefixes.size();
    Policy candidate = policy_;
    candidate.sets[name] = std::move(set);
    validate(candidate);
    commit(std::move(candidate), "set.load " + name + ": " + std::to_string(size) + " prefixes");
    return size;
}

} // namespace xdpfw
