// SPDX-License-Identifier: GPL-2.0-only
// The wall never falls by accident (issue 12, items 1 and 2): one daemon per
// instance (the lock), no live policy replaced because its saved state is
// missing, corrupt or a link (refusal, --replace-live), and the adoption
// check (an edited snapshot at the live version is recommitted from state).
// Real xdpfwd, real traffic in a netns lab.
#include "lib/abi/abi_check.hpp"
#include "lib/base/unique_fd.hpp"
#include "lib/compiler/compiler.hpp"
#include "lib/compiler/source_hash.hpp"
#include "lib/kernel/content_hash.hpp"
#include "lib/lang/policy_codec.hpp"
#include "testing/daemon_lab_test.hpp"
#include "testing/daemon_runner.hpp"

#include <bpf/bpf.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;


constexpr uint16_t kBlocked = 7001, kEdited = 7009, kOther = 7203;

std::string read_text(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::trunc);
    out << text;
}

class DaemonSafety : public DaemonLabTest {
protected:

    DaemonProcess& d() { return lab->daemon; }
    std::string state_file() { return d().state_dir() + "/" + d().instance() + ".json"; }
    std::string journal() { return state_file() + ".journal"; }

    uint32_t add_rule(const std::string& words)
    {
        std::vector<std::string> args = {"rule", "add"};
        std::istringstream in(words);
        for (std::string w; in >> w;)
            args.push_back(w);
        args.push_back("--json");
        CtlResult r = d().ctl(args);
        if (r.code != 0)
            throw std::runtime_error("rule add failed: " + r.err);
        return r.json().at("rule_id").get<uint32_t>();
    }

    // How many of 5 datagrams to port arrive at the dut.
    size_t arriving(uint16_t port)
    {
        UdpReceiver r(lab->dut, DaemonLab::dut4, port);
        EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, port, 5), 5u);
        return r.receive(5, 500ms);
    }

    // A policy that drops kBlocked, saved as snapshot + journal lines.
    void block_port()
    {
        add_rule(fmt::format("priority=1 proto=udp dport={} action=drop", kBlocked));
        add_rule("priority=2 proto=tcp dport=22 action=drop");
        ASSERT_EQ(arriving(kBlocked), 0u);
        ASSERT_EQ(arriving(kOther), 5u);
    }

    // SIGKILL and start again: the state is whole, so the daemon adopts
    // without a commit.
    void expect_restart_adopts()
    {
        const uint64_t version = d().version();
        d().kill();
        d().start();
        EXPECT_EQ(d().version(), version);
        EXPECT_TRUE(d().checked({{"cmd", "status"}}).at("adopted").get<bool>());
        EXPECT_EQ(d().log().find("event=adoption_mismatch", d().log().rfind("---- test: starting")),
                  std::string::npos);
    }

    // Starting must fail; returns what the daemon logged.
    std::string start_refused(const std::vector<std::string>& args = {})
    {
        const size_t before = d().log().size();
        EXPECT_THROW(d().start_with(args), std::runtime_error);
        return d().log().substr(before);
    }

};

