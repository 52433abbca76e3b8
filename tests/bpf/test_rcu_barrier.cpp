// SPDX-License-Identifier: GPL-2.0-only
// RcuBarrier::wait() returns only after an XDP program run that had started
// before the call has finished: the guarantee commits rely on before they
// rewrite a retired generation.
#include "lib/kernel/rcu_barrier.hpp"

#include "lib/kernel/loader.hpp"
#include "slow_bpf.skel.h"

#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace xdpfw {
namespace {

struct SlowDeleter {
    void operator()(slow_bpf* s) const { slow_bpf__destroy(s); }
};

TEST(RcuBarrier, WaitsForARunningProgram)
{
    VerifiedLoad vl;
    std::unique_ptr<slow_bpf, SlowDeleter> skel(slow_bpf__open_opts(vl.open_opts()));
    ASSERT_TRUE(skel);
    vl.load([&] { return slow_bpf__load(skel.get()); }, "load the slow test program");
    const RcuBarrier barrier;
    barrier.wait(); // nothing running: returns at once

    for (int trial = 0; trial < 3; ++trial) {
        auto* bss = skel->bss;
        bss->started = 0;
        bss->finished = 0;
        std::thread run([&] {
            std::vector<unsigned char> frame(64, 0);
            LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                        .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
            EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xdpfw_slow), &opts), 0);
        });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!bss->started && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        ASSERT_TRUE(bss->started) << "the program never started";
        const bool done_before = bss->finished;
        barrier.wait();
        const bool done_after = bss->finished;
        run.join();
        // The run takes tens of ms; if it had already ended the trial says nothing.
        if (done_before)
            continue;
        EXPECT_TRUE(done_after) << "wait() returned while the program was still running";
    }
}

} // namespace
} // namespace xdpfw
