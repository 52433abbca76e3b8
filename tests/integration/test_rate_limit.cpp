// SPDX-License-Identifier: GPL-2.0-only
// Rate limits on real traffic: xdpfw-pktgen floods from one source while a
// second sends slowly; limit=1000/s per=src lets 1000/s of the flood through
// and never touches the slow source, per=rule shares 1000/s between both.
// Each source has its own veth pair into the same namespace, with the same
// xdpfw program on both receiving ends: the limits are in shared maps, and a
// flood that fills its veth's queue cannot starve the slow source of the
// frames it sends.
#include "lib/compiler/compiler.hpp"
#include "lib/kernel/attach.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/log.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "lib/lang/policy_file.hpp"
#include "testing/live_frames.hpp"
#include "testing/netns.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>

namespace xdpfw::test {
namespace {

constexpr const char* kTx4 = "10.99.9.1";
constexpr const char* kRx4 = "10.99.9.2";
constexpr const char* kSlowTx4 = "10.99.10.1";
constexpr const char* kSlowRx4 = "10.99.10.2";
constexpr const char* kFast = "10.99.9.10";
constexpr const char* kSlow = "10.99.9.20";
constexpr double kSeconds = 5;
constexpr double kSlowRate = 200;

std::string pktgen_binary()
{
    return std::string(XDPFW_BINARY_DIR) + "/bench/xdpfw-pktgen";
}

// tx --rltx0 (flood), rltx1 (slow)--> rlrx0, rlrx1 in rx, xdpfw on both
// receiving ends. Rules 4 and 5 count what arrived per source (a flood can
// overflow its veth's queue before XDP), rules 2 and 3 what passed the limit
// (a packet under the limit goes on to them).
class RateLimitTest : public ::testing::Test {
protected:
    RateLimitTest()
        : link({&tx, "rltx0", kTx4, "fd00:99::9:1"}, {&rx, "rlrx0", kRx4, "fd00:99::9:2"}),
          slow_link({&tx, "rltx1", kSlowTx4, ""}, {&rx, "rlrx1", kSlowRx4, ""}),
          obj(XdpfwObject::load(small_load_options())), maps(std::make_unique<PolicyMaps>(obj))
    {
        init_logging(spdlog::level::warn);
    }

    void SetUp() override
    {
        ASSERT_TRUE(std::filesystem::exists(pktgen_binary()))
            << pktgen_binary() << " is missing: build the xdpfw-pktgen target";
    }

    void commit(const std::string& limit_rule)
    {
        EnterNetns in(rx);
        const Policy p = parse_policy_yaml(fmt::format(R"(
default: pass
rules:
  - id=1 priority=1 proto=udp dport=9300 {} action=drop
  - id=2 priority=2 src={} action=count
  - id=3 priority=3 src={} action=count
  - id=4 priority=0 src={} action=count
  - id=5 priority=0 src={} action=count
)",
                                                       limit_rule, kFast, kSlow, kFast, kSlow),
                                           ".", "test.yaml");
        auto resolve = [](const std::string& n) -> uint32_t { return if_nametoindex(n.c_str()); };
        maps->commit(compile(p, {.caps = obj.options().caps, .resolve = resolve}), ++version);
        if (!attachment) {
            attachment.emplace(XdpAttachment::attach(obj, "rlrx0"));
            slow_attachment.emplace(XdpAttachment::attach(obj, "rlrx1"));
        }
    }

    nlohmann::json pktgen(const VethPair& via, const std::string& src, const std::string& rate_args)
    {
        const CmdResult r = run_in(
            tx, fmt::format("{} --dev {} --json --dst-mac {} --src {} --dst {} --dport 9300 {}",
                            pktgen_binary(), via.a().ifname, via.mac_b(), src, via.b().ipv4,
                            rate_args));
        EXPECT_TRUE(r.ok()) << r.output;
        if (!r.ok())
            return nlohmann::json::object();
        return nlohmann::json::parse(r.output.substr(r.output.rfind('{')));
    }

    struct Run {
        double fast_sent, fast_passed, fast_seconds, slow_sent, slow_arrived, slow_passed;
    };

    // The flood at full speed and the slow source at once, for kSeconds.
    Run flood()
    {
        const uint64_t fast0 = maps->rule_counter(2).packets, slow0 = maps->rule_counter(3).packets;
        const uint64_t arrived0 = maps->rule_counter(5).packets;
        auto slow = std::async(std::launch::async, [&] {
            return pktgen(slow_link, kSlow,
                          fmt::format("--rate {} --duration {}", kSlowRate, kSeconds));
        });
        const nlohmann::json fast = pktgen(link, kFast, fmt::format("--duration {}", kSeconds));
        const nlohmann::json s = slow.get();
        return Run{fast.value("packets", 0.0),
                   double(maps->rule_counter(2).packets - fast0),
                   fast.value("seconds", 0.0),
                   s.value("packets", 0.0),
                   double(maps->rule_counter(5).packets - arrived0),
                   double(maps->rule_counter(3).packets - slow0)};
    }

    NetNs tx, rx;
    VethPair link, slow_link;
    XdpfwObject obj;
    std::unique_ptr<PolicyMaps> maps;
    std::optional<XdpAttachment> attachment, slow_attachment;
    uint64_t version = 0;
};

// A burst of 50 (50 ms of the rate) rides out the generator being scheduled
// away for a moment under load; it adds at most 1% to the 5,000 expected.
TEST_F(RateLimitTest, PerSourceLimitsTheFloodOnly)
{
    XDPFW_NEED_LIVE_FRAMES();
    commit("limit=1000/s burst=50 per=src");
    const Run r = flood();
    ASSERT_GT(r.fast_seconds, 0.5 * kSeconds);
    // Full speed is far above the limit, or the test shows nothing.
    ASSERT_GT(r.fast_sent / r.fast_seconds, 5000) << "the generator is too slow here";
    const double rate = r.fast_passed / r.fast_seconds;
    EXPECT_NEAR(rate, 1000, 100) << r.fast_passed << " of " << r.fast_sent << " in "
                                 << r.fast_seconds << " s";
    // The slow source is under its own limit: every packet that reached
    // xdpfw passes. It has its own veth, so nearly all of them reach it (all
    // 1,000 with both CPUs busy; when it shared the flood's veth, whose queue
    // drops before XDP, as few as 24% arrived in a clean-clone CI run).
    EXPECT_GT(r.slow_arrived, 0.9 * r.slow_sent)
        << r.slow_arrived << " of " << r.slow_sent << " arrived";
    EXPECT_EQ(r.slow_passed, r.slow_arrived);
}

TEST_F(RateLimitTest, PerRuleAggregatesBothSources)
{
    XDPFW_NEED_LIVE_FRAMES();
    commit("limit=1000/s burst=50");
    const Run r = flood();
    ASSERT_GT(r.fast_seconds, 0.5 * kSeconds);
    ASSERT_GT(r.fast_sent / r.fast_seconds, 5000) << "the generator is too slow here";
    // Both share one bucket: together 1000/s over the flood's interval.
    const double rate = (r.fast_passed + r.slow_passed) / r.fast_seconds;
    EXPECT_NEAR(rate, 1000, 100) << r.fast_passed << " + " << r.slow_passed << " in "
                                 << r.fast_seconds << " s";
    // The slow source now loses most of its packets to the flood.
    EXPECT_LT(r.slow_passed, r.slow_arrived);
}

} // namespace
} // namespace xdpfw::test
