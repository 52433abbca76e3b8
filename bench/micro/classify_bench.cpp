// SPDX-License-Identifier: GPL-2.0-only
// Micro benchmark of per-packet classification cost: xdpfw with growing sets
// and rule counts beside the kernel LPM trie and a no-op program, each frame
// timed by the kernel (BPF_PROG_RUN duration); plus compile and commit time
// of a large set. Method, prefix mix and results: docs/BENCHMARKS.md.
#include "bench/common/prefix_mix.hpp"
#include "lib/compiler/compiler.hpp"
#include "lib/model/policy.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/kernel/loader.hpp"
#include "testing/packet_builder.hpp"
#include "lib/kernel/policy_maps.hpp"

#include "xdpfw_bench_lpm.skel.h"
#include "xdpfw_bench_noop.skel.h"

#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <endian.h>
#include <fmt/format.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace xdpfw::bench {
namespace {

// Distinct frames per case (--pool). The default is far more than the branch
// predictor and the caches hold for the random cases, so no case gets
// cheaper by replaying a short pattern; --pool=1 shows the cache-hot cost.
size_t g_pool = 8192;

constexpr uint32_t kSetSizes[] = {1000, 10000, 100000, 1000000};
constexpr uint32_t kRuleCounts[] = {1, 10, 100, 1000, 10000};

// Per-packet rows run this many frames (--packets); compile and commit rows
// run kSetupIterations times.
uint64_t g_packets = 300000;
constexpr uint64_t kSetupIterations = 3;

// Rng, V4Pfx, random_unicast() and the prefix mix (random_mix_prefix()) come
// from bench/common/prefix_mix.hpp, shared with the other benchmarks.

uint64_t pfx_key(uint32_t addr, unsigned len) { return (uint64_t{addr} << 8) | len; }

// The prefix stream every set is cut from: set N is the first N distinct
// prefixes, so the smaller sets are subsets of the larger ones.
class PrefixStream {
public:
    const std::vector<V4Pfx>& first(size_t n)
    {
        while (all_.size() < n) {
            const V4Pfx p = random_mix_prefix(rng_);
            if (seen_.insert(pfx_key(p.addr, p.len)).second)
                all_.push_back(p);
        }
        return all_;
    }

private:
    Rng rng_{0x5eed0001};
    std::vector<V4Pfx> all_;
    std::unordered_set<uint64_t> seen_;
};

PrefixStream& prefix_stream()
{
    static PrefixStream s;
    return s;
}

Prefix to_prefix(uint32_t addr, uint8_t len)
{
    Prefix p;
    p.family = Family::ipv4;
    p.len = len;
    p.addr[0] = static_cast<uint8_t>(addr >> 24);
    p.addr[1] = static_cast<uint8_t>(addr >> 16);
    p.addr[2] = static_cast<uint8_t>(addr >> 8);
    p.addr[3] = static_cast<uint8_t>(addr);
    return p;
}

// Policy: src=@big action=drop, default pass; big = the first n prefixes.
const Policy& set_policy(uint32_t n)
{
    static std::map<uint32_t, Policy> cache;
    auto it = cache.find(n);
    if (it != cache.end())
        return it->second;
    const auto& all = prefix_stream().first(n);
    PrefixSet set;
    set.prefixes.reserve(n);
    for (size_t i = 0; i < n; i++)
        set.prefixes.push_back(to_prefix(all[i].addr, all[i].len));
    std::sort(set.prefixes.begin(), set.prefixes.end());

    Policy p;
    p.default_action = ActionType::pass;
    p.sets.emplace("big", std::move(set));
    Rule r;
    r.id = 1;
    r.match.src = AddrMatch{std::string("big")};
    r.action.type = ActionType::drop;
    validate_rule(r, "rule 1");
    r.text = format_rule(r);
    p.rules.push_back(std::move(r));
    return cache.emplace(n, std::move(p)).first->second;
}

// ------------------------------------------------------------------ frames

std::vector<uint8_t> udp_frame(uint32_t src, uint16_t sport, uint16_t dport)
{
    FrameSpec s;
    s.family = Family::ipv4;
    s.src = to_prefix(src, 32).addr;
    s.dst = to_prefix(0xc6336401, 32).addr; // 198.51.100.1
    s.proto = 17;
    s.sport = sport;
    s.dport = dport;
    s.payload_len = 18; // 60-byte frame: the minimum Ethernet frame without FCS
    return build_frame(s);
}

struct FramePool {
    std::vector<std::vector<uint8_t>> frames;
    std::vector<uint32_t> expect; // XDP_DROP or XDP_PASS
    double drop_share() const
    {
        return double(std::count(expect.begin(), expect.end(), uint32_t{XDP_DROP})) /
               double(expect.size());
    }
};

// Membership and the lookup path of addresses for the set of the first n
// prefixes.
class SetIndex {
public:
    // Copies the prefixes: the stream's vector moves when it grows.
    explicit SetIndex(uint32_t n)
        : prefixes_(prefix_stream().first(n).begin(), prefix_stream().first(n).begin() + n)
    {
        members_.reserve(n);
        for (uint32_t i = 0; i < n; i++) {
            const V4Pfx& p = prefixes_[i];
            members_.insert(pfx_key(p.addr, p.len));
            if (p.len > 24) {
                Block& b = blocks_[p.addr >> 8];
                b.hosts += p.len == 32;
                b.shorter |= p.len < 32;
            }
        }
    }

