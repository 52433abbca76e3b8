// SPDX-License-Identifier: GPL-2.0-only
// PolicyStore: validated, versioned commits and the JSON state file.
#include "lib/store/policy_store.hpp"

#include "lib/lang/inspect_rules.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
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

// validate_policy() and the sink's compiler set each PolicyError's protocol
// code where they find the problem; the store passes it on as it is.
void validate(const Policy& candidate)
{
    try {
        validate_policy(candidate);
    } catch (const PolicyError& e) {
        throw CommandError(e.code(), e.what());
    }
}

PrefixSet parse_prefixes(const std::string& set_name, const std::vector<std::string>& texts)
{
    PrefixSet out;
    out.prefixes.reserve(texts.size());
    for (const std::string& t : texts) {
        try {
            out.prefixes.push_back(Prefix::parse(t));
        } catch (const std::invalid_argument& e) {
            throw CommandError(ErrorCode::invalid_prefix, "set " + set_name + ": " + e.what());
        }
    }
    normalize_set(out);
    return out;
}

void check_set_name(const std::string& name)
{
    if (!valid_set_name(name))
        throw CommandError(ErrorCode::bad_request, "'" + name +
                                              "' is not a valid set name "
                                              "([A-Za-z_][A-Za-z0-9_.-]*)");
}

PrefixSet& existing_set(Policy& policy, const std::string& name)
{
    check_set_name(name);
    auto it = policy.sets.find(name);
    if (it == policy.sets.end())
        throw CommandError(ErrorCode::unknown_set, "no set named '" + name + "'");
    return it->second;
}

} // namespace

struct PolicyStore::Change {
    enum class Op {
        rule_add, rule_del, set_create, set_add, set_del, set_load, recommit, inspect_add,
        inspect_del
    };
    Op op = Op::recommit;
    Rule rule;          // rule_add (with its id)
    inspect::InspectRule inspect; // inspect_add (with its id)
    uint32_t id = 0;    // rule_del, inspect_del
    std::string name;   // set_*
    PrefixSet prefixes; // set_add, set_del, set_load
};

