// SPDX-License-Identifier: GPL-2.0-only
// `xdpfwctl tap`'s options and the hand-over to xdpfwctl-tap (tap_cli.hpp).
#include "apps/xdpfwctl/tap_cli.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace xdpfw::ctl {

void add_tap_options(CLI::App& app, TapArgs& a)
{
    app.add_option("-w,--write", a.file, "pcap file to write ('-': standard output)")
        ->required()
        ->type_name("FILE");
    app.add_option("-i,--interface", a.iface, "interface whose XDP-passed frames to capture")
        ->required()
        ->type_name("IFACE");
    app.add_option("--count", a.count, "stop after this many frames")->check(CLI::PositiveNumber);
    app.add_option("--duration", a.duration, "stop after this many seconds")
        ->type_name("SECONDS")
        ->check(CLI::PositiveNumber);
    app.add_option("words", a.words,
                   "match words of a rule (docs/RULES.md), e.g. src=198.51.100.0/24 proto=tcp "
                   "dport=443; none: every frame");
}

std::vector<std::string> tap_helper_args(const TapArgs& a)
{
    std::vector<std::string> args = {"-w", a.file, "-i", a.iface};
    if (a.count) {
        args.push_back("--count");
        args.push_back(std::to_string(a.count));
    }
    if (a.duration > 0) {
        std::ostringstream d;
        d.precision(17);
        d << a.duration;
        args.push_back("--duration");
        args.push_back(d.str());
    }
    args.push_back("--");
    args.insert(args.end(), a.words.begin(), a.words.end());
    return args;
}

int exec_tap_helper(const TapArgs& a, std::ostream& err)
{
    // Next to this program: build/bin in the build tree, the install's bin.
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
        err << "xdpfwctl: tap: cannot find this program's path: " << ec.message() << "\n";
        return 1;
    }
    const std::string helper = (self.parent_path() / tap_helper_name).string();
    std::vector<std::string> args = tap_helper_args(a);
    args.insert(args.begin(), helper);
    std::vector<char*> argv;
    for (std::string& s : args)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execv(helper.c_str(), argv.data());
    err << "xdpfwctl: tap: run " << helper << ": " << std::strerror(errno) << "\n";
    return 1;
}

} // namespace xdpfw::ctl
