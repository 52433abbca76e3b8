// SPDX-License-Identifier: GPL-2.0-only
// The xdpfw daemon: adopt or load, restore, attach, serve, sample counters.
#include "apps/xdpfwd/daemon.hpp"

#include "apps/xdpfwd/adoption.hpp"
#include "apps/xdpfwd/syncookie_check.hpp"

#include "lib/base/proc.hpp"
#include "lib/base/utc_time.hpp"
#include "lib/base/version.hpp"
#include "lib/lang/inspect_rules.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/control/server.hpp"
#include "lib/kernel/build_id.hpp"
#include "lib/kernel/content_hash.hpp"
#include "lib/kernel/egress.hpp"
#include "lib/kernel/log.hpp"
#include "lib/metrics/http_server.hpp"

#include "xdpfw_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <boost/asio.hpp>
#include <fmt/format.h>
#include <grp.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <functional>

namespace xdpfw {

namespace {

std::optional<gid_t> group_id(const std::string& name)
{
    if (name.empty())
        return std::nullopt;
    if (name.find_first_not_of("0123456789") == std::string::npos)
        return gid_t(std::stoul(name));
    if (const group* g = getgrnam(name.c_str()))
        return g->gr_gid;
    throw std::invalid_argument("config: socket_group: no group named '" + name + "'");
}

} // namespace

Daemon::Daemon(DaemonConfig cfg) : cfg_(std::move(cfg)), started_(std::chrono::steady_clock::now()) {}

Daemon::~Daemon()
{
    stop_fleet();
    if (tiering_)
        tiering_->stop();
    engine_.reset();
    stop_sampling_ = true;
    if (sampler_.joinable())
        sampler_.join();
}

CompiledPolicy Daemon::compile_policy(const Policy& policy) const
{
    auto resolve = [](const std::string& name) -> uint32_t {
        if (unsigned idx = if_nametoindex(name.c_str()))
            return idx;
        throw PolicyError("interface", name, "no such interface");
    };
    const CompileOptions o{.caps = cfg_.load.caps, .resolve = resolve, .cache = cache_};
    return compile(policy, o);
}

namespace {

// Runs the map writer's step f. Beyond room in the tables, the map writer
// only checks that the compiled form is consistent: a compiler bug, not the
// user's policy.
template <class F>
void map_writer_step(F&& f)
{
    try {
        f();
    } catch (const CapacityError&) {
        throw;
    } catch (const PolicyError& e) {
        throw PolicyError(e.where(), e.key(), e.problem(), ErrorCode::internal);
    }
}

} // namespace

void Daemon::commit(const Policy& policy, uint64_t version)
{
    const auto begun = std::chrono::steady_clock::now();
    // Both halves are compiled before either goes live: a bad inspection
    // rule leaves the header policy untouched too.
    InspectPolicy ip;
    ip.rules = policy.inspect;
    std::shared_ptr<const inspect::RuleSet> rules = compile_inspect_policy(ip);
    CompiledPolicy compiled = compile_policy(policy);
    map_writer_step([&] { maps_->commit(compiled, version); });
    events_->committed(version);
    inspection_.publish(std::move(rules));
    tiering_->request(compiled.spec, compiled.spec_why_not);
    // Their labels are read from the store when a scrape or an event needs
    // them (set_reader in start()), not copied here.
    metrics_.committed(version,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - begun).count());
}

// A dry run: everything commit() does before it writes a map.
void Daemon::check(const Policy& policy)
{
    InspectPolicy ip;
    ip.rules = policy.inspect;
    compile_inspect_policy(ip);
    const CompiledPolicy compiled = compile_policy(policy);
    map_writer_step([&] { maps_->check_capacity(compiled); });
}

