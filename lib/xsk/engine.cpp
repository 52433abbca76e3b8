// SPDX-License-Identifier: GPL-2.0-only
// AF_XDP engine: sockets, XskMap registration and the worker loop.
#include "lib/xsk/engine.hpp"

#include "lib/xsk/host_tun.hpp"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace xdpfw::xsk {

const char* forward_mode_name(ForwardMode m) { return m == ForwardMode::host ? "host" : "inline"; }

ForwardMode parse_forward_mode(const std::string& text)
{
    if (text == "host")
        return ForwardMode::host;
    if (text == "inline")
        return ForwardMode::inline_;
    throw std::invalid_argument("xsk mode \"" + text + "\" is not one of host, inline");
}

void validate_engine_config(const EngineConfig& c)
{
    if (c.interfaces.empty())
        throw std::invalid_argument("xsk: no interfaces");
    std::set<std::string> names;
    for (const auto& i : c.interfaces) {
        if (i.empty() || i.size() >= IFNAMSIZ)
            throw std::invalid_argument("xsk: interface name \"" + i + "\" is not valid");
        if (!names.insert(i).second)
            throw std::invalid_argument("xsk: interface " + i + " listed twice");
    }
    if (c.mode == ForwardMode::host) {
        if (!c.pairs.empty())
            throw std::invalid_argument("xsk: pairs only apply to inline mode");
        if (c.host_device.empty() || c.host_device.size() >= IFNAMSIZ)
            throw std::invalid_argument("xsk: host device name \"" + c.host_device +
                                        "\" is not valid");
        if (names.count(c.host_device))
            throw std::invalid_argument("xsk: host device " + c.host_device +
                                        " is also a filtered interface");
    } else {
        std::set<std::string> paired;
        for (const auto& [a, b] : c.pairs) {
            for (const auto& n : {a, b}) {
                if (!names.count(n))
                    throw std::invalid_argument("xsk: pair member " + n +
                                                " is not one of the interfaces");
                if (!paired.insert(n).second)
                    throw std::invalid_argument("xsk: interface " + n + " is in two pairs");
            }
            if (a == b)
                throw std::invalid_argument("xsk: interface " + a + " paired with itself");
        }
        for (const auto& n : c.interfaces)
            if (!paired.count(n))
                throw std::invalid_argument("xsk: inline mode needs a pair for interface " + n);
    }
    if (c.poll_timeout_ms < 1 || c.poll_timeout_ms > 10000)
        throw std::invalid_argument("xsk: poll_timeout_ms must be in 1..10000");
    const int ncpu = int(std::thread::hardware_concurrency());
    for (int cpu : c.cpus)
        if (cpu < 0 || (ncpu > 0 && cpu >= ncpu))
            throw std::invalid_argument(fmt::format("xsk: cpu {} does not exist (0..{})", cpu,
                                                    ncpu - 1));
}

XskMapFds open_pinned_xsk_maps(const std::string& pin_dir)
{
    XskMapFds m;
    const std::string xsks = pin_dir + "/xdpfw_xsks", ports = pin_dir + "/xdpfw_xsk_ports";
    UniqueFd xsks_fd(bpf_obj_get(xsks.c_str()));
    if (xsks_fd.get() < 0)
        throw XskError(errno, "open pinned map " + xsks);
    m.ports = bpf_obj_get(ports.c_str());
    if (m.ports < 0) {
        const int err = errno;
        throw XskError(err, "open pinned map " + ports);
    }
    m.xsks = xsks_fd.release(); // the caller owns both from here
    return m;
}

// Written by one worker thread, read by stats(); relaxed atomics.
struct Engine::Counters {
    using C = std::atomic<uint64_t>;
    C rx_packets{0}, rx_bytes{0}, forwarded{0}, dropped_verdict{0}, tx_packets{0}, tx_bytes{0},
        malformed{0}, invalid_desc{0}, fill_short{0}, tx_busy{0}, tx_errors{0}, host_non_ip{0};
    // XDP_STATISTICS of sockets already closed (the kernel's count ends with
    // its socket); guarded by the engine's mutex.
    KernelRingStats kernel_closed;
    bool zero_copy = false;

