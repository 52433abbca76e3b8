// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-fleet-bench: the time from `xdpfwctl --etcd ... load` returning to
// the last of 3 nodes having the pushed revision live (its status key says
// so), over N pushes of a one-rule change and M pushes of a change to a
// 1M-prefix set; median and p99 of each (docs/BENCHMARKS.md, "Fleet push").
// Root: it builds testing/fleet_lab's namespaces and starts a real etcd.
#include "testing/fleet_lab.hpp"
#include "testing/temp_dir.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>

using namespace xdpfw::test;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Pushes policy(i) for i < n and prints the push-to-live figures; the
// load's own time (parse, local compile, upload) is printed apart.
void time_pushes(FleetLab& lab, const TempDir& dir, const std::string& label, size_t n,
                 const std::function<std::string(size_t)>& policy)
{
    std::vector<double> live, load;
    for (size_t i = 0; i < n; ++i) {
        const std::string file = dir.write(fmt::format("{}.yaml", label), policy(i)).string();
        const auto begun = Clock::now();
        const int64_t rev = lab.load(file);
        load.push_back(ms_since(begun));
        const auto t0 = Clock::now();
        if (!lab.wait_revision(rev, std::chrono::seconds(120)))
            throw std::runtime_error(fmt::format("{} push {} (revision {}) not live on all nodes",
                                                 label, i, rev));
        live.push_back(ms_since(t0));
        std::cerr << fmt::format("{} {}: load {:.0f} ms, live after {:.0f} ms\n", label, i,
                                 load.back(), live.back());
    }
    std::sort(live.begin(), live.end());
    std::sort(load.begin(), load.end());
    // Nearest rank: the smallest value with at least q of the values at or below it.
    const auto at = [](const std::vector<double>& v, double q) {
        const size_t rank = size_t(std::ceil(q * double(v.size())));
        return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
    };
    std::cout << fmt::format("{}: pushes={} median_ms={:.1f} p99_ms={:.1f} max_ms={:.1f} "
                             "load_median_ms={:.1f}\n",
                             label, live.size(), at(live, 0.5), at(live, 0.99), live.back(),
                             at(load, 0.5));
}

} // namespace

int main(int argc, char** argv)
{
    size_t pushes = 100, big_pushes = 0, big_prefixes = 1000000;
    CLI::App app{"xdpfw-fleet-bench: push-to-live latency of a 3-node fleet through etcd"};
    app.add_option("--pushes", pushes, "one-rule pushes to time")->capture_default_str();
    app.add_option("--big-pushes", big_pushes,
                   "pushes to time of a big set with one prefix changed each time")
        ->capture_default_str();
    app.add_option("--big-prefixes", big_prefixes, "the big set's size")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        TempDir dir("xdpfw-fbench");
        FleetLab lab(XDPFW_XDPFWD_PATH, 3);
        if (pushes)
            time_pushes(lab, dir, "one-rule", pushes, [](size_t i) {
                return fmt::format("rules:\n  - priority=10 proto=udp dport={} action=drop\n",
                                   10000 + i);
            });
        if (big_pushes) {
            // /24s from 20.0.0.0; push i swaps the first one for 200.0.i.0/24.
            std::string tail;
            tail.reserve(big_prefixes * 16);
            for (uint32_t p = 1; p < big_prefixes; ++p)
                tail += fmt::format("{}.{}.{}.0/24\n", 20 + (p >> 16), (p >> 8) & 0xff, p & 0xff);
            time_pushes(lab, dir, "big-set", big_pushes, [&](size_t i) {
                const std::string first = fmt::format("200.{}.{}.0/24\n", (i >> 8) & 0xff, i & 0xff);
                dir.write("big.txt", first + tail);
                return std::string("sets:\n  big:\n    file: big.txt\nrules:\n"
                                   "  - priority=10 proto=udp src=@big action=drop\n");
            });
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "xdpfw-fleet-bench: " << e.what() << "\n";
        return 1;
    }
}
