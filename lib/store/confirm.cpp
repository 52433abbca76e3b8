// SPDX-License-Identifier: GPL-2.0-only
// PolicyStore's safe operations: commit confirmed (the pending confirmation,
// confirm, the rollback when it is due), rollback to a kept version, and
// the policies rollback and diff reach.
#include "lib/store/policy_store.hpp"

#include "lib/store/durable_file.hpp"

#include <unistd.h>

namespace xdpfw {

namespace {

std::string v(uint64_t version)
{
    return "version " + std::to_string(version);
}

} // namespace

void PolicyStore::refuse_while_pending() const
{
    if (!pending_)
        return;
    throw CommandError(
        ErrorCode::confirm_pending,
        v(pending_->version) + " awaits confirmation until " + format_utc_time(pending_->deadline) +
            " (then the policy of " + v(pending_->rollback_version) +
            " comes back): run `xdpfwctl confirm` to keep it or `xdpfwctl rollback` to undo it "
            "now, or give this change --confirm SECONDS too");
}

PendingConfirm PolicyStore::next_pending(std::chrono::seconds wait) const
{
    using namespace std::chrono;
    PendingConfirm p;
    p.deadline = floor<milliseconds>(system_clock::now()) + wait;
    p.version = version_ + 1;
    if (pending_) {
        // Like JunOS: a new commit confirmed extends the wait; the rollback
        // still brings back the policy from before the first one.
        p.rollback_version = pending_->rollback_version;
        p.rollback_policy = pending_->rollback_policy;
    } else {
        p.rollback_version = version_;
        p.rollback_policy = std::make_shared<const Policy>(policy_);
    }
    return p;
}

uint64_t PolicyStore::confirm()
{
    if (!pending_)
        throw CommandError(ErrorCode::not_pending,
                           "nothing awaits confirmation" +
                               (last_rollback_.empty() ? std::string()
                                                       : " (the last one was rolled back: " +
                                                             last_rollback_ + ")"));
    // Saved before it counts: a restart must not roll back a confirmed
    // commit. A failure leaves the confirmation pending.
    if (!state_file_.empty()) {
        try {
            write_snapshot_tmp(policy_, version_, history_, nullptr);
            install_snapshot();
        } catch (const CommandError& e) {
            ::unlink(tmp_path(state_file_).c_str());
            throw CommandError(e.code(), v(pending_->version) +
                                             " still awaits confirmation: saving the "
                                             "confirmation failed: " + e.what());
        }
    }
    const uint64_t confirmed = pending_->version;
    pending_.reset();
    return confirmed;
}

std::optional<std::string> PolicyStore::rollback_if_due(std::chrono::system_clock::time_point now)
{
    if (!pending_ || now < pending_->deadline)
        return std::nullopt;
    const PendingConfirm p = *pending_;
    std::string summary = "rollback: " + v(p.version) + " was not confirmed by " +
                          format_utc_time(p.deadline) + "; the policy of " +
                          v(p.rollback_version) + " again";
    commit(*p.rollback_policy, summary, nullptr);
    last_rollback_ = v(version_) + " at " + format_utc_time(history_.back().time) +
                     " brought back the policy of " + v(p.rollback_version);
    return summary;
}

uint64_t PolicyStore::rollback(std::optional<uint64_t> version, const CommitOptions& opts)
{
    const uint64_t target = version       ? *version
                            : pending_    ? pending_->rollback_version
                            : version_ > 0 ? version_ - 1
                                          : 0;
    if (target == version_ && version_ > 0)
        throw CommandError(ErrorCode::bad_request,
                           v(target) + " is the live version: there is nothing to roll back");
    Policy policy = policy_at(target);
    const std::string summary = "rollback to " + v(target);
    if (opts.dry_run || opts.confirm) {
        apply(std::move(policy), summary, nullptr, opts);
    } else {
        // The operator's answer to a pending confirmation, too: it ends.
        commit(std::move(policy), summary, nullptr);
    }
    return target;
}

Policy PolicyStore::policy_at(uint64_t version) const
{
    if (version == version_)
        return policy_;
    if (pending_ && version == pending_->rollback_version)
        return *pending_->rollback_policy;
    if (std::optional<Policy> p = kept_.get(version))
        return std::move(*p);
    if (version > version_)
        throw CommandError(ErrorCode::unknown_version,
                           v(version) + " does not exist (the live version is " +
                               std::to_string(version_) + ")");
    std::string kept = kept_.empty() ? "only the live " + v(version_)
                                     : "versions " + std::to_string(kept_.oldest()) + " to " +
                                           std::to_string(version_) + " (oldest kept: " +
                                           v(kept_.oldest()) + ")";
    throw CommandError(ErrorCode::unknown_version,
                       v(version) + " is not kept: rollback and diff reach " + kept +
                           "; xdpfwd keeps the last " + std::to_string(KeptPolicies::default_depth) +
                           " versions committed since it started");
}

} // namespace xdpfw