namespace {

using Change = PolicyStore::Change;

constexpr std::pair<Change::Op, const char*> op_names[] = {
    {Change::Op::rule_add, "rule.add"},     {Change::Op::rule_del, "rule.del"},
    {Change::Op::set_create, "set.create"}, {Change::Op::set_add, "set.add"},
    {Change::Op::set_del, "set.del"},       {Change::Op::set_load, "set.load"},
    {Change::Op::recommit, "recommit"},     {Change::Op::inspect_add, "inspect.add"},
    {Change::Op::inspect_del, "inspect.del"},
};

const char* op_name(Change::Op op)
{
    for (const auto& [o, name] : op_names)
        if (o == op)
            return name;
    return "?";
}

const inspect::InspectRule* find_inspect_rule(const Policy& p, uint32_t id)
{
    auto it = std::find_if(p.inspect.begin(), p.inspect.end(),
                           [id](const inspect::InspectRule& r) { return r.id == id; });
    return it == p.inspect.end() ? nullptr : &*it;
}

// An inspection rule as saved: its canonical text, parsed again on restore.
inspect::InspectRule inspect_rule_from_text(const std::string& text, uint64_t id)
{
    inspect::InspectRule r = parse_inspect_rule(text, "inspect rule " + std::to_string(id));
    r.id = static_cast<uint32_t>(id);
    return r;
}

const Rule* find_rule(const Policy& p, uint32_t id)
{
    auto it = std::find_if(p.rules.begin(), p.rules.end(), [id](const Rule& r) { return r.id == id; });
    return it == p.rules.end() ? nullptr : &*it;
}

// The one place a change is applied: live commits build their candidate with
// it and restore replays the journal with it. Validates references, not the
// policy as a whole (validate() does).
void apply_change(Policy& p, const Change& c)
{
    switch (c.op) {
    case Change::Op::rule_add:
        if (const Rule* holder = find_rule(p, c.rule.id))
            throw CommandError(ErrorCode::rule_exists, "rule id " + std::to_string(c.rule.id) +
                                                           " is taken by: " + holder->text);
        p.rules.push_back(c.rule);
        break;
    case Change::Op::rule_del: {
        auto it = std::find_if(p.rules.begin(), p.rules.end(),
                               [&](const Rule& r) { return r.id == c.id; });
        if (it == p.rules.end())
            throw CommandError(ErrorCode::unknown_rule, "no rule with id " + std::to_string(c.id));
        p.rules.erase(it);
        break;
    }
    case Change::Op::set_create:
        check_set_name(c.name);
        if (p.sets.contains(c.name))
            throw CommandError(ErrorCode::set_exists, "set '" + c.name + "' already exists");
        p.sets[c.name];
        break;
    case Change::Op::set_add:
    case Change::Op::set_del: {
        PrefixSet& set = existing_set(p, c.name);
        PrefixSet out;
        out.prefixes.reserve(set.prefixes.size() +
                             (c.op == Change::Op::set_add ? c.prefixes.prefixes.size() : 0));
        if (c.op == Change::Op::set_add)
            std::set_union(set.prefixes.begin(), set.prefixes.end(), c.prefixes.prefixes.begin(),
                           c.prefixes.prefixes.end(), std::back_inserter(out.prefixes));
        else
            std::set_difference(set.prefixes.begin(), set.prefixes.end(),
                                c.prefixes.prefixes.begin(), c.prefixes.prefixes.end(),
                                std::back_inserter(out.prefixes));
        set = std::move(out);
        break;
    }
    case Change::Op::set_load:
        check_set_name(c.name);
        p.sets[c.name] = c.prefixes;
        break;
    case Change::Op::inspect_add:
        if (const inspect::InspectRule* holder = find_inspect_rule(p, c.inspect.id))
            throw CommandError(ErrorCode::rule_exists, "inspection rule id " +
                                                           std::to_string(c.inspect.id) +
                                                           " is taken by: " + holder->text);
        p.inspect.push_back(c.inspect);
        break;
    case Change::Op::inspect_del: {
        auto it = std::find_if(p.inspect.begin(), p.inspect.end(),
                               [&](const inspect::InspectRule& r) { return r.id == c.id; });
        if (it == p.inspect.end())
            throw CommandError(ErrorCode::unknown_rule,
                               "no inspection rule with id " + std::to_string(c.id));
        p.inspect.erase(it);
        break;
    }
    case Change::Op::recommit: break;
    }
}

nlohmann::json change_json(const Change& c)
{
    nlohmann::json j = {{"op", op_name(c.op)}};
    switch (c.op) {
    case Change::Op::rule_add:
        j["id"] = c.rule.id;
        j["text"] = c.rule.text;
        break;
    case Change::Op::rule_del: j["id"] = c.id; break;
    case Change::Op::inspect_add:
        j["id"] = c.inspect.id;
        j["text"] = c.inspect.text;
        break;
    case Change::Op::inspect_del: j["id"] = c.id; break;
    case Change::Op::set_create: j["name"] = c.name; break;
    case Change::Op::set_add:
    case Change::Op::set_del:
    case Change::Op::set_load: {
        j["name"] = c.name;
        nlohmann::json list = nlohmann::json::array();
        list.get_ref<nlohmann::json::array_t&>().reserve(c.prefixes.prefixes.size());
        for (const Prefix& pfx : c.prefixes.prefixes)
            list.push_back(pfx.str());
        j["prefixes"] = std::move(list);
        break;
    }
    case Change::Op::recommit: break;
    }
    return j;
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
    nlohmann::json inspect_rules = nlohmann::json::array();
    for (const inspect::InspectRule& r : policy.inspect)
        inspect_rules.push_back({{"id", r.id}, {"text", r.text}});
    return {{"format", state_format},
            {"version", version},
            {"policy",
             {{"default", action_name(policy.default_action)},
              {"malformed", action_name(policy.malformed_action)},
              {"rules", std::move(rules)},
              {"sets", std::move(sets)},
              {"inspect", std::move(inspect_rules)}}},
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
    throw CommandError(ErrorCode::internal,
                       "state file " + path.string() + ": " + what + ": " + std::strerror(err));
}

// Writes all of data to fd (EINTR retried); false with errno on failure.
bool write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        data.remove_prefix(size_t(n));
    }
    return true;
}

