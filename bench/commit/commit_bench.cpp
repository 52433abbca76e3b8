// SPDX-License-Identifier: GPL-2.0-only
// Control-plane benchmark: commit latency of one rule and time to load a
// 100k-prefix set, end to end through xdpfwd's control socket, and in process
// (compile + PolicyMaps::commit) to separate the transport. docs/BENCHMARKS.md.
#include "bench/commit/targets.hpp"
#include "bench/common/prefix_mix.hpp"
#include "lib/kernel/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <thread>
#include <vector>

#ifndef XDPFW_XDPFWD_PATH
#error "XDPFW_XDPFWD_PATH (the xdpfwd binary) must be defined by the build"
#endif

namespace xdpfw::bench {
namespace {

struct Options {
    std::string daemon = XDPFW_XDPFWD_PATH;
    std::string mode = "all";               // all, daemon, direct
    unsigned samples = 500;                 // add/del pairs per case
    std::vector<unsigned> bg_rules = {10, 1000};
    unsigned bg_set = 10000;                // prefixes in the background set
    std::vector<std::string> kinds = {"ports", "set", "prefix"};
    unsigned set_size = 100000;             // the set.load case
    unsigned set_reps = 5;
    unsigned tier_samples = 30;             // commits timed until the specialised tier is live
    std::string state_root;                 // where the temp dir goes (default: $TMPDIR or /tmp)
    bool direct_state = true;               // in process: save the state file as xdpfwd does
    bool mix_caps = false;                  // in process: tables sized for a 1M-prefix mix
    uint64_t seed = 0x5eed0c0;
};

// ------------------------------------------------------------------ inputs

// Rng, v4_text() and the prefix mix come from bench/common/prefix_mix.hpp
// (the micro benchmark's mix, docs/BENCHMARKS.md).

// n distinct unicast IPv4 prefixes (1.0.0.0-223.255.255.255) of the mix.
std::vector<std::string> random_prefixes(size_t n, uint64_t seed)
{
    Rng rng(seed);
    std::unordered_set<uint64_t> seen;
    std::vector<std::string> out;
    out.reserve(n);
    while (out.size() < n) {
        const V4Pfx p = random_mix_prefix(rng);
        if (seen.insert((uint64_t{p.addr} << 8) | p.len).second)
            out.push_back(v4_text(p.addr, p.len));
    }
    return out;
}

// The background: n rules, one of them `src=@bg action=drop` on the
// background set, the others distinct /32 + UDP port drops (like a list of
// blocked services), all behind the benchmark rule's priority.
json background_policy(unsigned n_rules, const std::vector<std::string>& bg_set,
                       const std::vector<std::string>* big)
{
    Rng rng(0xb9c0 + n_rules);
    json rules = json::array();
    rules.push_back("priority=50 src=@bg action=drop");
    for (unsigned i = 1; i < n_rules; i++) {
        uint32_t a = static_cast<uint32_t>(((1 + rng.below(223)) << 24) | rng.below(1u << 24));
        rules.push_back(fmt::format("priority=100 src={} proto=udp dport={} action=drop",
                                    v4_text(a, 32), 20000 + i));
    }
    json sets = {{"bg", bg_set}};
    if (big) {
        rules.push_back("priority=40 src=@big action=drop");
        sets["big"] = *big;
    }
    return {{"default", "pass"}, {"malformed", "drop"}, {"rules", rules}, {"sets", sets}};
}

// The single rule that is added and deleted, by kind: no address (only the
// scalar tables change), an address set already compiled (the address
// tables are reused), or a new literal prefix (the source address tables
// are rebuilt and written).
std::string rule_of_kind(const std::string& kind)
{
    if (kind == "ports")
        return "priority=5 proto=tcp dport=2222 action=drop";
    if (kind == "set")
        return "priority=5 src=@bg proto=tcp dport=2222 action=drop";
    if (kind == "prefix")
        return "priority=5 src=203.0.113.0/24 proto=tcp dport=2222 action=drop";
    if (kind == "member") // not a rule: set.add and set.del of one prefix of @bg
        return "203.0.113.7/32";
    throw std::invalid_argument("--kinds: '" + kind + "' is not ports, set, prefix or member");
}

// ---------------------------------------------------------------- statistics

struct Summary {
    size_t n = 0;
    double min = 0, median = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// Nearest-rank percentiles (p99 of 500 samples is the 495th smallest).
Summary summarize(std::vector<double> v)
{
    Summary s;
    s.n = v.size();
    if (v.empty())
        return s;
    std::sort(v.begin(), v.end());
    auto rank = [&](double p) {
        size_t r = static_cast<size_t>(std::ceil(p / 100.0 * double(v.size())));
        return v[std::clamp<size_t>(r, 1, v.size()) - 1];
    };
    s.min = v.front();
    s.max = v.back();
    s.median = rank(50);
    s.p90 = rank(90);
    s.p99 = rank(99);
    double sum = 0;
    for (double x : v)
        sum += x;
    s.mean = sum / double(v.size());
    return s;
}

void print_header()
{
    std::printf("| %-44s | %6s | %8s | %8s | %8s | %8s | %8s |\n", "case", "n", "median", "p90",
                "p99", "max", "mean");
    std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(),
                std::string(8, '-').c_str(), std::string(10, '-').c_str(),
                std::string(10, '-').c_str(), std::string(10, '-').c_str(),
                std::string(10, '-').c_str(), std::string(10, '-').c_str());
}

void print_row(const std::string& name, const Summary& s)
{
    std::printf("| %-44s | %6zu | %8.3f | %8.3f | %8.3f | %8.3f | %8.3f |\n", name.c_str(), s.n,
                s.median, s.p90, s.p99, s.max, s.mean);
    std::fflush(stdout);
}

// ------------------------------------------------------------------- cases

struct Results {
    // For the target summary: worst p99 of a single-rule commit (add or
    // del) through the daemon, median set.load.
    double worst_p99 = 0;
    std::string worst_case;
    double set_load_median = -1;
    double tier_p99 = -1; // commit answered -> its specialised program live, ms
};

void rule_cases(Target& target, const char* path, bool direct, const Options& o,
                const std::vector<std::string>& bg_set, Results* res)
{
    uint64_t id = 1;
    for (unsigned n_rules : o.bg_rules) {
        Timings t;
        target.run({{"id", id++},
                    {"cmd", "load"},
                    {"policy", background_policy(n_rules, bg_set, nullptr)}},
                   &t);
        std::printf("\n%s: background %u rules + set of %u prefixes loaded in %.1f ms\n", path,
                    n_rules, o.bg_set, t.total);
        print_header();
        for (const std::string& kind : o.kinds) {
            const std::string text = rule_of_kind(kind);
            std::vector<double> add, del, add_compile, add_commit, del_compile, del_commit;
            // Two untimed pairs: the first commits after a load also write the
            // address tables into the other generation.
            for (unsigned i = 0; i < o.samples + 2; i++) {
                check_interrupted();
                Timings ta, td;
                if (kind == "member") {
                    const json prefixes = json::array({text});
                    json r = target.run({{"id", id++}, {"cmd", "set.add"}, {"name", "bg"},
                                         {"prefixes", prefixes}}, &ta);
                    if (r.at("added").get<unsigned>() != 1)
                        throw std::runtime_error("set.add did not add " + text + ": " + r.dump());
                    target.run({{"id", id++}, {"cmd", "set.del"}, {"name", "bg"},
                                {"prefixes", prefixes}}, &td);
                } else {
                    json r = target.run({{"id", id++}, {"cmd", "rule.add"}, {"rule", text}}, &ta);
                    const uint32_t rule_id = r.at("rule_id").get<uint32_t>();
                    target.run({{"id", id++}, {"cmd", "rule.del"}, {"rule_id", rule_id}}, &td);
                }
                if (i < 2)
                    continue;
                add.push_back(ta.total);
                del.push_back(td.total);
                add_compile.push_back(ta.compile);
                add_commit.push_back(ta.commit);
                del_compile.push_back(td.compile);
                del_commit.push_back(td.commit);
            }
            const std::string base = fmt::format("{}/{}r/{}", path, n_rules, kind);
            const Summary sa = summarize(add), sd = summarize(del);
            const bool member = kind == "member";
            print_row(base + (member ? "/set.add" : "/rule.add"), sa);
            if (direct) {
                print_row("  compile", summarize(add_compile));
                print_row("  PolicyMaps::commit", summarize(add_commit));
            }
            print_row(base + (member ? "/set.del" : "/rule.del"), sd);
            if (direct) {
                print_row("  compile", summarize(del_compile));
                print_row("  PolicyMaps::commit", summarize(del_commit));
            }
            // The target is the single rule's; a set member is reported only.
            if (!direct && !member && std::max(sa.p99, sd.p99) >= res->worst_p99) {
                res->worst_p99 = std::max(sa.p99, sd.p99);
                res->worst_case = base + (sa.p99 >= sd.p99 ? "/rule.add" : "/rule.del");
            }
        }
    }
}

void set_load_case(Target& target, const char* path, bool direct, const Options& o,
                   const std::vector<std::string>& bg_set, Results* res)
{
    const std::vector<std::string> empty;
    Timings t;
    target.run({{"id", 1}, {"cmd", "load"}, {"policy", background_policy(10, bg_set, &empty)}}, &t);
    std::printf("\n%s: set.load of %u prefixes into @big (rule src=@big action=drop; background "
                "10 rules + %u-prefix set)\n",
                path, o.set_size, o.bg_set);
    std::printf("| %-4s | %10s | %12s | %10s | %10s | %10s |\n", "rep", "total ms", "prefixes/s",
                "compile", "map commit", "rest");
    std::printf("|------|------------|--------------|------------|------------|------------|\n");
    std::vector<double> totals, compiles, commits;
    for (unsigned rep = 0; rep < o.set_reps; rep++) {
        check_interrupted();
        // A new set each time: the same contents would be a compile-cache hit.
        json req = {{"id", 100 + rep},
                    {"cmd", "set.load"},
                    {"name", "big"},
                    {"prefixes", random_prefixes(o.set_size, o.seed + 1 + rep)}};
        json r = target.run(req, &t);
        if (r.at("size").get<unsigned>() != o.set_size)
            throw std::runtime_error(fmt::format("set.load: size {} after loading {} prefixes",
                                                 r.at("size").dump(), o.set_size));
        totals.push_back(t.total);
        compiles.push_back(t.compile);
        commits.push_back(t.commit);
        if (direct)
            std::printf("| %-4u | %10.1f | %12.0f | %10.1f | %10.1f | %10.1f |\n", rep + 1, t.total,
                        o.set_size / (t.total / 1000.0), t.compile, t.commit,
                        t.total - t.compile - t.commit);
        else
            std::printf("| %-4u | %10.1f | %12.0f | %10s | %10s | %10s |\n", rep + 1, t.total,
                        o.set_size / (t.total / 1000.0), "-", "-", "-");
        std::fflush(stdout);
    }
    Summary s = summarize(totals);
    if (direct)
        std::printf("| med  | %10.1f | %12.0f | %10.1f | %10.1f | %10.1f |\n", s.median,
                    o.set_size / (s.median / 1000.0), summarize(compiles).median,
                    summarize(commits).median,
                    s.median - summarize(compiles).median - summarize(commits).median);
    else {
        std::printf("| med  | %10.1f | %12.0f | %10s | %10s | %10s |\n", s.median,
                    o.set_size / (s.median / 1000.0), "-", "-", "-");
        res->set_load_median = s.median;
    }
}

std::vector<unsigned> parse_counts(const std::string& flag, const std::string& text)
{
    std::vector<unsigned> out;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, ',');) {
        size_t used = 0;
        unsigned long v = 0;
        try {
            v = std::stoul(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || v == 0 || v > 4000)
            throw std::invalid_argument(flag + ": '" + item +
                                        "' is not a rule count from 1 to 4000");
        out.push_back(unsigned(v));
    }
    if (out.empty())
        throw std::invalid_argument(flag + ": expected a comma-separated list of rule counts");
    return out;
}
// The command line into o; returns an exit code when the run ends here
// (help, a parse error: CLI11's code; a bad list: 64), else nullopt.
std::optional<int> parse_options(int argc, char** argv, Options& o)
{
    const char* tmp = std::getenv("TMPDIR");
    o.state_root = tmp && *tmp ? tmp : "/tmp";
    CLI::App app{"xdpfw_commit_bench: control-plane commit latency and set load time"};
    std::string bg_rules = "10,1000", kinds = "ports,set,prefix";
    app.add_option("--daemon", o.daemon, "xdpfwd binary")->capture_default_str();
    app.add_option("--mode", o.mode, "all, daemon (through xdpfwd) or direct (in process)")
        ->check(CLI::IsMember({"all", "daemon", "direct"}))
        ->capture_default_str();
    app.add_option("--samples", o.samples, "rule.add/rule.del pairs per case")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    app.add_option("--bg-rules", bg_rules, "background rule counts, comma-separated")
        ->capture_default_str();
    app.add_option("--bg-set", o.bg_set, "prefixes in the background set")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    app.add_option("--kinds", kinds, "single-rule kinds: ports, set, prefix; member (set.add/set.del of one prefix of the background set)")->capture_default_str();
    app.add_option("--set-size", o.set_size, "prefixes per set.load")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    app.add_option("--set-reps", o.set_reps, "set.load repetitions (0: skip)")->capture_default_str();
    app.add_option("--tier-samples", o.tier_samples,
                   "commits timed until their specialised program is live (0: skip)")
        ->capture_default_str();
    app.add_option("--state-root", o.state_root,
                   "directory for the temp dir (socket, state files, daemon log)")
        ->capture_default_str();
    app.add_option("--seed", o.seed, "seed of the random sets")->capture_default_str();
    app.add_flag("--mix-caps", o.mix_caps,
                 "tables sized for a million prefixes of the mix (in process, and xdpfwd through "
                 "its config's capacity:), so --bg-set can be up to 1000000");
    bool no_state = false;
    app.add_flag("--no-state-file", no_state,
                 "in process: do not save the state file (xdpfwd always does)");
    try {
        app.parse(argc, argv);
        o.bg_rules = parse_counts("--bg-rules", bg_rules);
        o.direct_state = !no_state;
        o.kinds.clear();
        std::stringstream ss(kinds);
        for (std::string k; std::getline(ss, k, ',');) {
            rule_of_kind(k);
            o.kinds.push_back(k);
        }
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "xdpfw_commit_bench: %s\n", e.what());
        return 64;
    }
    return std::nullopt;
}

