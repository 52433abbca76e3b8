// SPDX-License-Identifier: GPL-2.0-only
// The AF_XDP engine: one worker thread per rx queue of each interface, each
// with its own socket and UMEM, registered in xdpfw's own XskMap (the
// program's action=xsk redirects there). Workers batch-receive, ask the
// inspector for a verdict, and forward allowed frames: out of the paired
// interface (inline mode, a copy into the peer socket's tx frames) or into
// the host stack through a TUN device (host mode). Stopping removes the map
// entries first, so the queues fall back to the rules' fallback verdict.
#pragma once

#include "lib/base/unique_fd.hpp"
#include "lib/xsk/inspector.hpp"
#include "lib/xsk/socket.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace xdpfw::xsk {

class HostTun;

enum class ForwardMode : uint8_t {
    host,    // allowed frames go to the local stack (TUN device)
    inline_, // allowed frames leave through the paired interface
};
const char* forward_mode_name(ForwardMode m); // "host", "inline"
ForwardMode parse_forward_mode(const std::string& text); // throws std::invalid_argument

struct EngineConfig {
    std::vector<std::string> interfaces;
    ForwardMode mode = ForwardMode::host;
    // Inline mode: every interface in exactly one pair; traffic of one side
    // leaves through the other, queue q through queue q.
    std::vector<std::pair<std::string, std::string>> pairs;
    std::string host_device = "xdpfw-host"; // host mode: the TUN device's name
    SocketOptions socket;
    // Worker i runs on cpus[i % cpus.size()]; empty: no pinning.
    std::vector<int> cpus;
    int poll_timeout_ms = 100; // how long an idle worker sleeps in poll()
};

// Checks the configuration on its own (pairs, names, sizes); throws
// std::invalid_argument naming what is wrong.
void validate_engine_config(const EngineConfig& cfg);

// The program's maps the engine writes: xdpfw_xsks (slot -> socket) and
// xdpfw_xsk_ports (ifindex -> first slot). The fds are duplicated.
struct XskMapFds {
    int xsks = -1;
    int ports = -1;
};
// Opens <pin_dir>/xdpfw_xsks and <pin_dir>/xdpfw_xsk_ports; the caller owns
// the fds. Throws XskError.
XskMapFds open_pinned_xsk_maps(const std::string& pin_dir);

// Counters of one worker (one interface queue). They carry on across
// stop/start of the engine.
struct WorkerStats {
    std::string ifname;
    uint32_t queue = 0;
    bool running = false;
    bool zero_copy = false;
    uint64_t rx_packets = 0, rx_bytes = 0;
    uint64_t forwarded = 0;       // handed on: queued for tx (inline) or written to the host device
    uint64_t dropped_verdict = 0; // an inspection rule said drop
    uint64_t tx_packets = 0, tx_bytes = 0; // inline: completed by the kernel; host: written
    uint64_t malformed = 0;       // the inspector could not parse the payload
    uint64_t invalid_desc = 0;    // rx descriptor outside the UMEM: skipped
    uint64_t fill_short = 0;      // fill ring had no room for returned frames (retried later)
    uint64_t tx_busy = 0;         // no tx frame or tx ring slot (or the kernel said busy): dropped
    uint64_t tx_errors = 0;       // the kernel or the host device refused the frame: dropped
    uint64_t host_non_ip = 0;     // host mode: frame without IPv4/IPv6 cannot be injected: dropped
    KernelRingStats kernel;       // XDP_STATISTICS (rx ring full, fill ring empty, ...)
};

struct RuleStats {
    uint32_t rule_id = 0;
    uint64_t packets = 0, bytes = 0;
    uint64_t dropped = 0, forwarded = 0;
    RuleStats& operator+=(const RuleStats& o);
};

struct EngineStats {
    bool running = false;
    std::string mode; // "host" or "inline"
    std::vector<WorkerStats> workers;
    std::vector<RuleStats> rules; // summed over workers, by rule id
};

class Engine {
public:
    Engine(EngineConfig cfg, XskMapFds maps, InspectorFactory inspector = {});
    ~Engine(); // stop()
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Creates the sockets (and the host device), starts the workers and
    // registers the sockets in the XskMap. On failure nothing stays
    // registered or running; throws XskError or std::invalid_argument.
    void start();
    // Unregisters the sockets (the queues fall back at once), then stops the
    // workers and closes the sockets. Safe to call when stopped.
    void stop();
    bool running() const;

    // Replaces the inspector; each worker makes its new one before its next
    // batch. An empty factory forwards everything.
    void set_inspector(InspectorFactory inspector);

    EngineStats stats() const;
    const EngineConfig& config() const { return cfg_; }

    struct Counters;  // per worker, lives as long as the engine
    struct Worker;

private:
    struct Port {
        std::string ifname;
        int ifindex = 0;
        uint32_t queues = 0;
        uint32_t base = 0;    // first XskMap slot
        size_t peer = SIZE_MAX; // inline: index of the paired port
        std::vector<std::unique_ptr<XskSocket>> sockets; // by queue
    };
    void teardown() noexcept;
    std::shared_ptr<Counters> counters_for(const std::string& ifname, uint32_t queue);
    void register_sockets();

    EngineConfig cfg_;
    UniqueFd xsks_fd_, ports_fd_; // our duplicates of the program's maps
    mutable std::mutex mu_; // start/stop/stats
    bool running_ = false;
    std::vector<Port> ports_;
    std::unique_ptr<HostTun> tun_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::map<std::pair<std::string, uint32_t>, std::shared_ptr<Counters>> counters_;

    mutable std::mutex inspector_mu_;
    InspectorFactory inspector_;
    std::atomic<uint64_t> inspector_gen_{1};
};

} // namespace xdpfw::xsk
