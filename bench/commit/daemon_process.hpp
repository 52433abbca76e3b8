// SPDX-License-Identifier: GPL-2.0-only
// The commit benchmark's process pieces: interruption, a temp dir, xdpfwd in
// a private network namespace and a raw JSON-lines client of its socket.
#pragma once

#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <string>

namespace xdpfw::bench {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// SIGINT/SIGTERM: stop the daemon, so that a blocked read returns and the
// normal cleanup (pins, temp dir) runs.
extern volatile sig_atomic_t g_interrupted;
extern volatile pid_t g_daemon_pid;
// Installs the handler for both, without SA_RESTART (a blocked read returns
// EINTR), and ignores SIGPIPE.
void install_signal_handlers();
// Throws runtime_error("interrupted") once a signal arrived.
void check_interrupted();

double ms_since(Clock::time_point t0);

// The response r to request, or runtime_error naming the command and the
// response's error.
json checked(const json& request, json r);

class TempDir {
public:
    explicit TempDir(const std::string& root);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// xdpfwd in a network namespace of its own (unshare in the forked child),
// on one end of a veth pair there; the namespace and veths die with the
// daemon. Socket, state and log live in dir. The destructor stops it
// (SIGTERM, --detach-on-exit removes the pins) and removes any pins left.
class DaemonProcess {
public:
    // daemon: the xdpfwd binary. config: the YAML of its --config file
    // (empty: none, its defaults).
    DaemonProcess(const std::string& daemon, const std::string& dir,
                  const std::string& config = "");
    ~DaemonProcess() { stop(); }
    DaemonProcess(const DaemonProcess&) = delete;
    DaemonProcess& operator=(const DaemonProcess&) = delete;

    const std::string& socket() const { return socket_; }
    const std::string& instance() const { return instance_; }
    const std::string& log() const { return log_; }

    // Stops the daemon and removes what it may have left. Returns its exit
    // status (-1 when it had to be killed or was already reaped).
    int stop();
    // The last 20 lines of its log, indented.
    std::string log_tail() const;

private:
    void wait_ready();

    std::string instance_, socket_, log_;
    pid_t pid_ = -1;
};

// One connection, raw JSON lines (docs/PROTOCOL.md).
class Client {
public:
    explicit Client(const std::string& path);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends line (without its newline) and returns the response line;
    // *ms is the time from the first byte sent to the newline received.
    std::string round_trip(std::string line, double* ms);
    // A request that must succeed; throws with the daemon's error otherwise.
    json call(const json& request, double* ms = nullptr);

private:
    std::string read_line();

    int fd_ = -1;
    std::string buf_;
};

} // namespace xdpfw::bench
