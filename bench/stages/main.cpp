// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-stage-bench: ns per packet of each prefix of the XDP program (stage
// stops, LoadOptions::stop_after) in a BPF_PROG_RUN hot loop, per policy,
// beside the XDP no-op. docs/BENCHMARKS.md, "Per-stage cost".
#include "bench/stages/cases.hpp"
#include "bench/stages/single_runs.hpp"

#include "lib/compiler/compiler.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "lib/kernel/spec_program.hpp"
#include "xdpfw_bench_noop.skel.h"

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sched.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace xdpfw::bench {
namespace {

struct Options {
    uint32_t repeat = 2000000; // BPF_PROG_RUN repeat per timing
    int runs = 5;              // timings per frame; the minimum counts
    int cpu = -1;              // pin to this CPU (-1: leave the affinity alone)
    std::string out;           // directory for stages.md and stages.json
    int single_calls = 20000;  // single runs per program (single_runs.hpp)
};

// Cumulative columns: stop after each stage, then the whole program
// (XDPFW_STAGE_FULL last), in program order.
constexpr std::array<uint32_t, 5> kStops = {XDPFW_STAGE_CONTROL, XDPFW_STAGE_PARSE,
                                             XDPFW_STAGE_LOOKUP, XDPFW_STAGE_WALK,
                                             XDPFW_STAGE_FULL};
constexpr std::array<const char*, 5> kStopNames = {"control", "parse", "lookups", "walk", "full"};
// What each increment adds over the column before it (the first: over the no-op).
constexpr std::array<const char*, 5> kStepNames = {
    "control + generation read", "parse", "field lookups", "walk (AND, first terminal rule)",
    "rule counter + action + exit"};

struct Row {
    std::string name;
    double noop = 0; // the XDP no-op, timed alongside
    std::array<double, kStops.size()> ns{};
    double spec = -1; // the whole program of the specialised tier; -1: no spec
};

// ns per packet of prog_fd on frame: the kernel's average over `repeat`
// runs; checks the verdict.
double hot_loop(int prog_fd, const std::vector<uint8_t>& frame, uint32_t repeat, int want)
{
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()),
                .repeat = static_cast<int>(repeat));
    if (bpf_prog_test_run_opts(prog_fd, &o) != 0)
        throw std::system_error(errno, std::generic_category(), "BPF_PROG_RUN");
    if (static_cast<int>(o.retval) != want)
        throw std::runtime_error(fmt::format("verdict {} where {} was expected", o.retval, want));
    return o.duration;
}

// ns per packet of each program: per frame the minimum over the runs, then
// the mean over the frames. The runs go round the programs, so a slow moment
// of the shared host falls on all of them alike. Every program must drop
// every frame (the policies' deciding rules drop, and so does every stop).
std::vector<double> time_progs(const std::vector<int>& fds,
                               const std::vector<std::vector<uint8_t>>& frames, const Options& o)
{
    std::vector<std::vector<double>> best(
        fds.size(), std::vector<double>(frames.size(), std::numeric_limits<double>::max()));
    for (int r = 0; r < o.runs; r++)
        for (size_t p = 0; p < fds.size(); p++)
            for (size_t f = 0; f < frames.size(); f++)
                best[p][f] = std::min(best[p][f], hot_loop(fds[p], frames[f], o.repeat, XDP_DROP));
    std::vector<double> out;
    for (const auto& b : best) {
        double sum = 0;
        for (double v : b)
            sum += v;
        out.push_back(sum / double(b.size()));
    }
    return out;
}

using NoopSkel = std::unique_ptr<xdpfw_bench_noop, void (*)(xdpfw_bench_noop*)>;

NoopSkel load_noop()
{
    NoopSkel s(xdpfw_bench_noop__open_and_load(), xdpfw_bench_noop__destroy);
    if (!s)
        throw std::system_error(errno, std::generic_category(), "load bench_noop");
    return s;
}

// One object per stop, each with the policy committed, timed side by side
// with the no-op.
Row run_case(const StageCase& c, const Options& o)
{
    LoadOptions lo;
    lo.caps.max_rules = 16384;
    const CompiledPolicy compiled = compile(c.policy, CompileOptions{.caps = lo.caps});
    std::vector<std::unique_ptr<XdpfwObject>> objs;
    std::vector<std::unique_ptr<PolicyMaps>> maps;
    for (uint32_t stop : kStops) {
        lo.stop_after = stop;
        objs.push_back(std::make_unique<XdpfwObject>(XdpfwObject::load(lo)));
        maps.push_back(std::make_unique<PolicyMaps>(*objs.back()));
        maps.back()->commit(compiled, 1);
        maps.back()->wait_settled();
    }
    const NoopSkel noop = load_noop();
    std::vector<int> fds{bpf_program__fd(noop->progs.bench_noop)};
    for (const auto& obj : objs)
        fds.push_back(obj->prog_fd());
    // The specialised tier's program on the full program's maps: what
    // xdpfwd runs, the generated program where the spec has one.
    std::optional<SpecProgram> spec;
    if (compiled.spec) {
        spec.emplace(SpecProgram::load(*objs.back(), *compiled.spec));
        fds.push_back(spec->prog_fd());
    }
    const std::vector<double> ns = time_progs(fds, c.frames, o);
    Row row{c.name, ns[0], {}};
    std::copy(ns.begin() + 1, ns.begin() + 1 + kStops.size(), row.ns.begin());
    if (spec)
        row.spec = ns.back();
    std::fprintf(stderr, "%s: no-op %.1f ns, full program %.1f ns, specialised %.1f ns\n",
                 c.name.c_str(), row.noop, row.ns.back(), row.spec);
    return row;
}