void Daemon::rollback_if_due(const char* when, bool wait_for_store)
{
    std::unique_lock lock(store_mu_, std::defer_lock);
    if (wait_for_store)
        lock.lock();
    else if (!lock.try_lock())
        return; // a command runs: next tick
    const auto& pending = store_->pending();
    if (!pending || std::chrono::system_clock::now() < pending->deadline)
        return;
    const uint64_t version = pending->version, target = pending->rollback_version;
    const std::string deadline = format_utc_time(pending->deadline);
    try {
        store_->rollback_if_due(std::chrono::system_clock::now());
        spdlog::warn("event=confirm_rollback when={} unconfirmed_version={} deadline={} "
                     "restored_policy_of={} version={} msg=\"not confirmed in time: the policy "
                     "before it is back\"",
                     when, version, deadline, target, store_->version());
    } catch (const std::exception& e) {
        // Tried again at the next tick; said once per version.
        if (rollback_failure_logged_ != version)
            spdlog::error("event=confirm_rollback_failed unconfirmed_version={} error=\"{}\"",
                          version, e.what());
        rollback_failure_logged_ = version;
    }
}

void Daemon::start()
{
    pin_dir_ = instance_pin_dir(cfg_.instance);
    make_pin_dir(pin_dir_);
    const bool had_pins = std::filesystem::exists(pin_dir_ + "/xdpfw_ctrl");

    LoadOptions lo = cfg_.load;
    lo.pin_dir = pin_dir_;
    try {
        obj_.emplace(XdpfwObject::load(lo));
    } catch (const BpfError& e) {
        if (!had_pins)
            throw;
        if (!cfg_.upgrade_maps)
            throw BpfError(e.code().value(),
                           std::string(e.what()) + "\n(the maps pinned in " + pin_dir_ +
                               " do not fit this configuration's capacities, or were made by "
                               "another xdpfw version; start with --upgrade-maps to move the "
                               "saved policy and the counters to new maps and replace the "
                               "running program atomically, or run `xdpfwctl detach` with the "
                               "old daemon, or remove the pins, to start afresh)");
        spdlog::warn("event=upgrade_maps pins={} reason=\"{}\"", pin_dir_, e.what());
        begin_map_upgrade(lo);
    }
    try {
        start_on_maps(had_pins && !upgrade_);
    } catch (...) {
        if (upgrade_)
            upgrade_->abort(); // the old program still filters on its maps
        throw;
    }
    if (upgrade_) {
        upgrade_->finish();
        spdlog::info("event=maps_upgraded pins={} old_prog_id={} prog_id={}", pin_dir_,
                     upgrade_->old_program_id(), prog_id_of(prog_fd_.get()));
        upgrade_.reset();
    }
    if (cfg_.xsk_enabled)
        start_xsk();

    last_.time = prev_.time = std::chrono::steady_clock::now();
    last_.rules = prev_.rules = maps_->all_rule_counters();
    last_.reasons = prev_.reasons = maps_->reason_counters();
    sampler_ = std::thread([this] { sample_loop(); });
    events_->start();
}

// The pinned maps do not fit: new ones beside the old (MapUpgrade), sharing
// the counters' maps when this build can reuse them.
void Daemon::begin_map_upgrade(const LoadOptions& lo)
{
    upgrade_.emplace(MapUpgrade::begin(pin_dir_));
    try {
        try {
            obj_.emplace(XdpfwObject::load(lo));
        } catch (const BpfError& e) {
            spdlog::warn("event=upgrade_maps msg=\"counters not shared: {}\"", e.what());
            upgrade_->unlink_carried();
            obj_.emplace(XdpfwObject::load(lo));
        }
    } catch (...) {
        upgrade_->abort();
        upgrade_.reset();
        throw;
    }
    spdlog::info("event=upgrade_maps old_pins={} shared=\"{}\"", upgrade_->old_dir(),
                 fmt::join(upgrade_->shared_maps(*obj_), ","));
}

