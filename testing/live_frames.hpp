// SPDX-License-Identifier: GPL-2.0-only
// Whether this kernel lets BPF_PROG_RUN send live frames (the XDP traffic
// generator, xdpfw-pktgen, needs it). Some kernels refuse it to root (EPERM:
// seen with lockdown in integrity mode); the tests that need such traffic
// skip there, naming why, instead of failing on the machine.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace xdpfw::test {

// "" when a one-frame live run of an XDP_DROP program succeeds (or fails
// for another reason, which the test itself will then show); else why not.
// Probed once per process.
const std::string& live_frames_refused();

} // namespace xdpfw::test

// At the start of a test that sends traffic with xdpfw-pktgen.
#define XDPFW_NEED_LIVE_FRAMES()                                                   \
    do {                                                                          \
        if (const std::string& why_ = ::xdpfw::test::live_frames_refused(); !why_.empty()) \
            GTEST_SKIP() << why_;                                                 \
    } while (0)
