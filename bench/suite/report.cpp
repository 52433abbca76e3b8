// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's reports (see the header).
#include "bench/suite/report.hpp"

#include "testing/lab_netns.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

namespace xdpfw::bench {

namespace {

const Row* find_row(const std::vector<Row>& rows, const std::string& name)
{
    for (const auto& r : rows)
        if (r.name == name && r.measured())
            return &r;
    return nullptr;
}

nlohmann::json row_json(const Row& r)
{
    nlohmann::json j = {{"case", r.name},           {"dut", r.dut},
                        {"path", r.path},           {"rules", r.rules},
                        {"set_size", r.set_size},   {"status", r.status}};
    if (r.measured()) {
        j["mpps"] = r.mpps;
        j["mpps_min"] = r.mpps_min;
        j["mpps_max"] = r.mpps_max;
        j["ns_per_packet"] = r.ns_per_packet;
        j["ratio"] = r.ratio ? nlohmann::json(*r.ratio) : nlohmann::json();
        j["trials_mpps"] = r.trials;
        j["mpps_wall"] = r.mpps_wall;
        j["trials_mpps_wall"] = r.trials_wall;
        j["reached_fraction"] = r.reached;
        if (r.path != "drop") // the socket's (pass) or the AF_XDP worker's (xsk) share
            j["delivered_fraction"] = r.delivered;
        j["frames_generated"] = r.generated;
    } else {
        for (const char* k : {"mpps", "mpps_min", "mpps_max", "ns_per_packet", "ratio"})
            j[k] = nullptr;
    }
    j["ceiling"] = r.ceiling;
    j["paired_ceiling_mpps"] =
        r.paired_ceiling_mpps ? nlohmann::json(*r.paired_ceiling_mpps) : nlohmann::json();
    j["paired_ceiling_trials_mpps"] = r.paired_ceiling_trials;
    j["setup_seconds"] = r.setup_seconds;
    j["sources"] = r.sources;
    auto bytes = [](const std::optional<uint64_t>& b) { return b ? nlohmann::json(*b) : nlohmann::json(); };
    j["kernel_bytes"] = bytes(r.kernel_bytes);
    j["kernel_bytes_what"] = r.kernel_what;
    j["owner_rss_bytes"] = bytes(r.owner_rss_bytes);
    j["owner_rss_what"] = r.owner_rss_what;
    j["note"] = r.note;
    return j;
}

// "18.8 MiB", "412 KiB"; "n/a" when absent.
std::string fmt_bytes(const std::optional<uint64_t>& b)
{
    if (!b)
        return "n/a";
    const double v = static_cast<double>(*b);
    if (v >= 1024.0 * 1024 * 1024)
        return fmt::format("{:.2f} GiB", v / (1024.0 * 1024 * 1024));
    if (v >= 1024.0 * 1024)
        return fmt::format("{:.1f} MiB", v / (1024.0 * 1024));
    return fmt::format("{:.0f} KiB", v / 1024.0);
}

std::string opt_number(const std::optional<uint64_t>& b)
{
    return b ? std::to_string(*b) : std::string();
}

std::string csv_field(const std::string& s)
{
    if (s.find_first_of(",\"\n") == std::string::npos)
        return s;
    std::string out = "\"";
    for (char c : s)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string fmt_ratio(const std::optional<double>& r)
{
    return r ? fmt::format("{:.2f}x", *r) : "-";
}

// "<dut>/<kind>-<n>" rows of one DUT family, for the plots.
struct Point {
    double x, y;
};
std::map<std::string, std::vector<Point>> series(const std::vector<Row>& rows, const std::string& kind)
{
    std::map<std::string, std::vector<Point>> out;
    for (const auto& r : rows) {
        if (!r.measured() || r.path != "drop")
            continue;
        const bool rules = kind == "rules";
        if (rules ? (r.set_size != 0 || r.rules == 0) : (r.set_size == 0 || r.rules != 1))
            continue;
        out[r.dut].push_back({static_cast<double>(rules ? r.rules : r.set_size),
                              rules ? r.mpps : r.ns_per_packet});
    }
    return out;
}

// The same colour for a DUT in every plot.
const char* dut_color(const std::string& dut)
{
    static const std::map<std::string, const char*> colors = {
        {"xdpfw", "#1f77b4"}, {"nftables", "#d62728"}, {"iptables", "#ff7f0e"},
        {"xdp-filter", "#2ca02c"}};
    const auto it = colors.find(dut);
    return it == colors.end() ? "#9467bd" : it->second;
}

std::string plot_script(const std::string& dir, const std::string& png, const std::string& title,
                        const std::string& xlabel, const std::string& ylabel,
                        const std::map<std::string, std::vector<Point>>& s,
                        const std::optional<double>& hline, const std::string& hline_title)
{
    std::string gp = fmt::format(
        "set terminal png size 900,560\nset output '{}/{}'\nset title '{}'\n"
        "set xlabel '{}'\nset ylabel '{}'\nset logscale x\nset grid\nset key outside right\n"
        "set yrange [0:*]\n",
        dir, png, title, xlabel, ylabel);
    std::vector<std::string> plots;
    for (const auto& [dut, pts] : s) {
        const std::string dat = fmt::format("{}/{}-{}.dat", dir, png.substr(0, png.size() - 4), dut);
        std::string data;
        for (const auto& p : pts)
            data += fmt::format("{} {}\n", p.x, p.y);
        write_text(dat, data);
        plots.push_back(fmt::format("'{}' using 1:2 with linespoints lw 2 lc rgb '{}' title '{}'",
                                    dat, dut_color(dut), dut));
    }
    if (hline)
        plots.push_back(fmt::format("{} with lines dt 2 lw 2 lc rgb '#808080' title '{}'", *hline,
                                    hline_title));
    gp += "plot ";
    for (size_t i = 0; i < plots.size(); ++i)
        gp += (i ? ", \\\n     " : "") + plots[i];
    return gp + "\n";
}

} // namespace

void write_text(const std::string& path, const std::string& text)
{
    std::ofstream f(path, std::ios::trunc);
    f << text;
    f.close();
    if (!f)
        throw std::runtime_error("cannot write " + path);
}

std::vector<TargetVerdict> evaluate_targets(const std::vector<Row>& rows)
{
    std::vector<TargetVerdict> out;
    const Row* x = find_row(rows, "xdpfw/rules-1000+set-100k");
    const Row* n = find_row(rows, "nftables/rules-1000+set-100k");
    TargetVerdict t1{"xdpfw/rules-1000+set-100k >= 0.8x xdp-noop-drop", "not measured", "-"};
    if (x && x->ratio) {
        t1.measured = fmt::format("{:.2f}x ({:.3f} of {:.3f} Mpps)", *x->ratio, x->mpps,
                                  x->mpps / *x->ratio);
        t1.verdict = *x->ratio >= 0.8
                         ? "met"
                         : fmt::format("missed by {:.2f}x (needs {:.0f}% more throughput)",
                                       0.8 - *x->ratio, (0.8 / *x->ratio - 1) * 100);
    }
    out.push_back(t1);
    TargetVerdict t2{"xdpfw/rules-1000+set-100k >= 5x nftables/rules-1000+set-100k",
                     "not measured", "-"};
    if (x && n && n->mpps > 0) {
        const double k = x->mpps / n->mpps;
        t2.measured = fmt::format("{:.2f}x ({:.3f} vs {:.3f} Mpps)", k, x->mpps, n->mpps);
        t2.verdict = k >= 5 ? "met"
                            : fmt::format("missed by {:.2f}x (needs {:.0f}% more)", 5 - k,
                                          (5 / k - 1) * 100);
    }
    out.push_back(t2);
    return out;
}

std::string markdown_table(const std::vector<Row>& rows, const RunInfo& info)
{
    std::string md = fmt::format(
        "| case | Mpps (median) | min - max | ns/packet | ratio | wall Mpps | DUT counted | setup s "
        "| kernel mem | owner RSS | note |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (const auto& r : rows) {
        if (!r.measured()) {
            md += fmt::format("| {} | {} | | | | | | | | | {} |\n", r.name, r.status, r.note);
            continue;
        }
        std::string counted = fmt::format("{:.1f}%", r.reached * 100);
        if (r.path != "drop")
            counted += fmt::format(", {} {:.1f}%", r.path == "xsk" ? "worker" : "socket",
                                   r.delivered * 100);
        md += fmt::format(
            "| {} | {:.3f} | {:.3f} - {:.3f} | {:.0f} | {} | {:.3f} | {} | {:.2f} | {} | {} | {} |\n",
            r.name, r.mpps, r.mpps_min, r.mpps_max, r.ns_per_packet, fmt_ratio(r.ratio), r.mpps_wall,
            counted, r.setup_seconds, fmt_bytes(r.kernel_bytes), fmt_bytes(r.owner_rss_bytes), r.note);
    }
    md += "\n| target | measured | verdict |\n| --- | --- | --- |\n";
    for (const auto& t : evaluate_targets(rows))
        md += fmt::format("| {} | {} | {} |\n", t.what, t.measured, t.verdict);
    md += fmt::format("\nMpps per CPU-second of the generator CPU's work (sender thread and its "
                      "ksoftirqd); wall Mpps per wall-clock second. Traffic from {} source "
                      "addresses ({}). kernel mem: xdpfw, the no-op and xdp-filter the memlock of "
                      "their programs' maps, nftables and iptables what their tools left charged "
                      "to a memory cgroup; owner RSS: the process holding the policy (n/a: none "
                      "does).\n",
                      info.sources, info.traffic_src);
    md += fmt::format("\n{} trials of {:.2f} s per case, generator and DUT on CPU {} of {}, "
                      "kernel {}, load average {:.2f} before / {:.2f} after, {:.0f} s in all.\n",
                      info.trials, info.window, info.gen_cpu, info.cpus, info.kernel,
                      info.load_before, info.load_after, info.seconds);
    if (info.paired)
        md += "Ratios (--paired): each against its ceiling measured right before its row "
              "(results.json: paired_ceiling_mpps); the ceiling rows are their own runs.\n";
    return md;
}

std::vector<std::string> write_reports(const std::vector<Row>& rows, const RunInfo& info,
                                       const std::string& dir)
{
    std::filesystem::create_directories(dir);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : rows)
        list.push_back(row_json(r));
    write_text(dir + "/results.json", list.dump(2) + "\n");

