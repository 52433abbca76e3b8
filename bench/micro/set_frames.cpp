// SPDX-License-Identifier: GPL-2.0-only
// The micro benchmark's set inputs: prefix stream, set policy, frame pools.
#include "bench/micro/set_frames.hpp"

#include "lib/compiler/compiler.hpp"
#include "lib/lang/rule_parser.hpp"
#include "testing/packet_builder.hpp"

#include <fmt/format.h>
#include <linux/bpf.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace xdpfw::bench::micro {

size_t g_pool = 8192;

const std::vector<V4Pfx>& PrefixStream::first(size_t n)
{
    while (all_.size() < n) {
        const V4Pfx p = random_mix_prefix(rng_);
        if (seen_.insert(pfx_key(p.addr, p.len)).second)
            all_.push_back(p);
    }
    return all_;
}

PrefixStream& prefix_stream()
{
    static PrefixStream s;
    return s;
}

const Policy& set_policy(uint32_t n)
{
    static std::map<uint32_t, Policy> cache;
    auto it = cache.find(n);
    if (it != cache.end())
        return it->second;
    const auto& all = prefix_stream().first(n);
    std::vector<Prefix> prefixes;
    prefixes.reserve(n);
    for (size_t i = 0; i < n; i++)
        prefixes.push_back(to_prefix(all[i].addr, all[i].len));
    std::sort(prefixes.begin(), prefixes.end());
    PrefixSet set(std::move(prefixes));

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

double FramePool::drop_share() const
{
    return double(std::count(expect.begin(), expect.end(), uint32_t{XDP_DROP})) /
           double(expect.size());
}

SetIndex::SetIndex(uint32_t n)
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

bool SetIndex::contains(uint32_t a) const
{
    for (unsigned len = 0; len <= 32; len++)
        if (members_.count(pfx_key(a & v4_mask(len), len)))
            return true;
    return false;
}

SetIndex::Path SetIndex::path(uint32_t a) const
{
    auto it = blocks_.find(a >> 8);
    if (it == blocks_.end())
        return Path::leaf;
    return is_chunk(it->second) ? Path::chunk : Path::host;
}

uint32_t SetIndex::random_block(Rng& rng, Path want) const
{
    for (;;) {
        const V4Pfx& p = random_prefix(rng);
        if (p.len > 24 && path(p.addr) == want)
            return p.addr >> 8;
    }
}

bool SetIndex::has(Path want) const
{
    return std::any_of(blocks_.begin(), blocks_.end(), [&](const auto& b) {
        return is_chunk(b.second) == (want == Path::chunk);
    });
}

bool SetIndex::is_chunk(const Block& b)
{
    return b.shorter || b.hosts > Capacities{}.host_block_limit;
}

namespace {

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

} // namespace

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

} // namespace xdpfw::bench::micro