std::string markdown(const std::vector<Row>& rows, const Options& o)
{
    std::string s = fmt::format("BPF_PROG_RUN hot loop, repeat {}, min of {} runs, mean over 8 "
                                "sources.\n\nCumulative ns per packet, program stopped after "
                                "each stage:\n\n| policy | no-op |",
                                o.repeat, o.runs);
    for (const char* n : kStopNames)
        s += fmt::format(" {} |", n);
    s += " specialised tier |\n|---|---|";
    for (size_t i = 0; i <= kStops.size(); i++)
        s += "---|";
    s += "\n";
    for (const Row& r : rows) {
        s += fmt::format("| {} | {:.1f} |", r.name, r.noop);
        for (double v : r.ns)
            s += fmt::format(" {:.1f} |", v);
        s += r.spec < 0 ? std::string(" - |\n") : fmt::format(" {:.1f} |\n", r.spec);
    }
    s += "\nIncrements (ns each stage adds; the first over the no-op):\n\n| stage |";
    for (const Row& r : rows)
        s += fmt::format(" {} |", r.name);
    s += "\n|---|";
    for (size_t i = 0; i < rows.size(); i++)
        s += "---|";
    s += "\n";
    for (size_t i = 0; i < kStops.size(); i++) {
        s += fmt::format("| {} |", kStepNames[i]);
        for (const Row& r : rows)
            s += fmt::format(" {:.1f} |", r.ns[i] - (i ? r.ns[i - 1] : r.noop));
        s += "\n";
    }
    return s;
}

nlohmann::json to_json(const std::vector<Row>& rows, const Options& o)
{
    nlohmann::json j = {{"repeat", o.repeat}, {"runs", o.runs}, {"cpu", o.cpu},
                        {"cases", nlohmann::json::array()}};
    for (const Row& r : rows) {
        nlohmann::json c = {{"name", r.name}, {"noop_ns", r.noop}};
        for (size_t i = 0; i < kStops.size(); i++) {
            c["cumulative_ns"][kStopNames[i]] = r.ns[i];
            c["increment_ns"][kStopNames[i]] = r.ns[i] - (i ? r.ns[i - 1] : r.noop);
        }
        c["specialised_ns"] = r.spec < 0 ? nlohmann::json() : nlohmann::json(r.spec);
        j["cases"].push_back(c);
    }
    return j;
}

void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        throw std::system_error(errno, std::generic_category(), "sched_setaffinity");
}

int run(const Options& o)
{
    pin(o.cpu);
    const std::vector<StageCase> cases = stage_cases();
    std::vector<Row> rows;
    for (const StageCase& c : cases)
        rows.push_back(run_case(c, o));
    const std::string md = markdown(rows, o) + "\n" + single_run_table(o.single_calls);
    std::fputs(md.c_str(), stdout);
    if (!o.out.empty()) {
        std::filesystem::create_directories(o.out);
        std::ofstream(o.out + "/stages.md") << md;
        std::ofstream(o.out + "/stages.json") << to_json(rows, o).dump(2) << "\n";
    }
    return 0;
}

} // namespace
} // namespace xdpfw::bench

int main(int argc, char** argv)
{
    xdpfw::bench::Options o;
    CLI::App app{"xdpfw-stage-bench: per-stage cost of the XDP program (BPF_PROG_RUN hot loop)"};
    app.add_option("--repeat", o.repeat, "BPF_PROG_RUN repeat count per timing")
        ->check(CLI::Range(1u, 100000000u));
    app.add_option("--runs", o.runs, "timings per frame and program; the minimum counts")
        ->check(CLI::Range(1, 1000));
    app.add_option("--cpu", o.cpu, "CPU to run on (default: any)");
    app.add_option("--out", o.out, "directory for stages.md and stages.json");
    app.add_option("--single-calls", o.single_calls,
                   "single BPF_PROG_RUN calls per program for the SYN cookie table")
        ->check(CLI::Range(1, 10000000));
    CLI11_PARSE(app, argc, argv);
    try {
        return xdpfw::bench::run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xdpfw-stage-bench: %s\n", e.what());
        return 1;
    }
}