// The specialised tier through the daemon (docs/ARCHITECTURE.md, "Tiers"):
// after each one-rule commit on a small policy, the time from the answer to
// `status` naming a new specialised program, not pending (polled every ms).
void tier_case(Target& target, const Options& o, Results* res)
{
    uint64_t id = 1000000;
    Timings t;
    target.run({{"id", id++},
                {"cmd", "load"},
                {"policy", {{"default", "pass"}, {"malformed", "drop"}, {"rules", json::array()}}}},
               &t);
    auto tier = [&] { return target.run({{"id", id++}, {"cmd", "status"}}, &t).at("tier"); };
    std::vector<double> live;
    uint32_t last_prog = 0;
    // From a commit's answer until status names a new specialised program.
    auto wait_swap = [&] {
        const auto t0 = Clock::now();
        while (true) {
            const json tr = tier();
            const uint32_t prog = tr.at("program_id").get<uint32_t>();
            if (!tr.at("pending").get<bool>() && tr.at("live") == "specialised" && prog != last_prog) {
                last_prog = prog;
                return ms_since(t0);
            }
            if (ms_since(t0) > 10000)
                throw std::runtime_error("the specialised tier was not live 10 s after a commit: " +
                                         tr.dump());
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    };
    target.run({{"id", id++}, {"cmd", "rule.add"}, {"rule", "priority=1 proto=tcp dport=22 action=pass"}}, &t);
    wait_swap();
    // One rule added and deleted per sample: the policy stays small (a
    // spec), and both commits change its key.
    for (unsigned i = 0; i < o.tier_samples; i++) {
        check_interrupted();
        const std::string rule =
            fmt::format("priority=5 proto=udp dport={} action=drop", 20000 + i);
        const json r = target.run({{"id", id++}, {"cmd", "rule.add"}, {"rule", rule}}, &t);
        live.push_back(wait_swap());
        target.run({{"id", id++}, {"cmd", "rule.del"}, {"rule_id", r.at("rule_id")}}, &t);
        live.push_back(wait_swap());
    }
    std::printf("\ndaemon: specialised tier after a one-rule commit (%u adds, %u deletes)\n",
                o.tier_samples, o.tier_samples);
    print_header();
    const Summary s = summarize(live);
    print_row("daemon/tier/specialised-live-after-commit", s);
    res->tier_p99 = s.p99;
}

// Both cases through a real xdpfwd; its log goes into any error.
void daemon_cases(const Options& o, const TempDir& dir, const std::vector<std::string>& bg_set,
                  Results* res)
{
    // --mix-caps: the same room for a million prefixes as in process.
    const std::string config =
        o.mix_caps ? fmt::format("capacity:\n  max_v4_chunks: {}\n  max_v4_hosts: {}\n",
                                 kMix1MChunks, kMix1MHostRoutes)
                   : "";
    DaemonProcess d(o.daemon, dir.path(), config);
    std::printf("\nxdpfwd %s: instance %s, veth xdpfwb0 in a private netns, log %s\n",
                o.daemon.c_str(), d.instance().c_str(), d.log().c_str());
    try {
        DaemonTarget t(d.socket());
        rule_cases(t, "daemon", false, o, bg_set, res);
        if (o.set_reps)
            set_load_case(t, "daemon", false, o, bg_set, res);
        if (o.tier_samples)
            tier_case(t, o, res);
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string(e.what()) + "\nxdpfwd log " + d.log() + ":\n" +
                                 d.log_tail());
    }
    int code = d.stop();
    if (code != 0)
        throw std::runtime_error(fmt::format("xdpfwd exited with status {}; log:\n{}", code,
                                             d.log_tail()));
}

