// SPDX-License-Identifier: GPL-2.0-only
// Lab topology for the integration tests and xdpfw-bench: throw-away network
// namespaces, veth pairs between them, and real UDP/TCP/ICMP traffic counted
// at the receiving end.
//
// Everything lives inside namespaces named xdpfwt-<pid>-<n>; no interface is
// ever created in (or moved out of) the root namespace, so a test cannot touch
// the machine's real interfaces, and deleting a namespace deletes its veths.
// Addresses must lie in 10.99.0.0/16 and fd00:99::/64. Namespaces are deleted
// by their destructors, on exit, on fatal signals, and namespaces left by a
// process that no longer exists are removed when the next one is created.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace xdpfw::lab {

struct CmdResult {
    int status = -1; // exit status, or -1 when the command could not run
    std::string output; // stdout and stderr together
    bool ok() const { return status == 0; }
};

// Runs cmd with /bin/sh in the calling process's namespaces.
CmdResult run(const std::string& cmd);
// Same, throwing std::runtime_error with the command and its output when the
// exit status is not 0.
std::string run_checked(const std::string& cmd);

class NetNs {
public:
    NetNs(); // ip netns add xdpfwt-<pid>-<n>; lo up
    ~NetNs();
    NetNs(const NetNs&) = delete;
    NetNs& operator=(const NetNs&) = delete;

    const std::string& name() const { return name_; }
    std::string path() const { return "/var/run/netns/" + name_; }
    int fd() const { return fd_; } // for setns()

private:
    std::string name_;
    int fd_ = -1;
};

// Runs cmd inside ns with nsenter --net (not `ip netns exec`, which remounts
// /sys and hides the bpffs pins).
CmdResult run_in(const NetNs& ns, const std::string& cmd);
std::string run_in_checked(const NetNs& ns, const std::string& cmd);

// Moves the calling thread into ns until destruction (setns), for code that
// must run there: if_nametoindex, XDP attach, devmap updates, sockets.
class EnterNetns {
public:
    explicit EnterNetns(const NetNs& ns);
    ~EnterNetns();
    EnterNetns(const EnterNetns&) = delete;
    EnterNetns& operator=(const EnterNetns&) = delete;

private:
    int back_ = -1;
};

struct VethEnd {
    const NetNs* ns = nullptr;
    std::string ifname;
    std::string ipv4; // host address without length (a /24 is assigned), or empty
    std::string ipv6; // host address without length (a /64 is assigned), or empty
};

// A veth pair between two namespaces with fixed MAC addresses, addresses
// assigned (IPv6 with nodad so they work at once), links up, and permanent
// neighbour entries for each other's addresses: no ARP or neighbour
// discovery has to cross an XDP program under test (a default-drop policy
// would otherwise starve the pair of neighbours).
class VethPair {
public:
    VethPair(VethEnd a, VethEnd b);
    ~VethPair(); // deletes the pair (no-op once a namespace is gone)
    VethPair(const VethPair&) = delete;
    VethPair& operator=(const VethPair&) = delete;

    const VethEnd& a() const { return a_; }
    const VethEnd& b() const { return b_; }
    int ifindex_a() const { return ifindex_a_; } // in a's namespace
    int ifindex_b() const { return ifindex_b_; } // in b's namespace
    const std::string& mac_a() const { return mac_a_; }
    const std::string& mac_b() const { return mac_b_; }

private:
    VethEnd a_, b_;
    std::string mac_a_, mac_b_;
    int ifindex_a_ = 0, ifindex_b_ = 0;
};

// ifindex of ifname inside ns; throws if there is none.
int ifindex_in(const NetNs& ns, const std::string& ifname);

// A socket created inside ns (sockets keep the namespace they were made in).
int socket_in(const NetNs& ns, int domain, int type, int protocol);

// A UDP socket bound to addr:port inside ns, counting datagrams.
class UdpReceiver {
public:
    UdpReceiver(const NetNs& ns, const std::string& addr, uint16_t port);
    ~UdpReceiver();
    UdpReceiver(const UdpReceiver&) = delete;
    UdpReceiver& operator=(const UdpReceiver&) = delete;

    // Reads datagrams until `want` arrived or `wait` passed; returns how many
    // arrived in this call.
    size_t receive(size_t want, std::chrono::milliseconds wait);

private:
    int fd_ = -1;
};

// Sends count datagrams of `size` bytes from ns to dst:port (v4 or v6
// literal). Returns how many sendto() accepted.
size_t send_udp(const NetNs& from, const std::string& dst, uint16_t port, size_t count,
                size_t size = 64);

// A listening TCP socket inside ns; accepts and counts connections.
class TcpListener {
public:
    TcpListener(const NetNs& ns, const std::string& addr, uint16_t port);
    ~TcpListener();
    TcpListener(const TcpListener&) = delete;
    TcpListener& operator=(const TcpListener&) = delete;
    size_t accept_pending(); // accepts (and closes) what is queued; returns how many

private:
    int fd_ = -1;
};

enum class TcpOutcome { connected, refused, timed_out };
const char* tcp_outcome_name(TcpOutcome o);
// One connect() attempt from ns; a dropped SYN ends in timed_out.
TcpOutcome tcp_connect(const NetNs& from, const std::string& dst, uint16_t port,
                       std::chrono::milliseconds timeout);

// ping -c count from ns (IPv4 or IPv6 by the address); returns replies.
int ping(const NetNs& from, const std::string& dst, int count);

// An AF_PACKET socket on ifname inside ns counting UDP frames (IPv4 or IPv6)
// to a destination port: sees what the interface receives, whatever the
// frame's destination MAC.
class UdpFrameCounter {
public:
    UdpFrameCounter(const NetNs& ns, const std::string& ifname, uint16_t dport);
    ~UdpFrameCounter();
    UdpFrameCounter(const UdpFrameCounter&) = delete;
    UdpFrameCounter& operator=(const UdpFrameCounter&) = delete;
    size_t receive(size_t want, std::chrono::milliseconds wait);

private:
    int fd_ = -1;
    uint16_t dport_ = 0;
};

// Names of the namespaces this process has alive (for leak checks).
std::vector<std::string> live_namespaces();

} // namespace xdpfw::lab
