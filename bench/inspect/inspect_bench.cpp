// SPDX-License-Identifier: GPL-2.0-only
// Throughput of the AF_XDP payload inspector (lib/inspect) on one core:
// 100 anywhere-patterns (Hyperscan), 10 fixed-offset patterns and 20 DNS
// rules, over pools of prebuilt frames with 64- and 512-byte payloads.
// No privileges needed; items_per_second is packets/s. docs/BENCHMARKS.md.
#include "lib/lang/inspect_rules.hpp"
#include "lib/inspect/dns.hpp"
#include "lib/inspect/inspect.hpp"
#include "testing/packet_builder.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace xdpfw::bench {
namespace {

constexpr size_t kPool = 1024;  // distinct frames per case
constexpr int kPatterns = 100;
constexpr int kFixed = 10;
constexpr int kDnsRules = 20;

// splitmix64: the same frames and patterns on every platform.
struct Rng {
    uint64_t s;
    uint64_t next()
    {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
};

std::string hex_of(const std::string& bytes)
{
    static constexpr char d[] = "0123456789abcdef";
    std::string h;
    for (unsigned char c : bytes) {
        h += d[c >> 4];
        h += d[c & 15];
    }
    return h;
}

std::string random_bytes(Rng& rng, size_t n)
{
    std::string s(n, '\0');
    for (char& c : s)
        c = static_cast<char>(rng.next());
    return s;
}

// The benchmark's rule set: the same for every case.
std::shared_ptr<const inspect::RuleSet> bench_rules()
{
    Rng rng{1};
    InspectPolicy p;
    uint32_t id = 0;
    auto add = [&](const std::string& text) {
        inspect::InspectRule r = parse_inspect_rule(text, "bench rule");
        r.id = ++id;
        p.rules.push_back(r);
    };
    for (int i = 0; i < kPatterns; ++i)
        add("priority=" + std::to_string(100 + i) + " pattern=hex:" +
            hex_of(random_bytes(rng, 6 + rng.below(10))) + " action=drop");
    for (int i = 0; i < kFixed; ++i)
        add("priority=" + std::to_string(50 + i) + " pattern=hex:" + hex_of(random_bytes(rng, 4)) +
            " offset=" + std::to_string(rng.below(32)) + " action=drop");
    for (int i = 0; i < kDnsRules; ++i)
        add("priority=" + std::to_string(10 + i) + (i % 2 ? " dns_suffix=" : " dns_name=") +
            "blocked" + std::to_string(i) + ".example action=drop");
    return compile_inspect_policy(p);
}

std::vector<uint8_t> udp_frame(uint16_t dport, const std::string& payload)
{
    FrameSpec spec;
    spec.family = Family::ipv4;
    spec.src = {198, 51, 100, 1};
    spec.dst = {203, 0, 113, 1};
    spec.proto = 17;
    spec.dport = dport;
    spec.payload_len = payload.size();
    std::vector<uint8_t> f = build_frame(spec);
    std::copy(payload.begin(), payload.end(), f.end() - static_cast<std::ptrdiff_t>(payload.size()));
    return f;
}

// A DNS query for name, padded with an additional-section-like tail to size.
std::string dns_payload(const std::string& name, size_t size)
{
    std::string m = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    m += inspect::dns_name_to_wire(name);
    m += std::string("\x00\x01\x00\x01", 4);
    if (m.size() < size)
        m.resize(size, '\0');
    return m;
}

enum Mix { miss = 0, dns = 1 };

// miss: random payloads no rule matches (full Hyperscan scan, all offsets
// checked). dns: queries to port 53, a quarter of them for a blocked name.
void BM_inspect(benchmark::State& state)
{
    const auto payload = static_cast<size_t>(state.range(0));
    const auto mix = static_cast<Mix>(state.range(1));
    auto set = bench_rules();
    Rng rng{42};
    std::vector<std::vector<uint8_t>> frames;
    for (size_t i = 0; i < kPool; ++i) {
        if (mix == miss) {
            frames.push_back(udp_frame(9999, random_bytes(rng, payload)));
        } else {
            std::string name = i % 4 == 0 ? "www.blocked" + std::to_string(2 * rng.below(kDnsRules / 2) + 1) +
                                                ".example"
                                          : "host" + std::to_string(i) + ".allowed.example";
            frames.push_back(udp_frame(53, dns_payload(name, payload)));
        }
    }
    inspect::Inspector insp(set);
    // The expected verdicts, checked once so the benchmark cannot silently
    // measure a broken matcher.
    for (size_t i = 0; i < frames.size(); ++i) {
        bool want_drop = mix == dns && i % 4 == 0;
        if ((insp.inspect(frames[i]).outcome == inspect::Outcome::rule) != want_drop)
            throw std::runtime_error("inspect_bench: unexpected verdict for frame " + std::to_string(i));
    }
    size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(insp.inspect(frames[i]));
        i = (i + 1) % kPool;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frames[0].size()));
}

BENCHMARK(BM_inspect)
    ->ArgNames({"payload", "dns"})
    ->Args({64, miss})
    ->Args({512, miss})
    ->Args({64, dns})
    ->Args({512, dns});

// Rule-set compile time (what a rule change costs before the swap).
void BM_compile(benchmark::State& state)
{
    for (auto _ : state)
        benchmark::DoNotOptimize(bench_rules());
}
BENCHMARK(BM_compile)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace xdpfw::bench

BENCHMARK_MAIN();
