// SPDX-License-Identifier: GPL-2.0-only
// Logger setup and the libbpf/libxdp print hooks (see log.hpp).
#include "lib/kernel/log.hpp"

#include <bpf/libbpf.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <xdp/libxdp.h>

#include <cstdarg>
#include <cstdio>
#include <memory>
#include <string_view>

namespace xdpfw {

namespace {

thread_local LibbpfLogCapture* innermost_capture = nullptr;
thread_local bool quiet_library = false;

// One vsnprintf into a stack buffer covers nearly every message; verifier
// logs are longer and take a second pass into a string of the right size.
std::string format_message(const char* fmt, va_list ap)
{
    char small[512];
    va_list copy;
    va_copy(copy, ap);
    int n = std::vsnprintf(small, sizeof(small), fmt, copy);
    va_end(copy);
    if (n < 0)
        return fmt;
    std::string out;
    if (static_cast<size_t>(n) < sizeof(small)) {
        out.assign(small, static_cast<size_t>(n));
    } else {
        out.resize(static_cast<size_t>(n) + 1);
        std::vsnprintf(out.data(), out.size(), fmt, ap);
        out.resize(static_cast<size_t>(n));
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
        out.pop_back();
    return out;
}

// Both libraries number their levels warn=0, info=1, debug=2.
spdlog::level::level_enum map_level(int library_level)
{
    switch (library_level) {
    case 0: return spdlog::level::warn;
    case 1: return spdlog::level::debug;
    default: return spdlog::level::trace;
    }
}

int route(const char* source, int library_level, const char* fmt, va_list ap)
{
    auto logger = spdlog::default_logger();
    auto level = map_level(library_level);
    if (quiet_library && level > spdlog::level::debug)
        level = spdlog::level::debug;
    const bool wanted = logger && logger->should_log(level);
    if (!wanted && innermost_capture == nullptr)
        return 0; // skip the formatting cost of filtered debug chatter
    std::string line = format_message(fmt, ap);
    if (line.empty())
        return 0;
    detail::deliver_to_captures(line);
    if (wanted) {
        // Both libraries prefix their messages with their own name, which
        // src= already says.
        std::string_view text = line;
        const std::string prefix = std::string(source) + ": ";
        if (text.starts_with(prefix))
            text.remove_prefix(prefix.size());
        logger->log(level, "src={} {}", source, text);
    }
    return 0;
}

int libbpf_hook(enum libbpf_print_level level, const char* fmt, va_list ap)
{
    return route("libbpf", static_cast<int>(level), fmt, ap);
}

int libxdp_hook(enum libxdp_print_level level, const char* fmt, va_list ap)
{
    return route("libxdp", static_cast<int>(level), fmt, ap);
}

} // namespace

namespace detail {
void deliver_to_captures(const std::string& line)
{
    for (LibbpfLogCapture* c = innermost_capture; c != nullptr; c = c->outer_) {
        c->text_ += line;
        c->text_ += '\n';
    }
}
} // namespace detail

void install_library_log_hooks()
{
    libbpf_set_print(libbpf_hook);
    libxdp_set_print(libxdp_hook);
}

void init_logging(spdlog::level::level_enum level)
{
    auto logger = spdlog::get("xdpfw");
    if (!logger) {
        auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        logger = std::make_shared<spdlog::logger>("xdpfw", sink);
        // ISO time, level and component as key=value pairs; the message
        // itself carries its own key=value fields where it has any.
        logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%e%z level=%l logger=%n %v");
        spdlog::register_logger(logger);
    }
    logger->set_level(level);
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
    install_library_log_hooks();
}

LibbpfLogCapture::LibbpfLogCapture() : outer_(innermost_capture)
{
    install_library_log_hooks();
    innermost_capture = this;
}

LibbpfLogCapture::~LibbpfLogCapture()
{
    innermost_capture = outer_;
}

QuietLibraryLogs::QuietLibraryLogs() : outer_(quiet_library)
{
    quiet_library = true;
}

QuietLibraryLogs::~QuietLibraryLogs()
{
    quiet_library = outer_;
}

} // namespace xdpfw
