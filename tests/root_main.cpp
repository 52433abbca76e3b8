// SPDX-License-Identifier: GPL-2.0-only
// main() of the root-only test tiers (bpf, integration). Run by a normal
// user, every case is skipped with a reason instead of failing on the first
// EPERM; run under CI (CI set in the environment) without root, the tier
// fails, so that a skipped tier never passes for a run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace {

constexpr const char* kNeedsRoot = "needs root (CAP_BPF, CAP_NET_ADMIN)";

bool under_ci()
{
    const char* ci = std::getenv("CI");
    return ci != nullptr && *ci != '\0' && std::string(ci) != "false" && std::string(ci) != "0";
}

class NeedsRoot : public ::testing::Environment {
public:
    void SetUp() override
    {
        if (::geteuid() == 0)
            return;
        if (under_ci())
            FAIL() << "this tier " << kNeedsRoot << "; CI is set, so it fails rather than skips";
        GTEST_SKIP() << "this tier " << kNeedsRoot << "; run it as root";
    }
};

} // namespace

int main(int argc, char** argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new NeedsRoot); // gtest owns it
    return RUN_ALL_TESTS();
}
