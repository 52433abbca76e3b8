// SPDX-License-Identifier: GPL-2.0-only
// The Prometheus text exposition format, version 0.0.4: metric families
// with their HELP and TYPE lines, samples with escaped label values, and
// histograms as _bucket/_sum/_count.
#pragma once

#include "lib/metrics/histogram.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xdpfw::metrics {

// name="value" pairs, in the order written.
using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { counter, gauge, histogram };

// A label value as the format quotes it: backslash, double quote and line
// feed escaped (\\, \", \n).
std::string escape_label_value(std::string_view value);
// HELP text: backslash and line feed escaped.
std::string escape_help(std::string_view help);
// A sample value: shortest round-trip decimal, NaN, +Inf or -Inf.
std::string format_value(double value);

// Writes one exposition. Every sample belongs to the family begun last, so a
// family's samples cannot be scattered. Misuse (a bad or repeated name, a
// counter not ending in _total, a sample before any family, a histogram
// sample in another family) throws std::logic_error: the metric names are
// the program's, not the user's.
class Exposition {
public:
    void begin(std::string_view name, MetricType type, std::string_view help);
    void sample(const Labels& labels, uint64_t value);
    void sample(const Labels& labels, double value);
    // A histogram family's series: <name>_bucket{...,le="B"} (cumulative,
    // ending with le="+Inf"), <name>_sum and <name>_count.
    void histogram(const Labels& labels, const HistogramSnapshot& h);

    const std::string& text() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    void line(std::string_view name, const Labels& labels, const std::string& value,
              const std::pair<std::string, std::string>* extra = nullptr);
    void expect(MetricType type) const;

    std::string out_;
    std::string family_;
    MetricType type_ = MetricType::gauge;
    std::set<std::string, std::less<>> seen_;
};

} // namespace xdpfw::metrics