    std::mutex rules_mu;
    std::unordered_map<uint32_t, RuleStats> rules;

    static void add(C& c, uint64_t v) { c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed); }
};

RuleStats& RuleStats::operator+=(const RuleStats& o)
{
    rule_id = o.rule_id;
    packets += o.packets;
    bytes += o.bytes;
    dropped += o.dropped;
    forwarded += o.forwarded;
    return *this;
}

namespace {
uint64_t get(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }
} // namespace

struct Engine::Worker {
    Engine* engine = nullptr;
    XskSocket* rx = nullptr;      // this worker's queue
    XskSocket* tx = nullptr;      // inline: the paired interface's socket (same queue)
    const HostTun* tun = nullptr; // host mode
    std::shared_ptr<Counters> c;
    int cpu = -1;
    std::atomic<bool> stop{false};
    std::thread thread;

    std::vector<uint64_t> tx_free; // tx frames of `tx` not in flight
    uint32_t tx_in_flight = 0;
    std::vector<uint64_t> to_fill; // rx frames waiting to go back to the fill ring
    std::unique_ptr<Inspector> inspector;
    uint64_t inspector_gen = 0;

    // Rules that decided frames of this batch: few distinct ones, so a
    // linear search beats hashing every frame.
    std::vector<RuleStats> batch_rules;

    // What one batch of rx frames did, added to the counters once per batch.
    struct Batch {
        uint64_t bytes = 0, fwd = 0, dropped = 0, malformed = 0, busy = 0, errors = 0, non_ip = 0;
        uint32_t queued_tx = 0;
    };

    void run();
    void pin_cpu();
    void idle(int timeout_ms);
    void handle_frame(const xdp_desc* d, Batch& b);
    void count_rule(const InspectResult& r, uint32_t len);
    void forward(const uint8_t* data, std::span<const uint8_t> frame, Batch& b);
    void flush_tx(uint32_t queued_tx);
    void publish(uint32_t n, const Batch& b);
    void drain_tx();
    void refresh_inspector();
    void reclaim_tx();
    bool queue_tx(const uint8_t* data, uint32_t len);
    void refill();
};

void Engine::Worker::refresh_inspector()
{
    const uint64_t gen = engine->inspector_gen_.load(std::memory_order_acquire);
    if (gen == inspector_gen)
        return;
    InspectorFactory f;
    {
        std::lock_guard lk(engine->inspector_mu_);
        f = engine->inspector_;
    }
    inspector_gen = gen;
    try {
        inspector = f ? f() : nullptr;
    } catch (const std::exception& e) {
        // Keep the previous rules rather than end the worker (and the
        // process): the failure is logged, the next change tries again.
        spdlog::error("xsk worker ifname={} queue={}: new inspector failed: {}", rx->ifname(),
                      rx->queue(), e.what());
    }
}

void Engine::Worker::reclaim_tx()
{
    if (!tx || !tx_in_flight)
        return;
    uint32_t idx = 0;
    const uint32_t n = xsk_ring_cons__peek(tx->comp(), tx_in_flight, &idx);
    for (uint32_t i = 0; i < n; ++i)
        tx_free.push_back(*xsk_ring_cons__comp_addr(tx->comp(), idx + i));
    if (n) {
        xsk_ring_cons__release(tx->comp(), n);
        tx_in_flight -= n;
        Counters::add(c->tx_packets, n);
    }
}

