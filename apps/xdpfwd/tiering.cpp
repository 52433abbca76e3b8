// SPDX-License-Identifier: GPL-2.0-only
// The background tier worker (tiering.hpp).
#include "apps/xdpfwd/tiering.hpp"

#include "lib/kernel/attach.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace xdpfw {

namespace {

// The kernel's tag of a program: a hash of its instructions (map
// references left out), equal for two loads of one build's program.
uint64_t prog_tag(int fd)
{
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    uint64_t tag = 0;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
        std::memcpy(&tag, info.tag, sizeof(tag));
    return tag;
}

} // namespace

Tiering::Tiering(const XdpfwObject& general, std::function<void(int)> install, Loader load,
                 std::chrono::milliseconds settle)
    : general_(general), install_(std::move(install)), load_(std::move(load)), settle_(settle)
{
}

Tiering::~Tiering()
{
    stop();
}

void Tiering::start(int adopted_fd)
{
    std::lock_guard lock(mu_);
    if (started_ || stop_)
        return;
    started_ = true;
    foreign_ = swap_foreign_ = adopted_fd >= 0;
    foreign_tag_ = adopted_fd >= 0 ? prog_tag(adopted_fd) : 0;
    live_prog_id_ = prog_id_of(adopted_fd >= 0 ? adopted_fd : general_.prog_fd());
    worker_ = std::thread([this] { run(); });
    cv_.notify_all();
}

void Tiering::request(std::shared_ptr<const xdpfw_spec> spec, std::string why_not)
{
    std::lock_guard lock(mu_);
    if (want_seq_ != done_seq_)
        spdlog::debug("event=tier_request_replaced seq={}", want_seq_);
    want_ = std::move(spec);
    why_general_ = want_ ? std::string() : std::move(why_not);
    want_seq_++;
    want_since_ = std::chrono::steady_clock::now();
    cv_.notify_all();
}

void Tiering::stop()
{
    {
        std::lock_guard lock(mu_);
        stop_ = true;
        cv_.notify_all();
        idle_cv_.notify_all();
    }
    if (worker_.joinable())
        worker_.join();
}

bool Tiering::wait_idle(std::chrono::milliseconds timeout)
{
    std::unique_lock lock(mu_);
    return idle_cv_.wait_for(lock, timeout, [&] { return stop_ || want_seq_ == done_seq_; });
}

void Tiering::finish_round(uint64_t seq, const std::string& error)
{
    if (!error.empty()) {
        failures_++;
        last_error_ = error;
    }
    done_seq_ = seq;
    idle_cv_.notify_all();
}

void Tiering::settle(std::unique_lock<std::mutex>& lock)
{
    const auto give_up = std::chrono::steady_clock::now() + kMaxSettle;
    while (settle_.count() > 0 && !stop_) {
        const uint64_t seen = want_seq_;
        const auto until = std::min(std::chrono::steady_clock::now() + settle_, give_up);
        if (!cv_.wait_until(lock, until, [&] { return stop_ || want_seq_ != seen; }))
            return; // quiet for settle_
        if (std::chrono::steady_clock::now() >= give_up)
            return;
    }
}

void Tiering::run()
{
    std::unique_lock lock(mu_);
    while (true) {
        cv_.wait(lock, [&] { return stop_ || want_seq_ != done_seq_ || swap_foreign_; });
        if (stop_)
            return;
        settle(lock);
        if (stop_)
            return;
        swap_foreign_ = false;
        const uint64_t seq = want_seq_;
        const std::shared_ptr<const xdpfw_spec> spec = want_;
        const uint64_t key = spec ? spec->key : 0;
        if (!foreign_ && key == live_key_ && (key != 0 || !live_)) {
            finish_round(seq, {});
            continue;
        }
        lock.unlock();
        std::optional<SpecProgram> prog;
        std::string error;
        try {
            if (spec)
                prog.emplace(load_(general_, *spec));
        } catch (const std::exception& e) {
            error = e.what();
        }
        lock.lock();
        if (stop_)
            return;
        if (want_seq_ != seq) { // a newer commit: its own round
            cancelled_++;
            continue;
        }
        if (!error.empty()) {
            spdlog::error("event=tier_load_failed error=\"{}\" msg=\"staying on the general path\"",
                          error.substr(0, error.find('\n')));
            finish_round(seq, error);
            continue;
        }
        const int fd = prog ? prog->prog_fd() : general_.prog_fd();
        if (foreign_ && !prog && foreign_tag_ == prog_tag(fd)) {
            // Adopted: this build's general program already runs.
            foreign_ = false;
            live_key_ = 0;
            finish_round(seq, {});
            continue;
        }
        // The swap runs without mu_ (status stays readable); a commit that
        // lands meanwhile makes a new round, and the program swapped in
        // meanwhile still serves it through the general path.
        lock.unlock();
        try {
            install_(fd);
        } catch (const std::exception& e) {
            error = e.what();
        }
        lock.lock();
        if (!error.empty()) {
            spdlog::error("event=tier_swap_failed error=\"{}\"", error);
            finish_round(seq, error);
            continue;
        }
        last_swap_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                  want_since_)
                            .count();
        live_form_ = prog ? prog->form() : "";
        live_compiled_because_ = prog && !prog->generated() ? prog->generated_why_not() : "";
        live_ = std::move(prog);
        live_key_ = key;
        live_prog_id_ = prog_id_of(fd);
        foreign_ = false;
        swaps_++;
        last_error_.clear();
        spdlog::info("event=tier_swapped tier={} form={} prog_id={} key={:016x} ms={:.1f}",
                     key ? "specialised" : "general", key ? live_form_ : "-", prog_id_of(fd), key,
                     last_swap_ms_);
        finish_round(seq, {});
    }
}

nlohmann::json Tiering::status() const
{
    std::lock_guard lock(mu_);
    const uint64_t want_key = want_ ? want_->key : 0;
    const bool specialised = !foreign_ && live_key_ != 0 && live_key_ == want_key;
    nlohmann::json j = {{"live", specialised ? "specialised" : "general"},
                        {"pending", started_ && want_seq_ != done_seq_},
                        {"swaps", swaps_},
                        {"cancelled", cancelled_},
                        {"failures", failures_}};
    j["program_id"] = live_prog_id_;
    // The specialised program's form (lib/kernel/gen_program.hpp).
    if (specialised) {
        j["form"] = live_form_;
        if (!live_compiled_because_.empty())
            j["compiled_because"] = live_compiled_because_;
    }
    if (foreign_)
        j["adopted_program"] = true; // until the first swap
    if (last_swap_ms_ >= 0)
        j["last_swap_ms"] = last_swap_ms_;
    if (!want_ && !why_general_.empty())
        j["general_because"] = why_general_;
    if (!last_error_.empty())
        j["error"] = last_error_.substr(0, last_error_.find('\n'));
    return j;
}

} // namespace xdpfw