// The rest of start(), on the loaded object: adopted says whether its maps
// are the pinned ones an earlier daemon left.
void Daemon::start_on_maps(bool had_pins)
{
    maps_ = std::make_unique<PolicyMaps>(*obj_);
    events_ = std::make_unique<EventService>(*obj_, *maps_, cfg_.events);
    tiering_ = std::make_unique<Tiering>(*obj_, [this](int fd) { install_program(fd); });
    adopted_ = had_pins && maps_->committed();
    store_ = std::make_unique<PolicyStore>(*this, cfg_.load.caps.max_rules, cfg_.state_file());
    store_->on_rule_created = [this](uint32_t id) { maps_->reset_rule_counter(id); };
    store_->on_warning = [](const std::string& what) { spdlog::warn("event=state_warning {}", what); };

    if (upgrade_) // before the commit, which would make empty ones
        spdlog::info("event=upgrade_tables carried=\"{}\"",
                     fmt::join(upgrade_->carry_inner_tables(*obj_), ","));
    restore_policy();
    if (auto w = syncookie_warning(store_->policy(), read_tcp_syncookies()))
        spdlog::warn("event=syncookie_sysctl msg=\"{}\"", *w);
    metrics_.live(store_->policy(), store_->version()); // also when adopted: nothing committed
    const metrics::PolicyReader reader = [this](const auto& f) {
        std::lock_guard lock(store_mu_);
        f(store_->policy(), store_->version());
    };
    metrics_.set_reader(reader);
    events_->set_reader(reader);
    events_->committed(store_->version());
    // A deadline that passed while no daemon ran: roll back now.
    rollback_if_due("start", true);
    // An adopted policy is not committed again: hand its inspection rules to
    // the workers here.
    if (!inspection_.current()) {
        InspectPolicy ip;
        ip.rules = store_->policy().inspect;
        inspection_.publish(compile_inspect_policy(ip));
    }
    if (upgrade_)
        copy_upgrade_counters();
    attach_interfaces();
    tiering_->start(adopted_program_ ? prog_fd_.get() : -1);
}

// Counters of maps the upgrade could not share, after the policy is in.
void Daemon::copy_upgrade_counters()
{
    std::vector<uint32_t> ids;
    for (const Rule& r : store_->policy().rules)
        ids.push_back(r.id);
    const size_t copied = upgrade_->copy_counters(*obj_, ids);
    spdlog::info("event=upgrade_counters rule_counters_copied={}", copied);
}

void Daemon::restore_policy()
{
    const uint64_t live = maps_->committed() ? maps_->live_version() : 0;
    // With a live policy pinned, why the saved state cannot stand for it.
    std::string unusable;
    bool restored = false;
    try {
        restored = store_->restore();
    } catch (const CommandError& e) {
        if (!adopted_ && !upgrade_)
            throw;
        unusable = e.what();
    }
    // An upgrade's live policy runs on the old maps: only the saved state
    // may stand for it, as for an adoption.
    if ((adopted_ || upgrade_) && unusable.empty()) {
        if (!restored)
            unusable = missing_state();
        else if (adopted_ && store_->version() < live)
            unusable = fmt::format("state file {} holds version {}, older than the live version",
                                   cfg_.state_file().string(), store_->version());
    }
    if (!unusable.empty()) {
        if (!cfg_.replace_live)
            throw std::runtime_error(refusal(unusable, live));
        spdlog::warn("event=replace_live pins={} live_version={} reason=\"{}\" msg=\"--replace-live: "
                     "replacing the live policy with the configured one\"",
                     pin_dir_, live, unusable);
        commit_initial_policy();
        return;
    }
    if (!restored) {
        commit_initial_policy(); // nothing pinned: a first start
        return;
    }
    if (adopted_ && live == store_->version()) {
        if (live_matches_state(live)) {
            spdlog::info("event=adopted pins={} version={} rules={} sets={}", pin_dir_, live,
                         store_->policy().rules.size(), store_->policy().sets.size());
            return;
        }
        store_->recommit(fmt::format("adoption check: the live tables of version {} are not "
                                     "what {} compiles to",
                                     live, cfg_.state_file().string()));
    } else {
        // Pins gone (reboot), or the saved state is ahead of the live
        // tables (a crash between the write-ahead and the switch).
        store_->recommit(fmt::format("restored from {} (live version {})",
                                     cfg_.state_file().string(), live));
    }
    spdlog::info("event=restored state={} version={} rules={}", cfg_.state_file().string(),
                 store_->version(), store_->policy().rules.size());
}

