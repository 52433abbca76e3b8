// SPDX-License-Identifier: GPL-2.0-only
// The daemon's tier worker (apps/xdpfwd/tiering.cpp) on real programs, with
// a loader the test holds: a newer commit cancels a load in flight (its
// program is never installed), a policy without a spec goes back to the
// general program, a failed load keeps the live program and says why; a
// burst of commits loads only its last policy.
#include "apps/xdpfwd/tiering.hpp"
#include "lib/kernel/attach.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/policy_text.hpp"
#include "testing/private_netns.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;

// What the worker asked of the loader and the interfaces, and a gate that
// holds the load of one spec until the test opens it.
class Recorder {
public:
    SpecProgram load(const XdpfwObject& general, const xdpfw_spec& spec)
    {
        {
            std::unique_lock lock(mu_);
            if (spec.key == fail_key_)
                throw std::runtime_error("verifier says no\nsecond line of the log");
            if (spec.key == hold_key_) {
                held_ = true;
                cv_.notify_all();
                cv_.wait(lock, [&] { return hold_key_ != spec.key; });
            }
        }
        SpecProgram prog = SpecProgram::load(general, spec);
        std::lock_guard lock(mu_);
        loaded_[spec.key] = prog_id_of(prog.prog_fd());
        return prog;
    }
    void install(int fd)
    {
        std::lock_guard lock(mu_);
        installed_fds_.push_back(fd);
        installed_.push_back(prog_id_of(fd));
    }
    void hold(uint64_t key)
    {
        std::lock_guard lock(mu_);
        hold_key_ = key;
        held_ = false;
    }
    // Waits until the held load has begun; true when it has.
    bool wait_held()
    {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, 10s, [&] { return held_; });
    }
    void release()
    {
        std::lock_guard lock(mu_);
        hold_key_ = 0;
        cv_.notify_all();
    }
    void fail(uint64_t key)
    {
        std::lock_guard lock(mu_);
        fail_key_ = key;
    }
    std::vector<uint32_t> installed() const
    {
        std::lock_guard lock(mu_);
        return installed_;
    }
    int last_installed_fd() const
    {
        std::lock_guard lock(mu_);
        return installed_fds_.empty() ? -1 : installed_fds_.back();
    }
    // The id of the program loaded for key, 0 when none was.
    uint32_t loaded(uint64_t key) const
    {
        std::lock_guard lock(mu_);
        auto it = loaded_.find(key);
        return it == loaded_.end() ? 0 : it->second;
    }

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    uint64_t hold_key_ = 0, fail_key_ = 0;
    bool held_ = false;
    std::vector<uint32_t> installed_;
    std::vector<int> installed_fds_;
    std::map<uint64_t, uint32_t> loaded_;
};

std::shared_ptr<const xdpfw_spec> spec_of(BpfHarness& h, const Policy& p)
{
    return compile(p, h.compile_options()).spec;
}