bool Engine::Worker::queue_tx(const uint8_t* data, uint32_t len)
{
    uint32_t idx = 0;
    if (tx_free.empty() || xsk_ring_prod__reserve(tx->tx(), 1, &idx) != 1)
        return false;
    const uint64_t addr = tx_free.back();
    tx_free.pop_back();
    std::memcpy(xsk_umem__get_data(tx->umem_area(), addr), data, len);
    xdp_desc* d = xsk_ring_prod__tx_desc(tx->tx(), idx);
    d->addr = addr;
    d->len = len;
    d->options = 0;
    xsk_ring_prod__submit(tx->tx(), 1);
    ++tx_in_flight;
    Counters::add(c->tx_bytes, len);
    return true;
}

void Engine::Worker::refill()
{
    if (to_fill.empty())
        return;
    uint32_t idx = 0;
    const uint32_t want = uint32_t(to_fill.size());
    const uint32_t n = xsk_ring_prod__reserve(rx->fill(), want, &idx);
    for (uint32_t i = 0; i < n; ++i)
        *xsk_ring_prod__fill_addr(rx->fill(), idx + i) = to_fill[i];
    if (n)
        xsk_ring_prod__submit(rx->fill(), n);
    if (n < want)
        Counters::add(c->fill_short, want - n);
    to_fill.erase(to_fill.begin(), to_fill.begin() + n);
}

void Engine::Worker::pin_cpu()
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
        spdlog::warn("xsk worker ifname={} queue={}: pin to cpu {} failed: {}", rx->ifname(),
                     rx->queue(), cpu, std::strerror(err));
}

void Engine::Worker::idle(int timeout_ms)
{
    const SocketOptions& o = rx->options();
    if (tx_in_flight)
        tx->kick_tx();
    if (o.busy_poll || xsk_ring_prod__needs_wakeup(rx->fill()))
        rx->kick_rx();
    if (!o.busy_poll) {
        pollfd p{rx->fd(), POLLIN, 0};
        poll(&p, 1, tx_in_flight ? 1 : timeout_ms);
    }
}

void Engine::Worker::count_rule(const InspectResult& r, uint32_t len)
{
    auto it = std::find_if(batch_rules.begin(), batch_rules.end(),
                           [&](const RuleStats& x) { return x.rule_id == r.rule_id; });
    if (it == batch_rules.end())
        it = batch_rules.insert(batch_rules.end(), RuleStats{r.rule_id});
    RuleStats& rs = *it;
    ++rs.packets;
    rs.bytes += len;
    (r.verdict == Verdict::drop ? rs.dropped : rs.forwarded) += 1;
}

void Engine::Worker::forward(const uint8_t* data, std::span<const uint8_t> frame, Batch& b)
{
    if (tx) {
        if (queue_tx(data, uint32_t(frame.size()))) {
            ++b.fwd;
            ++b.queued_tx;
        } else {
            ++b.busy;
        }
    } else if (tun) {
        const int err = tun->inject(frame);
        if (!err) {
            ++b.fwd;
            Counters::add(c->tx_packets, 1);
            Counters::add(c->tx_bytes, frame.size());
        } else if (err == ENOPROTOOPT) {
            ++b.non_ip;
        } else if (err == EAGAIN || err == ENOBUFS) {
            ++b.busy;
        } else {
            ++b.errors;
        }
    }
}

void Engine::Worker::handle_frame(const xdp_desc* d, Batch& b)
{
    const SocketOptions& o = rx->options();
    const uint64_t rx_area = uint64_t(o.ring_size) * o.frame_size;
    const uint64_t addr = xsk_umem__extract_addr(d->addr);
    const uint64_t base = addr - addr % o.frame_size;
    if (addr >= rx_area || d->len > o.frame_size - (addr - base)) {
        Counters::add(c->invalid_desc, 1);
        if (base < rx_area)
            to_fill.push_back(base);
        return;
    }
    const uint8_t* data = static_cast<const uint8_t*>(xsk_umem__get_data(rx->umem_area(), addr));
    const std::span<const uint8_t> frame(data, d->len);
    b.bytes += d->len;
    InspectResult r;
    if (inspector)
        r = inspector->inspect(frame);
    b.malformed += r.malformed;
    if (r.rule_id)
        count_rule(r, d->len);
    if (r.verdict == Verdict::drop)
        ++b.dropped;
    else
        forward(data, frame, b);
    to_fill.push_back(base);
}