std::string Daemon::missing_state() const
{
    const std::filesystem::path journal = PolicyStore::journal_path(cfg_.state_file());
    std::error_code ec;
    std::string what = "state file " + cfg_.state_file().string() + " does not exist";
    if (std::filesystem::symlink_status(journal, ec).type() != std::filesystem::file_type::not_found)
        what += " (its journal " + journal.string() +
                " is there without it: the journal only holds the commits after a snapshot)";
    return what;
}

std::string Daemon::refusal(const std::string& unusable, uint64_t live) const
{
    std::string what = cfg_.rules.empty()
                           ? fmt::format("an empty policy (default: {})", action_name(cfg_.default_action))
                           : "the rules file " + cfg_.rules;
    std::string tmp_note;
    std::filesystem::path tmp = cfg_.state_file();
    tmp += ".tmp";
    std::error_code ec;
    if (std::filesystem::symlink_status(tmp, ec).type() == std::filesystem::file_type::regular)
        tmp_note = "; " + tmp.string() +
                   " exists: a commit that stopped between going live and being saved leaves "
                   "its state there";
    return fmt::format(
        "instance '{}' has a live policy (version {}, pinned in {}) but its saved state cannot "
        "be loaded: {}{}. Starting would replace the live policy, so xdpfwd refuses and changes "
        "nothing. To proceed: restore the state file {} (and its journal), or start with "
        "--replace-live to commit {} over the live policy",
        cfg_.instance, live, pin_dir_, unusable, tmp_note, cfg_.state_file().string(), what);
}

void Daemon::commit_initial_policy()
{
    Policy initial;
    std::string summary = "initial empty policy";
    if (!cfg_.rules.empty()) {
        initial = load_policy_file(cfg_.rules);
        summary = "initial policy from " + cfg_.rules;
    } else {
        initial.default_action = cfg_.default_action;
        initial.malformed_action = cfg_.malformed_action;
        initial.default_non_ip_action = cfg_.default_non_ip_action;
    }
    store_->replace(std::move(initial), summary);
    spdlog::info("event=committed version={} rules={} summary=\"{}\"", store_->version(),
                 store_->policy().rules.size(), summary);
}

// The adoption check: the live tables' content hash (pinned by the commit
// that made them live) against the saved state's compile.
bool Daemon::live_matches_state(uint64_t live)
{
    const CompiledPolicy mine = compile_policy(store_->policy());
    tiering_->request(mine.spec, mine.spec_why_not); // a recommit replaces it
    const uint64_t want = content_hash(mine), have = maps_->live_content_hash();
    switch (compare_pinned_hash(mine, store_->policy(), have)) {
    case PinnedHash::same: return true;
    case PinnedHash::same_scheme1:
        spdlog::info("event=adopted_hash_scheme pins={} version={} scheme=1 live_hash={:016x} "
                     "msg=\"the live policy's hash is an older build's (sets hashed field by "
                     "field); the next commit pins this build's\"",
                     pin_dir_, live, have);
        return true;
    case PinnedHash::differs: break;
    }
    const std::vector<xdpfw_rule> kernel = maps_->live_rules();
    auto same_rule = [](const xdpfw_rule& a, const xdpfw_rule& b) {
        return a.rule_id == b.rule_id && a.counter_slot == b.counter_slot &&
               a.redirect_slot == b.redirect_slot && a.action == b.action &&
               a.flags == b.flags && a.sample == b.sample;
    };
    std::string differs;
    if (have == 0)
        differs = "the live policy carries no content hash";
    else if (!std::equal(kernel.begin(), kernel.end(), mine.rules.begin(), mine.rules.end(), same_rule))
        differs = fmt::format("the rule table (ids, order or actions; live {} rules, state {})",
                              kernel.size(), mine.rules.size());
    else
        differs = "what the rules match, the sets or the default verdicts (same rule table)";
    spdlog::warn("event=adoption_mismatch pins={} version={} live_hash={:016x} state_hash={:016x} "
                 "differs=\"{}\" msg=\"the live tables are not what {} compiles to; recommitting "
                 "from the saved state\"",
                 pin_dir_, live, have, want, differs, cfg_.state_file().string());
    return false;
}

