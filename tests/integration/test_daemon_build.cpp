// SPDX-License-Identifier: GPL-2.0-only
// The build identity a running daemon reports (`status`: build) is the one
// its binary's --version prints, down to the embedded BPF object's id.
#include "testing/daemon_lab_test.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>

namespace xdpfw::test {
namespace {

// stdout of COMMAND (no shell quoting needed: paths from the build tree).
std::string output_of(const std::string& command)
{
    std::string out;
    FILE* p = ::popen(command.c_str(), "r");
    if (!p)
        return out;
    char buf[512];
    while (size_t n = std::fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
    ::pclose(p);
    return out;
}

class DaemonBuild : public DaemonLabTest {};

TEST_F(DaemonBuild, StatusBuildMatchesVersionFlag)
{
    const std::string line = output_of(kXdpfwd + " --version");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        line, m, std::regex(R"(^xdpfwd (\S+) \(git (\S+), BPF object ([0-9a-f]{16}), )")))
        << line;

    CtlResult r = lab->daemon.ctl({"status", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const nlohmann::json st = r.json();
    ASSERT_TRUE(st.contains("build")) << st.dump();
    EXPECT_EQ(st["build"]["version"], m[1].str());
    EXPECT_EQ(st["build"]["git"], m[2].str());
    EXPECT_EQ(st["build"]["bpf_object"], m[3].str());

    // The human status names it too.
    CtlResult human = lab->daemon.ctl({"status"});
    ASSERT_EQ(human.code, 0) << human.err;
    EXPECT_NE(human.out.find("BPF object " + m[3].str()), std::string::npos) << human.out;
}

} // namespace
} // namespace xdpfw::test
