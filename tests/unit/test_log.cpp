// SPDX-License-Identifier: GPL-2.0-only
// libbpf messages routed into spdlog, the per-thread capture the loader uses
// for verifier logs, and the quiet scope attach uses.
#include "lib/kernel/log.hpp"

#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <thread>

namespace xdpfw {
namespace {

// libbpf rejects a buffer that is not an ELF file with a warning.
void provoke_libbpf_warning()
{
    static const char not_elf[64] = "this is not an ELF object";
    bpf_object* obj = bpf_object__open_mem(not_elf, sizeof(not_elf), nullptr);
    EXPECT_EQ(libbpf_get_error(obj) != 0 || obj == nullptr, true);
    if (obj != nullptr && libbpf_get_error(obj) == 0)
        bpf_object__close(obj);
}

// Routes the default logger into a string for the test's duration.
class LogTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        init_logging(spdlog::level::warn);
        saved_ = spdlog::default_logger();
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
        auto logger = std::make_shared<spdlog::logger>("xdpfw-test", sink);
        logger->set_pattern("%l %v");
        logger->set_level(spdlog::level::warn);
        spdlog::set_default_logger(logger);
    }
    void TearDown() override { spdlog::set_default_logger(saved_); }

    std::ostringstream out_;
    std::shared_ptr<spdlog::logger> saved_;
};

TEST_F(LogTest, LibbpfWarningsReachTheLoggerTrimmed)
{
    provoke_libbpf_warning();
    const std::string text = out_.str();
    EXPECT_EQ(text.rfind("warning src=libbpf ", 0), 0u) << text;
    EXPECT_EQ(text.find("libbpf: "), std::string::npos) << "name printed twice: " << text;
    EXPECT_EQ(text.find("\n\n"), std::string::npos) << "trailing newline kept: " << text;
}

TEST_F(LogTest, QuietScopeDemotesWarnings)
{
    {
        QuietLibraryLogs quiet;
        provoke_libbpf_warning();
    }
    EXPECT_EQ(out_.str(), "");
    provoke_libbpf_warning();
    EXPECT_NE(out_.str(), "");
}

TEST_F(LogTest, CaptureCollectsMessagesOfItsThreadWhileAlive)
{
    std::string inner_text, outer_text;
    {
        LibbpfLogCapture outer;
        {
            LibbpfLogCapture inner;
            provoke_libbpf_warning();
            inner_text = inner.text();
        }
        const size_t after_inner = outer.text().size();
        EXPECT_EQ(outer.text(), inner_text); // nested captures both see it
        // Another thread's messages are not ours.
        std::thread([] { provoke_libbpf_warning(); }).join();
        EXPECT_EQ(outer.text().size(), after_inner);
        outer_text = outer.text();
    }
    EXPECT_NE(inner_text.find("libbpf: "), std::string::npos) << inner_text;
    ASSERT_FALSE(inner_text.empty());
    EXPECT_EQ(inner_text.back(), '\n');
    EXPECT_EQ(inner_text.find("\n\n"), std::string::npos) << inner_text;

    // Gone captures collect nothing, and a new one starts empty.
    provoke_libbpf_warning();
    LibbpfLogCapture fresh;
    EXPECT_EQ(fresh.text(), "");
}

} // namespace
} // namespace xdpfw
