// SPDX-License-Identifier: GPL-2.0-only
// Writes compiled policies into the inactive generation and switches it live.
#include "lib/kernel/policy_maps.hpp"

#include "lib/base/unique_fd.hpp"
#include "lib/kernel/conntrack.hpp"
#include "lib/kernel/content_hash.hpp"
#include "lib/kernel/rcu_barrier.hpp"
#include "lib/kernel/table_slots.hpp"
#include "lib/model/policy.hpp"

#include "xdpfw_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

namespace xdpfw {

namespace {

void check(int err, const std::string& what)
{
    if (err < 0)
        throw BpfError(-err, what);
}

// A shared writable mapping of a BPF_F_MMAPABLE array map.
class MapView {
public:
    MapView() = default;
    MapView(bpf_map* m, const char* name)
    {
        size_t elem = (bpf_map__value_size(m) + 7) / 8 * 8;
        size_t page = sysconf(_SC_PAGESIZE);
        len_ = (elem * bpf_map__max_entries(m) + page - 1) / page * page;
        void* p = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
        if (p == MAP_FAILED)
            throw BpfError(errno, fmt::format("mmap map {}", name));
        base_ = static_cast<uint8_t*>(p);
    }
    MapView(MapView&& o) noexcept { *this = std::move(o); }
    MapView& operator=(MapView&& o) noexcept
    {
        std::swap(base_, o.base_);
        std::swap(len_, o.len_);
        return *this;
    }
    ~MapView()
    {
        if (base_)
            munmap(base_, len_);
    }
    template <typename T> T* at(size_t byte_offset) const
    {
        return reinterpret_cast<T*>(base_ + byte_offset);
    }
    size_t size() const { return len_; }

private:
    uint8_t* base_ = nullptr;
    size_t len_ = 0;
};

template <typename Key> struct HashMapGen {
    int fd = -1;
    bool scanned[XDPFW_GENERATIONS] = {false, false};
    std::vector<Key> written[XDPFW_GENERATIONS];

    // Removes every entry of generation gen (found by a scan the first time,
    // then remembered from our own writes).
    template <typename GenOf> void clear(uint32_t gen, GenOf gen_of, const char* name)
    {
        std::vector<Key>& keys = written[gen];
        if (!scanned[gen]) {
            keys.clear();
            Key k{}, next{};
            Key* prev = nullptr;
            while (bpf_map_get_next_key(fd, prev, &next) == 0) {
                if (gen_of(next) == gen)
                    keys.push_back(next);
                k = next;
                prev = &k;
            }
            scanned[gen] = true;
        }
        for (size_t i = 0; i < keys.size();) {
            uint32_t n = std::min<size_t>(keys.size() - i, 8192);
            int err = bpf_map_delete_batch(fd, &keys[i], &n, nullptr);
            if (err && errno != ENOENT)
                throw BpfError(errno, fmt::format("clear generation {} of {}", gen, name));
            i += std::max<uint32_t>(n, 1);
        }
        keys.clear();
    }

    void insert(uint32_t gen, std::vector<Key>& keys, std::vector<uint32_t>& values,
                const char* name)
    {
        for (size_t i = 0; i < keys.size();) {
            uint32_t n = std::min<size_t>(keys.size() - i, 8192);
            if (bpf_map_update_batch(fd, &keys[i], &values[i], &n, nullptr))
                throw BpfError(errno, fmt::format("write {} entries of {}", keys.size(), name));
            i += n;
        }
        written[gen] = std::move(keys);
    }
};

} // namespace

struct PolicyMaps::Impl {
    xdpfw_bpf* skel;
    std::optional<FlowTable> flows; // made for the first policy that uses ct=
    Capacities o;
    uint32_t words;
    int fd_ctrl, fd_policy, fd_reason_stats, fd_tx, fd_limits;
    std::set<uint32_t> limit_keys[XDPFW_GENERATIONS]; // xdpfw_limits entries this daemon wrote
    MapView scalars, rules, addr_class, iif;
    // xdpfw_rule_counters: counter_cpus values of o.max_rules counters.
    MapView counters;
    uint32_t counter_cpus = 0;