// An xdpfw program on the interface that is not the pinned one: a daemon
// killed between swapping a program in and pinning it (install_program).
// When it reads this instance's maps it is replaced by the pinned program
// in one atomic step, so the interface is never without a filter; any other
// program is left to the attach below, which refuses it.
std::optional<XdpMode> Daemon::replace_unpinned_program(const std::string& name,
                                                        unsigned ifindex)
{
    for (XdpMode m : {XdpMode::native, XdpMode::generic}) {
        const uint32_t other = attached_prog_id(int(ifindex), m);
        if (!other)
            continue;
        if (upgrade_ && other == upgrade_->old_program_id()) {
            // --upgrade-maps: the old build's program, on the old maps.
            replace_program(int(ifindex), m, upgrade_->old_program_fd(), prog_fd_.get());
            spdlog::info("event=upgrade_swapped iface={} mode={} old_prog_id={} prog_id={}", name,
                         xdp_mode_name(m), other, prog_id_of(prog_fd_.get()));
            return m;
        }
        const UniqueFd fd(bpf_prog_get_fd_by_id(other));
        if (fd.get() < 0 || !obj_->program_mismatch(fd.get()).empty())
            return std::nullopt;
        replace_program(int(ifindex), m, fd.get(), prog_fd_.get());
        spdlog::warn("event=replaced_unpinned_program iface={} mode={} old_prog_id={} prog_id={} "
                     "msg=\"a program of this instance that was never pinned (the last daemon "
                     "stopped during a program swap) replaced by the pinned one\"",
                     name, xdp_mode_name(m), other, prog_id_of(prog_fd_.get()));
        return m;
    }
    return std::nullopt;
}

void Daemon::attach_interfaces()
{
    // The program on the interfaces is the pinned one when an earlier xdpfwd
    // left it (it uses the same pinned maps), else the one just loaded.
    const std::string prog_pin = pin_dir_ + "/prog";
    UniqueFd pinned(std::filesystem::exists(prog_pin) ? bpf_obj_get(prog_pin.c_str()) : -1);
    if (pinned.get() >= 0) {
        // A program an older xdpfwd pinned may read the same maps with
        // other layouts, or miss maps this build writes: refuse it.
        const std::string why = obj_->program_mismatch(pinned.get());
        if (!why.empty())
            throw BpfError(EINVAL, "the program pinned at " + prog_pin +
                                       " was loaded by another xdpfw version (" + why +
                                       "); run `xdpfwctl detach` with the daemon that loaded "
                                       "it, or remove " + pin_dir_ + ", to start afresh");
        prog_fd_ = std::move(pinned);
        adopted_program_ = true;
    } else {
        prog_fd_ = UniqueFd(dup(obj_->prog_fd()));
        if (prog_fd_.get() < 0)
            throw BpfError(errno, "dup program fd");
        pin_program(prog_fd_.get(), pin_dir_);
    }
    const uint32_t id = prog_id_of(prog_fd_.get());

    AttachOptions ao;
    ao.mode = parse_attach_mode(cfg_.attach_mode);
    for (const std::string& name : cfg_.interfaces) {
        const unsigned ifindex = if_nametoindex(name.c_str());
        if (!ifindex)
            throw BpfError(ENODEV, "attach xdp to " + name + ": no such interface");
        Link link;
        link.status.name = name;
        link.status.ifindex = ifindex;
        std::optional<XdpMode> found;
        for (XdpMode m : {XdpMode::native, XdpMode::generic})
            if (id && attached_prog_id(int(ifindex), m) == id)
                found = m;
        if (!found)
            found = replace_unpinned_program(name, ifindex);
        if (found) {
            link.mode = *found;
            link.status.mode = xdp_mode_name(*found);
            link.status.multiprog = false;
            spdlog::info("event=adopted_attachment iface={} ifindex={} mode={} prog_id={}", name,
                         ifindex, link.status.mode, id);
        } else {
            link.owned.emplace(XdpAttachment::attach_fd(prog_fd_.get(), int(ifindex), ao));
            const AttachInfo& ai = link.owned->info();
            link.mode = ai.mode;
            link.status.mode = xdp_mode_name(ai.mode);
            link.status.multiprog = ai.multiprog;
            spdlog::info("event=attached iface={} ifindex={} mode={} multiprog={} prog_id={}",
                         name, ifindex, link.status.mode, ai.multiprog, id);
        }
        if (cfg_.ct_egress)
            attach_egress(*obj_, int(ifindex)); // ct.h: the host's own flows
        std::lock_guard lock(links_mu_);
        links_.push_back(std::move(link));
    }
}