    bool contains(uint32_t a) const
    {
        for (unsigned len = 0; len <= 32; len++)
            if (members_.count(pfx_key(a & v4_mask(len), len)))
                return true;
        return false;
    }

    // The xdpfw IPv4 lookup an address takes: its /24 entry answers (leaf),
    // or the block holds only /32s, at most host_block_limit (the host
    // table), or a 256-entry chunk. Mirrors the compiler's rule with its
    // default host_block_limit (ignoring the rare full host-table bucket).
    enum class Path { leaf, host, chunk };
    Path path(uint32_t a) const
    {
        auto it = blocks_.find(a >> 8);
        if (it == blocks_.end())
            return Path::leaf;
        return is_chunk(it->second) ? Path::chunk : Path::host;
    }

    const V4Pfx& random_prefix(Rng& rng) const { return prefixes_[rng.below(prefixes_.size())]; }
    // A random /24 block of the given path (host or chunk); the set must have one.
    uint32_t random_block(Rng& rng, Path want) const
    {
        for (;;) {
            const V4Pfx& p = random_prefix(rng);
            if (p.len > 24 && path(p.addr) == want)
                return p.addr >> 8;
        }
    }
    bool has(Path want) const
    {
        return std::any_of(blocks_.begin(), blocks_.end(), [&](const auto& b) {
            return is_chunk(b.second) == (want == Path::chunk);
        });
    }

private:
    struct Block {
        uint32_t hosts = 0;   // /32s in the block
        bool shorter = false; // a /25-/31 in the block
    };
    static bool is_chunk(const Block& b)
    {
        return b.shorter || b.hosts > Capacities{}.host_block_limit;
    }
    std::vector<V4Pfx> prefixes_;
    std::unordered_set<uint64_t> members_;
    std::unordered_map<uint32_t, Block> blocks_;
};

const SetIndex& set_index(uint32_t n)
{
    static std::map<uint32_t, std::unique_ptr<SetIndex>> cache;
    auto& idx = cache[n];
    if (!idx)
        idx = std::make_unique<SetIndex>(n);
    return *idx;
}

FramePool frames_for(const SetIndex& idx, std::vector<uint32_t> srcs, Rng& rng)
{
    FramePool pool;
    for (uint32_t src : srcs) {
        pool.frames.push_back(udp_frame(src, static_cast<uint16_t>(1024 + rng.below(60000)), 53));
        pool.expect.push_back(idx.contains(src) ? XDP_DROP : XDP_PASS);
    }
    return pool;
}

void shuffle(std::vector<uint32_t>& v, Rng& rng)
{
    for (size_t i = v.size(); i > 1; i--)
        std::swap(v[i - 1], v[rng.below(i)]);
}

// Frames for the set of the first n prefixes: half with a source inside a
// prefix of the set (a prefix picked uniformly, then a uniform address in
// it), half with a uniform unicast source; shuffled. The same pool feeds the
// LPM trie and xdpfw.
const FramePool& set_frames(uint32_t n)
{
    static std::map<uint32_t, FramePool> cache;
    auto it = cache.find(n);
    if (it != cache.end())
        return it->second;
    const SetIndex& idx = set_index(n);
    Rng rng(0xf4a3e000 + n);
    std::vector<uint32_t> srcs(g_pool);
    for (size_t i = 0; i < g_pool; i++) {
        if (i % 2 == 0) {
            const V4Pfx& p = idx.random_prefix(rng);
            srcs[i] = p.addr | (static_cast<uint32_t>(rng.next()) & ~v4_mask(p.len));
        } else {
            srcs[i] = random_unicast(rng);
        }
    }
    shuffle(srcs, rng);
    return cache.emplace(n, frames_for(idx, std::move(srcs), rng)).first->second;
}

// Frames that all take one lookup path of the set: leaf (uniform sources in
// blocks without longer prefixes), host (half exactly a listed /32, half
// another address of such a block: a hash hit or miss) or chunk (uniform in
// blocks with a chunk). They split the mixed pool's cost by path.
const FramePool& path_frames(uint32_t n, SetIndex::Path path)
{
    static std::map<std::pair<uint32_t, SetIndex::Path>, FramePool> cache;
    auto key = std::make_pair(n, path);
    auto it = cache.find(key);
    if (it != cache.end())
        return it->second;
    const SetIndex& idx = set_index(n);
    if (path != SetIndex::Path::leaf && !idx.has(path))
        throw std::invalid_argument(fmt::format("the {}-prefix set has no block of that kind", n));
    Rng rng(0xf4a3d000 + n * 4 + static_cast<uint32_t>(path));
    std::vector<uint32_t> srcs(g_pool);
    for (size_t i = 0; i < g_pool; i++) {
        if (path == SetIndex::Path::leaf) {
            do
                srcs[i] = random_unicast(rng);
            while (idx.path(srcs[i]) != SetIndex::Path::leaf);
        } else if (path == SetIndex::Path::host && i % 2 == 0) {
            const V4Pfx* p;
            do
                p = &idx.random_prefix(rng);
            while (p->len != 32 || idx.path(p->addr) != SetIndex::Path::host);
            srcs[i] = p->addr;
        } else {
            srcs[i] = (idx.random_block(rng, path) << 8) | static_cast<uint32_t>(rng.below(256));
        }
    }
    shuffle(srcs, rng);
    return cache.emplace(key, frames_for(idx, std::move(srcs), rng)).first->second;
}

// --------------------------------------------------------------- running

struct RunOut {
    uint32_t retval;
    uint32_t duration_ns;
};

RunOut run_frame(int prog_fd, const std::vector<uint8_t>& frame)
{
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
    if (bpf_prog_test_run_opts(prog_fd, &opts))
        throw BpfError(errno, "BPF_PROG_RUN");
    return {opts.retval, opts.duration};
}

// Runs a benchmark body; an exception becomes the row's error (Google
// Benchmark would otherwise terminate the whole run).
void guarded(benchmark::State& st, const std::function<void()>& body)
{
    try {
        body();
    } catch (const std::exception& e) {
        st.SkipWithError(e.what());
    }
}

// The per-packet measurement: every frame of the pool once with its verdict
// checked (a wrong verdict would mean timing something else), then one frame
// per iteration, charging the kernel's own duration of that run.
void time_frames(benchmark::State& st, int prog_fd, const FramePool& pool)
{
    size_t wrong = 0;
    for (size_t i = 0; i < pool.frames.size(); i++)
        if (run_frame(prog_fd, pool.frames[i]).retval != pool.expect[i])
            ++wrong;
    if (wrong) {
        st.SkipWithError(fmt::format("{} of {} frames got the wrong verdict", wrong,
                                     pool.frames.size())
                             .c_str());
        return;
    }
    uint64_t total_ns = 0;
    size_t i = 0;
    for (auto _ : st) {
        RunOut r = run_frame(prog_fd, pool.frames[i]);
        if (++i == pool.frames.size())
            i = 0;
        total_ns += r.duration_ns;
        st.SetIterationTime(double(r.duration_ns) * 1e-9);
    }
    st.counters["ns_per_pkt"] = double(total_ns) / double(st.iterations());
    st.counters["drop_share"] = pool.drop_share();
}

template <typename Skel> struct SkelDeleter;
template <> struct SkelDeleter<xdpfw_bench_noop> {
    void operator()(xdpfw_bench_noop* s) const { xdpfw_bench_noop__destroy(s); }
};
template <> struct SkelDeleter<xdpfw_bench_lpm> {
    void operator()(xdpfw_bench_lpm* s) const { xdpfw_bench_lpm__destroy(s); }
};
template <typename Skel> using SkelPtr = std::unique_ptr<Skel, SkelDeleter<Skel>>;

// ----------------------------------------------------------------- no-op

int noop_prog()
{
    static SkelPtr<xdpfw_bench_noop> skel = [] {
        SkelPtr<xdpfw_bench_noop> s(xdpfw_bench_noop__open_and_load());
        if (!s)
            throw BpfError(errno, "load the no-op XDP program");
        return s;
    }();
    return bpf_program__fd(skel->progs.bench_noop);
}

void bm_noop(benchmark::State& st)
{
    guarded(st, [&] {
        FramePool pool = set_frames(kSetSizes[0]);
        std::fill(pool.expect.begin(), pool.expect.end(), uint32_t{XDP_DROP});
        time_frames(st, noop_prog(), pool);
    });
}

// -------------------------------------------------------------- LPM trie

// Mirror of struct bench_lpm_key in bench/bpf/bench_lpm.bpf.c; the map's
// key size is checked against it at load.
struct LpmKey {
    uint32_t prefixlen;
    uint32_t addr; // network order
};
static_assert(sizeof(LpmKey) == 8);

// One trie per set size, filled with the same prefixes as xdpfw's set.
class LpmBaseline {
public:
    explicit LpmBaseline(uint32_t n)
    {
        skel_.reset(xdpfw_bench_lpm__open());
        if (!skel_)
            throw BpfError(errno, "open the LPM trie XDP program");
        bpf_map* m = skel_->maps.bench_lpm_v4;
        if (bpf_map__key_size(m) != sizeof(LpmKey) || bpf_map__value_size(m) != 4)
            throw BpfError(EINVAL, fmt::format("map bench_lpm_v4: key/value size {}/{}, "
                                               "the benchmark expects {}/4",
                                               bpf_map__key_size(m), bpf_map__value_size(m),
                                               sizeof(LpmKey)));
        if (int err = bpf_map__set_max_entries(m, n))
            throw BpfError(-err, "size the LPM trie");
        if (int err = xdpfw_bench_lpm__load(skel_.get()))
            throw BpfError(-err, "load the LPM trie XDP program");

        const auto& all = prefix_stream().first(n);
        std::vector<LpmKey> keys(n);
        std::vector<uint32_t> values(n, 1);
        for (size_t i = 0; i < n; i++)
            keys[i] = {all[i].len, htobe32(all[i].addr)};
        int fd = bpf_map__fd(m);
        for (size_t i = 0; i < n;) {
            auto count = static_cast<uint32_t>(std::min<size_t>(n - i, 65536));
            if (bpf_map_update_batch(fd, &keys[i], &values[i], &count, nullptr) == 0) {
                i += count;
                continue;
            }
            // Kernels without batch updates on tries: one element at a time.
            if (errno != EINVAL && errno != kEnotsupp && errno != EOPNOTSUPP)
                throw BpfError(errno, fmt::format("insert {} prefixes into the LPM trie", n));
            for (; i < n; i++)
                if (bpf_map_update_elem(fd, &keys[i], &values[i], BPF_ANY))
                    throw BpfError(errno, fmt::format("insert prefix {} into the LPM trie",
                                                      to_prefix(all[i].addr, all[i].len).str()));
        }
    }
    int prog_fd() const { return bpf_program__fd(skel_->progs.bench_lpm); }

private:
    // ENOTSUPP: the kernel-internal 524 that reaches user space.
    static constexpr int kEnotsupp = 524;
    SkelPtr<xdpfw_bench_lpm> skel_;
};

void bm_lpm(benchmark::State& st, uint32_t n)
{
    guarded(st, [&] {
        static std::map<uint32_t, std::unique_ptr<LpmBaseline>> tries;
        auto& t = tries[n];
        if (!t)
            t = std::make_unique<LpmBaseline>(n);
        time_frames(st, t->prog_fd(), set_frames(n));
        st.counters["prefixes"] = n;
    });
}

// ---------------------------------------------------------- xdpfw objects

uint32_t no_interfaces(const std::string& name)
{
    throw PolicyError("interface", name, "the benchmark policies name no interfaces");
}

// One loaded xdpfw object and its policy maps; the series recommits into it.
struct Loaded {
    XdpfwObject obj;
    PolicyMaps maps;
    CompileOptions copts;
    uint64_t version = 0;
    uint32_t live_case = 0; // what is committed (set size or rule count); 0: nothing