    // Refuses a slot past the loaded program's counters, naming what was
    // asked (`what`: "read", "reset").
    void check_slot(uint32_t slot, const char* what) const
    {
        if (slot >= o.max_rules)
            throw BpfError(ENOENT, fmt::format("{} xdpfw_rule_counters[{}]: the loaded program "
                                               "counts {} rules",
                                               what, slot, o.max_rules));
    }
    // The counter of slot on CPU cpu, as the program writes it.
    xdpfw_counter* counter(uint32_t cpu, uint32_t slot) const
    {
        return counters.at<xdpfw_counter>(sizeof(xdpfw_counter) *
                                          (size_t(cpu) * o.max_rules + slot));
    }
    // The sum over the CPUs of slot's counters. Each CPU's program adds to
    // its own with plain stores: a word is read whole, and a packet counted
    // while this reads is in the next read.
    xdpfw_counter counter_sum(uint32_t slot) const
    {
        xdpfw_counter sum{};
        for (uint32_t cpu = 0; cpu < counter_cpus; cpu++) {
            const xdpfw_counter* c = counter(cpu, slot);
            sum.packets += __atomic_load_n(&c->packets, __ATOMIC_RELAXED);
            sum.bytes += __atomic_load_n(&c->bytes, __ATOMIC_RELAXED);
        }
        return sum;
    }

    HashMapGen<xdpfw_v6_key> v6;
    HashMapGen<xdpfw_ifindex_key> ifindex;
    HashMapGen<xdpfw_ether_key> ether;
    int ncpus;
    // Which address tables each generation holds (AddrTables::tables_id);
    // 0: unknown (e.g. maps adopted from an earlier process), write them.
    uint64_t tables_in_gen[XDPFW_GENERATIONS][XDPFW_DIRECTIONS] = {};
    // The bitmaps and IPv4 pages (inner maps of xdpfw_tables). Declared
    // before `settling`, whose task uses it: destroyed after the join.
    std::unique_ptr<TableSlots> slots;

    void forget_gen(uint32_t gen)
    {
        for (uint32_t dir = 0; dir < XDPFW_DIRECTIONS; dir++)
            tables_in_gen[gen][dir] = 0;
    }

    xdpfw_ctrl ctrl() const
    {
        xdpfw_ctrl c{};
        uint32_t zero = 0;
        check(bpf_map_lookup_elem(fd_ctrl, &zero, &c), "read xdpfw_ctrl");
        return c;
    }
    std::vector<xdpfw_rule> rules_of(const xdpfw_ctrl& c) const;

    void write_tables(const CompiledPolicy& p, uint32_t gen);
    void write_limits(const CompiledPolicy& p, uint32_t gen);
    void ensure_limit_buckets(const CompiledPolicy& p) const;
    void write_hashes(const CompiledPolicy& p, uint32_t gen);
    // Grace periods (rcu_barrier.hpp). After a switch, `settling` waits for
    // one in the background; the next commit joins it before it writes the
    // generation that switch retired. Until the first switch of this
    // object, a generation may have been retired by another process (an
    // adopted program), so the first commit waits in the foreground.
    RcuBarrier barrier;
    std::future<void> settling;
    bool retired_gen_settled = false;