void Daemon::install_program(int fd)
{
    std::lock_guard lock(links_mu_);
    if (prog_fd_.get() < 0)
        throw std::runtime_error("detached: no program to replace");
    for (Link& l : links_) {
        if (l.owned)
            l.owned->replace(fd);
        else
            replace_program(int(l.status.ifindex), l.mode, prog_fd_.get(), fd);
    }
    // The pin follows the interfaces: a restarted xdpfwd adopts what runs.
    pin_program(fd, pin_dir_);
    UniqueFd mine(fcntl(fd, F_DUPFD_CLOEXEC, 3));
    if (mine.get() < 0)
        throw BpfError(errno, "dup program fd");
    prog_fd_ = std::move(mine);
}

void Daemon::start_xsk()
{
    xsk::XskMapFds fds{bpf_map__fd(obj_->skel()->maps.xdpfw_xsks),
                       bpf_map__fd(obj_->skel()->maps.xdpfw_xsk_ports)};
    engine_ = std::make_unique<xsk::Engine>(xsk_engine_config(cfg_), fds, inspection_.factory());
    engine_->start();
    const auto st = engine_->stats();
    for (const auto& w : st.workers)
        spdlog::info("event=xsk_worker iface={} queue={} mode={} bind={}", w.ifname, w.queue,
                     st.mode, w.zero_copy ? "zero-copy" : "copy");
}

nlohmann::json Daemon::memory() const
{
    nlohmann::json m = {{"kernel_map_bytes", obj_->map_bytes()}};
    if (auto rss = process_rss_bytes())
        m["daemon_rss_bytes"] = *rss;
    return m;
}

nlohmann::json Daemon::build_info() const
{
    return {{"version", build::version()}, {"git", build::git()}, {"bpf_object", bpf_object_id()}};
}

nlohmann::json Daemon::control() const
{
    const ControlServer* server = server_.load();
    if (!server)
        return nullptr;
    const ServerCounters c = server->counters();
    return {{"connections", server->connections()}, {"accepted", c.accepted},
            {"refused_busy", c.refused_busy}, {"evicted_idle", c.evicted_idle},
            {"closed_idle", c.closed_idle}, {"too_deep", c.too_deep},
            {"over_buffer", c.over_buffer}};
}