void Engine::Worker::flush_tx(uint32_t queued_tx)
{
    if (!queued_tx)
        return;
    // EAGAIN: copy mode sends a bounded batch (32) per call and left
    // the rest on the ring; kick again, then reclaim what went out.
    int err = 0;
    for (uint32_t k = 0; k <= queued_tx / 32 + 1; ++k)
        if ((err = tx->kick_tx()) != EAGAIN)
            break;
    reclaim_tx();
    // EBUSY/ENOBUFS: they stay queued too; should the ring never
    // drain, the tx frames run out and tx_busy counts the drops.
    if (err && err != EAGAIN && err != EBUSY && err != ENOBUFS)
        spdlog::debug("xsk tx kick ifname={} queue={}: {}", tx->ifname(), tx->queue(),
                      std::strerror(err));
}

void Engine::Worker::publish(uint32_t n, const Batch& b)
{
    Counters::add(c->rx_packets, n);
    Counters::add(c->rx_bytes, b.bytes);
    Counters::add(c->forwarded, b.fwd);
    Counters::add(c->dropped_verdict, b.dropped);
    Counters::add(c->malformed, b.malformed);
    Counters::add(c->tx_busy, b.busy);
    Counters::add(c->tx_errors, b.errors);
    Counters::add(c->host_non_ip, b.non_ip);
    if (!batch_rules.empty()) {
        std::lock_guard lk(c->rules_mu);
        for (const RuleStats& rs : batch_rules)
            c->rules[rs.rule_id] += rs;
        batch_rules.clear();
    }
}