    void settle_retired_gen();
    void start_settling(uint32_t live);
    std::set<uint32_t> add_ports(const CompiledPolicy& p);
    void remove_ports_except(const std::set<uint32_t>& ports);
};

// The limits of generation gen's limited rules (only those are read:
// XDPFW_RULE_LIMIT). xdpfw_limits is a hash made on use, so the entries of
// rules that lost their limit are deleted; entries left by an earlier
// daemon are never read and are overwritten when their index has a limit.
// Buckets are keyed by rule id and outlive the generation.
void PolicyMaps::Impl::write_limits(const CompiledPolicy& p, uint32_t gen)
{
    std::set<uint32_t> now;
    for (uint32_t i = 0; i < p.limits.size(); i++) {
        if (!(p.rules[i].flags & XDPFW_RULE_LIMIT))
            continue;
        const uint32_t key = gen * o.max_rules + i;
        if (bpf_map_update_elem(fd_limits, &key, &p.limits[i], BPF_ANY))
            throw BpfError(errno, "write xdpfw_limits");
        now.insert(key);
    }
    for (uint32_t key : limit_keys[gen])
        if (!now.count(key) && bpf_map_delete_elem(fd_limits, &key) && errno != ENOENT)
            throw BpfError(errno, "delete from xdpfw_limits");
    limit_keys[gen] = std::move(now);
}

// The per=src/dst buckets (bpf/lib/limits.h) are made for the first policy
// that has such a limit and kept from then on, also across daemons (the
// outer map is pinned): buckets outlive commits, as the limits' tags say.
void PolicyMaps::Impl::ensure_limit_buckets(const CompiledPolicy& p) const
{
    bool per_address = false;
    for (const xdpfw_limit& l : p.limits)
        per_address = per_address || (l.tag && l.per != XDPFW_LIMIT_PER_RULE);
    if (!per_address)
        return;
    const int outer = bpf_map__fd(skel->maps.xdpfw_limit_keys);
    const uint32_t zero = 0;
    uint32_t id = 0;
    if (bpf_map_lookup_elem(outer, &zero, &id) == 0 && id)
        return;
    const UniqueFd table(bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "xdpfw_limit_bkt",
                                        sizeof(xdpfw_limit_key), sizeof(xdpfw_bucket),
                                        XDPFW_LIMIT_KEYS, nullptr));
    if (table.get() < 0)
        throw BpfError(errno, "create the rate limit buckets");
    const int fd = table.get();
    if (bpf_map_update_elem(outer, &zero, &fd, BPF_ANY))
        throw BpfError(errno, "install the rate limit buckets");
}

void PolicyMaps::Impl::write_tables(const CompiledPolicy& p, uint32_t gen)
{
    struct Scalar {
        const std::vector<uint32_t>& values;
        uint32_t base, slots;
        const char* name;
    };
    const Scalar scalar_tables[] = {
        {p.vlan, XDPFW_SCALAR_BASE_VLAN, XDPFW_VLAN_SLOTS, "vlan"},
        {p.proto, XDPFW_SCALAR_BASE_PROTO, XDPFW_PROTO_SLOTS, "proto"},
        {p.sport, XDPFW_SCALAR_BASE_SPORT, XDPFW_PORT_SLOTS, "sport"},
        {p.dport, XDPFW_SCALAR_BASE_DPORT, XDPFW_PORT_SLOTS, "dport"},
        {p.tcp_flags, XDPFW_SCALAR_BASE_TCP_FLAGS, XDPFW_FLAGS_SLOTS, "tcp_flags"},
        {p.icmp, XDPFW_SCALAR_BASE_ICMP, XDPFW_ICMP_SLOTS, "icmp"},
        {p.ct, XDPFW_SCALAR_BASE_CT, XDPFW_CT_SLOTS, "ct"},
    };
    // The tables hold bitmap references (abi.h, xdpfw_ref), not indices.
    const std::vector<uint32_t> refs = p.bitmap_refs();
    auto ref = [&](uint32_t index) {
        return index < refs.size() ? refs[index] : p.bitmap_ref(index);
    };
    for (const auto& t : scalar_tables) {
        uint32_t* dst = scalars.at<uint32_t>(4ull * (t.base + gen * t.slots));
        if (t.values.size() == t.slots)
            std::transform(t.values.begin(), t.values.end(), dst, ref);
        else if (t.values.empty()) // field unused: never read by the program
            std::fill_n(dst, t.slots, ref(p.all_bitmap));
        else
            throw PolicyError("compiled policy", t.name,
                              fmt::format("table has {} slots, expected {}", t.values.size(),
                                          t.slots));
    }

    auto* r = rules.at<xdpfw_rule>(sizeof(xdpfw_rule) * size_t(gen) * o.max_rules);
    for (uint32_t i = 0; i < p.n_rules; i++) {
        r[i] = p.rules[i];
    }
    write_limits(p, gen);

    slots->write_bitmaps(gen, p, xdpfw_bitmap_stride(p.n_summary, p.n_words));
    for (uint32_t dir = 0; dir < XDPFW_DIRECTIONS; dir++) {
        const AddrTables& a = p.addr[dir];
        const uint32_t table = gen * XDPFW_DIRECTIONS + dir;
        uint32_t* classes = addr_class.at<uint32_t>(4ull * table * o.max_addr_classes);
        std::transform(a.class_bitmap.begin(), a.class_bitmap.end(), classes, ref);
        slots->stage_v4(gen, dir, *a.v4);
    }
}

