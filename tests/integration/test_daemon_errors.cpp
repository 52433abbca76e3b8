// SPDX-License-Identifier: GPL-2.0-only
// Bad input to a real xdpfwd: every case gets an error whose code fits and
// whose message names the offending thing, and the policy version stays.
#include "testing/daemon_runner.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string kXdpfwd = std::string(XDPFW_BINARY_DIR) + "/bin/xdpfwd";
constexpr size_t kMaxMessage = 4096;

struct ChildResult {
    int exit_code = -1;
    std::string received; // everything the daemon sent before closing
};

// Forks a child that drops to uid/gid 65534 (nobody), connects, asks for
// status and copies what the daemon sends until it closes. The child makes
// only system calls, as it is forked from a multi-threaded process.
ChildResult talk_as_nobody(const std::string& path)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    static const char req[] = "{\"id\":5,\"cmd\":\"status\"}\n";

    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        ::close(fds[0]);
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
            ::_exit(10);
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
            ::_exit(11);
        (void)::send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
        char buf[4096];
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 10000) <= 0)
                ::_exit(13); // neither an answer nor a close
            ssize_t n = ::read(fd, buf, sizeof(buf));
            if (n <= 0)
                break;
            if (::write(fds[1], buf, size_t(n)) != n)
                ::_exit(12);
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    ChildResult r;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0)
        r.received.append(buf, size_t(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

class DaemonBadInput : public ::testing::Test {
protected:
    void SetUp() override
    {
        // Small messages for the oversize case; a world-writable socket so
        // that the peer check (not the file mode) turns other users away.
        lab = std::make_unique<DaemonLab>(
            kXdpfwd, std::vector<std::string>{"--max-message-bytes", std::to_string(kMaxMessage),
                                              "--socket-mode", "0666"});
        DaemonProcess& d = lab->daemon;
        d.checked({{"cmd", "set.create"}, {"name", "good"}});
        d.checked({{"cmd", "rule.add"}, {"rule", "priority=1 proto=udp dport=7301 action=drop"}});
        version = d.version();
        rules = d.checked({{"cmd", "rule.list"}});
    }
    void TearDown() override
    {
        if (HasFailure() && lab)
            std::cerr << "---- xdpfwd log (" << lab->daemon.instance() << ")\n"
                      << lab->daemon.log() << "----\n";
        lab.reset();
    }

    // Sends one raw line; returns the response.
    json raw(const std::string& line)
    {
        ControlConnection c(lab->daemon.socket_path());
        EXPECT_TRUE(c.send(line + "\n"));
        auto answer = c.read_line(10s);
        if (!answer)
            throw std::runtime_error("no answer to " + line);
        return json::parse(*answer);
    }

    // The response is an error with code, its message holds every needle,
    // and nothing changed.
    void expect_error(const json& r, const std::string& code,
                      const std::vector<std::string>& needles)
    {
        SCOPED_TRACE(r.dump());
        EXPECT_FALSE(r.value("ok", true));
        ASSERT_TRUE(r.contains("error"));
        EXPECT_EQ(r["error"].value("code", ""), code);
        const std::string msg = r["error"].value("message", "");
        for (const auto& n : needles)
            EXPECT_NE(msg.find(n), std::string::npos) << "message does not name '" << n << "'";
        expect_unchanged();
    }

    void expect_unchanged()
    {
        EXPECT_EQ(lab->daemon.version(), version);
        EXPECT_EQ(lab->daemon.checked({{"cmd", "rule.list"}}), rules);
    }

    std::string rule_add(const std::string& text)
    {
        return json{{"id", 7}, {"cmd", "rule.add"}, {"rule", text}}.dump();
    }

    std::unique_ptr<DaemonLab> lab;
    uint64_t version = 0;
    json rules;
};

TEST_F(DaemonBadInput, MalformedJsonAndUnknownCommand)
{
    expect_error(raw(R"({"id":1,"cmd":"rule.add","rule":)"), "bad_json", {"not JSON"});
    expect_error(raw("[1,2,3]"), "bad_json", {"JSON object", "array"});
    json r = raw(R"({"id":9,"cmd":"frobnicate"})");
    EXPECT_EQ(r.value("id", 0), 9);
    expect_error(r, "unknown_command", {"'frobnicate'", "rule.add"});
    expect_error(raw(R"({"id":3,"cmd":"rule.del"})"), "bad_request", {"rule_id"});
    expect_error(raw(R"({"id":3,"cmd":"rule.del","rule_id":"one"})"), "bad_request",
                 {"rule_id", "integer"});
}

TEST_F(DaemonBadInput, BadRulesNameKeyAndValue)
{
    expect_error(raw(rule_add("frob=1 action=drop")), "invalid_rule", {"frob", "unknown key"});
    expect_error(raw(rule_add("src=10.0.0.0/33 action=drop")), "invalid_rule",
                 {"src", "prefix length 33 > 32"});
    expect_error(raw(rule_add("proto=udp dport=70000 action=drop")), "invalid_rule",
                 {"dport", "70000", "out of range"});
    expect_error(raw(rule_add("proto=udp dport=53 action=frob")), "invalid_rule",
                 {"action", "'frob'"});
    expect_error(raw(rule_add("src=@nosuch action=drop")), "unknown_set", {"nosuch"});
    expect_error(raw(R"({"id":4,"cmd":"set.add","name":"nosuch","prefixes":["10.1.0.0/16"]})"),
                 "unknown_set", {"nosuch"});
    expect_error(raw(R"({"id":4,"cmd":"set.add","name":"good","prefixes":["10.1.0.1/16"]})"),
                 "invalid_prefix", {"10.1.0.1/16", "10.1.0.0/16"});
    expect_error(raw(R"({"id":4,"cmd":"rule.del","rule_id":99})"), "unknown_rule", {"99"});

    // The same through xdpfwctl: exit 1, "xdpfwctl: <code>: <message>".
    CtlResult c = lab->daemon.ctl({"rule", "add", "proto=udp", "dport=70000", "action=drop"});
    EXPECT_EQ(c.code, 1);
    EXPECT_EQ(c.err.rfind("xdpfwctl: invalid_rule: ", 0), 0u) << c.err;
    EXPECT_NE(c.err.find("70000"), std::string::npos) << c.err;
    expect_unchanged();
}

TEST_F(DaemonBadInput, OversizeLineIsRefusedAndClosed)
{
    ControlConnection c(lab->daemon.socket_path());
    // A request before the oversize line is still answered.
    ASSERT_TRUE(c.send(R"({"id":1,"cmd":"status"})"
                       "\n"));
    const std::string big = rule_add("priority=1 action=drop " + std::string(10 * 1024, ' '));
    ASSERT_GT(big.size(), kMaxMessage);
    c.send(big + "\n"); // may fail half-way: the daemon closes as soon as it has seen enough
    auto first = c.read_line(10s);
    ASSERT_TRUE(first.has_value());
    json status = json::parse(*first);
    EXPECT_TRUE(status.value("ok", false)) << *first;
    EXPECT_EQ(status.value("id", 0), 1);
    auto second = c.read_line(10s);
    ASSERT_TRUE(second.has_value()) << "no too_large answer";
    json r = json::parse(*second);
    EXPECT_EQ(r.value("id", -1), 0);
    expect_error(r, "too_large", {"max_message_bytes", std::to_string(kMaxMessage)});
    EXPECT_TRUE(c.closed_by_peer(5s)) << "connection still open after too_large";
    EXPECT_FALSE(c.read_line(100ms).has_value());
    // A line just under the limit is fine.
    expect_error(raw(rule_add("frob=2 " + std::string(kMaxMessage - 200, ' '))), "invalid_rule",
                 {"frob"});
}

TEST_F(DaemonBadInput, OtherUsersArePermissionDenied)
{
    ChildResult r = talk_as_nobody(lab->daemon.socket_path());
    ASSERT_EQ(r.exit_code, 0) << "child failed (10 setuid, 11 connect, 12 pipe, 13 timeout)";
    // Exactly one line: the refusal, not an answer to the request.
    ASSERT_FALSE(r.received.empty());
    EXPECT_EQ(r.received.find('\n'), r.received.size() - 1) << r.received;
    json j = json::parse(r.received);
    EXPECT_EQ(j.value("id", -1), 0);
    expect_error(j, "permission_denied", {"uid 65534"});
}

TEST_F(DaemonBadInput, RuleFileWithOneBadRuleAppliesNothing)
{
    DaemonProcess& d = lab->daemon;
    auto write_file = [&](const std::string& name, const std::string& bad, size_t bad_at) {
        const std::string path = d.dir() + "/" + name;
        std::ofstream f(path);
        f << "default: drop\nrules:\n";
        for (size_t i = 1; i <= 30; ++i)
            f << "  - "
              << (i == bad_at ? bad
                              : fmt::format("priority={} proto=udp dport={} action=drop", i,
                                            8000 + i))
              << "\n";
        return path;
    };

    // Caught by xdpfwctl while reading the file: names file, line, rule, key.
    const std::string local = write_file("local.yaml", "proto=udp dport=70000 action=drop", 17);
    CtlResult c = d.ctl({"load", local});
    EXPECT_EQ(c.code, 1);
    for (const char* needle : {"local.yaml:19", "rule 17", "dport", "70000"})
        EXPECT_NE(c.err.find(needle), std::string::npos) << "no '" << needle << "' in " << c.err;
    expect_unchanged();

    // Valid text, refused by the daemon (the interface does not exist there).
    const std::string remote = write_file("remote.yaml", "iif=nosuch0 action=drop", 23);
    c = d.ctl({"load", remote});
    EXPECT_EQ(c.code, 1);
    EXPECT_NE(c.err.find("nosuch0"), std::string::npos) << c.err;
    expect_unchanged();

    // The daemon validates a raw load as a whole too.
    json policy = {{"default", "drop"}, {"rules", json::array()}};
    for (int i = 1; i <= 30; ++i)
        policy["rules"].push_back(i == 12 ? std::string("proto=udp dport=70000 action=drop")
                                          : fmt::format("proto=udp dport={} action=drop",
                                                        8000 + i));
    expect_error(raw(json{{"id", 2}, {"cmd", "load"}, {"policy", policy}}.dump()), "invalid_rule",
                 {"rule 12", "dport", "70000"});
    json st = d.checked({{"cmd", "status"}});
    EXPECT_EQ(st.at("default"), "pass");
    EXPECT_EQ(st.at("rules"), 1);
}

} // namespace
} // namespace xdpfw::test
