// SPDX-License-Identifier: GPL-2.0-only
// The program tiers (docs/ARCHITECTURE.md, "Tiers"): after each commit, in
// the background, load the specialised program for the live policy (with
// its generated form in front when the policy is lean) and swap it onto
// the interfaces; back to the general program for a policy that has
// no spec. A commit never waits for this: the program on the interfaces
// runs whatever generation is live, specialised or not.
#pragma once

#include "lib/kernel/spec_program.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace xdpfw {

class Tiering {
public:
    // Loads a spec's program on general's maps (throws on a refusal). The
    // daemon's is SpecProgram::load; tests block or fail it
    // (tests/bpf/test_tiering.cpp).
    using Loader = std::function<SpecProgram(const XdpfwObject& general, const xdpfw_spec& spec)>;

    // install(fd) puts program fd on every interface the daemon holds
    // (throws on failure). general is the object whose program is the
    // general tier and whose maps the specialised programs share.
    // settle: a round begins once no request has come for that long (or
    // kMaxSettle after its first request), so a burst of commits (a script
    // of rule.add's, a fleet push) is not slowed by the verifier loading
    // programs beside it, and only its last policy is loaded.
    static constexpr std::chrono::milliseconds kSettle{20}, kMaxSettle{500};
    Tiering(const XdpfwObject& general, std::function<void(int prog_fd)> install,
            Loader load = SpecProgram::load, std::chrono::milliseconds settle = kSettle);
    ~Tiering(); // stop()
    Tiering(const Tiering&) = delete;
    Tiering& operator=(const Tiering&) = delete;

    // Begins acting on requests (once the interfaces are attached). The
    // program on them is this object's general program, or (adopted_fd >=
    // 0) one an earlier xdpfwd left: then the first round swaps in this
    // daemon's own program (general or specialised) unless the adopted one
    // is this build's general program and the policy has no spec, so a
    // restart with a new build puts its code in place without a gap.
    void start(int adopted_fd);
    // The policy just committed: its spec, or null and why not. A request
    // replaces one that is still pending (the newer commit cancels it).
    void request(std::shared_ptr<const xdpfw_spec> spec, std::string why_not);
    // Ends the worker; no swap happens after this returns.
    void stop();
    // Waits until no request is pending or timeout passes; true when none is.
    bool wait_idle(std::chrono::milliseconds timeout);
    // `status` "tier": live tier, program, pending, swaps, last swap time.
    nlohmann::json status() const;

private:
    void run();
    void settle(std::unique_lock<std::mutex>& lock); // waits for requests to pause
    void finish_round(uint64_t seq, const std::string& error);

    const XdpfwObject& general_;
    std::function<void(int)> install_;
    Loader load_;
    std::chrono::milliseconds settle_;
    mutable std::mutex mu_;
    std::condition_variable cv_, idle_cv_;
    bool started_ = false, stop_ = false;
    uint64_t want_seq_ = 0, done_seq_ = 0;
    std::shared_ptr<const xdpfw_spec> want_;
    std::string why_general_;
    std::chrono::steady_clock::time_point want_since_{};
    std::optional<SpecProgram> live_;
    uint64_t live_key_ = 0;
    std::string live_form_;             // "generated" or "compiled" (SpecProgram::form)
    std::string live_compiled_because_; // why not generated
    bool foreign_ = false; // the live program is not one this daemon loaded
    bool swap_foreign_ = false; // a first round for it is due
    uint64_t foreign_tag_ = 0;  // its bpf_prog_info tag
    uint32_t live_prog_id_ = 0;
    uint64_t swaps_ = 0, cancelled_ = 0, failures_ = 0;
    double last_swap_ms_ = -1;
    std::string last_error_;
    std::thread worker_;
};

} // namespace xdpfw