void PolicyMaps::Impl::write_hashes(const CompiledPolicy& p, uint32_t gen)
{
    ifindex.clear(gen, [](const xdpfw_ifindex_key& k) { return k.gen; }, "xdpfw_ifindex");
    bool same = true;
    for (uint32_t dir = 0; dir < XDPFW_DIRECTIONS; dir++)
        same = same && p.addr[dir].tables_id && tables_in_gen[gen][dir] == p.addr[dir].tables_id;
    if (!same)
        v6.clear(gen, [](const xdpfw_v6_key& k) { return uint32_t(k.gen); }, "xdpfw_v6_prefixes");

    std::vector<xdpfw_v6_key> vk;
    std::vector<uint32_t> vv;
    for (uint8_t dir = 0; dir < XDPFW_DIRECTIONS && !same; dir++) {
        for (const auto& [plen, entries] : p.addr[dir].v6->by_len) {
            for (const auto& [addr, cls] : entries) {
                xdpfw_v6_key k{};
                k.gen = gen;
                k.dir = dir;
                k.plen = plen;
                std::memcpy(k.addr, addr.data(), 16);
                vk.push_back(k);
                vv.push_back(cls);
            }
        }
    }
    if (!same)
        v6.insert(gen, vk, vv, "xdpfw_v6_prefixes");

    // Interfaces below XDPFW_IFINDEX_SLOTS take a slot of the direct array
    // (every slot written), larger ones an entry of the hash.
    // (Bitmap references, as in write_tables.)
    uint32_t* slots = iif.at<uint32_t>(4ull * gen * XDPFW_IFINDEX_SLOTS);
    std::fill_n(slots, XDPFW_IFINDEX_SLOTS, p.bitmap_ref(p.ifindex_default));
    std::vector<xdpfw_ifindex_key> ik;
    std::vector<uint32_t> iv;
    for (const auto& [idx, bm] : p.ifindex) {
        if (idx < XDPFW_IFINDEX_SLOTS) {
            slots[idx] = p.bitmap_ref(bm);
            continue;
        }
        ik.push_back(xdpfw_ifindex_key{idx, gen});
        iv.push_back(p.bitmap_ref(bm));
    }
    ifindex.insert(gen, ik, iv, "xdpfw_ifindex");

    ether.clear(gen, [](const xdpfw_ether_key& k) { return k.gen; }, "xdpfw_ether");
    std::vector<xdpfw_ether_key> ek;
    std::vector<uint32_t> ev;
    for (const auto& [type, bm] : p.ether) {
        ek.push_back(xdpfw_ether_key{type, gen});
        ev.push_back(p.bitmap_ref(bm));
    }
    ether.insert(gen, ek, ev, "xdpfw_ether");
}

// Returns once no packet can still read the generation the last switch
// retired: every program run that read the old generation index started
// before that switch, so one grace period after it they are all gone.
void PolicyMaps::Impl::settle_retired_gen()
{
    if (settling.valid())
        settling.get(); // rethrows a failed background wait
    else if (!retired_gen_settled)
        barrier.wait();
    retired_gen_settled = true;
}

void PolicyMaps::Impl::start_settling(uint32_t live)
{
    retired_gen_settled = false;
    settling = std::async(std::launch::async, [this, live] {
        barrier.wait();
        // No packet reads the retired generation now: its IPv4 slots can
        // share the live pages (the tables exist once at rest).
        slots->collapse(live ^ 1, live);
    });
}

