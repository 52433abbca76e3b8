// SPDX-License-Identifier: GPL-2.0-only
// Structured logging setup, libbpf/libxdp messages routed into spdlog, and a
// per-thread capture of libbpf output (the verifier log for BpfError).
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace xdpfw {

namespace detail {
void deliver_to_captures(const std::string& line); // called by the print hooks
}

// Installs a "xdpfw" logger writing key=value lines to stderr (journald adds
// its own timestamps, but a foreground run needs them too) as the spdlog
// default, and routes libbpf and libxdp messages into it: their warn, info and
// debug levels become warn, debug and trace, because both libraries print
// routine progress at "info". Safe to call more than once (the level changes).
void init_logging(spdlog::level::level_enum level);

// Routes libbpf/libxdp output into the current spdlog default logger without
// touching the logger itself. init_logging() calls it; LibbpfLogCapture too,
// so a capture works even in programs that never call init_logging().
void install_library_log_hooks();

// While alive, every libbpf and libxdp message printed on this thread (all
// levels, also those the logger filters out) is appended to text(), one
// message per line. libbpf prints the verifier log through its print
// callback, so a loader wraps bpf_object__load() in a capture and attaches
// text() to the BpfError. Captures nest; a message goes to every live
// capture of the thread.
class LibbpfLogCapture {
public:
    LibbpfLogCapture();
    ~LibbpfLogCapture();
    LibbpfLogCapture(const LibbpfLogCapture&) = delete;
    LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

    const std::string& text() const { return text_; }

private:
    friend void detail::deliver_to_captures(const std::string& line);
    std::string text_;
    LibbpfLogCapture* outer_;
};

// While alive, libbpf and libxdp warnings printed on this thread are logged
// at debug level instead: for attempts whose failure the caller handles and
// reports itself (libxdp probing for its dispatcher, a native attach that
// falls back to generic), where the libraries' own warnings would mislead.
class QuietLibraryLogs {
public:
    QuietLibraryLogs();
    ~QuietLibraryLogs();
    QuietLibraryLogs(const QuietLibraryLogs&) = delete;
    QuietLibraryLogs& operator=(const QuietLibraryLogs&) = delete;

private:
    bool outer_;
};

} // namespace xdpfw