    explicit Loaded(const LoadOptions& o)
        : obj(XdpfwObject::load(o)), maps(obj), copts{.caps = o.caps, .resolve = no_interfaces}
    {
    }
    void commit(const CompiledPolicy& p, uint32_t what)
    {
        live_case = 0;
        maps.commit(p, ++version);
        live_case = what;
    }
};

// Room for the 1M-prefix set.
LoadOptions set_load_options()
{
    LoadOptions o;
    o.caps.max_rules = 64;
    o.caps.max_bitmaps = 64;
    o.caps.max_addr_classes = 64;
    o.caps.max_v4_chunks = kMix1MChunks;
    o.caps.max_v4_hosts = kMix1MHostRoutes;
    o.caps.max_v6_prefixes = 64;
    return o;
}

Loaded& set_object()
{
    static Loaded l(set_load_options());
    return l;
}

void bm_xdpfw_set(benchmark::State& st, uint32_t n)
{
    guarded(st, [&] {
        Loaded& l = set_object();
        if (l.live_case != n)
            l.commit(compile(set_policy(n), l.copts), n);
        time_frames(st, l.obj.prog_fd(), set_frames(n));
        st.counters["prefixes"] = n;
    });
}

void bm_xdpfw_set_path(benchmark::State& st, uint32_t n, SetIndex::Path path)
{
    guarded(st, [&] {
        Loaded& l = set_object();
        if (l.live_case != n)
            l.commit(compile(set_policy(n), l.copts), n);
        time_frames(st, l.obj.prog_fd(), path_frames(n, path));
        st.counters["prefixes"] = n;
    });
}

// Rules: rule i (ids 1..n, one priority, so evaluated in id order) is
// src=<random /32> proto=udp dport=<20000+i> action=drop. The sources are
// the first n of one random stream, so smaller policies are prefixes of
// larger ones.
constexpr uint16_t kRulePortBase = 20000;
static_assert(kRulePortBase + 10000 <= 65535);

const std::vector<uint32_t>& rule_sources(uint32_t n)
{
    static std::vector<uint32_t> srcs;
    static std::unordered_set<uint32_t> seen;
    static Rng rng(0x5eed0002);
    while (srcs.size() < n) {
        uint32_t a = random_unicast(rng);
        if (seen.insert(a).second)
            srcs.push_back(a);
    }
    return srcs;
}

Policy rules_policy(uint32_t n)
{
    const auto& srcs = rule_sources(n);
    Policy p;
    p.default_action = ActionType::pass;
    for (uint32_t i = 1; i <= n; i++) {
        Rule r;
        r.id = i;
        r.match.family = Family::ipv4;
        r.match.src = AddrMatch{to_prefix(srcs[i - 1], 32)};
        r.match.proto = 17;
        r.match.dport = PortRange{static_cast<uint16_t>(kRulePortBase + i),
                                  static_cast<uint16_t>(kRulePortBase + i)};
        r.action.type = ActionType::drop;
        validate_rule(r, fmt::format("rule {}", i));
        r.text = format_rule(r);
        p.rules.push_back(std::move(r));
    }
    return p;
}

// One object for the whole rule series, sized for its largest case: the
// per-packet walk visits every summary word of this capacity (256 rule words
// -> 4 summary words) whatever the policy's size, as in a deployment that
// loads once and grows its policy.
LoadOptions rules_load_options()
{
    LoadOptions o;
    o.caps.max_rules = XDPFW_MAX_RULES;
    o.caps.max_bitmaps = 16384;
    o.caps.max_addr_classes = 16384;
    o.caps.max_v4_chunks = 64;
    o.caps.max_v4_hosts = 16384;
    o.caps.max_v6_prefixes = 64;
    return o;
}

Loaded& rules_object()
{
    static Loaded l(rules_load_options());
    return l;
}

enum class RuleCase { miss, last };

// (a) miss: a source in no rule, a destination port of some rule (traffic
// to a protected port from an unlisted source), so the default applies.
// (b) last: the last rule's source and port; only the source port varies.
const FramePool& rule_frames(uint32_t n, RuleCase c)
{
    static std::map<std::pair<uint32_t, RuleCase>, FramePool> cache;
    auto key = std::make_pair(n, c);
    auto it = cache.find(key);
    if (it != cache.end())
        return it->second;
    const auto& srcs = rule_sources(n);
    std::unordered_set<uint32_t> used(srcs.begin(), srcs.begin() + n);
    Rng rng(0xf4a3f000 + n * 2 + (c == RuleCase::last));
    FramePool pool;
    for (size_t i = 0; i < g_pool; i++) {
        auto sport = static_cast<uint16_t>(1024 + rng.below(60000));
        if (c == RuleCase::last) {
            pool.frames.push_back(udp_frame(srcs[n - 1], sport, kRulePortBase + n));
            pool.expect.push_back(XDP_DROP);
        } else {
            uint32_t src;
            do
                src = random_unicast(rng);
            while (used.count(src));
            auto dport = static_cast<uint16_t>(kRulePortBase + 1 + rng.below(n));
            pool.frames.push_back(udp_frame(src, sport, dport));
            pool.expect.push_back(XDP_PASS);
        }
    }
    return cache.emplace(key, std::move(pool)).first->second;
}

void bm_xdpfw_rules(benchmark::State& st, uint32_t n, RuleCase c)
{
    guarded(st, [&] {
        Loaded& l = rules_object();
        if (l.live_case != n)
            l.commit(compile(rules_policy(n), l.copts), n);
        const FramePool& pool = rule_frames(n, c);
        // The last-rule frames must be won by rule n itself, not merely dropped.
        xdpfw_counter before = l.maps.rule_counter(n);
        time_frames(st, l.obj.prog_fd(), pool);
        if (c == RuleCase::last && !st.error_occurred()) {
            uint64_t won = l.maps.rule_counter(n).packets - before.packets;
            uint64_t sent = pool.frames.size() + st.iterations();
            if (won != sent)
                st.SkipWithError(fmt::format("rule {} won {} of {} frames", n, won, sent).c_str());
        }
        st.counters["rules"] = n;
    });
}

// ------------------------------------------------------ compile and commit

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void bm_compile_set(benchmark::State& st, uint32_t n)
{
    guarded(st, [&] {
        const Policy& p = set_policy(n);
        CompileOptions copts{.caps = set_load_options().caps, .resolve = no_interfaces};
        std::optional<CompiledPolicy> c;
        for (auto _ : st) {
            auto t0 = Clock::now();
            c.emplace(compile(p, copts));
            st.SetIterationTime(seconds_since(t0));
            benchmark::DoNotOptimize(c);
        }
        // What the IPv4 table holds: /32s in the host table (and its
        // buckets), /24 blocks with a chunk.
        if (c) {
            const V4Table& t = *c->addr[0].v4;
            st.counters["host_routes"] = double(t.n_hosts);
            st.counters["host_buckets"] = t.host_buckets;
            st.counters["chunks"] = double(t.chunks.size() / XDPFW_CHUNK_SLOTS);
        }
        st.counters["prefixes"] = n;
        st.counters["prefixes_per_s"] =
            benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
    });
}

void bm_commit_set(benchmark::State& st, uint32_t n)
{
    guarded(st, [&] {
        Loaded& l = set_object();
        CompiledPolicy c = compile(set_policy(n), l.copts);
        for (auto _ : st) {
            auto t0 = Clock::now();
            l.commit(c, n);
            st.SetIterationTime(seconds_since(t0));
        }
        st.counters["prefixes"] = n;
        st.counters["prefixes_per_s"] =
            benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
    });
}

// ------------------------------------------------------ report and checks

// The per-packet time of every row, for the checks, and the error count.
struct Results {
    std::map<std::string, double> ns, medians;
    int errors = 0;