void Engine::Worker::drain_tx()
{
    for (int i = 0; i < 100 && tx_in_flight; ++i) {
        tx->kick_tx();
        reclaim_tx();
        if (tx_in_flight)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void Engine::Worker::run()
{
    pin_cpu();
    const SocketOptions& o = rx->options();
    const int timeout = engine->cfg_.poll_timeout_ms;
    if (tx)
        for (uint32_t i = 0; i < tx->options().ring_size; ++i)
            tx_free.push_back(tx->tx_frame(i));
    to_fill.reserve(o.ring_size);

    // Once told to stop, the loop still empties the rx ring: what was
    // redirected before the socket left the XskMap is handled, not lost.
    for (;;) {
        const bool stopping = stop.load(std::memory_order_acquire);
        refresh_inspector();
        reclaim_tx();
        refill();
        uint32_t idx = 0;
        const uint32_t n = xsk_ring_cons__peek(rx->rx(), o.batch, &idx);
        if (!n) {
            if (stopping)
                break;
            idle(timeout);
            continue;
        }
        if (inspector)
            inspector->begin_batch();
        Batch b;
        for (uint32_t i = 0; i < n; ++i)
            handle_frame(xsk_ring_cons__rx_desc(rx->rx(), idx + i), b);
        xsk_ring_cons__release(rx->rx(), n);
        flush_tx(b.queued_tx);
        refill();
        publish(n, b);
    }
    // Let what is queued for tx go out before the sockets close.
    drain_tx();
}

Engine::Engine(EngineConfig cfg, XskMapFds maps, InspectorFactory inspector)
    : cfg_(std::move(cfg)), inspector_(std::move(inspector))
{
    validate_engine_config(cfg_);
    xsks_fd_ = UniqueFd(fcntl(maps.xsks, F_DUPFD_CLOEXEC, 0));
    if (xsks_fd_.get() < 0)
        throw XskError(errno, "duplicate xdpfw_xsks fd");
    ports_fd_ = UniqueFd(fcntl(maps.ports, F_DUPFD_CLOEXEC, 0));
    if (ports_fd_.get() < 0) {
        const int err = errno;
        throw XskError(err, "duplicate xdpfw_xsk_ports fd");
    }
}

Engine::~Engine()
{
    stop();
}

bool Engine::running() const
{
    std::lock_guard lk(mu_);
    return running_;
}

void Engine::set_inspector(InspectorFactory inspector)
{
    {
        std::lock_guard lk(inspector_mu_);
        inspector_ = std::move(inspector);
    }
    inspector_gen_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<Engine::Counters> Engine::counters_for(const std::string& ifname, uint32_t queue)
{
    auto& p = counters_[{ifname, queue}];
    if (!p)
        p = std::make_shared<Counters>();
    return p;
}

void Engine::register_sockets()
{
    for (const Port& p : ports_) {
        for (uint32_t q = 0; q < p.queues; ++q) {
            const uint32_t slot = p.base + q;
            const int fd = p.sockets[q]->fd();
            if (bpf_map_update_elem(xsks_fd_.get(), &slot, &fd, BPF_ANY))
                throw XskError(errno, fmt::format("insert socket of {} queue {} into xdpfw_xsks "
                                                  "slot {}", p.ifname, q, slot));
        }
        const uint32_t key = uint32_t(p.ifindex), base = p.base;
        if (bpf_map_update_elem(ports_fd_.get(), &key, &base, BPF_ANY))
            throw XskError(errno, "insert " + p.ifname + " into xdpfw_xsk_ports");
    }
}

void Engine::start()
{
    std::lock_guard lk(mu_);
    if (running_)
        return;
    try {
        bpf_map_info info{};
        uint32_t len = sizeof(info);
        if (bpf_obj_get_info_by_fd(xsks_fd_.get(), &info, &len))
            throw XskError(errno, "read xdpfw_xsks info");
        uint32_t next = 0;
        for (const auto& name : cfg_.interfaces) {
            Port p;
            p.ifname = name;
            p.ifindex = int(if_nametoindex(name.c_str()));
            if (!p.ifindex)
                throw XskError(errno, "xsk interface " + name);
            p.queues = rx_queue_count(name);
            p.base = next;
            next += p.queues;
            if (next > info.max_entries)
                throw std::invalid_argument(fmt::format(
                    "xsk: {} rx queues on {} need slots {}..{} but xdpfw_xsks has {} "
                    "(capacity.max_queues)", p.queues, name, p.base, next - 1, info.max_entries));
            ports_.push_back(std::move(p));
        }
        for (const auto& [a, b] : cfg_.pairs) {
            auto find = [&](const std::string& n) {
                return size_t(std::find_if(ports_.begin(), ports_.end(),
                                           [&](const Port& p) { return p.ifname == n; }) -
                              ports_.begin());
            };
            const size_t ia = find(a), ib = find(b);
            if (ports_[ia].queues != ports_[ib].queues)
                throw std::invalid_argument(fmt::format(
                    "xsk: paired interfaces {} ({} rx queues) and {} ({}) must have as many queues",
                    a, ports_[ia].queues, b, ports_[ib].queues));
            ports_[ia].peer = ib;
            ports_[ib].peer = ia;
        }
        for (Port& p : ports_)
            for (uint32_t q = 0; q < p.queues; ++q)
                p.sockets.push_back(XskSocket::create(p.ifname, q, cfg_.socket));
        if (cfg_.mode == ForwardMode::host)
            tun_ = std::make_unique<HostTun>(cfg_.host_device);

        size_t n = 0;
        for (Port& p : ports_) {
            for (uint32_t q = 0; q < p.queues; ++q, ++n) {
                auto w = std::make_unique<Worker>();
                w->engine = this;
                w->rx = p.sockets[q].get();
                w->tx = p.peer == SIZE_MAX ? nullptr : ports_[p.peer].sockets[q].get();
                w->tun = tun_.get();
                w->c = counters_for(p.ifname, q);
                w->c->zero_copy = w->rx->zero_copy();
                w->cpu = cfg_.cpus.empty() ? -1 : cfg_.cpus[n % cfg_.cpus.size()];
                workers_.push_back(std::move(w));
            }
        }
        for (auto& w : workers_)
            w->thread = std::thread([wp = w.get()] { wp->run(); });
        register_sockets();
        running_ = true;
    } catch (...) {
        teardown();
        throw;
    }
    for (const Port& p : ports_)
        spdlog::info("xsk engine ifname={} queues={} slots={}..{} mode={}{}", p.ifname, p.queues,
                     p.base, p.base + p.queues - 1, forward_mode_name(cfg_.mode),
                     p.peer == SIZE_MAX ? "" : " peer=" + ports_[p.peer].ifname);
}

void Engine::stop()
{
    std::lock_guard lk(mu_);
    const bool was = running_;
    teardown();
    if (was)
        spdlog::info("xsk engine stopped");
}

void Engine::teardown() noexcept
{
    // Unregister first: from here on the queues take the rules' fallback.
    for (const Port& p : ports_) {
        const uint32_t key = uint32_t(p.ifindex);
        bpf_map_delete_elem(ports_fd_.get(), &key);
        for (uint32_t q = 0; q < p.queues; ++q) {
            const uint32_t slot = p.base + q;
            bpf_map_delete_elem(xsks_fd_.get(), &slot);
        }
    }
    // Frames the program redirected just before the delete may still be on
    // their way into the rx rings (they are flushed at the end of the
    // driver's poll); give them that moment, then let the workers drain.
    if (!workers_.empty())
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& w : workers_)
        w->stop.store(true, std::memory_order_release);
    for (auto& w : workers_)
        if (w->thread.joinable())
            w->thread.join();
    for (Port& p : ports_) {
        for (uint32_t q = 0; q < p.sockets.size(); ++q) {
            try {
                counters_for(p.ifname, q)->kernel_closed += p.sockets[q]->kernel_stats();
            } catch (const std::exception& e) {
                spdlog::warn("xsk {}", e.what());
            }
        }
    }
    workers_.clear();
    ports_.clear(); // closes the sockets and frees the UMEMs
    tun_.reset();
    running_ = false;
}

EngineStats Engine::stats() const
{
    std::lock_guard lk(mu_);
    EngineStats s;
    s.running = running_;
    s.mode = forward_mode_name(cfg_.mode);
    std::map<uint32_t, RuleStats> rules;
    for (const auto& [key, c] : counters_) {
        WorkerStats w;
        w.ifname = key.first;
        w.queue = key.second;
        w.zero_copy = c->zero_copy;
        w.rx_packets = get(c->rx_packets);
        w.rx_bytes = get(c->rx_bytes);
        w.forwarded = get(c->forwarded);
        w.dropped_verdict = get(c->dropped_verdict);
        w.tx_packets = get(c->tx_packets);
        w.tx_bytes = get(c->tx_bytes);
        w.malformed = get(c->malformed);
        w.invalid_desc = get(c->invalid_desc);
        w.fill_short = get(c->fill_short);
        w.tx_busy = get(c->tx_busy);
        w.tx_errors = get(c->tx_errors);
        w.host_non_ip = get(c->host_non_ip);
        w.kernel = c->kernel_closed;
        for (const Port& p : ports_) {
            if (p.ifname == key.first && key.second < p.sockets.size()) {
                w.running = running_;
                try {
                    w.kernel += p.sockets[key.second]->kernel_stats();
                } catch (const std::exception& e) {
                    spdlog::debug("xsk {}", e.what());
                }
            }
        }
        {
            std::lock_guard rl(c->rules_mu);
            for (const auto& [id, r] : c->rules)
                rules[id] += r;
        }
        s.workers.push_back(std::move(w));
    }
    for (auto& [id, r] : rules)
        s.rules.push_back(r);
    return s;
}

} // namespace xdpfw::xsk