nlohmann::json Daemon::xsk_stats() const
{
    if (!engine_)
        return nullptr;
    const xsk::EngineStats st = engine_->stats();
    nlohmann::json workers = nlohmann::json::array();
    for (const auto& w : st.workers)
        workers.push_back({{"interface", w.ifname},
                           {"queue", w.queue},
                           {"running", w.running},
                           {"bind", w.zero_copy ? "zero-copy" : "copy"},
                           {"rx_packets", w.rx_packets},
                           {"rx_bytes", w.rx_bytes},
                           {"forwarded", w.forwarded},
                           {"dropped_verdict", w.dropped_verdict},
                           {"tx_packets", w.tx_packets},
                           {"tx_bytes", w.tx_bytes},
                           {"malformed", w.malformed},
                           // Not a drop: the kernel found nothing to send
                           // when it looked (poll() looks too).
                           {"tx_ring_empty", w.kernel.tx_ring_empty},
                           {"drops",
                            {{"rx_ring_full", w.kernel.rx_ring_full},
                             {"rx_dropped", w.kernel.rx_dropped},
                             {"fill_ring_empty", w.kernel.rx_fill_ring_empty},
                             {"rx_invalid_descs", w.kernel.rx_invalid_descs},
                             {"tx_invalid_descs", w.kernel.tx_invalid_descs},
                             {"invalid_desc", w.invalid_desc},
                             {"fill_short", w.fill_short},
                             {"tx_busy", w.tx_busy},
                             {"tx_errors", w.tx_errors},
                             {"host_non_ip", w.host_non_ip}}}});
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : st.rules)
        rules.push_back({{"id", r.rule_id},
                         {"packets", r.packets},
                         {"bytes", r.bytes},
                         {"dropped", r.dropped},
                         {"forwarded", r.forwarded}});
    const inspect::InspectStats is = inspection_.stats();
    nlohmann::json dns_bad = nlohmann::json::object(), frame_bad = nlohmann::json::object();
    for (size_t i = 1; i < is.dns_malformed.size(); ++i)
        dns_bad[inspect::dns_status_name(inspect::DnsStatus(i))] = is.dns_malformed[i];
    for (size_t i = 1; i < is.frame_malformed.size(); ++i)
        frame_bad[inspect::frame_error_name(inspect::FrameError(i))] = is.frame_malformed[i];
    nlohmann::json out = {{"running", st.running},
                          {"mode", st.mode},
                          {"workers", std::move(workers)},
                          {"rules", std::move(rules)},
                          {"inspect",
                           {{"packets", is.packets},
                            {"no_payload", is.no_payload},
                            {"dns_queries", is.dns_queries},
                            {"dns_malformed", std::move(dns_bad)},
                            {"frame_malformed", std::move(frame_bad)}}}};
    if (engine_->config().mode == xsk::ForwardMode::host)
        out["host_device"] = engine_->config().host_device;
    return out;
}

std::vector<InterfaceStatus> Daemon::interfaces() const
{
    std::lock_guard lock(links_mu_);
    std::vector<InterfaceStatus> out;
    for (const Link& l : links_)
        out.push_back(l.status);
    return out;
}

