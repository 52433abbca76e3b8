// SPDX-License-Identifier: GPL-2.0-only
// The daemon's policy: rules with stable ids, named sets, the commit version
// and history, and the state that survives reboots: a snapshot file
// (snapshot.hpp) plus a journal of the commits since (journal.hpp; one
// appended line each, so a commit costs the size of the change, not of the
// policy). Every mutation is validated in full and committed through a
// PolicySink before the store changes; a failure leaves policy, version,
// snapshot and journal as they were. Kernel-free (the sink is the daemon's
// compiler + PolicyMaps).
#pragma once

#include "lib/base/utc_time.hpp"
#include "lib/model/policy.hpp"
#include "lib/store/history.hpp"
#include "lib/store/journal.hpp"
#include "lib/store/kept_policies.hpp"
#include "lib/store/pending_confirm.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xdpfw {

// Every failure is a CommandError (lib/model/error.hpp) carrying its
// protocol code (docs/PROTOCOL.md).

// Receives every candidate policy. Must either make it live (all of it) or
// throw and leave the live policy as it was.
class PolicySink {
public:
    virtual ~PolicySink() = default;
    virtual void commit(const Policy& policy, uint64_t version) = 0;
    // A dry run: throws what commit() would (compile errors, capacity) and
    // changes nothing. The default checks nothing beyond the store's
    // validation.
    virtual void check(const Policy& policy) { (void)policy; }
};

// How a mutation commits (docs/PROTOCOL.md, "dry_run" and "confirm").
struct CommitOptions {
    // Validate and check (PolicySink::check) only; the store keeps the
    // candidate for take_dry_run() and changes nothing.
    bool dry_run = false;
    // Commit, and roll back after this long unless confirm() comes first.
    std::optional<std::chrono::seconds> confirm;
};

class PolicyStore {
public:
    // state_file empty: nothing is saved. max_rules bounds rule ids (1..max_rules-1).
    // The journal is "<state_file>.journal" (journal_path()).
    PolicyStore(PolicySink& sink, uint32_t max_rules, std::filesystem::path state_file);
    ~PolicyStore();
    PolicyStore(const PolicyStore&) = delete;
    PolicyStore& operator=(const PolicyStore&) = delete;

    static std::filesystem::path journal_path(const std::filesystem::path& state_file);

    // Loads policy, version and history from the state file, if it exists,
    // and replays the journal's commits after it; commits nothing. A last
    // journal line cut short (a crash while appending it: never acknowledged)
    // is dropped. Throws CommandError(ErrorCode::invalid_policy) naming the file (and
    // the journal line) when either exists but cannot be read.
    bool restore();
    // Commits the current policy again (after a reboot, or when the live
    // version differs from the saved one), as version + 1.
    void recommit(const std::string& why);
    // A whole new policy (the first commit of a fresh daemon, `load`).
    void replace(Policy policy, const std::string& summary, const CommitOptions& opts = {});

    // The mutations. While a confirmation is pending, each one without
    // opts.confirm (or opts.dry_run) fails with confirm_pending; one with it
    // extends the wait and keeps the rollback target.
    uint32_t add_rule(std::string_view text, const CommitOptions& opts = {}); // the rule id
    void delete_rule(uint32_t id, const CommitOptions& opts = {});
    // The rule with this id becomes text's rule (an id= in text must be this
    // id); its counters start again unless only the comment changed.
    void replace_rule(uint32_t id, std::string_view text, const CommitOptions& opts = {});
    // Inspection rules (docs/RULES.md); their own ids, 1..inspect::max_rules-1.
    uint32_t add_inspect_rule(std::string_view text, const CommitOptions& opts = {});
    void delete_inspect_rule(uint32_t id, const CommitOptions& opts = {});
    void create_set(const std::string& name, const CommitOptions& opts = {});
    // Removes a set no rule names (set_in_use naming the rules otherwise).
    void destroy_set(const std::string& name, const CommitOptions& opts = {});
    size_t add_to_set(const std::string& name, const std::vector<std::string>& prefixes,
                      const CommitOptions& opts = {});
    size_t delete_from_set(const std::string& name, const std::vector<std::string>& prefixes,
                           const CommitOptions& opts = {});
    size_t load_set(const std::string& name, const std::vector<std::string>& prefixes,
                    const CommitOptions& opts = {});