PolicyMaps::PolicyMaps(const XdpfwObject& obj) : impl_(std::make_unique<Impl>())
{
    Impl& m = *impl_;
    m.skel = obj.skel();
    m.flows.emplace(obj);
    m.o = obj.options().caps;
    m.words = m.o.max_rules / 64;
    auto* s = m.skel;
    m.fd_ctrl = bpf_map__fd(s->maps.xdpfw_ctrl);
    m.fd_policy = bpf_map__fd(s->maps.xdpfw_policy);
    m.fd_reason_stats = bpf_map__fd(s->maps.xdpfw_reason_stats);
    m.fd_tx = bpf_map__fd(s->maps.xdpfw_tx_ports);
    m.fd_limits = bpf_map__fd(s->maps.xdpfw_limits);
    m.v6.fd = bpf_map__fd(s->maps.xdpfw_v6_prefixes);
    m.ifindex.fd = bpf_map__fd(s->maps.xdpfw_ifindex);
    m.ether.fd = bpf_map__fd(s->maps.xdpfw_ether);
    m.scalars = MapView(s->maps.xdpfw_scalars, "xdpfw_scalars");
    m.rules = MapView(s->maps.xdpfw_rules, "xdpfw_rules");
    m.addr_class = MapView(s->maps.xdpfw_addr_class, "xdpfw_addr_class");
    m.iif = MapView(s->maps.xdpfw_iif, "xdpfw_iif");
    m.counters = MapView(s->maps.xdpfw_rule_counters, "xdpfw_rule_counters");
    m.counter_cpus = bpf_map__max_entries(s->maps.xdpfw_rule_counters);
    if (bpf_map__value_size(s->maps.xdpfw_rule_counters) != m.o.max_rules * sizeof(xdpfw_counter))
        throw BpfError(EINVAL, fmt::format("xdpfw_rule_counters holds {} bytes per CPU, not "
                                           "max_rules {} counters",
                                           bpf_map__value_size(s->maps.xdpfw_rule_counters),
                                           m.o.max_rules));
    m.slots = std::make_unique<TableSlots>(bpf_map__fd(s->maps.xdpfw_tables), table_layout(m.o));
    m.ncpus = libbpf_num_possible_cpus();
    if (m.ncpus <= 0)
        throw BpfError(-m.ncpus, "count possible CPUs");
}

PolicyMaps::~PolicyMaps() = default;

