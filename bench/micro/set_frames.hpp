// SPDX-License-Identifier: GPL-2.0-only
// The micro benchmark's set inputs: the prefix stream every set is cut
// from, the set policy, and pools of frames with their expected verdicts.
#pragma once

#include "bench/common/prefix_mix.hpp"
#include "lib/model/policy.hpp"

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace xdpfw::bench::micro {

// Distinct frames per case (--pool). The default is far more than the branch
// predictor and the caches hold for the random cases, so no case gets
// cheaper by replaying a short pattern; --pool=1 shows the cache-hot cost.
extern size_t g_pool;

inline uint64_t pfx_key(uint32_t addr, unsigned len) { return (uint64_t{addr} << 8) | len; }

// The prefix stream every set is cut from: set N is the first N distinct
// prefixes, so the smaller sets are subsets of the larger ones.
class PrefixStream {
public:
    const std::vector<V4Pfx>& first(size_t n);

private:
    Rng rng_{0x5eed0001};
    std::vector<V4Pfx> all_;
    std::unordered_set<uint64_t> seen_;
};

PrefixStream& prefix_stream();

// Policy: src=@big action=drop, default pass; big = the first n prefixes.
const Policy& set_policy(uint32_t n);

// A 60-byte UDP frame from src to 198.51.100.1.
std::vector<uint8_t> udp_frame(uint32_t src, uint16_t sport, uint16_t dport);

struct FramePool {
    std::vector<std::vector<uint8_t>> frames;
    std::vector<uint32_t> expect; // XDP_DROP or XDP_PASS
    double drop_share() const;
};

// Membership and the lookup path of addresses for the set of the first n
// prefixes.
class SetIndex {
public:
    // Copies the prefixes: the stream's vector moves when it grows.
    explicit SetIndex(uint32_t n);

    bool contains(uint32_t a) const;

    // The xdpfw IPv4 lookup an address takes: its /24 entry answers (leaf),
    // or the block holds only /32s, at most host_block_limit (the host
    // table), or a 256-entry chunk. Mirrors the compiler's rule with its
    // default host_block_limit (ignoring the rare full host-table bucket).
    enum class Path { leaf, host, chunk };
    Path path(uint32_t a) const;

    const V4Pfx& random_prefix(Rng& rng) const { return prefixes_[rng.below(prefixes_.size())]; }
    // A random /24 block of the given path (host or chunk); the set must have one.
    uint32_t random_block(Rng& rng, Path want) const;
    bool has(Path want) const;

private:
    struct Block {
        uint32_t hosts = 0;   // /32s in the block
        bool shorter = false; // a /25-/31 in the block
    };
    static bool is_chunk(const Block& b);
    std::vector<V4Pfx> prefixes_;
    std::unordered_set<uint64_t> members_;
    std::unordered_map<uint32_t, Block> blocks_;
};

// Frames for the set of the first n prefixes: half with a source inside a
// prefix of the set (a prefix picked uniformly, then a uniform address in
// it), half with a uniform unicast source; shuffled. The same pool feeds the
// LPM trie and xdpfw.
const FramePool& set_frames(uint32_t n);

// Frames that all take one lookup path of the set: leaf (uniform sources in
// blocks without longer prefixes), host (half exactly a listed /32, half
// another address of such a block: a hash hit or miss) or chunk (uniform in
// blocks with a chunk). They split the mixed pool's cost by path.
const FramePool& path_frames(uint32_t n, SetIndex::Path path);

} // namespace xdpfw::bench::micro
