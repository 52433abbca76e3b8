// SPDX-License-Identifier: GPL-2.0-only
// Histogram: bucket counts under a mutex (observed once per commit, read
// once per scrape: no contention worth lock-free counters).
#include "lib/metrics/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace xdpfw::metrics {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds))
{
    for (size_t i = 0; i < bounds_.size(); ++i)
        if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
            throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
    counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double value)
{
    // Bucket i counts bounds_[i-1] < value <= bounds_[i] (Prometheus' le).
    const auto at = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    const size_t i = size_t(at - bounds_.begin());
    std::lock_guard lock(mu_);
    ++counts_[i];
    sum_ += value;
}

HistogramSnapshot Histogram::snapshot() const
{
    HistogramSnapshot s;
    s.bounds = bounds_;
    std::lock_guard lock(mu_);
    uint64_t running = 0;
    for (size_t i = 0; i < bounds_.size(); ++i)
        s.cumulative.push_back(running += counts_[i]);
    s.count = running + counts_.back();
    s.sum = sum_;
    return s;
}

} // namespace xdpfw::metrics
