// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's measurement of one case: the lab, the DUT, the generator's
// flow, calibration, the trials sampled over a window in CPU time, the
// checks that the traffic reached the DUT, and the row it all makes.
#pragma once

#include "bench/pktgen/flow.hpp"
#include "bench/suite/cases.hpp"
#include "bench/suite/report.hpp"
#include "bench/suite/workload.hpp"

#include <atomic>
#include <csignal>
#include <ctime>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace xdpfw::pktgen {
class LiveSender;
}

namespace xdpfw::bench {

class Receiver;
struct Lab;

struct Options {
    std::string out = "bench-results";
    bool quick = false;
    std::string cases; // regex over case names
    int trials = 0;    // 0: 3 quick, 5 full
    double window = 0; // seconds per sample window; 0: 0.25 quick, 1.0 full
    int cpu = -1;
    std::string iptables = "iptables-legacy";
    uint32_t sources = kDefaultSources; // the policies' traffic prefix, and the default traffic
    std::string traffic_src;            // empty: the first `sources` addresses from kTrafficSrc
    bool list = false;
    bool paired = false; // run the row's ceiling again right before each row, for its ratio
};

// Set by SIGINT and SIGTERM: the run stops after the current trial.
extern volatile std::sig_atomic_t g_stop;

// One sample window of a trial.
struct Trial {
    double pps = 0;          // frames per CPU-second of the generator CPU's work in the window
    double wall_pps = 0;     // frames per wall-clock second in the window
    uint64_t generated = 0;  // frames sent in the whole burst
    uint64_t delivered = 0;  // by the socket (pass path)
    bool window_complete = false;
    std::string why;         // when not complete
};

class Runner {
public:
    // traffic: the source range every case's frames rotate through.
    Runner(const Options& o, const pktgen::AddrRange& traffic, int gen_cpu,
           std::vector<int> worker_cpus);

    // Measures one case; a case that cannot run or fails gives a row with
    // status "skipped" or "error" and the reason, never an exception.
    Row run_case(const CaseSpec& c);

private:
    void measure(const CaseSpec& c, Row& row);
    pktgen::Flow make_flow(const Lab& lab) const;
    double calibrate(pktgen::LiveSender& s, const Lab& lab, Path path);
    Trial sample(pktgen::LiveSender& s, const Lab& lab, const Receiver* sink, double est_pps);
    double settle_s() const { return o_.quick ? 0.08 : 0.2; }
    double busy_seconds(clockid_t sender) const;
    // A thread doing one kernel run of `frames` on the generator CPU, from
    // the sender namespace; sets *err on failure and *done at the end.
    std::thread start_burst(pktgen::LiveSender& s, const Lab& lab, uint64_t frames,
                            std::exception_ptr* err, std::atomic<bool>* done);
    void burst(pktgen::LiveSender& s, const Lab& lab, uint64_t frames);
    Trial trial(pktgen::LiveSender& s, const Lab& lab, const Receiver* sink, uint64_t frames);

    const Options& o_;
    pktgen::AddrRange traffic_;
    int gen_cpu_;
    std::vector<int> worker_cpus_; // the xsk path's AF_XDP worker
    std::optional<clockid_t> ksoftirqd_clock_;
};

// Pins the calling thread to cpus.
void pin_to(const std::vector<int>& cpus);

} // namespace xdpfw::bench
