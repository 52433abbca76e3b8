// SPDX-License-Identifier: GPL-2.0-only
// EtcdServer: spawning, waiting for and stopping a test etcd.
#include "testing/etcd_server.hpp"

#include "testing/spawn.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace xdpfw::test {

namespace {

// A port nobody listens on now in the calling thread's namespace (the
// kernel's pick for port 0; released at once, so taken only by a race).
uint16_t free_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) < 0) {
        const int err = errno;
        ::close(fd);
        throw std::system_error(err, std::generic_category(), "bind a free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

} // namespace

EtcdServer::EtcdServer(EtcdServerOptions opts) : opts_(std::move(opts))
{
    std::optional<EnterNetns> in;
    if (opts_.ns)
        in.emplace(*opts_.ns);
    client_port_ = free_port();
    do
        peer_port_ = free_port();
    while (peer_port_ == client_port_);
    in.reset();
    start();
}

EtcdServer::~EtcdServer()
{
    kill();
}

fleet::EtcdOptions EtcdServer::client_options() const
{
    fleet::EtcdOptions o;
    o.endpoints = {{"127.0.0.1", std::to_string(client_port_), opts_.tls.has_value()}};
    o.timeout = std::chrono::milliseconds(2000);
    if (opts_.tls) {
        o.ca_file = opts_.tls->ca;
        o.cert_file = opts_.tls->client.cert;
        o.key_file = opts_.tls->client.key;
    }
    return o;
}

std::vector<std::string> EtcdServer::tls_flags() const
{
    if (!opts_.tls)
        return {};
    return {"--etcd-ca", opts_.tls->ca, "--etcd-cert", opts_.tls->client.cert, "--etcd-key",
            opts_.tls->client.key};
}

std::string EtcdServer::log() const
{
    std::ifstream in(dir_ / "etcd.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void EtcdServer::start(std::chrono::milliseconds timeout)
{
    if (running())
        throw std::logic_error("etcd is already running");
    const std::string client = fmt::format("{}://{}:{}", scheme(), opts_.listen, client_port_);
    const std::string peer = fmt::format("http://127.0.0.1:{}", peer_port_);
    std::vector<std::string> args;
    if (opts_.ns)
        args = {"nsenter", "--net=" + opts_.ns->path()};
    for (const std::string& a :
         {std::string("etcd"), std::string("--name"), std::string("xdpfwtest"), std::string("--data-dir"),
          dir_ / "data", std::string("--listen-client-urls"), client,
          std::string("--advertise-client-urls"), url(), std::string("--listen-peer-urls"), peer,
          std::string("--initial-advertise-peer-urls"), peer, std::string("--initial-cluster"),
          "xdpfwtest=" + peer, std::string("--log-level"), std::string("warn")})
        args.push_back(a);
    if (opts_.tls)
        for (const std::string& a :
             {std::string("--cert-file"), opts_.tls->server.cert.string(), std::string("--key-file"),
              opts_.tls->server.key.string(), std::string("--client-cert-auth"),
              std::string("--trusted-ca-file"), opts_.tls->ca.string()})
            args.push_back(a);
    args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
    // Its own process group: kill() takes nsenter's child with it.
    pid_ = spawn_logged(args, dir_ / "etcd.log", true, "etcd");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("etcd exited at start; log:\n" + log());
        }
        try {
            std::optional<EnterNetns> in;
            if (opts_.ns)
                in.emplace(*opts_.ns);
            fleet::EtcdOptions o = client_options();
            o.timeout = std::chrono::milliseconds(500);
            fleet::EtcdClient c(o);
            c.range("health-check");
            return;
        } catch (const std::exception& e) {
            last = e.what();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill();
    throw std::runtime_error("etcd did not answer in time (" + last + "); log:\n" + log());
}

void EtcdServer::kill()
{
    if (pid_ <= 0)
        return;
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

} // namespace xdpfw::test
