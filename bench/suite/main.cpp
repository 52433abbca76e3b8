// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench: builds a veth lab in network namespaces and measures, in one
// run and on one CPU, each device under test with the same generator and the
// same traffic: the XDP no-op drop (the ceiling), xdpfw at growing rule and
// set sizes, nftables netdev ingress and iptables raw PREROUTING with the same
// rules, xdp-filter, the pass path to a socket and the AF_XDP (xsk) path.
// This file: the command line, the run over the cases and the reports.
// docs/BENCHMARKS.md.
#include "bench/pktgen/flow.hpp"
#include "bench/suite/cases.hpp"
#include "bench/suite/duts.hpp"
#include "bench/suite/report.hpp"
#include "bench/suite/runner.hpp"
#include "bench/suite/workload.hpp"

#include "lib/kernel/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <thread>

namespace xdpfw::bench {
namespace {

using Clock = std::chrono::steady_clock;

void on_signal(int)
{
    g_stop = 1;
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

void add_options(CLI::App& app, Options& o)
{
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
    app.add_option("--sources", o.sources,
                   fmt::format("source addresses the traffic rotates through, from 198.18.0.0, the "
                               "same for every DUT; every policy names the prefix holding them "
                               "(default {}: 198.18.0.0/16; 1..{})",
                               kDefaultSources, kMaxSources))
        ->check(CLI::Range(uint32_t{1}, kMaxSources));
    app.add_option("--traffic-src", o.traffic_src,
                   "send from this range instead (A, A-B or A/LEN); the policies still name the "
                   "--sources prefix, so a range outside it checks that a miss is reported as an "
                   "error");
    app.add_flag("--list", o.list, "list the cases and exit");
    app.add_flag("--paired", o.paired,
                 "measure each row's ceiling again right before the row and take its ratio "
                 "against that (for hosts whose speed drifts during a run)");
}

// The traffic's sources: --traffic-src, or the first --sources addresses
// from kTrafficSrc. Throws std::invalid_argument naming the option.
pktgen::AddrRange traffic_range(const Options& o)
{
    if (o.traffic_src.empty())
        return pktgen::with_count(pktgen::parse_addr_range(v4_addr_text(kTrafficSrc), "--sources"),
                                  o.sources, "--sources");
    const auto src = pktgen::parse_addr_range(o.traffic_src, "--traffic-src");
    if (src.family != Family::ipv4)
        throw std::invalid_argument("--traffic-src " + o.traffic_src +
                                    ": the benchmark's traffic is IPv4");
    return src;
}

// "198.18.0.0/16", or "198.18.0.0-198.18.3.231" when not a whole prefix.
std::string range_text(const Options& o, const pktgen::AddrRange& r)
{
    if (!o.traffic_src.empty())
        return o.traffic_src;
    const V4Pfx p = traffic_prefix(o.sources);
    if ((uint64_t{1} << (32 - p.len)) == r.count)
        return v4_text(p.addr, p.len);
    return v4_addr_text(kTrafficSrc) + "-" +
           v4_addr_text(kTrafficSrc + static_cast<uint32_t>(r.count - 1));
}

// The cases --cases selects; nothing (after a message) when the regex is bad.
std::optional<std::vector<CaseSpec>> select_cases(const std::string& pattern)
{
    std::vector<CaseSpec> cases;
    try {
        const std::regex re(pattern.empty() ? ".*" : pattern);
        for (auto& c : all_cases())
            if (std::regex_search(c.name, re))
                cases.push_back(std::move(c));
    } catch (const std::regex_error& e) {
        std::cerr << "xdpfw-bench: --cases " << pattern << ": " << e.what() << "\n";
        return std::nullopt;
    }
    return cases;
}

void install_signal_handlers()
{
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
}

// Ratios against the ceilings of this run: the paired measurement where
// there is one (--paired), else the ceiling's own row.
void set_ratios(std::vector<Row>& rows)
{
    for (auto& r : rows) {
        if (!r.measured() || r.ceiling.empty())
            continue;
        if (r.paired_ceiling_mpps) {
            r.ratio = r.mpps / *r.paired_ceiling_mpps;
            continue;
        }
        for (const auto& c : rows)
            if (c.name == r.ceiling && c.measured())
                r.ratio = r.mpps / c.mpps;
    }
    for (auto& r : rows)
        if (r.measured() && r.ceiling.empty())
            r.ratio = 1.0;
}

// The case named `name` (a ceiling), or nullptr.
const CaseSpec* find_case(const std::vector<CaseSpec>& all, const std::string& name)
{
    for (const auto& c : all)
        if (c.name == name)
            return &c;
    return nullptr;
}

// Runs every case, printing a line for each as it ends. With paired, each
// row with a ceiling has that ceiling measured again just before it.
std::vector<Row> run_cases(Runner& runner, const std::vector<CaseSpec>& cases, bool paired)
{
    const std::vector<CaseSpec> all = all_cases();
    std::vector<Row> rows;
    for (const auto& c : cases) {
        if (g_stop)
            break;
        const auto c0 = Clock::now();
        std::optional<Row> ceiling;
        if (paired && !ceiling_of(c).empty())
            if (const CaseSpec* s = find_case(all, ceiling_of(c)))
                ceiling = runner.run_case(*s);
        Row r = runner.run_case(c);
        if (ceiling && ceiling->measured()) {
            r.paired_ceiling_mpps = ceiling->mpps;
            r.paired_ceiling_trials = ceiling->trials;
        }
        std::cout << fmt::format("  {:<30} {:>8}  {}  ({:.1f} s)", r.name,
                                 r.measured() ? fmt::format("{:.3f} Mpps", r.mpps) : r.status,
                                 r.measured() ? "" : r.note,
                                 std::chrono::duration<double>(Clock::now() - c0).count())
                  << std::endl;
        rows.push_back(std::move(r));
    }
    return rows;
}

// Writes and prints the results; the exit status: 1 if a case failed or the
// run was interrupted.
int report(std::vector<Row>& rows, RunInfo& info, const Options& o)
{
    set_ratios(rows);
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
}

RunInfo run_info(int argc, char** argv, const Options& o, int gen_cpu, int cpus)
{
    RunInfo info;
    for (int i = 0; i < argc; ++i)
        info.command += (i ? " " : "") + std::string(argv[i]);
    info.started_utc = utc_now();
    info.quick = o.quick;
    info.paired = o.paired;
    info.gen_cpu = gen_cpu;
    info.cpus = cpus;
    info.trials = o.trials;
    info.window = o.window;
    utsname u{};
    uname(&u);
    info.kernel = u.release;
    info.load_before = load_average();
    return info;
}

// The measurement proper, once the options are known to be good.
int run_all(const std::vector<CaseSpec>& cases, const Options& o, const pktgen::AddrRange& traffic,
            RunInfo info)
{
    const int gen_cpu = info.gen_cpu;
    std::vector<int> others;
    for (int i = 0; i < info.cpus; ++i)
        if (i != gen_cpu)
            others.push_back(i);
    if (others.empty())
        others.push_back(gen_cpu);
    install_signal_handlers();
    try {
        std::filesystem::create_directories(o.out);
        init_logging(spdlog::level::warn);
        // The sampler, the pass-path reader and the tools run off the
        // generator's CPU.
        pin_to(others);
        const auto t0 = Clock::now();
        // The xsk path's AF_XDP worker needs a CPU of its own too: the
        // first of the others.
        Runner runner(o, traffic, gen_cpu, {others.front()});
        std::cout << fmt::format("xdpfw-bench: {} cases, {} trials each, {} sources ({}), "
                                 "generator on CPU {}, AF_XDP worker on CPU {}\n",
                                 cases.size(), o.trials, info.sources, info.traffic_src, gen_cpu,
                                 others.front());
        std::vector<Row> rows = run_cases(runner, cases, o.paired);
        release_shared_duts();
        info.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        return report(rows, info, o);
    } catch (const std::exception& e) {
        std::cerr << "xdpfw-bench: " << e.what() << "\n";
        return 1;
    }
}

int run(int argc, char** argv)
{
    CLI::App app{"xdpfw-bench: measures xdpfw beside an XDP no-op (the ceiling), nftables netdev "
                 "ingress, iptables raw PREROUTING, xdp-filter and the AF_XDP path in a veth lab, one "
                 "CPU (plus one for the AF_XDP worker), the same "
                 "generator and traffic. Writes results.json, results.csv, results.md and PNG "
                 "plots under --out. Needs root. See docs/BENCHMARKS.md."};
    Options o;
    add_options(app, o);
    CLI11_PARSE(app, argc, argv);

    const auto cases = select_cases(o.cases);
    if (!cases)
        return 2;
    pktgen::AddrRange traffic;
    try {
        traffic = traffic_range(o);
    } catch (const std::invalid_argument& e) {
        std::cerr << "xdpfw-bench: " << e.what() << "\n";
        return 2;
    }
    if (o.list) {
        for (const auto& c : *cases)
            std::cout << c.name << (c.quick_skip.empty() ? "" : "  (not with --quick)") << "\n";
        return 0;
    }
    if (cases->empty()) {
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
    RunInfo info = run_info(argc, argv, o, gen_cpu, cpus);
    info.sources = traffic.count;
    info.traffic_src = range_text(o, traffic);
    return run_all(*cases, o, traffic, std::move(info));
}

} // namespace
} // namespace xdpfw::bench

int main(int argc, char** argv)
{
    return xdpfw::bench::run(argc, argv);
}
