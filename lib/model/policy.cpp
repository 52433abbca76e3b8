// SPDX-License-Identifier: GPL-2.0-only
// The policy model's behaviour: prefix parsing and printing, rule order, errors.
#include "lib/model/policy.hpp"

#include "lib/base/hash64.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <type_traits>

namespace xdpfw {

namespace {

std::invalid_argument bad_prefix(const std::string& text, const std::string& why)
{
    return std::invalid_argument(why + " in '" + text + "'");
}

// Clears every bit at or past len; returns true if any was set.
bool clear_host_bits(std::array<uint8_t, 16>& addr, unsigned len, unsigned max_len)
{
    bool had = false;
    for (unsigned byte = len / 8; byte < max_len / 8; ++byte) {
        unsigned keep = byte == len / 8 ? len % 8 : 0;
        auto mask = static_cast<uint8_t>(keep ? 0xff << (8 - keep) : 0);
        if (addr[byte] & ~mask)
            had = true;
        addr[byte] &= mask;
    }
    return had;
}

} // namespace

Prefix Prefix::parse(const std::string& text)
{
    if (text.empty())
        throw std::invalid_argument("empty prefix");
    auto slash = text.find('/');
    std::string addr_text = text.substr(0, slash);
    Prefix p;
    if (addr_text.find(':') != std::string::npos) {
        p.family = Family::ipv6;
        if (inet_pton(AF_INET6, addr_text.c_str(), p.addr.data()) != 1)
            throw bad_prefix(text, "'" + addr_text + "' is not an IPv6 address");
    } else {
        p.family = Family::ipv4;
        if (inet_pton(AF_INET, addr_text.c_str(), p.addr.data()) != 1)
            throw bad_prefix(text, "'" + addr_text + "' is not an IPv4 address");
    }
    unsigned len = p.max_len();
    if (slash != std::string::npos) {
        std::string len_text = text.substr(slash + 1);
        if (len_text.empty())
            throw bad_prefix(text, "missing prefix length after '/'");
        // Digits only: from_chars would accept a leading '-' for signed types
        // and we do not want "+8" or " 8" either.
        if (!std::all_of(len_text.begin(), len_text.end(),
                         [](char c) { return c >= '0' && c <= '9'; }) ||
            len_text.size() > 3)
            throw bad_prefix(text, "prefix length '" + len_text + "' is not a number 0-" +
                                       std::to_string(p.max_len()));
        std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
        if (len > p.max_len())
            throw bad_prefix(text, "prefix length " + std::to_string(len) + " > " +
                                       std::to_string(p.max_len()));
    }
    p.len = static_cast<uint8_t>(len);
    // A set host bit is almost always a typo (10.0.0.1/24 for 10.0.0.0/24);
    // silently masking it would hide what the user meant.
    Prefix masked = p;
    if (clear_host_bits(masked.addr, len, p.max_len()))
        throw std::invalid_argument(text + " has host bits set; did you mean " + masked.str() +
                                    "?");
    return p;
}

static_assert(std::has_unique_object_representations_v<Prefix>,
              "same_prefixes compares prefixes as memory");

bool same_prefixes(const std::vector<Prefix>& a, const std::vector<Prefix>& b)
{
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Prefix)) == 0);
}

PrefixSet::PrefixSet(std::vector<Prefix> prefixes)
    : data_(std::make_shared<Data>())
{
    data_->prefixes = std::move(prefixes);
}

const std::vector<Prefix>& PrefixSet::prefixes() const
{
    static const std::vector<Prefix> none;
    return data_ ? data_->prefixes : none;
}

std::vector<Prefix>& PrefixSet::own()
{
    // Shared (or none yet): a copy of its own. use_count() may be stale
    // only upward (another holder letting go), which costs a needless copy.
    if (!data_ || data_.use_count() > 1) {
        auto mine = std::make_shared<Data>();
        if (data_)
            mine->prefixes = data_->prefixes;
        data_ = std::move(mine);
    } else {
        // The last other holder may have let go on another thread: its
        // reads happen before these writes (use_count() reads relaxed).
        std::atomic_thread_fence(std::memory_order_acquire);
    }
    return data_->prefixes;
}

void PrefixSet::forget()
{
    data_->summed.store(false, std::memory_order_relaxed);
    data_->origin.reset();
    data_->added.clear();
    data_->removed.clear();
}

