// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench: builds a veth lab in network namespaces and measures, in one
// run and on one CPU, each device under test with the same generator and the
// same traffic: the XDP no-op drop (the ceiling), xdpfw at growing rule and
// set sizes, nftables netdev ingress and iptables raw PREROUTING with the same
// rules, xdp-filter, the pass path to a socket and the AF_XDP (xsk) path.
// docs/BENCHMARKS.md.
#include "bench/pktgen/flow.hpp"
#include "bench/pktgen/live_sender.hpp"
#include "bench/suite/duts.hpp"
#include "bench/suite/report.hpp"
#include "bench/suite/workload.hpp"

#include "lib/kernel/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

namespace xdpfw::bench {
namespace {

using Clock = std::chrono::steady_clock;

// drop: the DUT drops at its hook; pass: the frames go on to a UDP socket;
// xsk: xdpfw's last rule (action=xsk) redirects them to the AF_XDP engine's
// socket, whose worker inspects and drops them.
enum class Path { drop, pass, xsk };

const char* path_name(Path p)
{
    switch (p) {
    case Path::drop: return "drop";
    case Path::pass: return "pass";
    case Path::xsk: return "xsk";
    }
    return "?";
}

struct CaseSpec {
    std::string name;
    DutKind kind;
    Path path = Path::drop;
    size_t rules = 0, set_size = 0; // 0 rules: the sink, which takes no workload
    std::string quick_skip;         // non-empty: not run with --quick, and why
};

const char* dut_name(DutKind k)
{
    switch (k) {
    case DutKind::sink: return "xdp-noop";
    case DutKind::xdpfw: return "xdpfw";
    case DutKind::nftables: return "nftables";
    case DutKind::iptables: return "iptables";
    case DutKind::xdp_filter: return "xdp-filter";
    }
    return "?";
}

std::string size_label(size_t n)
{
    if (n >= 1000000 && n % 1000000 == 0)
        return fmt::format("{}M", n / 1000000);
    if (n >= 1000 && n % 1000 == 0)
        return fmt::format("{}k", n / 1000);
    return std::to_string(n);
}

// Every case of a full run, in run order: the ceilings first.
std::vector<CaseSpec> all_cases()
{
    std::vector<CaseSpec> out;
    out.push_back({"xdp-noop-drop", DutKind::sink, Path::drop, 0, 0, {}});
    const std::string ipt_1m_skip =
        "quick: ipset restore of 1M entries and the namespace's teardown take ~25 s under load "
        "here; the full run measures it";
    const std::string nft_1m_skip =
        "quick: a 1M-element nft interval set takes minutes here (26 s to load, more to list "
        "its counter, which fetches every element, and to remove it); the full run measures it";
    for (DutKind k : {DutKind::xdpfw, DutKind::nftables, DutKind::iptables}) {
        const std::string d = dut_name(k);
        for (size_t n : {1, 100, 1000})
            out.push_back({fmt::format("{}/rules-{}", d, n), k, Path::drop, n, 0, {}});
        for (size_t s : {1000, 100000, 1000000}) {
            std::string skip;
            if (s == 1000000 && k == DutKind::nftables)
                skip = nft_1m_skip;
            if (s == 1000000 && k == DutKind::iptables)
                skip = ipt_1m_skip;
            out.push_back({fmt::format("{}/set-{}", d, size_label(s)), k, Path::drop, 1, s, skip});
        }
        out.push_back({fmt::format("{}/rules-1000+set-100k", d), k, Path::drop, 1000, 100000, {}});
        // Last of its DUT: xdpfw loads a larger object for it (16,384 rules).
        out.push_back({fmt::format("{}/rules-10000", d), k, Path::drop, 10000, 0, {}});
    }
    out.push_back({"xdp-filter/rules-1", DutKind::xdp_filter, Path::drop, 1, 0, {}});
    // The pass path: frames delivered to a UDP socket in the DUT namespace;
    // the decoy rules are all evaluated, none matches, the default passes.
    out.push_back({"xdp-noop-pass", DutKind::sink, Path::pass, 0, 0, {}});
    for (DutKind k : {DutKind::xdpfw, DutKind::nftables, DutKind::iptables})
        out.push_back({fmt::format("{}-pass/rules-1000", dut_name(k)), k, Path::pass, 1000, 0, {}});
    // The xsk path: 999 decoys, then the rule sending the traffic to the
    // AF_XDP socket, whose worker (on another CPU) inspects and drops it.
    out.push_back({"xdpfw-xsk/rules-1000", DutKind::xdpfw, Path::xsk, 1000, 0, {}});
    return out;
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int)
{
    g_stop = 1;
}

void pin_to(const std::vector<int>& cpus)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus)
        CPU_SET(c, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        throw std::system_error(errno, std::generic_category(), "sched_setaffinity");
}

// What received the frames past the DUT's hook, counted per trial: the
// pass path's socket, the xsk path's AF_XDP worker.
class Receiver {
public:
    virtual ~Receiver() = default;
    virtual uint64_t count() const = 0;
    virtual const char* what() const = 0;
    // Waits until nothing more arrives for 50 ms (the queue is drained).
    void settle() const
    {
        uint64_t last = count();
        for (int i = 0; i < 100; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            const uint64_t now = count();
            if (now == last)
                return;
            last = now;
        }
    }
};

// The xsk path: the AF_XDP worker's rx counter.
class WorkerSink : public Receiver {
public:
    explicit WorkerSink(Dut& dut) : dut_(&dut) {}
    uint64_t count() const override { return dut_->worker_received(); }
    const char* what() const override { return "the AF_XDP worker"; }

private:
    Dut* dut_;
};

// A UDP socket in the DUT namespace on the traffic's destination, read by a
// thread on the CPUs the generator does not use: the pass path's proof of
// delivery.
class SocketSink : public Receiver {
public:
    explicit SocketSink(const Lab& lab)
    {
        fd_ = lab::socket_in(lab.dut, AF_INET, SOCK_DGRAM, 0);
        const int buf = 64 << 20;
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(kTrafficDport);
        inet_pton(AF_INET, Lab::dut_addr, &sa.sin_addr);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            const int err = errno;
            ::close(fd_);
            throw std::system_error(err, std::generic_category(), "bind the pass-path socket");
        }
        reader_ = std::thread([this] { read_loop(); });
    }
    ~SocketSink() override
    {
        stop_ = true;
        reader_.join();
        ::close(fd_);
    }
    uint64_t count() const override { return count_.load(); }
    const char* what() const override { return "the socket in the DUT namespace"; }

private:
    void read_loop()
    {
        constexpr unsigned kVec = 64;
        static thread_local char bufs[kVec][128];
        mmsghdr msgs[kVec]{};
        iovec iov[kVec];
        for (unsigned i = 0; i < kVec; ++i) {
            iov[i] = {bufs[i], sizeof bufs[i]};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // Polls without blocking: a sleeping reader would cost the
        // generator's CPU a wake-up per datagram.
        while (!stop_) {
            const int n = recvmmsg(fd_, msgs, kVec, MSG_DONTWAIT, nullptr);
            if (n > 0)
                count_ += static_cast<uint64_t>(n);
            else
                std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }

    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> count_{0};
    std::thread reader_;
};

// Ip InHdrErrors + Udp InCsumErrors of the DUT namespace: frames the stack
// refused for a bad header or checksum (the generator must produce none).
uint64_t stack_errors(const Lab& lab)
{
    const std::string snmp = lab::run_in_checked(lab.dut, "cat /proc/net/snmp");
    std::istringstream in(snmp);
    std::string head, vals;
    uint64_t total = 0;
    while (std::getline(in, head) && std::getline(in, vals)) {
        std::istringstream hs(head), vs(vals);
        std::string h, v;
        while (hs >> h && vs >> v) {
            if ((head.rfind("Ip:", 0) == 0 && h == "InHdrErrors") ||
                (head.rfind("Udp:", 0) == 0 && h == "InCsumErrors"))
                total += std::stoull(v);
        }
    }
    return total;
}

pid_t ksoftirqd_of(int cpu);

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Options {
    std::string out = "bench-results";
    bool quick = false;
    std::string cases; // regex over case names
    int trials = 0;    // 0: 3 quick, 5 full
    double window = 0; // seconds per sample window; 0: 0.25 quick, 1.0 full
    int cpu = -1;
    std::string iptables = "iptables-legacy";
    std::string traffic_src = "198.18.0.0/24";
    bool list = false;
};

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
    Runner(const Options& o, int gen_cpu, std::vector<int> worker_cpus)
        : o_(o), gen_cpu_(gen_cpu), worker_cpus_(std::move(worker_cpus))
    {
        const pid_t k = ksoftirqd_of(gen_cpu);
        clockid_t c;
        if (k > 0 && clock_getcpuclockid(k, &c) == 0)
            ksoftirqd_clock_ = c;
        else
            std::cerr << "xdpfw-bench: warning: no ksoftirqd/" << gen_cpu
                      << " clock: deferred softirq work is not counted\n";
    }

    Row run_case(const CaseSpec& c)
    {
        Row row;
        row.name = c.name;
        row.dut = dut_name(c.kind);
        row.path = path_name(c.path);
        row.rules = c.rules;
        row.set_size = c.set_size;
        row.ceiling = c.kind == DutKind::sink ? "" : (c.path == Path::pass ? "xdp-noop-pass" : "xdp-noop-drop");
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

private:
    void measure(const CaseSpec& c, Row& row)
    {
        Lab lab;
        Workload w = c.rules ? make_workload(c.rules, c.set_size, c.path != Path::pass)
                             : Workload{};
        w.xsk = c.path == Path::xsk;
        DutOptions dopts;
        dopts.pass = c.path == Path::pass;
        dopts.iptables = o_.iptables;
        dopts.tmp_dir = o_.out;
        dopts.worker_cpus = worker_cpus_;
        auto dut = make_dut(c.kind, dopts);
        dut->setup(lab, w);
        row.setup_seconds = dut->setup_seconds;

        pktgen::Flow flow;
        {
            lab::EnterNetns in(lab.gen);
            const auto ifc = pktgen::query_interface(Lab::gen_if);
            flow.src_mac = ifc.mac;
        }
        flow.dst_mac = pktgen::parse_mac(lab.veth.mac_b(), "dut mac");
        flow.src = pktgen::parse_addr_range(o_.traffic_src, "--traffic-src");
        flow.dst = pktgen::parse_addr_range(Lab::dut_addr, "dst");
        flow.sport = {kTrafficSportFirst, kTrafficSportCount};
        flow.dport = {kTrafficDport, 1};
        flow.proto = pktgen::L4::udp;
        pktgen::LiveSender sender(flow, lab.veth.ifindex_a());

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
        // The xsk path's first frames can stall the first call for half a
        // second on a loaded machine (seen 1 run in 5 at load average 3.5),
        // which would make the calibration guess a rate 1000x too low: one
        // untimed burst first.
        if (c.path == Path::xsk)
            burst(sender, lab, 8192);
        // Calibration: the rate decides how many frames keep the generator
        // busy through a trial's sample window. Bursts grow 8x until one
        // lasts 0.1 s (0.3 s if fewer than 8192 frames: the per-call cost
        // must not dominate), so a DUT at a few kpps costs no more time
        // than a fast one.
        double est_pps = 0;
        for (uint64_t n = 1024;; n *= 8) {
            const auto t0 = Clock::now();
            burst(sender, lab, n);
            const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
            est_pps = static_cast<double>(n) / std::max(secs, 1e-3);
            if ((secs >= 0.1 && n >= 8192) || secs >= 0.3 || n >= (1u << 24) || g_stop)
                break;
        }

        const int trials = o_.trials;
        row.delivered = 1;
        std::vector<double> rates, wall_rates, shares;
        for (int i = 0; i < trials && !g_stop; ++i) {
            Trial t;
            // Bursts have a margin of 3x (they are cut off after the window);
            // one that still ended inside the window (the rate rose, or the
            // calibration paid a slow start: on a loaded machine the
            // kernel's per-call program swap alone can take 0.1 s) is run
            // again, four times as long.
            for (int attempt = 0; attempt < 6; ++attempt) {
                const double secs = settle_s() + o_.window;
                const auto frames =
                    static_cast<uint64_t>(est_pps * secs * 3 * (1u << (2 * attempt))) + 1024;
                t = trial(sender, lab, sink.get(), std::min<uint64_t>(frames, 1u << 30));
                if (t.window_complete || g_stop)
                    break;
            }
            if (g_stop)
                throw std::runtime_error("interrupted");
            if (!t.window_complete)
                throw std::runtime_error("the generator never stayed busy through a sample window (" +
                                         t.why + ")");
            double share = 1;
            if (sink) {
                const double delivered =
                    static_cast<double>(t.delivered) / static_cast<double>(t.generated);
                if (t.delivered == 0)
                    throw std::runtime_error(fmt::format(
                        "no frame reached {} ({} frames sent)", sink->what(), t.generated));
                row.delivered = std::min(row.delivered, delivered);
                share = std::min(delivered, 1.0);
            }
            row.generated += t.generated;
            rates.push_back(t.pps);
            wall_rates.push_back(t.wall_pps);
            shares.push_back(share);
        }
        if (g_stop || rates.empty())
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
        for (size_t i = 0; i < rates.size(); ++i) {
            const double share = sink ? shares[i] : std::min(row.reached, 1.0);
            row.trials.push_back(rates[i] * share / 1e6);
            row.trials_wall.push_back(wall_rates[i] * share / 1e6);
        }
        dut->check();
        const uint64_t errors = stack_errors(lab) - errors_before;
        if (errors)
            throw std::runtime_error(fmt::format(
                "the DUT namespace's stack counted {} header or checksum errors: the generator's "
                "frames are not valid",
                errors));
        row.mpps = median(row.trials);
        row.mpps_min = *std::min_element(row.trials.begin(), row.trials.end());
        row.mpps_max = *std::max_element(row.trials.begin(), row.trials.end());
        row.ns_per_packet = 1000.0 / row.mpps;
        row.mpps_wall = median(row.trials_wall);
    }

    double settle_s() const { return o_.quick ? 0.08 : 0.2; }

    // CPU time the generator CPU spent on the traffic: the sender thread
    // (BPF_PROG_RUN, and the veth NAPI softirq that runs when it re-enables
    // bottom halves) plus that CPU's ksoftirqd (softirq work deferred when a
    // poll runs long, as with thousands of nft rules). Other programs on the
    // CPU do not count, so a busy machine slows the wall clock, not this.
    double busy_seconds(clockid_t sender) const
    {
        timespec a{}, b{};
        clock_gettime(sender, &a);
        if (ksoftirqd_clock_)
            clock_gettime(*ksoftirqd_clock_, &b);
        return static_cast<double>(a.tv_sec + b.tv_sec) + static_cast<double>(a.tv_nsec + b.tv_nsec) / 1e9;
    }

    // A thread doing one kernel run of `frames` on the generator CPU, from
    // the sender namespace; sets *err on failure and *done at the end.
    std::thread start_burst(pktgen::LiveSender& s, const Lab& lab, uint64_t frames,
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

    void burst(pktgen::LiveSender& s, const Lab& lab, uint64_t frames)
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
    Trial trial(pktgen::LiveSender& s, const Lab& lab, const Receiver* sink, uint64_t frames)
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

    const Options& o_;
    int gen_cpu_;
    std::vector<int> worker_cpus_; // the xsk path's AF_XDP worker
    std::optional<clockid_t> ksoftirqd_clock_;
};

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

std::string utc_now()
{
    char buf[32];
    const std::time_t t = std::time(nullptr);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

double load_average()
{
    double l = 0;
    std::ifstream("/proc/loadavg") >> l;
    return l;
}

int run(int argc, char** argv)
{
    CLI::App app{"xdpfw-bench: measures xdpfw beside an XDP no-op (the ceiling), nftables netdev "
                 "ingress, iptables raw PREROUTING, xdp-filter and the AF_XDP path in a veth lab, one "
                 "CPU (plus one for the AF_XDP worker), the same "
                 "generator and traffic. Writes results.json, results.csv, results.md and PNG "
                 "plots under --out. Needs root. See docs/BENCHMARKS.md."};
    Options o;
    app.add_option("--out", o.out, "results folder (created)");
    app.add_flag("--quick", o.quick,
                 "3 short trials per case, no 1M-entry nft or ipset set: under 3 minutes");
    app.add_option("--cases", o.cases, "only the cases whose name matches this regex (ECMAScript)");
    app.add_option("--trials", o.trials, "trials per case (default 3 with --quick, else 5)")
        ->check(CLI::Range(1, 100));
    app.add_option("--window", o.window, "seconds sampled per trial (default 0.25 quick, 1.0 full)")
        ->check(CLI::Range(0.01, 60.0));
    app.add_option("--cpu", o.cpu, "CPU of the generator and the veth NAPI (default: the last)");
    app.add_option("--iptables", o.iptables,
                   "iptables binary for the iptables rows: iptables-legacy (x_tables, default) or "
                   "iptables (nf_tables backend on Debian 12)");
    app.add_option("--traffic-src", o.traffic_src,
                   "the traffic's sources (default 198.18.0.0/24, which every drop policy "
                   "matches; another range checks that a miss is reported as an error)");
    app.add_flag("--list", o.list, "list the cases and exit");
    CLI11_PARSE(app, argc, argv);

    std::vector<CaseSpec> cases;
    try {
        const std::regex re(o.cases.empty() ? ".*" : o.cases);
        for (auto& c : all_cases())
            if (std::regex_search(c.name, re))
                cases.push_back(std::move(c));
    } catch (const std::regex_error& e) {
        std::cerr << "xdpfw-bench: --cases " << o.cases << ": " << e.what() << "\n";
        return 2;
    }
    try {
        const auto src = pktgen::parse_addr_range(o.traffic_src, "--traffic-src");
        if (src.family != Family::ipv4)
            throw std::invalid_argument("--traffic-src " + o.traffic_src +
                                        ": the benchmark's traffic is IPv4");
    } catch (const std::invalid_argument& e) {
        std::cerr << "xdpfw-bench: " << e.what() << "\n";
        return 2;
    }
    if (o.list) {
        for (const auto& c : cases)
            std::cout << c.name << (c.quick_skip.empty() ? "" : "  (not with --quick)") << "\n";
        return 0;
    }
    if (cases.empty()) {
        std::cerr << "xdpfw-bench: --cases " << o.cases << ": matches no case (see --list)\n";
        return 2;
    }
    if (geteuid() != 0) {
        std::cerr << "xdpfw-bench: needs root (network namespaces, BPF)\n";
        return 1;
    }
    if (o.trials == 0)
        o.trials = o.quick ? 3 : 5;
    if (o.window == 0)
        o.window = o.quick ? 0.25 : 1.0;

    const int cpus = static_cast<int>(std::thread::hardware_concurrency());
    const int gen_cpu = o.cpu >= 0 ? o.cpu : std::max(cpus - 1, 0);
    if (gen_cpu >= cpus) {
        std::cerr << "xdpfw-bench: --cpu " << gen_cpu << ": this machine has " << cpus
                  << " CPUs (0-based)\n";
        return 2;
    }
    std::vector<int> others;
    for (int i = 0; i < cpus; ++i)
        if (i != gen_cpu)
            others.push_back(i);
    if (others.empty())
        others.push_back(gen_cpu);

    RunInfo info;
    for (int i = 0; i < argc; ++i)
        info.command += (i ? " " : "") + std::string(argv[i]);
    info.started_utc = utc_now();
    info.quick = o.quick;
    info.gen_cpu = gen_cpu;
    info.cpus = cpus;
    info.trials = o.trials;
    info.window = o.window;
    utsname u{};
    uname(&u);
    info.kernel = u.release;
    info.load_before = load_average();

    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    // SIGUSR1 ends a sender's burst (no SA_RESTART: BPF_PROG_RUN returns).
    struct sigaction cut{};
    cut.sa_handler = [](int) {};
    sigemptyset(&cut.sa_mask);
    sigaction(SIGUSR1, &cut, nullptr);

    try {
        std::filesystem::create_directories(o.out);
        init_logging(spdlog::level::warn);
        // The sampler, the pass-path reader and the tools run off the
        // generator's CPU.
        pin_to(others);
        const auto t0 = Clock::now();
        std::vector<Row> rows;
        // The xsk path's AF_XDP worker needs a CPU of its own too: the
        // first of the others.
        Runner runner(o, gen_cpu, {others.front()});
        std::cout << fmt::format(
            "xdpfw-bench: {} cases, {} trials each, generator on CPU {}, AF_XDP worker on CPU {}\n",
            cases.size(), o.trials, gen_cpu, others.front());
        for (const auto& c : cases) {
            if (g_stop)
                break;
            const auto c0 = Clock::now();
            Row r = runner.run_case(c);
            std::cout << fmt::format(
                             "  {:<30} {:>8}  {}  ({:.1f} s)", r.name,
                             r.measured() ? fmt::format("{:.3f} Mpps", r.mpps) : r.status,
                             r.measured() ? "" : r.note,
                             std::chrono::duration<double>(Clock::now() - c0).count())
                      << std::endl;
            rows.push_back(std::move(r));
        }
        release_shared_duts();
        // Ratios against the ceilings of this run.
        for (auto& r : rows) {
            if (!r.measured() || r.ceiling.empty())
                continue;
            for (const auto& c : rows)
                if (c.name == r.ceiling && c.measured())
                    r.ratio = r.mpps / c.mpps;
        }
        for (auto& r : rows)
            if (r.measured() && r.ceiling.empty())
                r.ratio = 1.0;
        info.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        info.load_after = load_average();
        const auto warnings = write_reports(rows, info, o.out);
        std::cout << "\n" << markdown_table(rows, info) << "\n";
        for (const auto& w : warnings)
            std::cerr << "xdpfw-bench: warning: " << w << "\n";
        std::cout << "results in " << o.out << "/ (results.json, results.csv, results.md, *.png)\n";
        bool failed = g_stop != 0;
        for (const auto& r : rows)
            if (r.status == "error") {
                std::cerr << "xdpfw-bench: " << r.name << ": " << r.note << "\n";
                failed = true;
            }
        return failed ? 1 : 0;
    } catch (const std::exception& e) {
        std::cerr << "xdpfw-bench: " << e.what() << "\n";
        return 1;
    }
}

} // namespace
} // namespace xdpfw::bench

int main(int argc, char** argv)
{
    return xdpfw::bench::run(argc, argv);
}
