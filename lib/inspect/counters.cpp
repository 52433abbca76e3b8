// SPDX-License-Identifier: GPL-2.0-only
// Counter snapshots and sums.
#include "lib/inspect/counters.hpp"

#include <numeric>

namespace xdpfw::inspect {

namespace {

template <typename T, size_t N>
void add_array(std::array<T, N>& a, const std::array<T, N>& b)
{
    for (size_t i = 0; i < N; ++i)
        a[i] += b[i];
}

template <size_t N>
std::array<uint64_t, N> read_array(const std::array<Counter, N>& a)
{
    std::array<uint64_t, N> out{};
    for (size_t i = 0; i < N; ++i)
        out[i] = a[i].get();
    return out;
}

} // namespace

const char* outcome_name(Outcome o)
{
    switch (o) {
    case Outcome::rule: return "rule";
    case Outcome::no_match: return "no_match";
    case Outcome::malformed_frame: return "malformed_frame";
    case Outcome::count: break;
    }
    return "unknown";
}

InspectStats& InspectStats::operator+=(const InspectStats& o)
{
    packets += o.packets;
    bytes += o.bytes;
    no_payload += o.no_payload;
    dns_queries += o.dns_queries;
    add_array(verdicts, o.verdicts);
    add_array(outcomes, o.outcomes);
    add_array(frame_malformed, o.frame_malformed);
    add_array(dns_malformed, o.dns_malformed);
    for (auto [id, n] : o.rule_hits)
        rule_hits[id] += n;
    return *this;
}

uint64_t InspectStats::dns_malformed_total() const
{
    return std::accumulate(dns_malformed.begin(), dns_malformed.end(), uint64_t{0});
}

uint64_t InspectStats::frame_malformed_total() const
{
    return std::accumulate(frame_malformed.begin(), frame_malformed.end(), uint64_t{0});
}

InspectStats InspectCounters::snapshot() const
{
    InspectStats s;
    s.packets = packets_.get();
    s.bytes = bytes_.get();
    s.no_payload = no_payload_.get();
    s.dns_queries = dns_queries_.get();
    s.verdicts = read_array(verdicts_);
    s.outcomes = read_array(outcomes_);
    s.frame_malformed = read_array(frame_malformed_);
    s.dns_malformed = read_array(dns_malformed_);
    for (uint32_t id = 0; id < max_rules; ++id)
        if (uint64_t n = rule_hits_[id].get())
            s.rule_hits[id] = n;
    return s;
}

} // namespace xdpfw::inspect
