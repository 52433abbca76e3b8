// SPDX-License-Identifier: GPL-2.0-only
// scripts/check_layers.py on small planted trees: it passes includes that
// point down the layer order and fails, naming file:line and the edge, on
// one that points up, sideways or from lib/ into test code.
#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace xdpfw::test {
namespace {

struct ScriptRun {
    int code = -1;
    std::string output; // stdout and stderr
};

ScriptRun check_layers(const std::filesystem::path& root)
{
    const std::string cmd = std::string("python3 '") + XDPFW_SOURCE_DIR +
                            "/scripts/check_layers.py' '" + root.string() + "' 2>&1";
    ScriptRun r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr)
        return r;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof(buf), p))
        r.output.append(buf, n);
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

// A tree whose includes all point down: model <- lang, store <- control,
// every lib/ folder from apps/, testing/ and tests/.
void plant_clean_tree(const TempDir& t)
{
    t.write("lib/model/policy.hpp", "#pragma once\n");
    t.write("lib/lang/parser.hpp", "#pragma once\n#include \"lib/model/policy.hpp\"\n");
    t.write("lib/store/store.cpp", "#include \"lib/store/store.hpp\"\n#include \"lib/lang/parser.hpp\"\n");
    t.write("lib/control/server.cpp", "#include \"lib/store/store.hpp\"\n#include <vector>\n");
    t.write("apps/xdpfwd/main.cpp", "#include \"lib/control/server.hpp\"\n");
    t.write("testing/harness.cpp", "#include \"apps/xdpfwd/main.hpp\"\n#include \"testing/x.hpp\"\n");
    t.write("tests/unit/test_x.cpp", "#include \"testing/harness.hpp\"\n#include \"bench/suite/w.hpp\"\n");
}

TEST(CheckLayers, DownwardIncludesPass)
{
    TempDir t("xdpfw-layers");
    plant_clean_tree(t);
    const ScriptRun r = check_layers(t.path());
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, "");
}

TEST(CheckLayers, BackEdgeFailsWithFileLineAndEdge)
{
    TempDir t("xdpfw-layers");
    plant_clean_tree(t);
    // lib/model is below lib/store: line 3 points up.
    t.write("lib/model/rule.hpp", "#pragma once\n\n#include \"lib/store/store.hpp\"\n");
    const ScriptRun r = check_layers(t.path());
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("lib/model/rule.hpp:3: lib/model -> lib/store"), std::string::npos)
        << r.output;
}

TEST(CheckLayers, SiblingIncludeFails)
{
    TempDir t("xdpfw-layers");
    plant_clean_tree(t);
    t.write("lib/kernel/maps.cpp", "#include \"lib/inspect/matcher.hpp\"\n");
    const ScriptRun r = check_layers(t.path());
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("lib/kernel/maps.cpp:1: lib/kernel -> lib/inspect"), std::string::npos)
        << r.output;
}

TEST(CheckLayers, LibraryIncludingTestCodeFails)
{
    TempDir t("xdpfw-layers");
    plant_clean_tree(t);
    t.write("apps/xdpfwctl/cli.cpp", "#include \"lib/model/policy.hpp\"\n#include \"testing/harness.hpp\"\n");
    const ScriptRun r = check_layers(t.path());
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("apps/xdpfwctl/cli.cpp:2: apps/xdpfwctl -> testing"), std::string::npos)
        << r.output;
}

TEST(CheckLayers, UnknownLibraryFolderFails)
{
    TempDir t("xdpfw-layers");
    plant_clean_tree(t);
    t.write("lib/newthing/x.cpp", "#include \"lib/model/policy.hpp\"\n");
    const ScriptRun r = check_layers(t.path());
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("lib/newthing is not in the layer order"), std::string::npos)
        << r.output;
}

} // namespace
} // namespace xdpfw::test
