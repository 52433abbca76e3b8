// SPDX-License-Identifier: GPL-2.0-only
// A real xdpfwd process for the integration tests: started inside a test
// namespace, reached over its control socket (raw protocol lines or the
// in-process xdpfwctl), killed, restarted, and cleaned up so that no
// program, pin or socket outlives the test even when it fails.
#pragma once

#include "testing/netns.hpp"

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace xdpfw::test {

struct DaemonOptions {
    std::string xdpfwd;                  // path of the xdpfwd binary
    const NetNs* ns = nullptr;           // where it runs (holds the filtered interfaces)
    std::vector<std::string> interfaces; // --interface, at least one
    std::vector<std::string> extra_args; // e.g. {"--max-message-bytes", "4096"}
    // A command xdpfwd runs under, inside the namespace (after nsenter,
    // which needs the privileges the wrapper may drop), e.g. {"setpriv",
    // "--bounding-set", "-all,+net_admin", "--"}.
    std::vector<std::string> wrapper;
    // False: the constructor does not start the daemon (start() or
    // run_to_exit() do).
    bool autostart = true;
};

// What one xdpfwctl invocation printed and returned.
struct CtlResult {
    int code = -1;
    std::string out, err;
    // out parsed as JSON (for --json); throws with out in the message when it
    // is not JSON.
    nlohmann::json json() const;
};

// xdpfwctl ARGS... (args without the program name) run in-process.
CtlResult run_ctl(const std::vector<std::string>& args);

// A control connection that speaks raw bytes: for requests xdpfwctl would
// never send (bad JSON, unknown keys, oversize lines).
class ControlConnection {
public:
    explicit ControlConnection(const std::string& socket_path); // throws when connect fails
    ~ControlConnection();
    ControlConnection(const ControlConnection&) = delete;
    ControlConnection& operator=(const ControlConnection&) = delete;

    // Writes all of data (no newline added); false when the peer is gone.
    bool send(const std::string& data);
    // The next line without its newline, or nullopt when the connection
    // closed (or wait passed) before a whole line arrived.
    std::optional<std::string> read_line(std::chrono::milliseconds wait);
    // True when the daemon closed the connection (EOF or reset) within wait
    // after any buffered lines were consumed.
    bool closed_by_peer(std::chrono::milliseconds wait);

private:
    int fd_ = -1;
    std::string buf_;
    bool eof_ = false;
};

class DaemonProcess {
public:
    // Picks a unique instance (xdpfwt-<pid>-d<n>), makes a temporary
    // directory (mode 0755) for the socket and the state directory, and
    // starts the daemon (see start()).
    explicit DaemonProcess(DaemonOptions opts);
    // Kills the daemon, detaches whatever xdpfw program is left on the
    // interfaces, removes the instance's pins and the temporary directory.
    ~DaemonProcess();
    DaemonProcess(const DaemonProcess&) = delete;
    DaemonProcess& operator=(const DaemonProcess&) = delete;

    // Spawns `nsenter --net=NS xdpfwd --instance ... --lock-dir DIR/run
    // --log-level debug` with
    // stdout and stderr appended to log_path(), then waits until the socket
    // answers `status`. Throws with the log when the daemon exits or does not
    // answer within timeout.
    void start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // start() with more arguments for this start only (e.g. --replace-live).
    void start_with(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Starts the daemon for a run that is expected to end on its own (a
    // refused start) and waits for it; returns the raw wait status (so that
    // a signal shows), or throws when it still runs after timeout (it is
    // then killed).
    int run_to_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // SIGKILL and reap: a crash, pins and attachment stay.
    void kill();
    // SIGTERM and wait; returns the exit status (-1 when killed by a signal).
    int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Waits for the daemon to exit on its own (after detach); returns the
    // exit status, or nullopt if it still runs after timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }

    const std::string& instance() const { return instance_; }
    const std::string& socket_path() const { return socket_; }
    const std::string& state_dir() const { return state_dir_; }
    // --lock-dir: the instance lock file is <lock_dir>/<instance>.lock.
    std::string lock_dir() const { return dir_ + "/run"; }
    const std::string& dir() const { return dir_; }
    std::string pin_dir() const; // /sys/fs/bpf/xdpfw/<instance>
    std::string log_path() const { return dir_ + "/xdpfwd.log"; }
    std::string log() const; // everything the daemon wrote so far

    // One request on a fresh connection; returns the whole response object.
    // Throws when the daemon does not answer.
    nlohmann::json request(const nlohmann::json& req);
    // request(), expecting ok=true; throws with the response otherwise.
    nlohmann::json checked(const nlohmann::json& req);
    // The live policy version (`status`).
    uint64_t version();
    // A rule's packet counter (`stats`); throws when there is no such rule.
    uint64_t rule_packets(uint32_t rule_id);
    // xdpfwctl ARGS... run in-process with --socket pointing here.
    CtlResult ctl(const std::vector<std::string>& args);

private:
    void cleanup() noexcept;
    // nsenter ... xdpfwd and its arguments, then more.
    std::vector<std::string> command(const std::vector<std::string>& more) const;

    DaemonOptions opts_;
    std::string instance_, dir_, socket_, state_dir_;
    pid_t pid_ = -1;
};

// The topology every daemon test uses: dut0 (in `dut`, filtered by the
// daemon) <-> peer0 (in `peer`, the traffic source), with a second IPv4
// source address on peer0. The daemon is started by the constructor.
struct DaemonLab {
    static constexpr const char* dut4 = "10.99.1.1";
    static constexpr const char* dut6 = "fd00:99::1";
    static constexpr const char* peer4 = "10.99.1.2";
    static constexpr const char* peer6 = "fd00:99::2";
    static constexpr const char* peer4_second = "10.99.1.3";

    DaemonLab(const std::string& xdpfwd, std::vector<std::string> extra_args = {});

    NetNs dut, peer;
    VethPair link;
    DaemonProcess daemon; // declared last: cleaned up while the veths exist
};

// XDP program ids attached to ifname in ns as `ip -j link` reports them
// (the program itself, or a dispatcher and the programs behind it).
std::vector<uint32_t> xdp_prog_ids(const NetNs& ns, const std::string& ifname);

// A thread sending one UDP datagram every `interval` from ns (bound to src
// when given) to dst:port until stop(); counts what sendto() accepted.
// The socket has IP_RECVERR, so a datagram the sending side dropped (a
// veth whose peer runs XDP queues frames for the peer's NAPI in a ring of
// 256; when the ring is full the frame is dropped and, only with
// IP_RECVERR, sendto says ENOBUFS) is counted in local_drops(), not in
// sent(): sent() is exactly the datagrams handed to the peer, which its XDP
// program then sees, each one.
class UdpStream {
public:
    UdpStream(const NetNs& ns, const std::string& src, const std::string& dst, uint16_t port,
              std::chrono::microseconds interval = std::chrono::milliseconds(1));
    ~UdpStream(); // stop()
    UdpStream(const UdpStream&) = delete;
    UdpStream& operator=(const UdpStream&) = delete;
    void stop();
    size_t sent() const { return sent_; }
    size_t local_drops() const { return local_drops_; }

private:
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<size_t> sent_{0}, local_drops_{0};
    std::thread thread_;
};

// The kernel's UDP counters of ns (/proc/net/snmp, "Udp:"), e.g.
// "RcvbufErrors": datagrams a full socket receive buffer dropped after the
// XDP program passed them. 0 for a name the kernel does not list.
uint64_t udp_snmp(const NetNs& ns, const std::string& name);

// A thread receiving on a UDP socket bound to addr:port in ns, counting
// datagrams per source address, until destruction.
class UdpSink {
public:
    UdpSink(const NetNs& ns, const std::string& addr, uint16_t port);
    ~UdpSink();
    UdpSink(const UdpSink&) = delete;
    UdpSink& operator=(const UdpSink&) = delete;
    size_t total() const { return total_; }
    size_t from(const std::string& src) const;
    // Waits until total() reaches want or wait passed; returns total().
    size_t wait_for(size_t want, std::chrono::milliseconds wait) const;

private:
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<size_t> total_{0};
    mutable std::mutex mu_;
    std::map<std::string, size_t> by_source_;
    std::thread thread_;
};

} // namespace xdpfw::test