    void take(const std::vector<benchmark::BenchmarkReporter::Run>& runs)
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
    void note(std::string_view arg)
    {
        if (arg.rfind("--benchmark_format=", 0) == 0) {
            format = arg.substr(arg.find('=') + 1);
            if (format != "console" && format != "json")
                throw std::invalid_argument("--benchmark_format=" + format +
                                            ": use console or json");
        } else if (arg.rfind("--benchmark_color=", 0) == 0) {
            color = arg.substr(arg.find('=') + 1);
        }
    }
    std::unique_ptr<benchmark::BenchmarkReporter> make(Results& r) const
    {
        if (format == "json")
            return std::make_unique<Capturing<benchmark::JSONReporter>>(r);
        bool colored = color == "auto" ? isatty(STDOUT_FILENO) != 0
                                       : (color == "true" || color == "yes" || color == "1");
        auto opts = colored ? benchmark::ConsoleReporter::OO_ColorTabular
                            : benchmark::ConsoleReporter::OO_Tabular;
        return std::make_unique<Capturing<benchmark::ConsoleReporter>>(r, opts);
    }
};

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

void register_all()
{
    auto per_packet = [](benchmark::internal::Benchmark* b) {
        b->UseManualTime()->Unit(benchmark::kNanosecond)->Iterations(int64_t(g_packets));
    };
    auto setup = [](benchmark::internal::Benchmark* b) {
        b->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(kSetupIterations);
    };
    per_packet(benchmark::RegisterBenchmark("noop", bm_noop));
    // Baseline and xdpfw side by side per size, on the same frames.
    for (uint32_t n : kSetSizes) {
        per_packet(benchmark::RegisterBenchmark(fmt::format("lpm_trie/{}", n).c_str(), bm_lpm, n));
        per_packet(
            benchmark::RegisterBenchmark(fmt::format("xdpfw_set/{}", n).c_str(), bm_xdpfw_set, n));
    }
    for (auto [path, name] : {std::pair{SetIndex::Path::leaf, "leaf"},
                              std::pair{SetIndex::Path::host, "host"},
                              std::pair{SetIndex::Path::chunk, "chunk"}})
        per_packet(benchmark::RegisterBenchmark(
            fmt::format("xdpfw_set_path/{}/{}", kSetSizes[3], name).c_str(), bm_xdpfw_set_path,
            kSetSizes[3], path));
    for (uint32_t n : kRuleCounts)
        for (RuleCase c : {RuleCase::miss, RuleCase::last})
            per_packet(benchmark::RegisterBenchmark(
                fmt::format("xdpfw_rules/{}/{}", n, c == RuleCase::miss ? "miss" : "last").c_str(),
                bm_xdpfw_rules, n, c));
    for (uint32_t n : {kSetSizes[0], kSetSizes[3]}) {
        setup(benchmark::RegisterBenchmark(fmt::format("compile_set/{}", n).c_str(),
                                           bm_compile_set, n));
        setup(benchmark::RegisterBenchmark(fmt::format("commit_set/{}", n).c_str(),
                                           bm_commit_set, n));
    }
}

// Our own flags, taken out of argv before Google Benchmark parses the rest.
bool take_flags(int& argc, char** argv, Display& display)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        std::string_view a = argv[i];
        display.note(a);
        auto value = [&](std::string_view flag) -> std::optional<long> {
            if (a.substr(0, flag.size()) != flag)
                return std::nullopt;
            std::string v(a.substr(flag.size()));
            char* end = nullptr;
            errno = 0;
            long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end || errno || n < 0)
                throw std::invalid_argument(fmt::format("{}: '{}' is not a number", flag, v));
            return n;
        };
        if (auto n = value("--packets=")) {
            if (*n < 1)
                throw std::invalid_argument("--packets= must be at least 1");
            g_packets = uint64_t(*n);
        } else if (auto n = value("--pool=")) {
            if (*n < 1)
                throw std::invalid_argument("--pool= must be at least 1");
            g_pool = size_t(*n);
        } else if (auto cpu = value("--cpu=")) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(int(*cpu), &set);
            if (sched_setaffinity(0, sizeof(set), &set))
                throw std::invalid_argument(
                    fmt::format("--cpu={}: cannot pin to that CPU: {}", *cpu, std::strerror(errno)));
        } else if (a == "--help" || a == "-h") {
            std::printf("xdpfw_micro_bench [--packets=N] [--pool=N] [--cpu=N] [--benchmark_* flags]\n"
                        "  --packets=N  frames timed per per-packet row (default %llu)\n"
                        "  --pool=N     distinct frames per row, cycled (default %zu)\n"
                        "  --cpu=N      pin the benchmark (and so the BPF runs) to CPU N\n"
                        "Needs root (BPF_PROG_RUN). See docs/BENCHMARKS.md.\n",
                        static_cast<unsigned long long>(g_packets), g_pool);
            return false;
        } else {
            argv[out++] = argv[i];
        }
    }
    argc = out;
    return true;
}

} // namespace
} // namespace xdpfw::bench

int main(int argc, char** argv)
{
    using namespace xdpfw::bench;
    Display display;
    try {
        if (!take_flags(argc, argv, display))
            return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xdpfw_micro_bench: %s\n", e.what());
        return 2;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 2;
    register_all();
    Results results;
    auto reporter = display.make(results);
    benchmark::RunSpecifiedBenchmarks(reporter.get());
    // Machine-readable output keeps stdout to itself.
    print_checks(display.format == "console" ? stdout : stderr, results);
    benchmark::Shutdown();
    if (results.errors) {
        std::fprintf(stderr, "xdpfw_micro_bench: %d benchmark(s) failed (see the ERROR rows)\n",
                     results.errors);
        return 1;
    }
    return 0;
}