void fsync_dir(const std::filesystem::path& file)
{
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

void create_parent(const std::filesystem::path& file)
{
    std::filesystem::path parent = file.parent_path();
    if (parent.empty())
        return;
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
        throw CommandError(ErrorCode::internal, "state file " + file.string() +
                                           ": cannot create directory " + parent.string() + ": " +
                                           ec.message());
}

// Writes and fsyncs "<file>.tmp"; the file itself is untouched.
void write_tmp(const std::filesystem::path& file, const std::string& data)
{
    create_parent(file);
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
    if (!write_all(fd, data))
        fail("write");
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
    fsync_dir(file);
}

// Reading the state file: every problem names the file and the JSON path.
class StateReader {
public:
    // file: "state file PATH" or "journal PATH", the start of every message.
    explicit StateReader(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const std::string& where, const std::string& problem) const
    {
        throw CommandError(ErrorCode::invalid_policy,
                           file_ + ": " + (where.empty() ? "" : where + ": ") + problem);
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

// A journal entry's change; every problem names the line.
Change change_from_json(const StateReader& rd, const nlohmann::json& j, const std::string& where,
                        uint32_t max_rules)
{
    if (!j.is_object())
        rd.fail(where, std::string("expected an object, got ") + j.type_name());
    const std::string& op = rd.string(rd.field(j, where, "op"), where + ".op");
    Change c;
    auto known = std::find_if(std::begin(op_names), std::end(op_names),
                              [&](const auto& entry) { return op == entry.second; });
    if (known == std::end(op_names))
        rd.fail(where + ".op", "unknown operation '" + op + "'");
    c.op = known->first;
    auto rule_id = [&] {
        uint64_t id = rd.unsigned_int(rd.field(j, where, "id"), where + ".id");
        if (id == 0 || id >= max_rules)
            rd.fail(where + ".id", std::to_string(id) + " is out of range 1.." +
                                       std::to_string(max_rules > 0 ? max_rules - 1 : 0) +
                                       " (max_rules=" + std::to_string(max_rules) + ")");
        return static_cast<uint32_t>(id);
    };
    switch (c.op) {
    case Change::Op::rule_add: {
        uint32_t id = rule_id();
        const std::string& text = rd.string(rd.field(j, where, "text"), where + ".text");
        try {
            c.rule = parse_rule(text, "rule " + std::to_string(id));
        } catch (const PolicyError& e) {
            rd.fail(where, e.what());
        }
        c.rule.id = id;
        break;
    }
    case Change::Op::rule_del: c.id = rule_id(); break;
    case Change::Op::inspect_add:
    case Change::Op::inspect_del: {
        uint64_t id = rd.unsigned_int(rd.field(j, where, "id"), where + ".id");
        if (id == 0 || id >= inspect::max_rules)
            rd.fail(where + ".id", std::to_string(id) + " is out of range 1.." +
                                       std::to_string(inspect::max_rules - 1));
        c.id = static_cast<uint32_t>(id);
        if (c.op == Change::Op::inspect_del)
            break;
        const std::string& text = rd.string(rd.field(j, where, "text"), where + ".text");
        try {
            c.inspect = inspect_rule_from_text(text, id);
        } catch (const PolicyError& e) {
            rd.fail(where, e.what());
        }
        break;
    }
    case Change::Op::set_create:
    case Change::Op::set_add:
    case Change::Op::set_del:
    case Change::Op::set_load: {
        c.name = rd.string(rd.field(j, where, "name"), where + ".name");
        if (!valid_set_name(c.name))
            rd.fail(where + ".name", "'" + c.name + "' is not a valid set name");
        if (c.op == Change::Op::set_create)
            break;
        const nlohmann::json& list = rd.array(j, where, "prefixes");
        c.prefixes.prefixes.reserve(list.size());
        for (size_t i = 0; i < list.size(); ++i) {
            std::string item = where + ".prefixes[" + std::to_string(i) + "]";
            try {
                c.prefixes.prefixes.push_back(Prefix::parse(rd.string(list[i], item)));
            } catch (const std::invalid_argument& e) {
                rd.fail(item, e.what());
            }
        }
        normalize_set(c.prefixes);
        break;
    }
    case Change::Op::recommit: break;
    }
    return c;
}

} // namespace

namespace {

// Reads the history entry fields shared by the snapshot and the journal.
HistoryEntry history_entry(const StateReader& rd, const nlohmann::json& e, const std::string& where)
{
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
    return h;
}

// Applies the journal's entries that follow `version` (older ones predate the
// snapshot: a compaction that stopped before emptying the journal). Returns
// the offset just past the last complete line; a last line without its
// newline is a torn append and is left out.
uint64_t replay_journal(const std::filesystem::path& path, uint32_t max_rules, Policy& policy,
                        uint64_t& version, std::deque<HistoryEntry>& history, size_t history_cap)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return 0;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    if (!in && !in.eof())
        throw CommandError(ErrorCode::invalid_policy,
                           "journal " + path.string() + ": cannot read: " + std::strerror(errno));
    const std::string text = buf.str();
    StateReader rd("journal " + path.string());
    size_t pos = 0;
    for (size_t line_no = 1;; ++line_no) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos)
            break;
        const std::string where = "line " + std::to_string(line_no);
        nlohmann::json e;
        try {
            e = nlohmann::json::parse(std::string_view(text).substr(pos, nl - pos));
        } catch (const nlohmann::json::parse_error&) {
            rd.fail(where, "not JSON");
        }
        pos = nl + 1;
        HistoryEntry h = history_entry(rd, e, where);
        if (h.version <= version)
            continue;
        if (h.version != version + 1)
            rd.fail(where + ".version", "version " + std::to_string(h.version) +
                                            " does not follow version " + std::to_string(version));
        Change c = change_from_json(rd, rd.field(e, where, "change"), where + ".change", max_rules);
        try {
            apply_change(policy, c);
        } catch (const CommandError& err) {
            rd.fail(where, err.what());
        }
        version = h.version;
        history.push_back(std::move(h));
        while (history.size() > history_cap)
            history.pop_front();
    }
    return pos;
}

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

