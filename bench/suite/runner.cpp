// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's measurement of one case (see the header).
#include "bench/suite/runner.hpp"

#include "bench/pktgen/live_sender.hpp"
#include "bench/suite/duts.hpp"
#include "bench/suite/receivers.hpp"

#include <fmt/format.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <system_error>
#include <thread>

namespace xdpfw::bench {

volatile std::sig_atomic_t g_stop = 0;

namespace {

using Clock = std::chrono::steady_clock;

// The pid of the kernel thread ksoftirqd/<cpu>, or 0.
pid_t ksoftirqd_of(int cpu)
{
    const std::string want = fmt::format("ksoftirqd/{}", cpu);
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string name = e.path().filename();
        if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0])))
            continue;
        std::string comm;
        std::getline(std::ifstream(e.path() / "comm"), comm);
        if (comm == want)
            return static_cast<pid_t>(std::stol(name));
    }
    return 0;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The trials' figures, one entry per trial.
struct Samples {
    std::vector<double> rates, wall_rates, shares;
};

// Adds a trial; on the pass and xsk paths its share is what the receiver
// got of the frames generated, which must not be nothing.
void add_trial(const Trial& t, const Receiver* sink, Row& row, Samples& got)
{
    double share = 1;
    if (sink) {
        const double delivered = static_cast<double>(t.delivered) / static_cast<double>(t.generated);
        if (t.delivered == 0)
            throw std::runtime_error(
                fmt::format("no frame reached {} ({} frames sent)", sink->what(), t.generated));
        row.delivered = std::min(row.delivered, delivered);
        share = std::min(delivered, 1.0);
    }
    row.generated += t.generated;
    got.rates.push_back(t.pps);
    got.wall_rates.push_back(t.wall_pps);
    got.shares.push_back(share);
}

// Mpps per trial (the rate times the share that arrived), median, min, max.
void summarise(Row& row, const Samples& got, bool per_trial_share)
{
    for (size_t i = 0; i < got.rates.size(); ++i) {
        const double share = per_trial_share ? got.shares[i] : std::min(row.reached, 1.0);
        row.trials.push_back(got.rates[i] * share / 1e6);
        row.trials_wall.push_back(got.wall_rates[i] * share / 1e6);
    }
    row.mpps = median(row.trials);
    row.mpps_min = *std::min_element(row.trials.begin(), row.trials.end());
    row.mpps_max = *std::max_element(row.trials.begin(), row.trials.end());
    row.ns_per_packet = 1000.0 / row.mpps;
    row.mpps_wall = median(row.trials_wall);
}

void record_memory(const DutMemory& m, Row& row)
{
    row.kernel_bytes = m.kernel_bytes;
    row.kernel_what = m.kernel_what;
    row.owner_rss_bytes = m.rss_bytes;
    row.owner_rss_what = m.rss_what;
}

} // namespace

void pin_to(const std::vector<int>& cpus)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus)
        CPU_SET(c, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        throw std::system_error(errno, std::generic_category(), "sched_setaffinity");
}

Runner::Runner(const Options& o, const pktgen::AddrRange& traffic, int gen_cpu,
               std::vector<int> worker_cpus)
    : o_(o), traffic_(traffic), gen_cpu_(gen_cpu), worker_cpus_(std::move(worker_cpus))
{
    const pid_t k = ksoftirqd_of(gen_cpu);
    clockid_t c;
    if (k > 0 && clock_getcpuclockid(k, &c) == 0)
        ksoftirqd_clock_ = c;
    else
        std::cerr << "xdpfw-bench: warning: no ksoftirqd/" << gen_cpu
                  << " clock: deferred softirq work is not counted\n";
}

Row Runner::run_case(const CaseSpec& c)
{
    Row row;
    row.name = c.name;
    row.dut = dut_name(c.kind);
    row.path = path_name(c.path);
    row.rules = c.rules;
    row.set_size = c.set_size;
    row.sources = traffic_.count;
    row.ceiling = ceiling_of(c);
    if (o_.quick && !c.quick_skip.empty()) {
        row.status = "skipped";
        row.note = c.quick_skip;
        return row;
    }
    try {
        measure(c, row);
    } catch (const SkipCase& e) {
        row.status = "skipped";
        row.note = e.what();
    } catch (const std::exception& e) {
        row.status = "error";
        row.note = e.what();
    }
    return row;
}