namespace {

// Throws CapacityError when the loaded object has no room for p (before
// anything is written), PolicyError when p is inconsistent.
void check_fits(const CompiledPolicy& p, const Capacities& o, uint32_t words)
{
    auto capacity = [](const char* what, size_t have, size_t cap) {
        if (have > cap)
            throw CapacityError("policy", what,
                              fmt::format("needs {} entries, the loaded program has room for {}",
                                          have, cap));
    };
    capacity("rules", p.n_rules, o.max_rules);
    if (p.rules.size() != p.n_rules || p.n_words > words)
        throw PolicyError("compiled policy", "rules", "rule count and bitmap words disagree");
    if (!p.limits.empty() && p.limits.size() != p.n_rules)
        throw PolicyError("compiled policy", "limits", "limit table and rule count disagree");
    capacity("bitmaps", p.bitmaps.size(), o.max_bitmaps);
    if (p.all_bitmap >= p.bitmaps.size() && p.n_rules)
        throw PolicyError("compiled policy", "bitmaps", "all-rules bitmap out of range");
    for (const auto& a : p.addr) {
        capacity("address classes", a.class_bitmap.size(), o.max_addr_classes);
        capacity("IPv4 chunks", a.v4->chunks.size() / XDPFW_CHUNK_SLOTS, o.max_v4_chunks);
        capacity("IPv4 host routes", a.v4->n_hosts, o.max_v4_hosts);
        capacity("IPv4 host-table buckets", a.v4->host_buckets, xdpfw_host_buckets(o.max_v4_hosts));
        if (a.v4->hosts.size() != size_t{a.v4->host_buckets} * XDPFW_BLOCK_SLOTS)
            throw PolicyError("compiled policy", "hosts",
                              fmt::format("host table has {} words for {} buckets",
                                          a.v4->hosts.size(), a.v4->host_buckets));
        capacity("IPv6 prefixes", a.v6->size(), o.max_v6_prefixes);
        capacity("IPv6 prefix lengths", a.v6->by_len.size(), XDPFW_V6_MAX_LENS);
    }
    capacity("ingress interfaces", p.ifindex.size(), 1024 / XDPFW_GENERATIONS);
    capacity("ethertypes", p.ether.size(), XDPFW_ETHER_ENTRIES / XDPFW_GENERATIONS);
}

xdpfw_policy_hdr policy_header(const CompiledPolicy& p, uint64_t version)
{
    xdpfw_policy_hdr hdr{};
    hdr.version = version;
    hdr.n_rules = p.n_rules;
    hdr.n_words = p.n_words;
    hdr.n_summary = p.n_summary;
    hdr.used_fields = p.used_fields;
    hdr.default_action = p.default_action;
    hdr.malformed_action = p.malformed_action;
    hdr.default_non_ip_action = p.default_non_ip_action;
    hdr.all_bitmap = p.bitmap_ref(p.all_bitmap);
    hdr.ifindex_default = p.bitmap_ref(p.ifindex_default);
    hdr.ether_default = p.bitmap_ref(p.ether_default);
    for (uint32_t dir = 0; dir < XDPFW_DIRECTIONS; dir++) {
        uint32_t n = 0;
        for (const auto& [plen, entries] : p.addr[dir].v6->by_len)
            hdr.v6_lens[dir][n++] = plen; // by_len is ordered longest first
        hdr.v6_nlens[dir] = n;
        const bool v4 = !p.addr[dir].v4->tbl24.empty();
        hdr.v4_table[dir] = v4 ? 1 : 0;
        hdr.v4_host_buckets[dir] = v4 ? p.addr[dir].v4->host_buckets : 0;
        if (v4)
            std::copy(p.addr[dir].v4->host_hint.begin(), p.addr[dir].v4->host_hint.end(),
                      hdr.v4_host_hint[dir]);
    }
    hdr.bitmap_stride = xdpfw_bitmap_stride(p.n_summary, p.n_words);
    hdr.spec_key = p.spec ? p.spec->key : 0;
    return hdr;
}

} // namespace

// Egress ports of redirect rules go into the devmap first: a missing
// interface fails the commit before anything changes. Returns them.
std::set<uint32_t> PolicyMaps::Impl::add_ports(const CompiledPolicy& p)
{
    std::set<uint32_t> ports;
    for (const auto& r : p.rules)
        if (r.action == XDPFW_ACT_REDIRECT)
            ports.insert(r.redirect_slot);
    for (uint32_t ifx : ports) {
        if (bpf_map_update_elem(fd_tx, &ifx, &ifx, BPF_ANY)) {
            char name[IF_NAMESIZE] = "?";
            if_indextoname(ifx, name);
            throw BpfError(errno, fmt::format("add redirect port {} (ifindex {})", name, ifx));
        }
    }
    return ports;
}

// Egress ports no rule uses any more (after the switch: no packet of the new
// policy redirects to them).
void PolicyMaps::Impl::remove_ports_except(const std::set<uint32_t>& ports)
{
    uint32_t key, *prev = nullptr;
    std::vector<uint32_t> stale;
    while (bpf_map_get_next_key(fd_tx, prev, &key) == 0) {
        if (!ports.count(key))
            stale.push_back(key);
        prev = &key;
    }
    for (uint32_t k : stale)
        bpf_map_delete_elem(fd_tx, &k);
}