TEST(Tiering, NewerCommitCancelsPendingLoadAndFailuresKeepTheLiveProgram)
{
    enter_private_netns();
    BpfHarness h;
    const auto a = spec_of(h, make_policy({"proto=udp dport=53 action=drop"}));
    const auto b = spec_of(h, make_policy({"proto=tcp dport=22 action=drop"}));
    ASSERT_TRUE(a && b);
    ASSERT_NE(a->key, b->key);
    const uint32_t general_id = prog_id_of(h.object().prog_fd());

    Recorder rec; // outlives the worker
    Tiering t(
        h.object(), [&](int fd) { rec.install(fd); },
        [&](const XdpfwObject& g, const xdpfw_spec& s) { return rec.load(g, s); });
    t.start(-1);
    EXPECT_EQ(t.status()["program_id"], general_id);

    // A's load is in flight when B is committed: A's program is loaded,
    // then dropped, never installed; B's round installs B's.
    rec.hold(a->key);
    t.request(a, "");
    ASSERT_TRUE(rec.wait_held());
    t.request(b, "");
    EXPECT_EQ(t.status()["pending"], true);
    rec.release();
    ASSERT_TRUE(t.wait_idle(10s));
    const uint32_t a_id = rec.loaded(a->key), b_id = rec.loaded(b->key);
    ASSERT_NE(a_id, 0u); // it was loaded: the cancel happened after the load
    ASSERT_NE(b_id, 0u);
    EXPECT_EQ(rec.installed(), std::vector<uint32_t>{b_id});
    nlohmann::json s = t.status();
    EXPECT_EQ(s["live"], "specialised") << s.dump();
    EXPECT_EQ(s["pending"], false);
    EXPECT_EQ(s["cancelled"], 1);
    EXPECT_EQ(s["swaps"], 1);
    EXPECT_EQ(s["failures"], 0);
    EXPECT_EQ(s["program_id"], b_id);
    EXPECT_TRUE(s.contains("last_swap_ms"));

    // A policy without a spec: back to the general program (its own fd).
    t.request(nullptr, "71 rules (the specialised tier takes up to 64)");
    ASSERT_TRUE(t.wait_idle(10s));
    EXPECT_EQ(rec.last_installed_fd(), h.object().prog_fd());
    EXPECT_EQ(rec.installed(), (std::vector<uint32_t>{b_id, general_id}));
    s = t.status();
    EXPECT_EQ(s["live"], "general") << s.dump();
    EXPECT_EQ(s["general_because"], "71 rules (the specialised tier takes up to 64)");
    EXPECT_EQ(s["swaps"], 2);
    EXPECT_EQ(s["program_id"], general_id);

    // B again, then A whose load fails: B's program stays on, nothing is
    // installed, the failure and the log's first line are reported.
    t.request(b, "");
    ASSERT_TRUE(t.wait_idle(10s));
    const uint32_t b2_id = rec.loaded(b->key);
    EXPECT_EQ(rec.installed().back(), b2_id);
    rec.fail(a->key);
    t.request(a, "");
    ASSERT_TRUE(t.wait_idle(10s));
    EXPECT_EQ(rec.installed().size(), 3u);
    s = t.status();
    EXPECT_EQ(s["program_id"], b2_id) << s.dump();
    EXPECT_EQ(s["live"], "general"); // B's program follows the live policy's general path
    EXPECT_EQ(s["failures"], 1);
    EXPECT_EQ(s["error"], "verifier says no");
    EXPECT_EQ(s["pending"], false);
    EXPECT_EQ(s["swaps"], 3);
    EXPECT_EQ(s["cancelled"], 1);

    // The next commit that loads clears the error.
    rec.fail(0);
    t.request(a, "");
    ASSERT_TRUE(t.wait_idle(10s));
    s = t.status();
    EXPECT_EQ(s["live"], "specialised") << s.dump();
    EXPECT_EQ(s["program_id"], rec.loaded(a->key));
    EXPECT_FALSE(s.contains("error"));
    EXPECT_EQ(s["failures"], 1);
    t.stop();
}

// Commits 50 ms apart, under the worker's settle time (200 ms here): it
// waits for them to pause and loads only the last policy's program; with
// no settle time it would have loaded the first within those 50 ms.
TEST(Tiering, BurstOfCommitsLoadsOnlyTheLast)
{
    enter_private_netns();
    BpfHarness h;
    const auto a = spec_of(h, make_policy({"proto=udp dport=53 action=drop"}));
    const auto b = spec_of(h, make_policy({"proto=tcp dport=22 action=drop"}));
    const auto c = spec_of(h, make_policy({"proto=udp dport=54 action=drop"}));
    ASSERT_TRUE(a && b && c);

    Recorder rec;
    Tiering t(
        h.object(), [&](int fd) { rec.install(fd); },
        [&](const XdpfwObject& g, const xdpfw_spec& s) { return rec.load(g, s); }, 200ms);
    t.start(-1);
    for (const auto& spec : {a, b, c}) {
        t.request(spec, "");
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(t.status()["pending"], true);
    ASSERT_TRUE(t.wait_idle(10s));
    EXPECT_EQ(rec.loaded(a->key), 0u);
    EXPECT_EQ(rec.loaded(b->key), 0u);
    ASSERT_NE(rec.loaded(c->key), 0u);
    EXPECT_EQ(rec.installed(), std::vector<uint32_t>{rec.loaded(c->key)});
    const nlohmann::json s = t.status();
    EXPECT_EQ(s["live"], "specialised") << s.dump();
    EXPECT_EQ(s["swaps"], 1);
    EXPECT_EQ(s["cancelled"], 0);
    t.stop();
}

} // namespace
} // namespace xdpfw::test