void Runner::measure(const CaseSpec& c, Row& row)
{
    Lab lab;
    Workload w = c.rules ? make_workload(c.rules, c.set_size, c.path != Path::pass, o_.sources)
                         : Workload{};
    w.xsk = c.path == Path::xsk;
    w.ct_established = c.ct;
    DutOptions dopts;
    dopts.pass = c.path == Path::pass;
    dopts.iptables = o_.iptables;
    dopts.tmp_dir = o_.out;
    dopts.worker_cpus = worker_cpus_;
    auto dut = make_dut(c.kind, dopts);
    dut->setup(lab, w);
    row.setup_seconds = dut->setup_seconds;
    record_memory(dut->memory(), row);

    pktgen::LiveSender sender(make_flow(lab), lab.veth.ifindex_a());
    std::unique_ptr<Receiver> sink;
    if (c.path == Path::pass)
        sink = std::make_unique<SocketSink>(lab);
    else if (c.path == Path::xsk)
        sink = std::make_unique<WorkerSink>(*dut);

    const uint64_t errors_before = stack_errors(lab);
    // The DUT's counter is read once before and once after all the
    // case's traffic: reading nft counters fetches every set element
    // (about a second per 100k), too slow to do per trial.
    const uint64_t counted_before = dut->counted_at_start();
    const uint64_t sent_before = sender.frames_sent();
    const double est_pps = calibrate(sender, lab, c.path);

    row.delivered = 1;
    Samples got;
    for (int i = 0; i < o_.trials && !g_stop; ++i)
        add_trial(sample(sender, lab, sink.get(), est_pps), sink.get(), row, got);
    if (g_stop || got.rates.empty())
        throw std::runtime_error("interrupted");
    const uint64_t counted = dut->counted() - counted_before;
    const uint64_t sent = sender.frames_sent() - sent_before;
    row.reached = sent ? static_cast<double>(counted) / static_cast<double>(sent) : 0;
    // A DUT that counted (almost) nothing was not measured at all; and
    // frames it never saw are not its throughput.
    if (row.reached < 0.5)
        throw std::runtime_error(fmt::format(
            "traffic did not reach the DUT: {} counted {} of {} frames sent ({:.1f}%)",
            dut->counter_name(), counted, sent, row.reached * 100));
    dut->check();
    const uint64_t errors = stack_errors(lab) - errors_before;
    if (errors)
        throw std::runtime_error(fmt::format(
            "the DUT namespace's stack counted {} header or checksum errors: the generator's "
            "frames are not valid",
            errors));
    summarise(row, got, sink != nullptr);
}

// The frames: 60-byte UDP from the run's sources and source ports to the
// DUT veth's address and MAC, port 5001.
pktgen::Flow Runner::make_flow(const Lab& lab) const
{
    pktgen::Flow flow;
    {
        lab::EnterNetns in(lab.gen);
        flow.src_mac = pktgen::query_interface(Lab::gen_if).mac;
    }
    flow.dst_mac = pktgen::parse_mac(lab.veth.mac_b(), "dut mac");
    flow.src = traffic_;
    flow.dst = pktgen::parse_addr_range(Lab::dut_addr, "dst");
    flow.sport = {kTrafficSportFirst, kTrafficSportCount};
    flow.dport = {kTrafficDport, 1};
    flow.proto = pktgen::L4::udp;
    return flow;
}

// The rate, which decides how many frames keep the generator busy through
// a trial's sample window. Bursts grow 8x until one lasts 0.1 s (0.3 s if
// fewer than 8192 frames: the per-call cost must not dominate), so a DUT at
// a few kpps costs no more time than a fast one.
double Runner::calibrate(pktgen::LiveSender& s, const Lab& lab, Path path)
{
    // The xsk path's first frames can stall the first call for half a
    // second on a loaded machine (seen 1 run in 5 at load average 3.5),
    // which would make the calibration guess a rate 1000x too low: one
    // untimed burst first.
    if (path == Path::xsk)
        burst(s, lab, 8192);
    double est_pps = 0;
    for (uint64_t n = 1024;; n *= 8) {
        const auto t0 = Clock::now();
        burst(s, lab, n);
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        est_pps = static_cast<double>(n) / std::max(secs, 1e-3);
        if ((secs >= 0.1 && n >= 8192) || secs >= 0.3 || n >= (1u << 24) || g_stop)
            break;
    }
    return est_pps;
}

// One trial. Bursts have a margin of 3x (they are cut off after the
// window); one that still ended inside the window (the rate rose, or the
// calibration paid a slow start: on a loaded machine the kernel's per-call
// program swap alone can take 0.1 s) is run again, four times as long.
Trial Runner::sample(pktgen::LiveSender& s, const Lab& lab, const Receiver* sink, double est_pps)
{
    Trial t;
    for (int attempt = 0; attempt < 6; ++attempt) {
        const double secs = settle_s() + o_.window;
        const auto frames = static_cast<uint64_t>(est_pps * secs * 3 * (1u << (2 * attempt))) + 1024;
        t = trial(s, lab, sink, std::min<uint64_t>(frames, 1u << 30));
        if (t.window_complete || g_stop)
            break;
    }
    if (g_stop)
        throw std::runtime_error("interrupted");
    if (!t.window_complete)
        throw std::runtime_error("the generator never stayed busy through a sample window (" +
                                 t.why + ")");
    return t;
}

