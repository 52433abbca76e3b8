// SPDX-License-Identifier: GPL-2.0-only
// The micro benchmark's report: the display reporter its flags ask for, the
// per-packet time of every row and the target ratios printed after the run.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace xdpfw::bench::micro {

// The per-packet time of every row, for the checks, and the error count.
struct Results {
    std::map<std::string, double> ns, medians;
    int errors = 0;

    void take(const std::vector<benchmark::BenchmarkReporter::Run>& runs);
};

// One of Google Benchmark's reporters, also feeding Results.
template <typename Base> class Capturing : public Base {
public:
    template <typename... Args>
    explicit Capturing(Results& r, Args... args) : Base(args...), results_(r)
    {
    }
    void ReportRuns(const std::vector<typename Base::Run>& runs) override
    {
        results_.take(runs);
        Base::ReportRuns(runs);
    }

private:
    Results& results_;
};

// The display reporter the --benchmark_format and --benchmark_color flags
// ask for (a custom display reporter bypasses Google Benchmark's own choice;
// the deprecated csv format is not offered).
struct Display {
    std::string format = "console";
    std::string color = "auto";

    // Throws on a format this program does not offer.
    void note(std::string_view arg);
    std::unique_ptr<benchmark::BenchmarkReporter> make(Results& r) const;
};

// The target ratios (set 1M / LPM trie 1M, ...), raw and net of the no-op
// floor; reported, not asserted.
void print_checks(FILE* out, const Results& res);

} // namespace xdpfw::bench::micro
