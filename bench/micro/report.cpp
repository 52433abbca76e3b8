// SPDX-License-Identifier: GPL-2.0-only
// The micro benchmark's report: reporters, row times and target ratios.
#include "bench/micro/report.hpp"

#include <unistd.h>

#include <stdexcept>

namespace xdpfw::bench::micro {

void Results::take(const std::vector<benchmark::BenchmarkReporter::Run>& runs)
{
    // With --benchmark_repetitions the median stands for the row.
    for (const auto& r : runs) {
        const std::string& name = r.run_name.function_name;
        if (r.error_occurred)
            ++errors;
        else if (r.run_type == benchmark::BenchmarkReporter::Run::RT_Aggregate &&
                 r.aggregate_name == "median")
            medians[name] = ns[name] = r.GetAdjustedRealTime();
        else if (r.run_type == benchmark::BenchmarkReporter::Run::RT_Iteration &&
                 !medians.count(name))
            ns[name] = r.GetAdjustedRealTime();
    }
}

void Display::note(std::string_view arg)
{
    if (arg.rfind("--benchmark_format=", 0) == 0) {
        format = arg.substr(arg.find('=') + 1);
        if (format != "console" && format != "json")
            throw std::invalid_argument("--benchmark_format=" + format + ": use console or json");
    } else if (arg.rfind("--benchmark_color=", 0) == 0) {
        color = arg.substr(arg.find('=') + 1);
    }
}

std::unique_ptr<benchmark::BenchmarkReporter> Display::make(Results& r) const
{
    if (format == "json")
        return std::make_unique<Capturing<benchmark::JSONReporter>>(r);
    bool colored = color == "auto" ? isatty(STDOUT_FILENO) != 0
                                   : (color == "true" || color == "yes" || color == "1");
    auto opts = colored ? benchmark::ConsoleReporter::OO_ColorTabular
                        : benchmark::ConsoleReporter::OO_Tabular;
    return std::make_unique<Capturing<benchmark::ConsoleReporter>>(r, opts);
}

namespace {

// Prints a ratio, raw and with the no-op floor taken off both sides.
void print_check(FILE* out, const Results& res, const char* what, const std::string& num,
                 const std::string& den, double target)
{
    auto n = res.ns.find(num), d = res.ns.find(den), f = res.ns.find("noop");
    if (n == res.ns.end() || d == res.ns.end()) {
        std::fprintf(out, "  %-34s not run (needs %s and %s)\n", what, num.c_str(), den.c_str());
        return;
    }
    double ratio = n->second / d->second;
    std::fprintf(out, "  %-34s %7.3f  target <= %.2f: %-6s", what, ratio, target,
                 ratio <= target ? "met" : "MISSED");
    if (f != res.ns.end() && d->second > f->second)
        std::fprintf(out, "  (net of the %.0f ns no-op floor: %.3f)", f->second,
                     (n->second - f->second) / (d->second - f->second));
    std::fprintf(out, "\n");
}

} // namespace

void print_checks(FILE* out, const Results& res)
{
    std::fprintf(out, "\nTargets (ratios of kernel-timed ns/packet; the benchmark reports, it "
                      "does not assert):\n");
    print_check(out, res, "set 1M / LPM trie 1M", "xdpfw_set/1000000", "lpm_trie/1000000", 0.2);
    print_check(out, res, "set 1M / set 1k", "xdpfw_set/1000000", "xdpfw_set/1000", 2.0);
    print_check(out, res, "1,000 rules / 1 rule (miss)", "xdpfw_rules/1000/miss",
                "xdpfw_rules/1/miss", 2.0);
    print_check(out, res, "1,000 rules / 1 rule (last rule)", "xdpfw_rules/1000/last",
                "xdpfw_rules/1/last", 2.0);
    std::fflush(out);
}

} // namespace xdpfw::bench::micro