// CPU time the generator CPU spent on the traffic: the sender thread
// (BPF_PROG_RUN, and the veth NAPI softirq that runs when it re-enables
// bottom halves) plus that CPU's ksoftirqd (softirq work deferred when a
// poll runs long, as with thousands of nft rules). Other programs on the
// CPU do not count, so a busy machine slows the wall clock, not this.
double Runner::busy_seconds(clockid_t sender) const
{
    timespec a{}, b{};
    clock_gettime(sender, &a);
    if (ksoftirqd_clock_)
        clock_gettime(*ksoftirqd_clock_, &b);
    return static_cast<double>(a.tv_sec + b.tv_sec) + static_cast<double>(a.tv_nsec + b.tv_nsec) / 1e9;
}

std::thread Runner::start_burst(pktgen::LiveSender& s, const Lab& lab, uint64_t frames,
                                std::exception_ptr* err, std::atomic<bool>* done)
{
    return std::thread([this, &s, &lab, frames, err, done] {
        try {
            pin_to({gen_cpu_});
            lab::EnterNetns in(lab.gen);
            s.send_burst(static_cast<uint32_t>(frames), 64);
        } catch (...) {
            *err = std::current_exception();
        }
        *done = true;
    });
}

void Runner::burst(pktgen::LiveSender& s, const Lab& lab, uint64_t frames)
{
    std::exception_ptr err;
    std::atomic<bool> done{false};
    start_burst(s, lab, frames, &err, &done).join();
    if (err)
        std::rethrow_exception(err);
}

// Runs a burst of `frames` and samples the generator's frame counter
// over the window, after a settling time (the kernel's per-call program
// swap, cold caches), from another CPU: the rate excludes the start and
// the end of the call.
Trial Runner::trial(pktgen::LiveSender& s, const Lab& lab, const Receiver* sink, uint64_t frames)
{
    Trial out;
    const uint64_t d0 = sink ? sink->count() : 0;
    const uint64_t g0 = s.frames_sent();
    std::atomic<bool> done{false};
    std::exception_ptr err;
    std::thread t = start_burst(s, lab, frames, &err, &done);
    // Whatever happens here, the burst is waited for before t goes.
    struct Joiner {
        std::thread& t;
        ~Joiner()
        {
            if (t.joinable())
                t.join();
        }
    } joiner{t};
    // Taken at once: a thread that has ended has no CPU clock.
    clockid_t sender_clock{};
    const bool have_clock = pthread_getcpuclockid(t.native_handle(), &sender_clock) == 0;
    const auto start_deadline = Clock::now() + std::chrono::seconds(5);
    while (s.frames_sent() == g0 && !done && Clock::now() < start_deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::this_thread::sleep_for(std::chrono::duration<double>(settle_s()));
    const auto t1 = Clock::now();
    const uint64_t s1 = s.frames_sent();
    const double cpu1 = busy_seconds(sender_clock);
    std::this_thread::sleep_for(std::chrono::duration<double>(o_.window));
    const auto t2 = Clock::now();
    const uint64_t s2 = s.frames_sent();
    const double cpu2 = busy_seconds(sender_clock);
    const bool running = !done;
    // The window is over: end the burst now rather than after its
    // margin (BPF_PROG_RUN stops at a pending signal; the frames sent
    // so far are counted).
    if (running)
        pthread_kill(t.native_handle(), SIGUSR1);
    t.join();
    if (err)
        std::rethrow_exception(err);
    const uint64_t g1 = s.frames_sent();
    // Complete: the burst had started before the window and had frames
    // left to send at its end (it is cut off right after).
    out.window_complete = running && have_clock && s1 > g0 && s2 - g0 < frames;
    if (!out.window_complete)
        out.why = fmt::format("{} frames: {} sent before the window, {} by its end, {} in all{}",
                              frames, s1 - g0, s2 - g0, g1 - g0,
                              running ? "" : ", the run had ended");
    out.wall_pps =
        static_cast<double>(s2 - s1) / std::chrono::duration<double>(t2 - t1).count();
    out.pps = cpu2 > cpu1 ? static_cast<double>(s2 - s1) / (cpu2 - cpu1) : out.wall_pps;
    if (sink)
        sink->settle();
    out.generated = g1 - g0;
    out.delivered = sink ? sink->count() - d0 : 0;
    return out;
}

} // namespace xdpfw::bench