void direct_cases(const Options& o, const TempDir& dir, const std::vector<std::string>& bg_set,
                  Results* res)
{
    const std::string state = o.direct_state ? dir.path() + "/direct" : "";
    if (!state.empty())
        std::filesystem::create_directories(state);
    LoadOptions lo;
    if (o.mix_caps) { // room for a million prefixes of the mix (as xdpfw-bench's set-1M)
        lo.caps.max_v4_chunks = kMix1MChunks;
        lo.caps.max_v4_hosts = kMix1MHostRoutes;
    }
    DirectTarget t(state, lo);
    std::printf("\nIn process (execute_line -> PolicyStore -> compile + PolicyMaps::commit), "
                "%s\n",
                state.empty() ? "no state file" : ("state file in " + state).c_str());
    rule_cases(t, "direct", true, o, bg_set, res);
    if (o.set_reps)
        set_load_case(t, "direct", true, o, bg_set, res);
}

void print_targets(const Options& o, const Results& res)
{
    std::printf("\nTargets (reported, not asserted):\n");
    std::printf("  one rule, p99 < 5 ms: worst p99 %.3f ms (%s): %s\n", res.worst_p99,
                res.worst_case.c_str(), res.worst_p99 < 5 ? "met" : "MISSED");
    if (res.tier_p99 >= 0)
        std::printf("  specialised tier live <= 1 s after a commit: p99 %.1f ms: %s\n", res.tier_p99,
                    res.tier_p99 <= 1000 ? "met" : "MISSED");
    if (res.set_load_median >= 0)
        std::printf("  %u prefixes live < 1 s: median %.1f ms: %s\n", o.set_size,
                    res.set_load_median, res.set_load_median < 1000 ? "met" : "MISSED");
}