    nlohmann::json run = {{"command", info.command},   {"started_utc", info.started_utc},
                          {"seconds", info.seconds},   {"quick", info.quick}, {"paired", info.paired},
                          {"gen_cpu", info.gen_cpu},   {"cpus", info.cpus},
                          {"kernel", info.kernel},     {"load_before", info.load_before},
                          {"load_after", info.load_after}, {"trials", info.trials},
                          {"window_seconds", info.window}, {"traffic_src", info.traffic_src},
                          {"sources", info.sources}};
    nlohmann::json targets = nlohmann::json::array();
    for (const auto& t : evaluate_targets(rows))
        targets.push_back({{"target", t.what}, {"measured", t.measured}, {"verdict", t.verdict}});
    run["targets"] = targets;
    write_text(dir + "/run.json", run.dump(2) + "\n");

    std::string csv = "case,dut,path,rules,set_size,status,mpps,mpps_min,mpps_max,ns_per_packet,"
                      "ratio,ceiling,reached_fraction,delivered_fraction,setup_seconds,sources,"
                      "kernel_bytes,owner_rss_bytes,note\n";
    for (const auto& r : rows) {
        csv += fmt::format("{},{},{},{},{},{},", csv_field(r.name), r.dut, r.path, r.rules,
                           r.set_size, r.status);
        if (r.measured())
            csv += fmt::format("{:.4f},{:.4f},{:.4f},{:.1f},{},{},{:.4f},{},", r.mpps, r.mpps_min,
                               r.mpps_max, r.ns_per_packet,
                               r.ratio ? fmt::format("{:.4f}", *r.ratio) : "", r.ceiling,
                               r.reached, r.path != "drop" ? fmt::format("{:.4f}", r.delivered) : "");
        else
            csv += ",,,,,,,,";
        csv += fmt::format("{:.3f},{},{},{},{}\n", r.setup_seconds, r.sources,
                           opt_number(r.kernel_bytes), opt_number(r.owner_rss_bytes),
                           csv_field(r.note));
    }
    write_text(dir + "/results.csv", csv);
    write_text(dir + "/results.md", markdown_table(rows, info));