    // Commits version's policy again as a new version; the default is the
    // previous version, or while a confirmation is pending the version it
    // would roll back to. Cancels a pending confirmation (unless
    // opts.confirm starts a new one). Returns the version brought back.
    uint64_t rollback(std::optional<uint64_t> version, const CommitOptions& opts = {});
    // Keeps the commit awaiting confirmation (saved at once); returns its
    // version. not_pending when nothing waits.
    uint64_t confirm();
    // When the pending confirmation's deadline is at or before now: commits
    // the policy it replaced as a new version and returns that commit's
    // summary. nullopt when nothing was due.
    std::optional<std::string> rollback_if_due(std::chrono::system_clock::time_point now);

    const Policy& policy() const { return policy_; }
    uint64_t version() const { return version_; }
    const std::deque<HistoryEntry>& history() const { return history_; }
    const std::optional<PendingConfirm>& pending() const { return pending_; }
    // The policy of version: the live one, the pending rollback target, or a
    // kept one (kept_policies.hpp); unknown_version naming what is kept
    // otherwise.
    Policy policy_at(uint64_t version) const;
    const KeptPolicies& kept() const { return kept_; }
    // The candidate of the last dry run (once).
    std::optional<Policy> take_dry_run() { return std::exchange(dry_run_, std::nullopt); }

    // Called with the id of every rule a commit creates (counters start at 0).
    std::function<void(uint32_t)> on_rule_created;
    // Problems that lose nothing (a compaction that failed and will be tried
    // again at the next commit); the daemon logs them.
    std::function<void(const std::string&)> on_warning;

    // The journal is compacted into a new snapshot once it is larger than the
    // snapshot and this many bytes (tests lower it).
    uint64_t compact_min_bytes = 1 << 20;

private:
    // What a commit wrote ahead of going live, to undo or finish.
    struct WriteAhead {
        bool saving = false;        // there is a state file
        bool journaled = false;     // a journal line (else a snapshot's tmp file, if saving)
        uint64_t journal_before = 0; // the journal's size before the line
    };

    // Validates nothing: callers have. With a change, appends it to the
    // journal and fdatasyncs before committing through the sink (so a full
    // disk fails the command before anything changes) and cuts it off again
    // if the sink refuses. Without one (replace, the first save), writes a
    // whole snapshot to "<file>.tmp", commits, renames it into place and
    // empties the journal.
    // pending_after: the confirmation pending once the commit is live; a
    // commit that has or had one writes a whole snapshot (which holds it).
    void commit(Policy candidate, std::string summary, const PolicyChange* change,
                std::optional<PendingConfirm> pending_after = std::nullopt);
    // commit() as opts ask: a dry run, a refusal while a confirmation is
    // pending, or a commit that starts or extends one.
    void apply(Policy candidate, std::string summary, const PolicyChange* change,
               const CommitOptions& opts);
    // confirm_pending when a confirmation is pending.
    void refuse_while_pending() const;
    // The confirmation pending after a commit with --confirm.
    PendingConfirm next_pending(std::chrono::seconds wait) const;
    WriteAhead write_ahead(const Policy& candidate, const std::deque<HistoryEntry>& history,
                           const PolicyChange* change, const PendingConfirm* pending);
    // sink_.commit(); on failure undoes the write-ahead and throws the
    // failure as a CommandError.
    void commit_to_sink(const Policy& candidate, uint64_t version, const WriteAhead& ahead);
    // After the policy is live: installs the snapshot or compacts the
    // journal; a failure to report (the command's caller must learn the
    // state was not saved).
    std::optional<CommandError> finish_save(uint64_t version, const WriteAhead& ahead);
    // on_rule_created for each new rule; the first failure into *failed.
    void reset_counters(const std::vector<uint32_t>& created, uint64_t version,
                        std::optional<CommandError>& failed);
    void write_snapshot_tmp(const Policy& policy, uint64_t version,
                            const std::deque<HistoryEntry>& history,
                            const PendingConfirm* pending);
    void install_snapshot();
    void compact();
    // The current policy with change applied, validated as a whole.
    Policy candidate_with(const PolicyChange& change) const;
    // Ids 1..max_rules-1; invalid_rule naming where otherwise.
    void check_rule_id(uint32_t id, const std::string& where) const;

    PolicySink& sink_;
    uint32_t max_rules_;
    std::filesystem::path state_file_;
    Policy policy_;
    uint64_t version_ = 0;
    std::deque<HistoryEntry> history_;
    std::optional<PendingConfirm> pending_;
    KeptPolicies kept_;
    std::optional<Policy> dry_run_;
    std::string last_rollback_; // the summary of the last rollback_if_due() commit
    // Saving: the journal, the snapshot's size.
    Journal journal_;
    uint64_t snapshot_bytes_ = 0;
    bool snapshot_saved_ = false; // a snapshot this store wrote or restored exists
};

} // namespace xdpfw
