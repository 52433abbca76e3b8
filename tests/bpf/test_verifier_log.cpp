// SPDX-License-Identifier: GPL-2.0-only
// A program the kernel refuses gives a BpfError that carries the verifier log;
// the xdpfw object loads without a library warning.
#include "lib/kernel/loader.hpp"
#include "lib/kernel/log.hpp"
#include "rejected_bpf.skel.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace xdpfw {
namespace {

TEST(VerifierLog, RejectedProgramErrorCarriesTheLog)
{
    VerifiedLoad vl;
    rejected_bpf* skel = rejected_bpf__open_opts(vl.open_opts());
    ASSERT_NE(skel, nullptr);
    try {
        vl.load([&] { return rejected_bpf__load(skel); }, "load the rejected test program");
        ADD_FAILURE() << "the verifier accepted an unchecked packet read";
    } catch (const BpfError& e) {
        EXPECT_EQ(e.code().value(), EACCES) << e.what();
        EXPECT_NE(e.verifier_log().find("invalid access to packet"), std::string::npos)
            << e.verifier_log();
        EXPECT_NE(std::string(e.what()).find("load the rejected test program"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("verifier log:"), std::string::npos);
    }
    rejected_bpf__destroy(skel);
}

TEST(VerifierLog, AcceptedProgramLoads)
{
    XdpfwObject obj = XdpfwObject::load({});
    EXPECT_GE(obj.prog_fd(), 0);
}

// Every map is created as defined: no libbpf or libxdp warning (such as a
// map's BTF refused and the map made again without it) on a daemon's log.
TEST(VerifierLog, ObjectLoadsWithoutLibraryWarnings)
{
    std::ostringstream out;
    auto logger = std::make_shared<spdlog::logger>(
        "warnings", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
    logger->set_level(spdlog::level::warn);
    struct Restore {
        std::shared_ptr<spdlog::logger> previous;
        ~Restore() { spdlog::set_default_logger(previous); }
    } restore{spdlog::default_logger()};
    spdlog::set_default_logger(logger);
    install_library_log_hooks();
    {
        XdpfwObject obj = XdpfwObject::load({});
        EXPECT_GE(obj.prog_fd(), 0);
    }
    EXPECT_EQ(out.str(), "");
}

} // namespace
} // namespace xdpfw
