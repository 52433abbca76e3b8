// SPDX-License-Identifier: GPL-2.0-only
// main() of the root-only test tiers (bpf, integration). Run by a normal
// user, the binary runs no case and reports them skipped ("[  SKIPPED ]",
// which ctest shows as Skipped, not Passed) with the reason; under CI (CI set
// in the environment) it fails instead, so that a tier that did not run can
// never pass a CI run. Listing the cases (ctest's discovery) works as anyone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr const char* kNeedsRoot = "needs root (CAP_BPF, CAP_NET_ADMIN)";

bool under_ci()
{
    const char* ci = std::getenv("CI");
    return ci != nullptr && *ci != '\0' && std::string(ci) != "false" && std::string(ci) != "0";
}

} // namespace

int main(int argc, char** argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    if (::geteuid() != 0 && !GTEST_FLAG_GET(list_tests)) {
        const char* self = argc > 0 ? argv[0] : "test";
        if (under_ci()) {
            std::fprintf(stderr, "%s: this tier %s; CI is set, so it fails instead of skipping\n",
                         self, kNeedsRoot);
            return 1;
        }
        // GTEST_SKIP in an Environment would run nothing yet print PASSED.
        std::printf("%s: this tier %s; run it as root\n", self, kNeedsRoot);
        std::printf("[  SKIPPED ] every selected case: %s\n", kNeedsRoot);
        return 0;
    }
    return RUN_ALL_TESTS();
}