int run(int argc, char** argv)
{
    Options o;
    if (std::optional<int> code = parse_options(argc, argv, o))
        return *code;
    if (geteuid() != 0) {
        std::fprintf(stderr, "xdpfw_commit_bench: needs root (BPF maps, network namespace)\n");
        return 77;
    }
    init_logging(spdlog::level::warn);
    install_signal_handlers();

    TempDir dir(o.state_root);
    std::printf("xdpfw_commit_bench: samples=%u bg_set=%u set_size=%u set_reps=%u state in %s\n",
                o.samples, o.bg_set, o.set_size, o.set_reps, dir.path().c_str());
    std::printf("Times in ms. add/del cases: %u pairs each, after 2 untimed pairs.\n", o.samples);
    const std::vector<std::string> bg_set = random_prefixes(o.bg_set, o.seed);
    Results res;
    if (o.mode != "direct")
        daemon_cases(o, dir, bg_set, &res);
    if (o.mode != "daemon")
        direct_cases(o, dir, bg_set, &res);
    if (o.mode != "direct")
        print_targets(o, res);
    return 0;
}

} // namespace
} // namespace xdpfw::bench

int main(int argc, char** argv)
{
    try {
        return xdpfw::bench::run(argc, argv);
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "xdpfw_commit_bench: %s\n", e.what());
        return 1;
    }
}