namespace {

// The folded 128-bit product.
uint64_t mum(uint64_t a, uint64_t b)
{
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// One prefix's hash, all 18 bytes of it (two folded multiplies).
uint64_t prefix_hash(const Prefix& p)
{
    static_assert(sizeof(Prefix) == 18 && std::has_unique_object_representations_v<Prefix>);
    uint64_t w[2];
    uint16_t last;
    std::memcpy(w, &p, 16);
    std::memcpy(&last, reinterpret_cast<const unsigned char*>(&p) + 16, 2);
    return mum(mum(w[0] ^ 0xa0761d6478bd642full, w[1] ^ 0xe7037ed1a0b428dbull) ^
                   0x8ebc6af09c88c6e3ull,
               uint64_t{last} ^ 0x589965cc75374cc3ull);
}

uint64_t sum_of(const std::vector<Prefix>& v)
{
    uint64_t s = 0;
    for (const Prefix& p : v)
        s += prefix_hash(p);
    return s;
}

} // namespace

uint64_t PrefixSet::sum() const
{
    if (!data_)
        return 0;
    if (data_->summed.load(std::memory_order_acquire))
        return data_->sum.load(std::memory_order_relaxed);
    const uint64_t s = sum_of(data_->prefixes);
    data_->sum.store(s, std::memory_order_relaxed);
    data_->summed.store(true, std::memory_order_release);
    return s;
}

// The sum of the prefixes' hashes (one multiply chain per prefix, none
// waiting for another) and their count, finalised.
uint64_t PrefixSet::digest() const
{
    Hash64 h;
    return h.word(sum()).word(prefixes().size()).digest();
}

PrefixSet PrefixSet::with(const std::vector<Prefix>& in) const { return merged(in, true); }

PrefixSet PrefixSet::without(const std::vector<Prefix>& in) const { return merged(in, false); }

// The set's prefixes between two of in's are copied as runs: a few changes
// to a million-prefix set cost a copy, not a million compares.
PrefixSet PrefixSet::merged(const std::vector<Prefix>& in, bool add) const
{
    const std::vector<Prefix>& was = prefixes();
    auto out = std::make_shared<Data>();
    out->prefixes.reserve(was.size() + (add ? in.size() : 0));
    auto at = was.begin();
    for (const Prefix& x : in) {
        const auto next = std::lower_bound(at, was.end(), x);
        out->prefixes.insert(out->prefixes.end(), at, next);
        at = next;
        const bool present = at != was.end() && *at == x;
        if (add && !present) {
            out->prefixes.push_back(x);
            out->added.push_back(x);
        } else if (!add && present) {
            out->removed.push_back(*at);
            ++at;
        }
    }
    if (out->added.empty() && out->removed.empty())
        return *this; // nothing changed: the same prefixes, shared
    out->prefixes.insert(out->prefixes.end(), at, was.end());
    // The digest follows from this set's by the changed prefixes alone.
    uint64_t s = sum();
    s += sum_of(out->added);
    s -= sum_of(out->removed);
    out->sum.store(s, std::memory_order_relaxed);
    out->summed.store(true, std::memory_order_release);
    out->origin = data_;
    PrefixSet r;
    r.data_ = std::move(out);
    return r;
}

std::optional<PrefixSet::Changes> PrefixSet::changes_from(const PrefixSet& old) const
{
    if (!data_ || !old.data_)
        return std::nullopt;
    // A live origin is the object old holds, not one at a reused address.
    const std::shared_ptr<const Data> origin = data_->origin.lock();
    if (!origin || origin != old.data_)
        return std::nullopt;
    return Changes{data_->added, data_->removed};
}

bool Prefix::host_bits_set() const
{
    std::array<uint8_t, 16> a = addr;
    return clear_host_bits(a, len, max_len());
}

std::string Prefix::str() const
{
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == Family::ipv6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof(buf));
    return std::string(buf) + "/" + std::to_string(len);
}

bool Prefix::contains(const std::array<uint8_t, 16>& a) const
{
    unsigned full = len / 8;
    for (unsigned i = 0; i < full; ++i)
        if (a[i] != addr[i])
            return false;
    unsigned rest = len % 8;
    if (rest == 0)
        return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a[full] & mask) == addr[full];
}

bool Prefix::contains(const Prefix& other) const
{
    return other.family == family && other.len >= len && contains(other.addr);
}

std::vector<const Rule*> Policy::evaluation_order_refs() const
{
    std::vector<const Rule*> out;
    out.reserve(rules.size());
    for (const Rule& r : rules)
        out.push_back(&r);
    std::stable_sort(out.begin(), out.end(), [](const Rule* a, const Rule* b) {
        if (a->priority != b->priority)
            return a->priority < b->priority;
        return a->id < b->id;
    });
    return out;
}

std::vector<Rule> Policy::evaluation_order() const
{
    std::vector<Rule> out;
    out.reserve(rules.size());
    for (const Rule* r : evaluation_order_refs())
        out.push_back(*r);
    return out;
}

namespace {

std::string join_error(const std::string& where, const std::string& key,
                       const std::string& problem)
{
    std::string s;
    if (!where.empty())
        s += where + ": ";
    if (!key.empty())
        s += key + ": ";
    return s + problem;
}

} // namespace

PolicyError::PolicyError(std::string where, std::string key, std::string problem, ErrorCode code)
    : Error(code, join_error(where, key, problem)), where_(std::move(where)),
      key_(std::move(key)), problem_(std::move(problem))
{
}

const char* action_name(ActionType a)
{
    switch (a) {
    case ActionType::drop: return "drop";
    case ActionType::pass: return "pass";
    case ActionType::xsk: return "xsk";
    case ActionType::redirect: return "redirect";
    case ActionType::count: return "count";
    case ActionType::syncookie: return "syncookie";
    }
    return "unknown";
}

const char* family_name(Family f)
{
    switch (f) {
    case Family::ipv4: return "ipv4";
    case Family::ipv6: return "ipv6";
    case Family::other: return "other";
    }
    return "unknown";
}

const char* ct_state_name(CtState s)
{
    switch (s) {
    case CtState::new_: return "new";
    case CtState::established: return "established";
    case CtState::related: return "related";
    case CtState::invalid: return "invalid";
    }
    return "unknown";
}

Family ethertype_family(uint16_t ethertype)
{
    return ethertype == ethertype_ipv4   ? Family::ipv4
           : ethertype == ethertype_ipv6 ? Family::ipv6
                                         : Family::other;
}

} // namespace xdpfw
