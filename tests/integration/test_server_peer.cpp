// SPDX-License-Identifier: GPL-2.0-only
// Control socket peer checks against real processes of other users: a forked
// child drops to another uid/gid (needs root) and talks to the server.
#include "lib/control/commands.hpp"
#include "lib/control/server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace xdpfw {
namespace {

using json = nlohmann::json;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
// No passwd entry, so no supplementary groups either.
constexpr uid_t kNoUser = 65533;
constexpr gid_t kNoGroup = 65533;

struct ChildResult {
    int exit_code = -1;
    std::string output; // everything the server sent
};

// Forks a child that becomes uid/gid, connects to `path`, sends `request`
// (if any), shuts down its sending side and copies what the server sends
// until EOF to the parent. The child only makes system calls: it is forked
// from a multi-threaded process.
ChildResult talk_as(uid_t uid, gid_t gid, const std::string& path, const std::string& request)
{
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0)
        throw std::system_error(errno, std::system_category(), "pipe2");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);

    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::system_error(errno, std::system_category(), "fork");
    if (pid == 0) {
        ::close(pipe_fds[0]);
        if (::setgroups(0, nullptr) < 0 || ::setgid(gid) < 0 || ::setuid(uid) < 0)
            ::_exit(10);
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0)
            ::_exit(11);
        // A refused client may find the server gone already (EPIPE): what
        // the server sent before closing is still there to read.
        if (!request.empty())
            (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);
        char buf[4096];
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 10000) <= 0)
                ::_exit(13); // the server neither answered nor closed
            const ssize_t n = ::read(fd, buf, sizeof(buf));
            if (n <= 0)
                break;
            if (::write(pipe_fds[1], buf, size_t(n)) != n)
                ::_exit(12);
        }
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    ChildResult r;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buf, sizeof(buf))) > 0)
        r.output.append(buf, size_t(n));
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

class ServerPeerTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        ASSERT_EQ(::geteuid(), 0u) << "the integration tier runs as root";
        std::string tmpl = "/tmp/xdpfw-peer-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        // Other users must reach the socket; its own mode and the peer check
        // are what is tested.
        ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
        io_thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override
    {
        server_.reset();
        work_.reset();
        io_.stop();
        if (io_thread_.joinable())
            io_thread_.join();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }

    std::string path() const { return dir_ + "/ctl.sock"; }

    void start(mode_t mode, std::optional<gid_t> group)
    {
        ServerOptions o;
        o.path = path();
        o.mode = mode;
        o.group = group;
        server_ = std::make_unique<ControlServer>(
            io_, o, [this](const std::string& line, const PeerCred& peer) {
                std::lock_guard lock(mu_);
                peers_.push_back(peer);
                return json{{"id", json::parse(line).value("id", 0)}, {"ok", true}};
            });
        server_->start();
    }

    std::string dir_;
    boost::asio::io_context io_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
        boost::asio::make_work_guard(io_)};
    std::thread io_thread_;
    std::unique_ptr<ControlServer> server_;
    std::mutex mu_;
    std::vector<PeerCred> peers_;
};

TEST_F(ServerPeerTest, OtherUserWithoutGroupDenied)
{
    start(0666, std::nullopt);
    const ChildResult r = talk_as(kNobody, kNogroup, path(), "{\"id\":1}\n");
    ASSERT_EQ(r.exit_code, 0);
    // One line, then the server closed: the request was never executed.
    ASSERT_FALSE(r.output.empty());
    EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << r.output;
    const json err = json::parse(r.output);
    EXPECT_EQ(err.at("id"), 0);
    EXPECT_EQ(err.at("ok"), false);
    EXPECT_EQ(err.at("error").at("code"), "permission_denied");
    EXPECT_EQ(err.at("error").at("message"),
              "uid 65534 is not root and no socket group is configured");
    std::lock_guard lock(mu_);
    EXPECT_TRUE(peers_.empty());
}

TEST_F(ServerPeerTest, UserOutsideTheGroupDenied)
{
    start(0666, kNogroup);
    const ChildResult r = talk_as(kNoUser, kNoGroup, path(), "{\"id\":1}\n");
    ASSERT_EQ(r.exit_code, 0);
    const json err = json::parse(r.output);
    EXPECT_EQ(err.at("error").at("code"), "permission_denied") << r.output;
    EXPECT_EQ(err.at("error").at("message"),
              "uid 65533 is neither root nor in group 65534 (peer gid 65533)");
}

TEST_F(ServerPeerTest, GroupMemberAllowedThroughGroupOwnedSocket)
{
    start(0660, kNogroup);
    struct stat st {};
    ASSERT_EQ(::stat(path().c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, kNogroup);
    EXPECT_EQ(st.st_mode & 07777, 0660u);

    const ChildResult r = talk_as(kNobody, kNogroup, path(), "{\"id\":4}\n");
    ASSERT_EQ(r.exit_code, 0);
    EXPECT_EQ(json::parse(r.output), json({{"id", 4}, {"ok", true}}));
    std::lock_guard lock(mu_);
    ASSERT_EQ(peers_.size(), 1u);
    EXPECT_EQ(peers_[0].uid, kNobody);
    EXPECT_EQ(peers_[0].gid, kNogroup);
}

TEST_F(ServerPeerTest, FileModeKeepsOthersOutBeforeThePeerCheck)
{
    start(0660, std::nullopt);
    // Root-owned 0660 socket: connect() itself fails with EACCES.
    const ChildResult r = talk_as(kNobody, kNogroup, path(), "");
    EXPECT_EQ(r.exit_code, 11);
    EXPECT_EQ(r.output, "");
}

} // namespace
} // namespace xdpfw
