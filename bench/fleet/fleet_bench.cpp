// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-fleet-bench: the time from `xdpfwctl --etcd ... load` returning to
// the last of 3 nodes having the pushed revision live (its status key says
// so), over N pushes of a one-rule change; median and p99
// (docs/BENCHMARKS.md, "Fleet push"). Root: it builds testing/fleet_lab's
// namespaces and starts a real etcd.
#include "testing/fleet_lab.hpp"
#include "testing/temp_dir.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <iostream>

using namespace xdpfw::test;

int main(int argc, char** argv)
{
    size_t pushes = 100;
    CLI::App app{"xdpfw-fleet-bench: push-to-live latency of a 3-node fleet through etcd"};
    app.add_option("--pushes", pushes, "pushes to time")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        TempDir dir("xdpfw-fbench");
        FleetLab lab(XDPFW_XDPFWD_PATH, 3);
        std::vector<double> ms;
        for (size_t i = 0; i < pushes; ++i) {
            const std::string y = fmt::format(
                "rules:\n  - priority=10 proto=udp dport={} action=drop\n", 10000 + i);
            const int64_t rev = lab.load(dir.write(fmt::format("p{}.yaml", i), y).string());
            const auto t0 = std::chrono::steady_clock::now();
            if (!lab.wait_revision(rev, std::chrono::seconds(30)))
                throw std::runtime_error(fmt::format("push {} (revision {}) not live on all nodes", i, rev));
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ms.begin(), ms.end());
        const auto at = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * double(ms.size())))]; };
        std::cout << fmt::format("pushes={} median_ms={:.1f} p99_ms={:.1f} max_ms={:.1f}\n", ms.size(),
                                 at(0.5), at(0.99), ms.back());
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "xdpfw-fleet-bench: " << e.what() << "\n";
        return 1;
    }
}
