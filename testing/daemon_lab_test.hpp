// SPDX-License-Identifier: GPL-2.0-only
// The fixture of the daemon integration tests: a DaemonLab per test, the
// daemon's log printed when the test failed. Test code only (it names the
// build's xdpfwd through XDPFW_BINARY_DIR).
#pragma once

#include "testing/daemon_runner.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>

namespace xdpfw::test {

inline const std::string kXdpfwd = std::string(XDPFW_BINARY_DIR) + "/bin/xdpfwd";

class DaemonLabTest : public ::testing::Test {
protected:
    void SetUp() override { lab = std::make_unique<DaemonLab>(kXdpfwd); }
    void TearDown() override
    {
        if (HasFailure() && lab)
            std::cerr << "---- xdpfwd log (" << lab->daemon.instance() << ")\n"
                      << lab->daemon.log() << "----\n";
        lab.reset();
    }

    std::unique_ptr<DaemonLab> lab;
};

} // namespace xdpfw::test
