// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's results: one row per case, written as JSON, CSV, a markdown
// table with the target verdicts, and PNG plots drawn by gnuplot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xdpfw::bench {

struct Row {
    std::string name;            // "xdpfw/rules-1000+set-100k"
    std::string dut;             // "xdpfw", "nftables", ...
    std::string path;            // "drop" or "pass"
    size_t rules = 0, set_size = 0;
    std::string status = "ok";   // ok, skipped, error
    std::string note;            // why skipped / what failed
    std::vector<double> trials;  // Mpps per trial (per CPU-second of the generator CPU's work)
    std::vector<double> trials_wall; // the same per wall-clock second
    double mpps = 0, mpps_min = 0, mpps_max = 0; // median, min, max of trials
    double mpps_wall = 0;        // median of trials_wall
    double ns_per_packet = 0;    // 1000 / mpps: CPU time per packet, generator included
    std::optional<double> ratio; // mpps / ceiling's mpps
    std::string ceiling;         // the row the ratio is taken against
    // --paired: the ceiling's Mpps measured right before this row (the
    // ratio's denominator then), and its trials.
    std::optional<double> paired_ceiling_mpps;
    std::vector<double> paired_ceiling_trials;
    double reached = 0;          // lowest fraction of generated frames the DUT counted
    double delivered = 0;        // pass path: lowest fraction a socket received
    uint64_t generated = 0;      // frames sent over all trials
    double setup_seconds = 0;    // installing the policy
    uint64_t sources = 0;        // source addresses the traffic rotated through
    // The installed policy's memory (DutMemory): kernel bytes (BPF maps'
    // memlock or a cgroup's kernel charge) and the RSS of the process that
    // holds it; absent with the reason in *_what where there is none.
    std::optional<uint64_t> kernel_bytes, owner_rss_bytes;
    std::string kernel_what, owner_rss_what;
    bool measured() const { return status == "ok"; }
};

struct RunInfo {
    std::string command;
    std::string started_utc;
    double seconds = 0;
    bool quick = false;
    bool paired = false; // ratios against a ceiling measured right before each row
    int gen_cpu = 0;
    int cpus = 0;
    std::string kernel;
    double load_before = 0, load_after = 0; // 1-minute load average
    int trials = 0;
    double window = 0;
    std::string traffic_src; // the traffic's source range, "198.18.0.0/16"
    uint64_t sources = 0;    // its size
};

// Writes text to path (replacing it); throws std::runtime_error.
void write_text(const std::string& path, const std::string& text);

// The two targets of the issue, computed from the rows of one run.
struct TargetVerdict {
    std::string what, measured, verdict;
};
std::vector<TargetVerdict> evaluate_targets(const std::vector<Row>& rows);

std::string markdown_table(const std::vector<Row>& rows, const RunInfo& info);
// results.json (the rows), run.json (RunInfo), results.csv, results.md, the
// plots' data and scripts and, when gnuplot is installed, the PNGs. Returns
// warnings (gnuplot missing or failing) for the caller to print.
std::vector<std::string> write_reports(const std::vector<Row>& rows, const RunInfo& info,
                                       const std::string& dir);

} // namespace xdpfw::bench
