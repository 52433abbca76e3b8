// SPDX-License-Identifier: GPL-2.0-only
// A test fixture with a private directory on bpffs for pins, removed after
// the test (pass or fail). The test is skipped where bpffs is not writable.
#pragma once

#include "lib/kernel/attach.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace xdpfw::test {

class BpffsDirTest : public ::testing::Test {
protected:
    explicit BpffsDirTest(const char* tag)
        : root(fmt::format("{}/xdpfwt-{}-{}", kBpffsRoot, getpid(), tag))
    {
    }
    void SetUp() override
    {
        if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST)
            GTEST_SKIP() << "cannot create " << root << ": " << std::strerror(errno);
    }
    void TearDown() override { std::filesystem::remove_all(root); }

    const std::string root;
};

} // namespace xdpfw::test
