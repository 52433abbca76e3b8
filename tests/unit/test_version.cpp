// SPDX-License-Identifier: GPL-2.0-only
// --version's line (lib/base/version.hpp, lib/kernel/build_id.hpp) and the
// build line of `xdpfwctl status`.
#include "apps/xdpfwctl/format.hpp"
#include "lib/base/hash64.hpp"
#include "lib/base/version.hpp"
#include "lib/kernel/build_id.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace xdpfw {
namespace {

TEST(Version, LineShape)
{
    // Semantic version; git describe (hash, tag-distance-hash, -dirty) or "unknown".
    EXPECT_TRUE(std::regex_match(std::string(build::version()), std::regex(R"(\d+\.\d+\.\d+)")))
        << build::version();
    EXPECT_TRUE(std::regex_match(std::string(build::git()),
                                 std::regex(R"(unknown|[0-9A-Za-z._+-]+)")))
        << build::git();
    EXPECT_EQ(build::version_line("xdpfwctl"),
              "xdpfwctl " + std::string(build::version()) + " (git " + std::string(build::git()) +
                  ")");
    const std::string daemon = build::version_line("xdpfwd", kernel_build_details());
    EXPECT_TRUE(std::regex_match(
        daemon, std::regex(R"(xdpfwd \d+\.\d+\.\d+ \(git \S+, BPF object [0-9a-f]{16}, )"
                           R"(built with libbpf \d+\.\d+(\.\d+)?, libxdp \d+\.\d+(\.\d+)?\))")))
        << daemon;
}

TEST(Version, BpfObjectIdIsStable)
{
    EXPECT_EQ(bpf_object_id().size(), 16u);
    EXPECT_EQ(bpf_object_id(), bpf_object_id());
    // Not the hash of nothing: the skeleton's bytes are in it.
    EXPECT_NE(bpf_object_id(), fmt::format("{:016x}", Hash64().bytes("", 0).digest()));
}

TEST(Version, StatusPrintsBuild)
{
    nlohmann::json st = {{"instance", "lab"}, {"version", 3},       {"rules", 0},
                         {"sets", 0},         {"default", "pass"}, {"malformed", "drop"},
                         {"interfaces", nlohmann::json::array()}};
    st["build"] = {{"version", "0.1.0"}, {"git", "1a2b3c4"}, {"bpf_object", "00112233aabbccdd"}};
    const std::regex line(R"((^|\n)build +0\.1\.0 \(git 1a2b3c4, BPF object 00112233aabbccdd\)\n)");
    EXPECT_TRUE(std::regex_search(ctl::format_status(st), line)) << ctl::format_status(st);
    st["build"]["bpf_object"] = nullptr; // a daemon that cannot tell
    EXPECT_TRUE(std::regex_search(ctl::format_status(st),
                                  std::regex(R"((^|\n)build +0\.1\.0 \(git 1a2b3c4\)\n)")))
        << ctl::format_status(st);
    st.erase("build"); // an older daemon: no build line
    EXPECT_EQ(ctl::format_status(st).find("build"), std::string::npos);
}

} // namespace
} // namespace xdpfw