PolicyStore::~PolicyStore() { close_journal(); }

std::filesystem::path PolicyStore::journal_path(const std::filesystem::path& state_file)
{
    std::filesystem::path j = state_file;
    j += ".journal";
    return j;
}

int PolicyStore::journal_fd()
{
    if (journal_fd_ >= 0)
        return journal_fd_;
    const std::filesystem::path path = journal_path(state_file_);
    create_parent(path);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        save_failed(path, "open", errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        save_failed(path, "stat", err);
    }
    journal_fd_ = fd;
    journal_bytes_ = uint64_t(st.st_size);
    // The journal's directory entry must be durable before a line in it is.
    fsync_dir(path);
    return fd;
}

void PolicyStore::close_journal()
{
    if (journal_fd_ >= 0)
        ::close(journal_fd_);
    journal_fd_ = -1;
}

void PolicyStore::write_snapshot_tmp(const Policy& policy, uint64_t version,
                                     const std::deque<HistoryEntry>& history)
{
    std::string text = state_text(policy, version, history);
    write_tmp(state_file_, text);
    snapshot_bytes_ = text.size();
}

// After the snapshot is in place, the journal's lines are all older than it;
// emptying it is an optimisation (restore skips them by version), so a
// failure here is only a warning.
void PolicyStore::install_snapshot()
{
    install_tmp(state_file_);
    snapshot_saved_ = true;
    const std::filesystem::path path = journal_path(state_file_);
    std::error_code ec;
    if (journal_fd_ < 0 && !std::filesystem::exists(path, ec))
        return;
    try {
        int fd = journal_fd();
        if (::ftruncate(fd, 0) != 0 || ::fdatasync(fd) != 0)
            save_failed(path, "truncate", errno);
        journal_bytes_ = 0;
    } catch (const CommandError& e) {
        close_journal();
        if (on_warning)
            on_warning(std::string("emptying the journal after a snapshot failed: ") + e.what());
    }
}

void PolicyStore::compact()
{
    try {
        write_snapshot_tmp(policy_, version_, history_);
        install_snapshot();
    } catch (const CommandError& e) {
        ::unlink(tmp_path(state_file_).c_str());
        if (on_warning)
            on_warning(std::string("compacting the journal failed (it keeps every commit; "
                                   "tried again at the next one): ") +
                       e.what());
    }
}

