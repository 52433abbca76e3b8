// SPDX-License-Identifier: GPL-2.0-only
// A Prometheus-style histogram: fixed upper bounds, observed from any
// thread, read as a consistent snapshot.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

namespace xdpfw::metrics {

struct HistogramSnapshot {
    std::vector<double> bounds;      // upper bounds, increasing, +Inf implied
    std::vector<uint64_t> cumulative; // per bound: observations <= it
    double sum = 0;
    uint64_t count = 0;               // all observations (the +Inf bucket)
};

class Histogram {
public:
    // bounds: finite and strictly increasing; throws std::invalid_argument.
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    HistogramSnapshot snapshot() const;

private:
    mutable std::mutex mu_;
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_; // per bucket, not cumulative; last: above every bound
    double sum_ = 0;
};

} // namespace xdpfw::metrics
