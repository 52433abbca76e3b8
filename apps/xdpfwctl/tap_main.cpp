// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl-tap: what `xdpfwctl tap` runs (tap_cli.hpp). Loads the socket
// filter for the match words, captures on the interface until --count,
// --duration or SIGINT/SIGTERM, and reports on stderr like tcpdump.
#include "apps/xdpfwctl/tap_cli.hpp"
#include "lib/base/version.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/lang/rule_words.hpp"
#include "lib/model/policy.hpp"
#include "lib/tap/capture.hpp"
#include "lib/tap/filter.hpp"

#include <fmt/format.h>

#include <csignal>
#include <iostream>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void on_stop_signal(int)
{
    stop_requested = 1;
}

void catch_stop_signals()
{
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

int run_tap(const xdpfw::ctl::TapArgs& a)
{
    using namespace xdpfw;
    tap::TapOptions o;
    try {
        o.filter = tap::tap_filter(tap::parse_tap_match(join_rule_words(a.words)));
    } catch (const PolicyError& e) {
        std::cerr << "xdpfwctl: " << e.what() << "\n";
        return 64;
    }
    o.iface = a.iface;
    o.file = a.file;
    o.count = a.count;
    o.duration = a.duration;
    try {
        tap::Tap t = tap::Tap::open(o);
        catch_stop_signals();
        std::cerr << fmt::format("xdpfwctl tap: capturing on {} (socket filter, prog id {}), "
                                 "writing {}\n",
                                 a.iface, t.prog_id(), a.file)
                  << std::flush;
        const tap::TapResult r = t.run([] { return stop_requested != 0; });
        std::cerr << fmt::format("{} frames captured, {} dropped by the socket (queue full)\n",
                                 r.captured, r.socket_drops);
        return 0;
    } catch (const BpfError& e) {
        std::cerr << "xdpfwctl: tap: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "xdpfwctl: tap: " << e.what() << "\n";
        return 1;
    }
}

} // namespace

int main(int argc, char** argv)
{
    xdpfw::ctl::TapArgs a;
    CLI::App app{"xdpfwctl-tap: capture the frames that passed XDP on an interface into a pcap "
                 "file; run by `xdpfwctl tap` (docs/TAP.md)"};
    app.name("xdpfwctl tap");
    app.set_version_flag("--version", xdpfw::build::version_line("xdpfwctl-tap"));
    xdpfw::ctl::add_tap_options(app, a);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 64;
    }
    return run_tap(a);
}