TEST_F(DaemonSafety, SecondDaemonOnALiveInstanceTouchesNothing)
{
    block_port();
    const uint64_t version = d().version();
    const std::string lock = d().lock_dir() + "/" + d().instance() + ".lock";
    EXPECT_EQ(read_text(lock), std::to_string(d().pid()) + "\n");

    // The attack: an empty state dir, an empty rules file, another
    // socket; the same instance and lock directory.
    const std::string other = d().dir() + "/other";
    fs::create_directories(other);
    write_text(other + "/empty.yaml", "");
    const CmdResult r = run_in(
        lab->dut, fmt::format("{} --instance {} --interface dut0 --state-dir {} --socket {} "
                              "--lock-dir {} --rules {} 2>&1",
                              kXdpfwd, d().instance(), other + "/state", other + "/ctl.sock",
                              d().lock_dir(), other + "/empty.yaml"));
    EXPECT_NE(r.status, 0) << r.output;
    for (const std::string& needle :
         {d().instance(), lock, "pid " + std::to_string(d().pid())})
        EXPECT_NE(r.output.find(needle), std::string::npos) << "no '" << needle << "' in\n" << r.output;
    EXPECT_EQ(r.output.find("event=committed"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(other + "/state")) << "the second daemon wrote state";
    EXPECT_FALSE(fs::exists(other + "/ctl.sock"));

    // The first daemon's policy is still the live one.
    EXPECT_EQ(d().version(), version);
    EXPECT_EQ(arriving(kBlocked), 0u);
    EXPECT_EQ(arriving(kOther), 5u);
    EXPECT_EQ(read_text(lock), std::to_string(d().pid()) + "\n");
}

TEST_F(DaemonSafety, MissingSnapshotWithPinsRefusesUntilReplaceLive)
{
    block_port();
    const uint64_t version = d().version();
    d().kill(); // pins stay, the kernel keeps filtering; the lock goes with the process
    ASSERT_TRUE(fs::exists(journal()));
    fs::remove(state_file());

    const std::string log = start_refused();
    for (const std::string& needle :
         {state_file() + " does not exist", journal(), std::string("--replace-live"),
          fmt::format("version {}", version)})
        EXPECT_NE(log.find(needle), std::string::npos) << "no '" << needle << "' in\n" << log;
    EXPECT_EQ(log.find("event=committed"), std::string::npos) << log;
    EXPECT_EQ(arriving(kBlocked), 0u) << "the live policy was replaced";
    EXPECT_TRUE(fs::exists(journal()));
    EXPECT_FALSE(fs::exists(state_file()));

    // The operator's decision: the empty policy (default pass) goes live.
    d().start_with({"--replace-live"});
    EXPECT_NE(d().log().find("event=replace_live"), std::string::npos);
    const json rules = d().ctl({"rule", "list", "--json"}).json();
    EXPECT_TRUE(rules.at("rules").empty()) << rules.dump();
    EXPECT_EQ(arriving(kBlocked), 5u);
    EXPECT_TRUE(fs::exists(state_file()));
}

TEST_F(DaemonSafety, CorruptSnapshotWithPinsRefusesUntilReplaceLive)
{
    block_port();
    d().kill();
    write_text(state_file(), "{\"format\": 1, \"version\": 3, \"policy\": {\"rul");

    const std::string log = start_refused();
    for (const std::string& needle : {state_file(), std::string("--replace-live"),
                                      std::string("refuses")})
        EXPECT_NE(log.find(needle), std::string::npos) << "no '" << needle << "' in\n" << log;
    EXPECT_EQ(arriving(kBlocked), 0u) << "the live policy was replaced";

    // --replace-live with a rules file: that file's policy goes live.
    const std::string rules = d().dir() + "/rules.yaml";
    write_text(rules, fmt::format("rules:\n  - proto=udp dport={} action=drop\n", kOther));
    d().start_with({"--replace-live", "--rules", rules});
    EXPECT_EQ(arriving(kBlocked), 5u);
    EXPECT_EQ(arriving(kOther), 0u);
    // The state is whole again: a plain restart adopts it.
    expect_restart_adopts();
}

TEST_F(DaemonSafety, SnapshotOlderThanTheLivePolicyIsRefused)
{
    block_port();
    const std::string old = read_text(state_file()); // version 1, before the rules
    const std::string rules = d().dir() + "/rules.yaml";
    write_text(rules, fmt::format("rules:\n  - proto=udp dport={} action=drop\n", kBlocked));
    ASSERT_EQ(d().ctl({"load", rules}).code, 0); // a new snapshot
    const uint64_t version = d().version();
    d().kill();
    write_text(state_file(), old);

    const std::string log = start_refused();
    EXPECT_NE(log.find("older than the live version"), std::string::npos) << log;
    EXPECT_NE(log.find(fmt::format("version {}", version)), std::string::npos) << log;
    EXPECT_EQ(arriving(kBlocked), 0u);
}

TEST_F(DaemonSafety, EditedSnapshotAtTheLiveVersionIsRecommittedFromState)
{
    const std::string rules = d().dir() + "/rules.yaml";
    write_text(rules,
               fmt::format("rules:\n  - id=5 proto=udp dport={} action=drop\n", kBlocked));
    ASSERT_EQ(d().ctl({"load", rules}).code, 0); // the rule in the snapshot itself
    ASSERT_EQ(arriving(kBlocked), 0u);
    const uint64_t version = d().version();
    d().kill();

    // The snapshot now says 7009 at the same version; the kernel enforces 7001.
    std::string text = read_text(state_file());
    const std::string from = fmt::format("dport={}", kBlocked), to = fmt::format("dport={}", kEdited);
    ASSERT_NE(text.find(from), std::string::npos) << text;
    for (size_t at; (at = text.find(from)) != std::string::npos;)
        text.replace(at, from.size(), to);
    write_text(state_file(), text);

    d().start();
    const std::string log = d().log();
    EXPECT_NE(log.find("event=adoption_mismatch"), std::string::npos) << log;
    EXPECT_EQ(d().version(), version + 1) << "recommitted as a new version";
    // What `list` shows is what the kernel enforces.
    const json listed = d().ctl({"rule", "list", "--json"}).json();
    ASSERT_EQ(listed.at("rules").size(), 1u) << listed.dump();
    EXPECT_NE(listed.at("rules")[0].dump().find(to), std::string::npos) << listed.dump();
    EXPECT_EQ(arriving(kEdited), 0u);
    EXPECT_EQ(arriving(kBlocked), 5u);

    // A restart with nothing edited adopts without a commit.
    expect_restart_adopts();
    EXPECT_EQ(arriving(kEdited), 0u);
}

// An upgrade from a build that pinned source hash scheme 1 (sets hashed
// field by field, docs/DAEMON.md "The adoption check"): the live policy's
// pinned hash is that scheme's hash of the saved state, so the restart
// adopts it (no commit, no mismatch); the next commit pins scheme 2.
TEST_F(DaemonSafety, PinnedSchemeOneHashOfTheSamePolicyIsAdopted)
{
    block_port();
    ASSERT_EQ(d().ctl({"set", "create", "blk"}).code, 0);
    ASSERT_EQ(d().ctl({"set", "add", "blk", "198.51.100.0/24", "2001:db8::/32"}).code, 0);
    add_rule(fmt::format("priority=3 src=@blk proto=udp dport={} action=drop", kOther));
    const Policy policy = policy_from_json(d().checked({{"cmd", "policy.get"}}).at("policy"),
                                           "policy", PolicyForm::document);
    ASSERT_EQ(policy.sets.at("blk").prefixes().size(), 2u);
    const CompiledPolicy mine = compile(policy, CompileOptions{});
    const uint64_t version = d().version();
    d().kill();

    const std::string ctrl_pin = d().pin_dir() + "/xdpfw_ctrl";
    const UniqueFd ctrl_fd(bpf_obj_get(ctrl_pin.c_str()));
    ASSERT_GE(ctrl_fd.get(), 0) << ctrl_pin << ": " << std::strerror(errno);
    const uint32_t zero = 0;
    xdpfw_ctrl ctrl{};
    ASSERT_EQ(bpf_map_lookup_elem(ctrl_fd.get(), &zero, &ctrl), 0);
    // The test's compile is the daemon's: the pinned hash is its scheme 2.
    ASSERT_EQ(ctrl.content_hash, content_hash(mine));
    ctrl.content_hash = content_hash(mine, policy_source_hash(policy, SourceHashScheme::v1));
    ASSERT_NE(ctrl.content_hash, content_hash(mine));
    ASSERT_EQ(bpf_map_update_elem(ctrl_fd.get(), &zero, &ctrl, BPF_ANY), 0);

    const size_t log_before = d().log().size();
    d().start();
    const std::string log = d().log().substr(log_before);
    EXPECT_NE(log.find("event=adopted_hash_scheme"), std::string::npos) << log;
    EXPECT_EQ(log.find("event=adoption_mismatch"), std::string::npos) << log;
    EXPECT_EQ(d().version(), version);
    EXPECT_TRUE(d().checked({{"cmd", "status"}}).at("adopted").get<bool>());
    EXPECT_EQ(arriving(kBlocked), 0u);

    // A commit pins scheme 2; the restart after it adopts without the event.
    add_rule("priority=4 proto=tcp dport=23 action=drop");
    expect_restart_adopts();
    const std::string since = d().log().substr(log_before);
    const size_t first = since.find("event=adopted_hash_scheme");
    ASSERT_NE(first, std::string::npos);
    EXPECT_EQ(since.find("event=adopted_hash_scheme", first + 1), std::string::npos)
        << "only the first restart adopts scheme 1:\n" << since;
}

TEST_F(DaemonSafety, SymlinkedStateFilesAreRefused)
{
    block_port();
    d().kill();
    const std::string elsewhere = d().dir() + "/elsewhere";
    fs::create_directories(elsewhere);

    // The journal as a link: refused, naming it; the live policy stays.
    fs::rename(journal(), elsewhere + "/journal");
    fs::create_symlink(elsewhere + "/journal", journal());
    std::string log = start_refused();
    EXPECT_NE(log.find("journal " + journal()), std::string::npos) << log;
    EXPECT_NE(log.find("symbolic link"), std::string::npos) << log;
    EXPECT_EQ(arriving(kBlocked), 0u);
    fs::remove(journal());
    fs::rename(elsewhere + "/journal", journal());

    // The snapshot as a link, likewise.
    fs::rename(state_file(), elsewhere + "/state");
    fs::create_symlink(elsewhere + "/state", state_file());
    log = start_refused();
    EXPECT_NE(log.find("state file " + state_file()), std::string::npos) << log;
    EXPECT_NE(log.find("symbolic link"), std::string::npos) << log;
    EXPECT_EQ(arriving(kBlocked), 0u);
    fs::remove(state_file());
    fs::rename(elsewhere + "/state", state_file());

    // Real files again: adopted as they were.
    d().start();
    EXPECT_TRUE(d().checked({{"cmd", "status"}}).at("adopted").get<bool>());

    // The snapshot's tmp file as a link: the commit fails naming it, and
    // the link's target is not written.
    const std::string target = elsewhere + "/victim";
    write_text(target, "untouched");
    fs::create_symlink(target, state_file() + ".tmp");
    const std::string rules = d().dir() + "/rules.yaml";
    write_text(rules, "rules: []\n");
    const uint64_t version = d().version();
    const CtlResult r = d().ctl({"load", rules});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find(state_file() + ".tmp"), std::string::npos) << r.err;
    EXPECT_EQ(read_text(target), "untouched");
    EXPECT_EQ(d().version(), version);
    EXPECT_EQ(arriving(kBlocked), 0u);
}

} // namespace
} // namespace xdpfw::test