void PolicyMaps::commit(const CompiledPolicy& p, uint64_t version)
{
    Impl& m = *impl_;
    check_fits(p, m.o, m.words);
    const xdpfw_ctrl live = m.ctrl();
    const uint32_t gen = live.committed ? (live.active_gen ^ 1) & 1 : 0;
    const std::set<uint32_t> ports = m.add_ports(p);
    if (p.used_fields & (1u << XDPFW_FIELD_CT))
        m.flows->ensure(); // before any header asks the data path to track
    m.ensure_limit_buckets(p);

    m.settle_retired_gen();
    try {
        m.write_tables(p, gen);
        m.write_hashes(p, gen);
        m.slots->publish();
    } catch (...) {
        // Half-written: whatever the generation held is unknown now.
        m.forget_gen(gen);
        m.slots->discard();
        throw;
    }
    for (uint32_t dir = 0; dir < XDPFW_DIRECTIONS; dir++)
        m.tables_in_gen[gen][dir] = p.addr[dir].tables_id;
    const xdpfw_policy_hdr hdr = policy_header(p, version);
    check(bpf_map_update_elem(m.fd_policy, &gen, &hdr, BPF_ANY) ? -errno : 0,
          "write policy header");

    // The switch: one store of the generation index. Packets that read the
    // old index finish on the old generation; a grace period later none is
    // left, and the next commit waits for that before it overwrites it.
    xdpfw_ctrl next = live; // the event settings (set_event_sampling) stay
    next.active_gen = gen;
    next.committed = 1;
    next.version = version;
    next.content_hash = content_hash(p);
    uint32_t zero = 0;
    check(bpf_map_update_elem(m.fd_ctrl, &zero, &next, BPF_ANY) ? -errno : 0,
          "switch generation");
    m.start_settling(gen);
    m.remove_ports_except(ports);
}

void PolicyMaps::check_capacity(const CompiledPolicy& p) const
{
    check_fits(p, impl_->o, impl_->words);
}

void PolicyMaps::wait_settled()
{
    if (impl_->settling.valid())
        impl_->settle_retired_gen();
}

uint32_t PolicyMaps::active_gen() const
{
    return impl_->ctrl().active_gen;
}

uint64_t PolicyMaps::live_version() const
{
    return impl_->ctrl().version;
}

uint64_t PolicyMaps::live_content_hash() const
{
    return impl_->ctrl().content_hash;
}

std::vector<xdpfw_rule> PolicyMaps::live_rules() const
{
    return impl_->rules_of(impl_->ctrl());
}

bool PolicyMaps::committed() const
{
    return impl_->ctrl().committed != 0;
}

namespace {
xdpfw_counter sum_percpu(int fd, uint32_t key, int ncpus, const char* name)
{
    std::vector<xdpfw_counter> per(ncpus);
    if (bpf_map_lookup_elem(fd, &key, per.data()))
        throw BpfError(errno, fmt::format("read {}[{}]", name, key));
    xdpfw_counter sum{};
    for (const auto& c : per) {
        sum.packets += c.packets;
        sum.bytes += c.bytes;
    }
    return sum;
}
} // namespace

void PolicyMaps::set_event_sampling(const EventSampling& s)
{
    xdpfw_ctrl c = impl_->ctrl();
    c.sample_default = s.sample_default;
    c.sample_malformed = s.sample_malformed;
    c.snaplen = std::min<uint32_t>(s.snaplen, XDPFW_EVENT_SNAP_MAX);
    uint32_t zero = 0;
    check(bpf_map_update_elem(impl_->fd_ctrl, &zero, &c, BPF_ANY) ? -errno : 0,
          "write event sampling");
}

std::array<xdpfw_counter, XDPFW_EVSTAT_COUNT> PolicyMaps::event_counters() const
{
    std::array<xdpfw_counter, XDPFW_EVSTAT_COUNT> out{};
    const int fd = bpf_map__fd(impl_->skel->maps.xdpfw_event_stats);
    for (uint32_t k = 0; k < XDPFW_EVSTAT_COUNT; k++)
        out[k] = sum_percpu(fd, k, impl_->ncpus, "xdpfw_event_stats");
    return out;
}

xdpfw_counter PolicyMaps::rule_counter(uint32_t slot) const
{
    impl_->check_slot(slot, "read");
    return impl_->counter_sum(slot);
}

std::vector<xdpfw_counter> PolicyMaps::all_rule_counters() const
{
    std::vector<xdpfw_counter> out(impl_->o.max_rules);
    for (uint32_t slot = 0; slot < out.size(); slot++)
        out[slot] = impl_->counter_sum(slot);
    return out;
}

ReasonCounters PolicyMaps::raw_reason_counters() const
{
    ReasonCounters out{};
    for (uint32_t r = 0; r < XDPFW_REASON_COUNT; r++)
        out[r] = raw_reason_counter(r);
    return out;
}

