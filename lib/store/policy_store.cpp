// SPDX-License-Identifier: GPL-2.0-only
// PolicyStore: validated, versioned commits; saving them through the
// journal and the snapshot; restoring them.
#include "lib/store/policy_store.hpp"

#include "lib/lang/inspect_rules.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/store/durable_file.hpp"
#include "lib/store/snapshot.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <system_error>

namespace xdpfw {

namespace {

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
    std::vector<Prefix> parsed;
    parsed.reserve(texts.size());
    for (const std::string& t : texts) {
        try {
            parsed.push_back(Prefix::parse(t));
        } catch (const std::invalid_argument& e) {
            throw CommandError(ErrorCode::invalid_prefix, "set " + set_name + ": " + e.what());
        }
    }
    PrefixSet out(std::move(parsed));
    normalize_set(out);
    return out;
}

// Rethrows the exception being handled (the sink's) as a CommandError.
[[noreturn]] void rethrow_sink_error()
{
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

// A rule is new (its counter must start at zero) when its id was free or
// held a different rule before the commit.
std::vector<uint32_t> created_rules(const Policy& before, const Policy& after)
{
    // Ids are unique within a policy: a sorted vector finds them without a
    // node per rule (this runs on every commit).
    std::vector<std::pair<uint32_t, const Rule*>> old;
    old.reserve(before.rules.size());
    for (const Rule& r : before.rules)
        old.emplace_back(r.id, &r);
    std::sort(old.begin(), old.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<uint32_t> created;
    for (const Rule& r : after.rules) {
        auto it = std::lower_bound(old.begin(), old.end(), r.id,
                                   [](const auto& e, uint32_t id) { return e.first < id; });
        if (it == old.end() || it->first != r.id || it->second->priority != r.priority ||
            it->second->match != r.match || it->second->action != r.action)
            created.push_back(r.id);
    }
    return created;
}

} // namespace

PolicyStore::PolicyStore(PolicySink& sink, uint32_t max_rules, std::filesystem::path state_file)
    : sink_(sink), max_rules_(max_rules), state_file_(std::move(state_file)),
      journal_(journal_path(state_file_))
{
}

PolicyStore::~PolicyStore() = default;

std::filesystem::path PolicyStore::journal_path(const std::filesystem::path& state_file)
{
    std::filesystem::path j = state_file;
    j += ".journal";
    return j;
}

void PolicyStore::write_snapshot_tmp(const Policy& policy, uint64_t version,
                                     const std::deque<HistoryEntry>& history,
                                     const PendingConfirm* pending)
{
    std::string text = snapshot_text(policy, version, history, pending);
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
    if (!journal_.present())
        return;
    try {
        journal_.clear();
    } catch (const CommandError& e) {
        journal_.close();
        if (on_warning)
            on_warning(std::string("emptying the journal after a snapshot failed: ") + e.what());
    }
}

void PolicyStore::compact()
{
    try {
        write_snapshot_tmp(policy_, version_, history_, pending_ ? &*pending_ : nullptr);
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
        throw CommandError(ErrorCode::invalid_rule,
            where + ": id: " + std::to_string(id) + " is out of range 1.." +
                std::to_string(max_rules_ > 0 ? max_rules_ - 1 : 0) +
                " (ids index the rule counters; max_rules=" + std::to_string(max_rules_) + ")");
}

void PolicyStore::commit(Policy candidate, std::string summary, const PolicyChange* change,
                         std::optional<PendingConfirm> pending_after)
{
    using namespace std::chrono;
    const uint64_t next = version_ + 1;
    // Milliseconds: the state file keeps that much, so a restored history
    // equals the one that was saved.
    const system_clock::time_point now = floor<milliseconds>(system_clock::now());
    std::deque<HistoryEntry> history = history_;
    push_history(history, {next, now, std::move(summary)});

    // The snapshot holds a pending confirmation: a commit that starts,
    // changes or ends one writes it whole.
    if (pending_after || pending_)
        change = nullptr;
    const WriteAhead ahead =
        write_ahead(candidate, history, change, pending_after ? &*pending_after : nullptr);
    commit_to_sink(candidate, next, ahead);
    const std::vector<uint32_t> created = created_rules(policy_, candidate);
    if (version_ > 0)
        kept_.keep(version_, std::move(policy_));
    policy_ = std::move(candidate);
    version_ = next;
    history_ = std::move(history);
    pending_ = std::move(pending_after);

    // The policy is live from here on: finish every step, then report the
    // first failure.
    std::optional<CommandError> failed = finish_save(next, ahead);
    reset_counters(created, next, failed);
    if (failed)
        throw *failed;
}

void PolicyStore::apply(Policy candidate, std::string summary, const PolicyChange* change,
                        const CommitOptions& opts)
{
    if (opts.dry_run) {
        try {
            sink_.check(candidate);
        } catch (...) {
            rethrow_sink_error();
        }
        dry_run_ = std::move(candidate);
        return;
    }
    if (!opts.confirm) {
        refuse_while_pending();
        commit(std::move(candidate), std::move(summary), change);
        return;
    }
    PendingConfirm next = next_pending(*opts.confirm);
    summary += " (confirm by " + format_utc_time(next.deadline) + ")";
    commit(std::move(candidate), std::move(summary), change, std::move(next));
}

// Write ahead: the journal line (or the snapshot's tmp file) is durable
// before the policy goes live, so a full disk fails the command first.
PolicyStore::WriteAhead PolicyStore::write_ahead(const Policy& candidate,
                                                 const std::deque<HistoryEntry>& history,
                                                 const PolicyChange* change,
                                                 const PendingConfirm* pending)
{
    WriteAhead ahead;
    ahead.saving = !state_file_.empty();
    ahead.journaled = ahead.saving && change && snapshot_saved_;
    if (ahead.journaled) {
        try {
            ahead.journal_before = journal_.append(Journal::line(history.back(), *change));
        } catch (const CommandError&) {
            if (!journal_.intact())
                snapshot_saved_ = false; // the next commit rewrites the snapshot
            throw;
        }
    } else if (ahead.saving) {
        write_snapshot_tmp(candidate, history.back().version, history, pending);
    }
    return ahead;
}

void PolicyStore::commit_to_sink(const Policy& candidate, uint64_t version, const WriteAhead& ahead)
{
    try {
        sink_.commit(candidate, version);
    } catch (...) {
        if (ahead.journaled) {
            // Take the line back; if that fails, a restore would replay a
            // refused change, so the next commit writes a whole snapshot.
            if (!journal_.take_back(ahead.journal_before))
                snapshot_saved_ = false;
        } else if (ahead.saving) {
            ::unlink(tmp_path(state_file_).c_str());
        }
        rethrow_sink_error();
    }
}

std::optional<CommandError> PolicyStore::finish_save(uint64_t version, const WriteAhead& ahead)
{
    if (ahead.saving && !ahead.journaled) {
        try {
            install_snapshot();
        } catch (const CommandError& e) {
            return CommandError(e.code(), "version " + std::to_string(version) +
                                              " is live, but saving it failed: " + e.what());
        }
    } else if (ahead.journaled &&
               journal_.bytes() > std::max(snapshot_bytes_, compact_min_bytes)) {
        compact();
    }
    return std::nullopt;
}

void PolicyStore::reset_counters(const std::vector<uint32_t>& created, uint64_t version,
                                 std::optional<CommandError>& failed)
{
    if (!on_rule_created)
        return;
    for (uint32_t id : created) {
        try {
            on_rule_created(id);
        } catch (const std::exception& e) {
            if (!failed)
                failed.emplace(dynamic_cast<const std::system_error*>(&e)
                                   ? ErrorCode::kernel_error
                                   : ErrorCode::internal,
                               "version " + std::to_string(version) +
                                   " is live, but resetting the counters of rule " +
                                   std::to_string(id) + " failed: " + e.what());
        }
    }
}

bool PolicyStore::restore()
{
    if (state_file_.empty())
        return false;
    std::optional<Snapshot> snap = read_snapshot(state_file_, max_rules_);
    if (!snap)
        return false;
    journal_.close();
    journal_.cut(journal_.replay(max_rules_, snap->policy, snap->version, snap->history));
    snapshot_bytes_ = snap->bytes;
    snapshot_saved_ = true;
    policy_ = std::move(snap->policy);
    version_ = snap->version;
    history_ = std::move(snap->history);
    pending_ = std::move(snap->pending);
    kept_.clear();
    return true;
}

Policy PolicyStore::candidate_with(const PolicyChange& change) const
{
    Policy candidate = policy_;
    apply_change(candidate, change);
    validate(candidate);
    return candidate;
}

void PolicyStore::recommit(const std::string& why)
{
    PolicyChange c;
    c.op = PolicyChange::Op::recommit;
    commit(policy_, why, &c, pending_);
}

void PolicyStore::replace(Policy policy, const std::string& summary, const CommitOptions& opts)
{
    for (auto& [name, set] : policy.sets)
        normalize_set(set);
    for (size_t i = 0; i < policy.rules.size(); ++i)
        check_rule_id(policy.rules[i].id, "rule at position " + std::to_string(i + 1));
    validate(policy);
    apply(std::move(policy), summary, nullptr, opts); // a whole new policy: a new snapshot
}

uint32_t PolicyStore::add_rule(std::string_view text, const CommitOptions& opts)
{
    PolicyChange c;
    c.op = PolicyChange::Op::rule_add;
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
    Policy candidate = candidate_with(c);
    apply(std::move(candidate), "rule.add id=" + std::to_string(c.rule.id) + ": " + c.rule.text,
          &c, opts);
    return c.rule.id;
}

void PolicyStore::delete_rule(uint32_t id, const CommitOptions& opts)
{
    PolicyChange c;
    c.op = PolicyChange::Op::rule_del;
    c.id = id;
    const Rule* rule = find_rule(policy_, id);
    if (!rule)
        throw CommandError(ErrorCode::unknown_rule, "no rule with id " + std::to_string(id));
    std::string summary = "rule.del id=" + std::to_string(id) + ": " + rule->text;
    Policy candidate = candidate_with(c);
    apply(std::move(candidate), std::move(summary), &c, opts);
}

void PolicyStore::replace_rule(uint32_t id, std::string_view text, const CommitOptions& opts)
{
    const Rule* old = find_rule(policy_, id);
    if (!old)
        throw CommandError(ErrorCode::unknown_rule, "no rule with id " + std::to_string(id));
    PolicyChange c;
    c.op = PolicyChange::Op::rule_replace;
    try {
        c.rule = parse_rule(text, "rule");
    } catch (const PolicyError& e) {
        throw CommandError(ErrorCode::invalid_rule, e.what());
    }
    if (c.rule.id != 0 && c.rule.id != id)
        throw CommandError(ErrorCode::invalid_rule,
                           "rule: id: the text says id=" + std::to_string(c.rule.id) +
                               " but rule " + std::to_string(id) +
                               " is being replaced (leave id= out)");
    c.rule.id = id;
    std::string summary = "rule.replace id=" + std::to_string(id) + ": " + old->text + " -> " +
                          c.rule.text;
    Policy candidate = candidate_with(c);
    apply(std::move(candidate), std::move(summary), &c, opts);
}

uint32_t PolicyStore::add_inspect_rule(std::string_view text, const CommitOptions& opts)
{
    PolicyChange c;
    c.op = PolicyChange::Op::inspect_add;
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
    Policy candidate = candidate_with(c);
    apply(std::move(candidate),
          "inspect.add id=" + std::to_string(c.inspect.id) + ": " + c.inspect.text, &c, opts);
    return c.inspect.id;
}

void PolicyStore::delete_inspect_rule(uint32_t id, const CommitOptions& opts)
{
    PolicyChange c;
    c.op = PolicyChange::Op::inspect_del;
    c.id = id;
    const inspect::InspectRule* rule = find_inspect_rule(policy_, id);
    if (!rule)
        throw CommandError(ErrorCode::unknown_rule, "no inspection rule with id " + std::to_string(id));
    std::string summary = "inspect.del id=" + std::to_string(id) + ": " + rule->text;
    Policy candidate = candidate_with(c);
    apply(std::move(candidate), std::move(summary), &c, opts);
}

void PolicyStore::create_set(const std::string& name, const CommitOptions& opts)
{
    PolicyChange c;
    c.op = PolicyChange::Op::set_create;
    c.name = name;
    Policy candidate = candidate_with(c);
    apply(std::move(candidate), "set.create " + name, &c, opts);
}

void PolicyStore::destroy_set(const std::string& name, const CommitOptions& opts)
{
    PolicyChange c;
    c.op = PolicyChange::Op::set_destroy;
    c.name = name;
    Policy candidate = candidate_with(c);
    apply(std::move(candidate), "set.destroy " + name, &c, opts);
}

size_t PolicyStore::add_to_set(const std::string& name, const std::vector<std::string>& prefixes,
                               const CommitOptions& opts)
{
    PolicyChange c;
    c.op = PolicyChange::Op::set_add;
    c.name = name;
    existing_set(policy_, name); // unknown set before bad prefixes
    c.prefixes = parse_prefixes(name, prefixes);
    Policy candidate = candidate_with(c);
    const size_t size = candidate.sets.at(name).prefixes().size();
    const size_t added = size - policy_.sets.at(name).prefixes().size();
    apply(std::move(candidate),
          "set.add " + name + ": " + std::to_string(added) + " new, size " + std::to_string(size),
          &c, opts);
    return added;
}

size_t PolicyStore::delete_from_set(const std::string& name,
                                    const std::vector<std::string>& prefixes,
                                    const CommitOptions& opts)
{
    PolicyChange c;
    c.op = PolicyChange::Op::set_del;
    c.name = name;
    existing_set(policy_, name);
    c.prefixes = parse_prefixes(name, prefixes);
    Policy candidate = candidate_with(c);
    const size_t size = candidate.sets.at(name).prefixes().size();
    const size_t removed = policy_.sets.at(name).prefixes().size() - size;
    apply(std::move(candidate),
          "set.del " + name + ": " + std::to_string(removed) + " removed, size " +
              std::to_string(size),
          &c, opts);
    return removed;
}

size_t PolicyStore::load_set(const std::string& name, const std::vector<std::string>& prefixes,
                             const CommitOptions& opts)
{
    PolicyChange c;
    c.op = PolicyChange::Op::set_load;
    c.name = name;
    check_set_name(name);
    c.prefixes = parse_prefixes(name, prefixes);
    const size_t size = c.prefixes.prefixes().size();
    Policy candidate = candidate_with(c);
    apply(std::move(candidate), "set.load " + name + ": " + std::to_string(size) + " prefixes",
          &c, opts);
    return size;
}

} // namespace xdpfw