    std::vector<std::string> warnings;
    std::optional<double> ceiling;
    if (const Row* c = find_row(rows, "xdp-noop-drop"))
        ceiling = c->mpps;
    struct Plot {
        std::string png, title, xlabel, ylabel, kind;
        std::optional<double> hline;
        std::string hline_title;
    };
    const std::optional<double> ceiling_ns =
        ceiling ? std::optional<double>(1000.0 / *ceiling) : std::nullopt;
    const Plot plots[] = {
        {"mpps_vs_rules.png", "Drop rate vs rules (one CPU, veth, 60-byte UDP)", "rules",
         "Mpps", "rules", ceiling, "xdp-noop-drop"},
        {"ns_vs_set.png", "ns per packet vs prefix set size (one CPU, veth)", "prefixes in the set",
         "ns per packet (generator included)", "set", ceiling_ns, "xdp-noop-drop"},
    };
    const bool have_gnuplot = lab::run("command -v gnuplot >/dev/null").ok();
    if (!have_gnuplot)
        warnings.push_back("gnuplot is not installed (Debian package gnuplot-nox): no PNG plots");
    for (const auto& p : plots) {
        const auto s = series(rows, p.kind);
        if (s.empty())
            continue;
        const std::string gp_path = dir + "/" + p.png.substr(0, p.png.size() - 4) + ".gp";
        write_text(gp_path, plot_script(dir, p.png, p.title, p.xlabel, p.ylabel, s, p.hline,
                                        p.hline_title));
        if (have_gnuplot) {
            const auto r = lab::run("gnuplot " + gp_path);
            if (!r.ok())
                warnings.push_back("gnuplot " + gp_path + " failed: " + r.output);
        }
    }
    return warnings;
}

} // namespace xdpfw::bench