xdpfw_counter PolicyMaps::raw_reason_counter(uint32_t reason) const
{
    return sum_percpu(impl_->fd_reason_stats, reason, impl_->ncpus, "xdpfw_reason_stats");
}

// The rules of the generation c made live, as the program reads them.
std::vector<xdpfw_rule> PolicyMaps::Impl::rules_of(const xdpfw_ctrl& c) const
{
    if (!c.committed)
        return {};
    const uint32_t gen = c.active_gen & 1;
    xdpfw_policy_hdr hdr{};
    check(bpf_map_lookup_elem(fd_policy, &gen, &hdr) ? -errno : 0, "read policy header");
    const auto* first = rules.at<const xdpfw_rule>(sizeof(xdpfw_rule) * size_t(gen) * o.max_rules);
    return std::vector<xdpfw_rule>(first, first + std::min(hdr.n_rules, o.max_rules));
}

// The kernel's rule table is the rule -> action mapping the counters were
// counted under, for every user of these maps (daemon, xdpfw-apply, adopted
// pins), so the derivation reads it here rather than a copy of the rules.
ReasonCounters PolicyMaps::reason_counters() const
{
    const Impl& m = *impl_;
    const ReasonCounters raw = raw_reason_counters(); // before the rule counters
    for (int attempt = 0;; attempt++) {
        // A commit only writes the generation that is not live; the live one
        // is rewritten only after two switches, which change the version.
        const xdpfw_ctrl c = m.ctrl();
        const std::vector<xdpfw_rule> live = m.rules_of(c);
        const std::vector<xdpfw_counter> counters = all_rule_counters();
        const xdpfw_ctrl after = m.ctrl();
        if ((after.version == c.version && after.active_gen == c.active_gen) || attempt == 3)
            return derive_reason_totals(raw, live, counters);
    }
}

// Zeroes each CPU's counter of slot. A packet the rule counts on another
// CPU while this runs may survive the reset or not, as with any reset of a
// live counter (the daemon resets a new rule's right after its commit).
void PolicyMaps::reset_rule_counter(uint32_t slot)
{
    impl_->check_slot(slot, "reset");
    for (uint32_t cpu = 0; cpu < impl_->counter_cpus; cpu++) {
        xdpfw_counter* c = impl_->counter(cpu, slot);
        __atomic_store_n(&c->packets, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&c->bytes, 0, __ATOMIC_RELAXED);
    }
}

xdpfw_last_verdict PolicyMaps::last_verdict() const
{
    const volatile xdpfw_last_verdict* v = &impl_->skel->bss->xdpfw_last;
    return xdpfw_last_verdict{v->reason, v->rule_index, v->rule_id, v->action, v->generated};
}

const char* reason_name(uint32_t reason)
{
    switch (reason) {
    case XDPFW_REASON_RULE_DROP: return "rule_drop";
    case XDPFW_REASON_RULE_PASS: return "rule_pass";
    case XDPFW_REASON_RULE_XSK: return "rule_xsk";
    case XDPFW_REASON_RULE_REDIRECT: return "rule_redirect";
    case XDPFW_REASON_DEFAULT_DROP: return "default_drop";
    case XDPFW_REASON_DEFAULT_PASS: return "default_pass";
    case XDPFW_REASON_XSK_NO_SOCKET: return "xsk_no_socket";
    case XDPFW_REASON_REDIRECT_FAILED: return "redirect_failed";
    case XDPFW_REASON_MALFORMED_L2: return "malformed_l2";
    case XDPFW_REASON_MALFORMED_IPV4: return "malformed_ipv4";
    case XDPFW_REASON_MALFORMED_IPV6: return "malformed_ipv6";
    case XDPFW_REASON_MALFORMED_EXTHDR: return "malformed_exthdr";
    case XDPFW_REASON_MALFORMED_L4: return "malformed_l4";
    case XDPFW_REASON_NO_POLICY: return "no_policy";
    case XDPFW_REASON_DEFAULT_NON_IP_DROP: return "default_non_ip_drop";
    case XDPFW_REASON_DEFAULT_NON_IP_PASS: return "default_non_ip_pass";
    }
    return "unknown";
}

} // namespace xdpfw
