// SPDX-License-Identifier: GPL-2.0-only
// The inspection library behind the engine's Inspector interface.
#include "lib/xsk/rule_inspector.hpp"

#include <algorithm>

namespace xdpfw::xsk {

class RuleInspection::Worker : public Inspector {
public:
    Worker(RuleInspection& owner, std::shared_ptr<inspect::Inspector> insp)
        : owner_(owner), insp_(std::move(insp))
    {
    }
    ~Worker() override
    {
        std::lock_guard lk(owner_.mu_);
        owner_.retired_ += insp_->counters().snapshot();
        auto& v = owner_.live_;
        v.erase(std::remove(v.begin(), v.end(), insp_), v.end());
    }
    void begin_batch() override { insp_->refresh(); }
    InspectResult inspect(std::span<const uint8_t> frame) override
    {
        const inspect::Result r = insp_->inspect(frame);
        InspectResult out;
        out.verdict = r.verdict == inspect::Verdict::drop ? Verdict::drop : Verdict::forward;
        out.rule_id = r.outcome == inspect::Outcome::rule ? r.rule_id : 0;
        out.malformed = r.outcome == inspect::Outcome::malformed_frame;
        return out;
    }

private:
    RuleInspection& owner_;
    std::shared_ptr<inspect::Inspector> insp_;
};

InspectorFactory RuleInspection::factory()
{
    return [this]() -> std::unique_ptr<Inspector> {
        auto insp = std::make_shared<inspect::Inspector>(slot_);
        {
            std::lock_guard lk(mu_);
            live_.push_back(insp);
        }
        return std::make_unique<Worker>(*this, std::move(insp));
    };
}

inspect::InspectStats RuleInspection::stats() const
{
    std::lock_guard lk(mu_);
    inspect::InspectStats s = retired_;
    for (const auto& i : live_)
        s += i->counters().snapshot();
    return s;
}

} // namespace xdpfw::xsk