void PolicyStore::check_rule_id(uint32_t id, const std::string& where) const
{
    if (id == 0 || id >= max_rules_)
        throw CommandError(
            ErrorCode::invalid_rule,
            where + ": id: " + std::to_string(id) + " is out of range 1.." +
                std::to_string(max_rules_ > 0 ? max_rules_ - 1 : 0) +
                " (ids index the rule counters; max_rules=" + std::to_string(max_rules_) + ")");
}

void PolicyStore::commit(Policy candidate, std::string summary, const Change* change)
{
    using namespace std::chrono;
    const uint64_t next = version_ + 1;
    // Milliseconds: the state file keeps that much, so a restored history
    // equals the one that was saved.
    const system_clock::time_point now = floor<milliseconds>(system_clock::now());
    std::deque<HistoryEntry> history = history_;
    history.push_back({next, now, summary});
    while (history.size() > history_cap)
        history.pop_front();

    // Write ahead: the journal line (or the snapshot's tmp file) is durable
    // before the policy goes live, so a full disk fails the command first.
    const bool saving = !state_file_.empty();
    const bool journaled = saving && change && snapshot_saved_;
    const uint64_t journal_before = journal_bytes_;
    if (journaled) {
        nlohmann::json entry = {{"version", next},
                                {"time", format_utc_time(now)},
                                {"summary", summary},
                                {"change", change_json(*change)}};
        std::string line = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        line += '\n';
        int fd = journal_fd();
        if (!write_all(fd, line) || ::fdatasync(fd) != 0) {
            int err = errno;
            if (::ftruncate(fd, off_t(journal_before)) != 0)
                snapshot_saved_ = false; // the next commit rewrites the snapshot
            save_failed(journal_path(state_file_), "append", err);
        }
        journal_bytes_ += line.size();
    } else if (saving) {
        write_snapshot_tmp(candidate, next, history);
    }

    try {
        sink_.commit(candidate, next);
    } catch (...) {
        if (journaled) {
            // Take the line back; if that fails, a restore would replay a
            // refused change, so the next commit writes a whole snapshot.
            if (::ftruncate(journal_fd_, off_t(journal_before)) != 0 || ::fdatasync(journal_fd_) != 0)
                snapshot_saved_ = false;
            journal_bytes_ = journal_before;
        } else if (saving) {
            ::unlink(tmp_path(state_file_).c_str());
        }
        try {
            throw;
        } catch (const CommandError&) {
            throw;
        } catch (const PolicyError& e) {
            throw CommandError(e.code(), e.what());
        } catch (const std::system_error& e) {
            throw CommandError(ErrorCode::kernel_error, e.what());
        } catch (const std::exception& e) {
            throw CommandError(ErrorCode::internal, std::string("commit failed: ") + e.what());
        } catch (...) {
            throw CommandError(ErrorCode::internal, "commit failed with an unknown exception");
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
    if (saving && !journaled) {
        try {
            install_snapshot();
        } catch (const CommandError& e) {
            failed.emplace(e.code(), "version " + std::to_string(next) +
                                         " is live, but saving it failed: " + e.what());
        }
    } else if (journaled && journal_bytes_ > std::max(snapshot_bytes_, compact_min_bytes)) {
        compact();
    }
    if (on_rule_created) {
        for (uint32_t id : created) {
            try {
                on_rule_created(id);
            } catch (const std::exception& e) {
                if (!failed)
                    failed.emplace(dynamic_cast<const std::system_error*>(&e)
                                       ? ErrorCode::kernel_error
                                       : ErrorCode::internal,
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
        throw CommandError(ErrorCode::invalid_policy,
                           "state file " + name + ": cannot open: " + std::strerror(errno));
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad())
        throw CommandError(ErrorCode::invalid_policy,
                           "state file " + name + ": read error: " + std::strerror(errno));

    StateReader rd("state file " + name);
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
    uint64_t version = rd.unsigned_int(rd.field(root, "", "version"), "version");

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
    // Inspection rules: optional, state written before they existed has none.
    if (auto it = pj.find("inspect"); it != pj.end()) {
        if (!it->is_array())
            rd.fail("policy.inspect", std::string("expected an array, got ") + it->type_name());
        for (size_t i = 0; i < it->size(); ++i) {
            std::string where = "policy.inspect[" + std::to_string(i) + "]";
            const nlohmann::json& rj = (*it)[i];
            if (!rj.is_object())
                rd.fail(where, std::string("expected an object, got ") + rj.type_name());
            uint64_t id = rd.unsigned_int(rd.field(rj, where, "id"), where + ".id");
            const std::string& text = rd.string(rd.field(rj, where, "text"), where + ".text");
            try {
                policy.inspect.push_back(inspect_rule_from_text(text, id));
            } catch (const PolicyError& e) {
                rd.fail(where, e.what());
            }
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
    for (size_t i = 0; i < hj.size(); ++i)
        history.push_back(history_entry(rd, hj[i], "history[" + std::to_string(i) + "]"));
    while (history.size() > history_cap)
        history.pop_front();

    const std::filesystem::path jpath = journal_path(state_file_);
    const uint64_t snapshot_version = version;
    const uint64_t journal_end = replay_journal(jpath, max_rules_, policy, version, history, history_cap);
    if (version != snapshot_version) {
        try {
            validate_policy(policy);
        } catch (const PolicyError& e) {
            throw CommandError(ErrorCode::invalid_policy, "journal " + jpath.string() +
                                                     ": the policy it leads to is invalid: " +
                                                     e.what());
        }
    }
    // Cut a torn last line off, so the next append starts a line of its own.
    close_journal();
    std::error_code jec;
    if (std::filesystem::exists(jpath, jec) && std::filesystem::file_size(jpath, jec) != journal_end)
        std::filesystem::resize_file(jpath, journal_end, jec);
    if (jec)
        throw CommandError(ErrorCode::invalid_policy, "journal " + jpath.string() +
                                                 ": cannot cut off its torn last line: " +
                                                 jec.message());
    journal_bytes_ = journal_end;
    snapshot_bytes_ = buf.str().size();
    snapshot_saved_ = true;

    policy_ = std::move(policy);
    version_ = version;
    history_ = std::move(history);
    return true;
}

void PolicyStore::recommit(const std::string& why)
{
    Change c;
    c.op = Change::Op::recommit;
    commit(policy_, why, &c);
}

void PolicyStore::replace(Policy policy, const std::string& summary)
{
    for (auto& [name, set] : policy.sets)
        normalize_set(set);
    for (size_t i = 0; i < policy.rules.size(); ++i)
        check_rule_id(policy.rules[i].id, "rule at position " + std::to_string(i + 1));
    validate(policy);
    commit(std::move(policy), summary, nullptr); // a whole new policy: a new snapshot
}

uint32_t PolicyStore::add_rule(std::string_view text)
{
    Change c;
    c.op = Change::Op::rule_add;
    try {
        c.rule = parse_rule(text, "rule");
    } catch (const PolicyError& e) {
        throw CommandError(ErrorCode::invalid_rule, e.what());
    }
    if (c.rule.id != 0) {
        check_rule_id(c.rule.id, "rule");
    } else {
        std::vector<bool> used(max_rules_, false);
        for (const Rule& r : policy_.rules)
            if (r.id < max_rules_)
                used[r.id] = true;
        for (uint32_t id = 1; id < max_rules_ && c.rule.id == 0; ++id)
            if (!used[id])
                c.rule.id = id;
        if (c.rule.id == 0)
            throw CommandError(ErrorCode::capacity,
                               "rules: no free rule id, all of 1.." +
                                   std::to_string(max_rules_ > 0 ? max_rules_ - 1 : 0) +
                                   " are in use (max_rules=" + std::to_string(max_rules_) + ")");
    }
    Policy candidate = policy_;
    apply_change(candidate, c);
    validate(candidate);
    commit(std::move(candidate), "rule.add id=" + std::to_string(c.rule.id) + ": " + c.rule.text, &c);
    return c.rule.id;
}

void PolicyStore::delete_rule(uint32_t id)
{
    Change c;
    c.op = Change::Op::rule_del;
    c.id = id;
    const Rule* rule = find_rule(policy_, id);
    if (!rule)
        throw CommandError(ErrorCode::unknown_rule, "no rule with id " + std::to_string(id));
    std::string summary = "rule.del id=" + std::to_string(id) + ": " + rule->text;
    Policy candidate = policy_;
    apply_change(candidate, c);
    validate(candidate);
    commit(std::move(candidate), std::move(summary), &c);
}

uint32_t PolicyStore::add_inspect_rule(std::string_view text)
{
    Change c;
    c.op = Change::Op::inspect_add;
    try {
        c.inspect = parse_inspect_rule(text, "inspect rule");
    } catch (const PolicyError& e) {
        throw CommandError(ErrorCode::invalid_rule, e.what());
    }
    if (c.inspect.id != 0) {
        if (c.inspect.id >= inspect::max_rules)
            throw CommandError(ErrorCode::invalid_rule, "inspect rule: id: must be 1.." +
                                                   std::to_string(inspect::max_rules - 1));
    } else {
        std::set<uint32_t> used;
        for (const inspect::InspectRule& r : policy_.inspect)
            used.insert(r.id);
        for (uint32_t id = 1; id < inspect::max_rules && c.inspect.id == 0; ++id)
            if (!used.count(id))
                c.inspect.id = id;
        if (c.inspect.id == 0)
            throw CommandError(ErrorCode::capacity, "inspection rules: no free id, all of 1.." +
                                               std::to_string(inspect::max_rules - 1) + " are in use");
    }
    Policy candidate = policy_;
    apply_change(candidate, c);
    validate(candidate);
    commit(std::move(candidate),
           "inspect.add id=" + std::to_string(c.inspect.id) + ": " + c.inspect.text, &c);
    return c.inspect.id;
}

void PolicyStore::delete_inspect_rule(uint32_t id)
{
    Change c;
    c.op = Change::Op::inspect_del;
    c.id = id;
    const inspect::InspectRule* rule = find_inspect_rule(policy_, id);
    if (!rule)
        throw CommandError(ErrorCode::unknown_rule,
                           "no inspection rule with id " + std::to_string(id));
    std::string summary = "inspect.del id=" + std::to_string(id) + ": " + rule->text;
    Policy candidate = policy_;
    apply_change(candidate, c);
    validate(candidate);
    commit(std::move(candidate), std::move(summary), &c);
}

void PolicyStore::create_set(const std::string& name)
{
    Change c;
    c.op = Change::Op::set_create;
    c.name = name;
    Policy candidate = policy_;
    apply_change(candidate, c);
    validate(candidate);
    commit(std::move(candidate), "set.create " + name, &c);
}

size_t PolicyStore::add_to_set(const std::string& name, const std::vector<std::string>& prefixes)
{
    Change c;
    c.op = Change::Op::set_add;
    c.name = name;
    existing_set(policy_, name); // unknown set before bad prefixes
    c.prefixes = parse_prefixes(name, prefixes);
    Policy candidate = policy_;
    apply_change(candidate, c);
    const size_t size = candidate.sets.at(name).prefixes.size();
    const size_t added = size - policy_.sets.at(name).prefixes.size();
    validate(candidate);
    commit(std::move(candidate),
           "set.add " + name + ": " + std::to_string(added) + " new, size " + std::to_string(size),
           &c);
    return added;
}

size_t PolicyStore::delete_from_set(const std::string& name,
                                    const std::vector<std::string>& prefixes)
{
    Change c;
    c.op = Change::Op::set_del;
    c.name = name;
    existing_set(policy_, name);
    c.prefixes = parse_prefixes(name, prefixes);
    Policy candidate = policy_;
    apply_change(candidate, c);
    const size_t size = candidate.sets.at(name).prefixes.size();
    const size_t removed = policy_.sets.at(name).prefixes.size() - size;
    validate(candidate);
    commit(std::move(candidate),
           "set.del " + name + ": " + std::to_string(removed) + " removed, size " +
               std::to_string(size),
           &c);
    return removed;
}

size_t PolicyStore::load_set(const std::string& name, const std::vector<std::string>& prefixes)
{
    Change c;
    c.op = Change::Op::set_load;
    c.name = name;
    check_set_name(name);
    c.prefixes = parse_prefixes(name, prefixes);
    const size_t size = c.prefixes.prefixes.size();
    Policy candidate = policy_;
    apply_change(candidate, c);
    validate(candidate);
    commit(std::move(candidate), "set.load " + name + ": " + std::to_string(size) + " prefixes", &c);
    return size;
}

} // namespace xdpfw
