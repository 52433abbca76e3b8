// SPDX-License-Identifier: GPL-2.0-only
// Inspection counters: one InspectCounters per worker thread, written only by
// that thread, read by any thread (the exporter) and summed into InspectStats.
#pragma once

#include "lib/inspect/dns.hpp"
#include "lib/inspect/frame.hpp"
#include "lib/model/inspect_rule.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <map>

namespace xdpfw::inspect {

// A counter with one writer thread and any number of reader threads. The
// writer does a relaxed load and store (a plain add on x86, no locked
// instruction, no lost updates since it is the only writer); readers do a
// relaxed load and never see a torn value.
class Counter {
public:
    void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

// Why a packet got its verdict.
enum class Outcome : uint8_t {
    rule = 0,        // a rule matched: its action
    no_match,        // no rule matched: RuleSetOptions::default_verdict
    malformed_frame, // parse_frame() refused the frame: RuleSetOptions::malformed_verdict
    count
};

const char* outcome_name(Outcome o); // "rule", "no_match", "malformed_frame"

// A plain snapshot; add several workers' snapshots with +=.
struct InspectStats {
    uint64_t packets = 0;
    uint64_t bytes = 0; // frame bytes
    std::array<uint64_t, 2> verdicts{}; // indexed by Verdict
    std::array<uint64_t, static_cast<size_t>(Outcome::count)> outcomes{};
    // Frames parse_frame() refused, by layer (index FrameError; none stays 0).
    std::array<uint64_t, static_cast<size_t>(FrameError::count)> frame_malformed{};
    uint64_t no_payload = 0;  // parsed, but no TCP/UDP payload view (non-IP, other
                              // protocol, non-first fragment): only the default verdict applies
    uint64_t dns_queries = 0; // UDP to port 53 whose first question parsed
    // UDP to port 53 that did not parse, by reason (index DnsStatus; ok stays 0).
    std::array<uint64_t, static_cast<size_t>(DnsStatus::count)> dns_malformed{};
    std::map<uint32_t, uint64_t> rule_hits; // rule id -> packets it decided (non-zero only)

    InspectStats& operator+=(const InspectStats& o);
    uint64_t dns_malformed_total() const;
    uint64_t frame_malformed_total() const;
};

class InspectCounters {
public:
    // Reader side: any thread, any time.
    InspectStats snapshot() const;

    // Writer side: the owning worker only (Inspector does this).
    void count_packet(size_t frame_bytes, Verdict v, Outcome o)
    {
        packets_.add();
        bytes_.add(frame_bytes);
        verdicts_[static_cast<size_t>(v)].add();
        outcomes_[static_cast<size_t>(o)].add();
    }
    void count_frame_malformed(FrameError e) { frame_malformed_[static_cast<size_t>(e)].add(); }
    void count_no_payload() { no_payload_.add(); }
    void count_dns(DnsStatus s)
    {
        if (s == DnsStatus::ok)
            dns_queries_.add();
        else
            dns_malformed_[static_cast<size_t>(s)].add();
    }
    // id < max_rules (RuleSet::compile guarantees it).
    void count_rule(uint32_t id) { rule_hits_[id].add(); }

private:
    // Rule hits are indexed by rule id, so they carry over when a worker
    // switches to a new rule set that keeps a rule's id.
    alignas(64) std::array<Counter, max_rules> rule_hits_{};
    Counter packets_, bytes_, no_payload_, dns_queries_;
    std::array<Counter, 2> verdicts_{};
    std::array<Counter, static_cast<size_t>(Outcome::count)> outcomes_{};
    std::array<Counter, static_cast<size_t>(FrameError::count)> frame_malformed_{};
    std::array<Counter, static_cast<size_t>(DnsStatus::count)> dns_malformed_{};
};

} // namespace xdpfw::inspect