double Daemon::uptime_seconds() const
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void Daemon::sample_loop()
{
    while (!stop_sampling_) {
        for (int i = 0; i < 10 && !stop_sampling_; i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (stop_sampling_)
            break;
        try {
            Sample s;
            s.time = std::chrono::steady_clock::now();
            s.rules = maps_->all_rule_counters();
            s.reasons = maps_->reason_counters();
            std::lock_guard lock(sample_mu_);
            prev_ = std::move(last_);
            last_ = std::move(s);
        } catch (const std::exception& e) {
            spdlog::warn("event=sample_failed error=\"{}\"", e.what());
        }
    }
}

CounterSample Daemon::rate(uint64_t packets_now, uint64_t bytes_now, const xdpfw_counter& then,
                           const xdpfw_counter& now) const
{
    CounterSample c;
    c.packets = packets_now;
    c.bytes = bytes_now;
    double dt = std::chrono::duration<double>(last_.time - prev_.time).count();
    // A counter that went down was reset (rule id reused): no rate.
    if (dt > 0 && now.packets >= then.packets && now.bytes >= then.bytes) {
        c.pps = double(now.packets - then.packets) / dt;
        c.bps = 8.0 * double(now.bytes - then.bytes) / dt;
    }
    return c;
}

CounterSample Daemon::rule_counter(uint32_t rule_id) const
{
    xdpfw_counter now = maps_->rule_counter(rule_id);
    std::lock_guard lock(sample_mu_);
    if (rule_id < last_.rules.size() && rule_id < prev_.rules.size())
        return rate(now.packets, now.bytes, prev_.rules[rule_id], last_.rules[rule_id]);
    return CounterSample{now.packets, now.bytes, 0, 0};
}

std::vector<std::pair<std::string, CounterSample>> Daemon::reason_counters() const
{
    auto now = maps_->reason_counters();
    std::lock_guard lock(sample_mu_);
    std::vector<std::pair<std::string, CounterSample>> out;
    for (uint32_t r = 0; r < XDPFW_REASON_COUNT; r++)
        out.emplace_back(reason_name(r),
                         rate(now[r].packets, now[r].bytes, prev_.reasons[r], last_.reasons[r]));
    return out;
}

std::string Daemon::metrics_page(const std::vector<InterfaceStatus>& interfaces) const
{
    if (!engine_)
        return metrics_.render(*this, interfaces, nullptr);
    const metrics::EngineSample engine{engine_->stats(), inspection_.stats()};
    return metrics_.render(*this, interfaces, &engine);
}

std::vector<std::string> Daemon::detach()
{
    tiering_->stop(); // no program swap after this
    if (engine_)
        engine_->stop();
    std::lock_guard lock(links_mu_);
    std::vector<std::string> names;
    for (Link& l : links_) {
        if (l.owned)
            l.owned->detach();
        else
            detach_all(int(l.status.ifindex));
        detach_egress(int(l.status.ifindex));
        names.push_back(l.status.name);
        spdlog::info("event=detached iface={}", l.status.name);
    }
    links_.clear();
    remove_pin_dir(pin_dir_);
    spdlog::info("event=unpinned dir={}", pin_dir_);
    return names;
}

int Daemon::run()
{
    boost::asio::io_context io;
    ServerOptions so;
    so.path = cfg_.socket;
    so.mode = cfg_.socket_mode;
    so.group = group_id(cfg_.socket_group);
    so.max_message_bytes = cfg_.max_message_bytes;
    so.max_connections = cfg_.max_connections;
    so.idle_timeout = std::chrono::seconds(cfg_.control_idle_timeout_seconds);
    std::atomic<bool> detached{false};
    boost::asio::steady_timer stop_timer(io);
    start_fleet(); // before the server: its requests read fleet_
    ControlServer server(io, so, [&](const std::string& line, const PeerCred&) {
        bool exit_after = false;
        nlohmann::json r;
        if (auto refused = fleet_refusal(line))
            return *refused;
        {
            std::lock_guard lock(store_mu_);
            r = execute_line(line, *store_, *this, &exit_after);
        }
        if (exit_after) {
            detached = true;
            // Stop once the answer has had time to leave.
            boost::asio::post(io, [&] {
                stop_timer.expires_after(std::chrono::milliseconds(300));
                stop_timer.async_wait([&](const boost::system::error_code&) { io.stop(); });
            });
        }
        return r;
    }, [this](const std::string& line, const PeerCred&, const std::shared_ptr<StreamOutput>& out) {
        return events_->handle(line, out);
    });
    server.start();
    server_ = &server;
    // The interfaces as they are now: detach() changes them on the control
    // worker, and the daemon exits right after.
    std::optional<metrics::MetricsServer> exporter;
    if (cfg_.metrics) {
        exporter.emplace(io, metrics::HttpOptions{.listen = *cfg_.metrics},
                        [this, ifaces = interfaces()] { return metrics_page(ifaces); });
        exporter->start();
    }
    // Commit confirmed: a deadline is checked five times a second.
    boost::asio::steady_timer confirm_timer(io);
    std::function<void()> arm_confirm_timer = [&] {
        confirm_timer.expires_after(std::chrono::milliseconds(200));
        confirm_timer.async_wait([&](const boost::system::error_code& ec) {
            if (ec)
                return;
            rollback_if_due("timer", false);
            arm_confirm_timer();
        });
    };
    arm_confirm_timer();
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (!ec)
            spdlog::info("event=signal signal={}", sig);
        io.stop();
    });
    spdlog::info("event=ready instance={} socket={} version={}", cfg_.instance, cfg_.socket,
                 store_->version());
    io.run();
    stop_fleet();
    server.stop();
    if (exporter)
        exporter->stop();
    server_ = nullptr;
    // The sockets go: their queues fall back to the rules' fallback verdict.
    if (engine_)
        engine_->stop();

    tiering_->stop();
    if (detached)
        return 0;
    if (cfg_.detach_on_exit) {
        detach();
    } else {
        for (Link& l : links_)
            if (l.owned)
                l.owned->release();
        spdlog::info("event=stopped kept_attached=true pins={}", pin_dir_);
    }
    return 0;
}

} // namespace xdpfw
