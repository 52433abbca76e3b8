// SPDX-License-Identifier: GPL-2.0-only
// xdpfw attached to a veth in throw-away namespaces, filtering real UDP, TCP
// and ICMP/ICMPv6 traffic (native and generic mode), redirecting to a third
// port, attach errors, detach, and the bpffs pin helpers.
#include "lib/compiler/compiler.hpp"
#include "lib/kernel/attach.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/log.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "testing/bpffs_dir.hpp"
#include "testing/frame_io.hpp"
#include "testing/netns.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDut4 = "10.99.1.1";
constexpr const char* kDut6 = "fd00:99::1";
constexpr const char* kPeer4 = "10.99.1.2";
constexpr const char* kPeer6 = "fd00:99::2";
constexpr uint8_t kUdp = 17, kTcp = 6, kIcmp = 1, kIcmp6 = 58;

Rule make_rule(uint32_t id, Match m, ActionType a, std::string redirect_iface = {})
{
    Rule r;
    r.id = id;
    r.priority = static_cast<int32_t>(id);
    r.match = std::move(m);
    r.action.type = a;
    r.action.redirect_iface = std::move(redirect_iface);
    return r;
}

Match l4_dport(uint8_t proto, uint16_t port)
{
    Match m;
    m.proto = proto;
    m.dport = PortRange{port, port};
    return m;
}

Match echo_request(Family f)
{
    Match m;
    m.family = f;
    m.proto = f == Family::ipv4 ? kIcmp : kIcmp6;
    m.icmp_type = f == Family::ipv4 ? 8 : 128;
    return m;
}

// One xdpfw instance: the loaded object, its maps, and commits whose
// interface names resolve in the namespace the instance filters in.
struct Instance {
    explicit Instance(const NetNs& ns_) : ns(&ns_), obj(XdpfwObject::load(small_load_options())),
                                          maps(std::make_unique<PolicyMaps>(obj))
    {
    }

    void commit(const Policy& p)
    {
        // Names resolve in ns, and the devmap takes ifindexes relative to the
        // namespace of the thread that writes it.
        EnterNetns in(*ns);
        auto resolve = [](const std::string& name) -> uint32_t {
            if (unsigned idx = if_nametoindex(name.c_str()))
                return idx;
            throw PolicyError("interface", name, "no such interface");
        };
        maps->commit(compile(p, {.caps = obj.options().caps, .resolve = resolve}), ++version);
    }

    XdpAttachment attach(const std::string& ifname, AttachMode mode)
    {
        EnterNetns in(*ns);
        AttachOptions o;
        o.mode = mode;
        return XdpAttachment::attach(obj, ifname, o);
    }

    uint64_t rule_packets(uint32_t rule_id) const { return maps->rule_counter(rule_id).packets; }
    uint64_t reason_packets(xdpfw_reason r) const { return maps->reason_counters()[r].packets; }
    uint32_t prog_id() const
    {
        bpf_prog_info info{};
        uint32_t len = sizeof(info);
        EXPECT_EQ(bpf_obj_get_info_by_fd(obj.prog_fd(), &info, &len), 0);
        return info.id;
    }

    const NetNs* ns;
    XdpfwObject obj;
    std::unique_ptr<PolicyMaps> maps;
    uint64_t version = 0;
};

// dut (device under test) <-> peer, one veth pair; traffic goes peer -> dut.
class AttachTest : public ::testing::Test {
protected:
    AttachTest()
        : link({&dut, "dut0", kDut4, kDut6}, {&peer, "peer0", kPeer4, kPeer6}),
          fw(dut)
    {
        init_logging(spdlog::level::warn);
    }

    uint32_t prog_on_dut0(XdpMode m)
    {
        EnterNetns in(dut);
        return attached_prog_id(link.ifindex_a(), m);
    }

    std::string dut0_link() { return run_in_checked(dut, "ip link show dev dut0"); }

    NetNs dut, peer;
    VethPair link;
    Instance fw;
};

class FilterTest : public AttachTest, public ::testing::WithParamInterface<AttachMode> {};

TEST_P(FilterTest, FiltersRealTraffic)
{
    XdpAttachment att = fw.attach("dut0", GetParam());
    const XdpMode mode = GetParam() == AttachMode::generic ? XdpMode::generic : XdpMode::native;
    EXPECT_EQ(att.info().mode, mode);
    EXPECT_EQ(att.info().ifname, "dut0");
    EXPECT_EQ(att.info().ifindex, link.ifindex_a());
    // Either we own the interface's slot, or a libxdp dispatcher does.
    if (att.info().multiprog)
        EXPECT_NE(prog_on_dut0(mode), fw.prog_id());
    else
        EXPECT_EQ(prog_on_dut0(mode), fw.prog_id());
    EXPECT_NE(dut0_link().find(mode == XdpMode::generic ? "xdpgeneric" : " xdp "),
              std::string::npos)
        << dut0_link();

    UdpReceiver udp4_drop(dut, kDut4, 7001), udp6_drop(dut, kDut6, 7001);
    UdpReceiver udp4_ok(dut, kDut4, 7003), udp6_ok(dut, kDut6, 7003);
    TcpListener tcp4_drop(dut, kDut4, 7002), tcp6_drop(dut, kDut6, 7002);
    TcpListener tcp4_ok(dut, kDut4, 7004), tcp6_ok(dut, kDut6, 7004);

    // Default pass; drop UDP 7001, TCP 7002 and IPv4 echo requests.
    Policy pass_policy;
    pass_policy.default_action = ActionType::pass;
    pass_policy.rules = {make_rule(1, l4_dport(kUdp, 7001), ActionType::drop),
                         make_rule(2, l4_dport(kTcp, 7002), ActionType::drop),
                         make_rule(3, echo_request(Family::ipv4), ActionType::drop)};
    fw.commit(pass_policy);

    const uint64_t udp_before = fw.rule_packets(1);
    EXPECT_EQ(send_udp(peer, kDut4, 7001, 10), 10u);
    EXPECT_EQ(send_udp(peer, kDut6, 7001, 10), 10u);
    EXPECT_EQ(send_udp(peer, kDut4, 7003, 10), 10u);
    EXPECT_EQ(send_udp(peer, kDut6, 7003, 10), 10u);
    EXPECT_EQ(udp4_ok.receive(10, 2s), 10u);
    EXPECT_EQ(udp6_ok.receive(10, 2s), 10u);
    EXPECT_EQ(udp4_drop.receive(10, 200ms), 0u);
    EXPECT_EQ(udp6_drop.receive(10, 200ms), 0u);
    EXPECT_EQ(fw.rule_packets(1) - udp_before, 20u);

    const uint64_t tcp_before = fw.rule_packets(2);
    EXPECT_EQ(tcp_connect(peer, kDut4, 7002, 500ms), TcpOutcome::timed_out);
    EXPECT_EQ(tcp_connect(peer, kDut6, 7002, 500ms), TcpOutcome::timed_out);
    EXPECT_GE(fw.rule_packets(2) - tcp_before, 2u); // the SYNs (maybe a retry)
    EXPECT_EQ(tcp_connect(peer, kDut4, 7004, 2s), TcpOutcome::connected);
    EXPECT_EQ(tcp_connect(peer, kDut6, 7004, 2s), TcpOutcome::connected);
    EXPECT_EQ(tcp4_drop.accept_pending() + tcp6_drop.accept_pending(), 0u);

    const uint64_t icmp_before = fw.rule_packets(3);
    EXPECT_EQ(ping(peer, kDut4, 3), 0);
    EXPECT_EQ(fw.rule_packets(3) - icmp_before, 3u);
    EXPECT_EQ(ping(peer, kDut6, 3), 3);

    // Default drop; pass IPv6 echo requests, UDP 7003 and TCP 7004.
    Policy drop_policy;
    drop_policy.default_action = ActionType::drop;
    drop_policy.rules = {make_rule(1, echo_request(Family::ipv6), ActionType::pass),
                         make_rule(2, l4_dport(kUdp, 7003), ActionType::pass),
                         make_rule(3, l4_dport(kTcp, 7004), ActionType::pass)};
    fw.commit(drop_policy);

    const uint64_t default_drops = fw.reason_packets(XDPFW_REASON_DEFAULT_DROP);
    EXPECT_EQ(ping(peer, kDut6, 3), 3);
    EXPECT_EQ(ping(peer, kDut4, 3), 0);
    send_udp(peer, kDut4, 7003, 5);
    send_udp(peer, kDut6, 7003, 5);
    send_udp(peer, kDut4, 7001, 5);
    send_udp(peer, kDut6, 7001, 5);
    EXPECT_EQ(udp4_ok.receive(5, 2s), 5u);
    EXPECT_EQ(udp6_ok.receive(5, 2s), 5u);
    EXPECT_EQ(udp4_drop.receive(5, 200ms) + udp6_drop.receive(5, 200ms), 0u);
    EXPECT_EQ(tcp_connect(peer, kDut6, 7004, 2s), TcpOutcome::connected);
    EXPECT_EQ(tcp_connect(peer, kDut4, 7002, 500ms), TcpOutcome::timed_out);
    // 3 pings + 10 datagrams + at least one SYN, and maybe IPv6 chatter
    // (MLD reports) that no rule lets through.
    EXPECT_GE(fw.reason_packets(XDPFW_REASON_DEFAULT_DROP) - default_drops, 14u);
}

INSTANTIATE_TEST_SUITE_P(Modes, FilterTest,
                         ::testing::Values(AttachMode::native, AttachMode::generic),
                         [](const auto& info) { return std::string(attach_mode_name(info.param)); });

// dut0 receives, a rule redirects out of dut1, sink0 (dut1's peer) sees the
// frames. A veth delivers XDP-redirected frames only when its peer runs an
// XDP program, so a second xdpfw instance on sink0 counts them and passes.
TEST_F(AttachTest, RedirectsToAnotherPort)
{
    NetNs sink;
    VethPair out({&dut, "dut1", "10.99.2.1", ""}, {&sink, "sink0", "10.99.2.2", ""});
    Instance sink_fw(sink);

    Policy sink_policy;
    sink_policy.rules = {make_rule(1, l4_dport(kUdp, 7010), ActionType::count)};
    sink_fw.commit(sink_policy);
    XdpAttachment sink_att = sink_fw.attach("sink0", AttachMode::native);

    Policy p;
    p.rules = {make_rule(5, l4_dport(kUdp, 7010), ActionType::redirect, "dut1")};
    fw.commit(p);
    XdpAttachment att = fw.attach("dut0", AttachMode::native);

    UdpReceiver local(dut, kDut4, 7010);
    UdpFrameCounter seen(sink, "sink0", 7010);
    EXPECT_EQ(send_udp(peer, kDut4, 7010, 10), 10u);
    EXPECT_EQ(send_udp(peer, kDut6, 7010, 10), 10u);
    EXPECT_EQ(seen.receive(20, 2s), 20u);
    EXPECT_EQ(local.receive(1, 200ms), 0u);
    EXPECT_EQ(fw.rule_packets(5), 20u);
    EXPECT_EQ(fw.reason_packets(XDPFW_REASON_RULE_REDIRECT), 20u);
    EXPECT_EQ(fw.reason_packets(XDPFW_REASON_REDIRECT_FAILED), 0u);
    EXPECT_EQ(sink_fw.rule_packets(1), 20u);
}

TEST_F(AttachTest, MissingInterfaceGivesClearError)
{
    EnterNetns in(dut);
    try {
        XdpAttachment::attach(fw.obj, std::string("nosuch0"));
        FAIL() << "attach to a missing interface succeeded";
    } catch (const BpfError& e) {
        EXPECT_EQ(e.code().value(), ENODEV);
        EXPECT_NE(std::string(e.what()).find("attach xdp to nosuch0"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("No such device"), std::string::npos) << e.what();
    }
    try {
        XdpAttachment::attach(fw.obj, 999999);
        FAIL() << "attach to a missing ifindex succeeded";
    } catch (const BpfError& e) {
        EXPECT_EQ(e.code().value(), ENODEV);
        EXPECT_NE(std::string(e.what()).find("ifindex 999999"), std::string::npos) << e.what();
    }
}

TEST_F(AttachTest, SecondAttachIsBusy)
{
    XdpAttachment first = fw.attach("dut0", AttachMode::native);
    Instance other(dut);
    for (AttachMode m : {AttachMode::native, AttachMode::auto_}) {
        try {
            other.attach("dut0", m);
            FAIL() << "second attach succeeded in mode " << attach_mode_name(m);
        } catch (const BpfError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("attach xdp to dut0"), std::string::npos) << what;
            EXPECT_TRUE(e.code().value() == EBUSY || e.code().value() == EEXIST) << what;
        }
    }
    // The failed attempts left the first program in place.
    if (first.info().multiprog)
        EXPECT_NE(prog_on_dut0(XdpMode::native), 0u);
    else
        EXPECT_EQ(prog_on_dut0(XdpMode::native), fw.prog_id());
}

TEST_F(AttachTest, DetachRemovesTheProgram)
{
    {
        XdpAttachment att = fw.attach("dut0", AttachMode::native);
        EXPECT_NE(prog_on_dut0(XdpMode::native), 0u);
        EXPECT_NE(dut0_link().find("prog/xdp"), std::string::npos);
        att.detach();
        EXPECT_FALSE(att.attached());
        EXPECT_EQ(prog_on_dut0(XdpMode::native), 0u);
        EXPECT_EQ(dut0_link().find("prog/xdp"), std::string::npos) << dut0_link();
        att.detach(); // a second detach is a no-op
    }
    {
        // The destructor detaches, even when run outside the namespace.
        XdpAttachment att = fw.attach("dut0", AttachMode::generic);
        EXPECT_NE(prog_on_dut0(XdpMode::generic), 0u);
    }
    EXPECT_EQ(prog_on_dut0(XdpMode::generic), 0u);
    EXPECT_EQ(dut0_link().find("prog/xdp"), std::string::npos) << dut0_link();
}

TEST_F(AttachTest, ReleaseKeepsTheProgramAndDetachAllRemovesIt)
{
    AttachInfo info = fw.attach("dut0", AttachMode::native).release();
    EXPECT_EQ(info.ifname, "dut0");
    EXPECT_NE(prog_on_dut0(XdpMode::native), 0u);
    EnterNetns in(dut);
    EXPECT_EQ(detach_all(info.ifindex), 1);
    EXPECT_EQ(attached_prog_id(info.ifindex, XdpMode::native), 0u);
    EXPECT_EQ(detach_all(info.ifindex), 0); // nothing left
}

TEST_F(AttachTest, DetachAllLeavesForeignPrograms)
{
    // A program that is not xdpfw's: libxdp's default AF_XDP program
    // (installed with libxdp), attached by iproute2.
    const char* obj_path = "/usr/lib/x86_64-linux-gnu/bpf/xsk_def_xdp_prog.o";
    if (!std::filesystem::exists(obj_path))
        GTEST_SKIP() << obj_path << " not installed";
    run_in_checked(dut, fmt::format("ip link set dev dut0 xdpgeneric obj {} sec xdp", obj_path));
    EnterNetns in(dut);
    EXPECT_NE(attached_prog_id(link.ifindex_a(), XdpMode::generic), 0u);
    EXPECT_EQ(detach_all(link.ifindex_a()), 0);
    EXPECT_NE(attached_prog_id(link.ifindex_a(), XdpMode::generic), 0u);
}

TEST_F(AttachTest, DirectLibbpfPathAttachesAndDetaches)
{
    EnterNetns in(dut);
    AttachOptions o;
    o.mode = AttachMode::native;
    o.use_libxdp = false;
    {
        XdpAttachment att = XdpAttachment::attach(fw.obj, link.ifindex_a(), o);
        EXPECT_FALSE(att.info().multiprog);
        EXPECT_EQ(att.info().mode, XdpMode::native);
        EXPECT_EQ(attached_prog_id(link.ifindex_a(), XdpMode::native), fw.prog_id());
        // libxdp sees the directly attached program as a legacy one and
        // refuses to stack another program on it.
        AttachOptions lx;
        lx.mode = AttachMode::native;
        Instance other(dut);
        EXPECT_THROW(XdpAttachment::attach(other.obj, link.ifindex_a(), lx), BpfError);
    }
    EXPECT_EQ(attached_prog_id(link.ifindex_a(), XdpMode::native), 0u);
}

// Without CAP_SYS_ADMIN libxdp 1.3.1 cannot read the program's BTF and
// used to crash in its attach (SIGSEGV); the attach now falls back to
// libbpf. Capabilities are per thread: only this thread drops the one.
TEST_F(AttachTest, LibxdpWithoutSysAdminFallsBackToLibbpf)
{
    std::string error;
    uint32_t attached = 0;
    std::thread t([&] {
        EnterNetns in(dut); // setns needs CAP_SYS_ADMIN: before the drop
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
        if (::syscall(SYS_capget, &hdr, data) != 0) {
            error = "capget failed";
            return;
        }
        const auto full = data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective;
        data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
        if (::syscall(SYS_capset, &hdr, data) != 0) {
            error = "capset failed";
            return;
        }
        try {
            AttachOptions o;
            o.mode = AttachMode::native;
            XdpAttachment att = XdpAttachment::attach(fw.obj, link.ifindex_a(), o);
            attached = attached_prog_id(link.ifindex_a(), XdpMode::native);
            att.detach();
        } catch (const std::exception& e) {
            error = e.what();
        }
        // Still permitted: back in the effective set, so that leaving the
        // namespace (setns) works.
        data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective = full;
        if (::syscall(SYS_capset, &hdr, data) != 0)
            error += " (capset back failed)";
    });
    t.join();
    EXPECT_EQ(error, "");
    EXPECT_EQ(attached, fw.prog_id());
    EnterNetns in(dut);
    EXPECT_EQ(attached_prog_id(link.ifindex_a(), XdpMode::native), 0u);
}

TEST_F(AttachTest, AutoFallsBackToGenericWhereNativeIsMissing)
{
    // An ifb device has no native XDP support.
    CmdResult r = run_in(dut, "ip link add xifb0 type ifb && ip link set xifb0 up");
    if (!r.ok())
        GTEST_SKIP() << "no ifb device support: " << r.output;
    try {
        fw.attach("xifb0", AttachMode::native);
        FAIL() << "native attach to an ifb device succeeded";
    } catch (const BpfError& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.code().value(), EOPNOTSUPP) << what;
        EXPECT_EQ(what.rfind("attach xdp to xifb0 (native mode", 0), 0u) << what;
        // The kernel's own explanation travels with the error.
        EXPECT_NE(what.find("does not support XDP in native mode"), std::string::npos) << what;
    }
    {
        XdpAttachment att = fw.attach("xifb0", AttachMode::auto_);
        EXPECT_EQ(att.info().mode, XdpMode::generic);
        EnterNetns in(dut);
        EXPECT_NE(attached_prog_id(att.info().ifindex, XdpMode::generic), 0u);
    }
    EnterNetns in(dut);
    EXPECT_EQ(attached_prog_id(static_cast<int>(if_nametoindex("xifb0")), XdpMode::generic), 0u);
}

TEST(AttachModes, ParseAndName)
{
    EXPECT_EQ(parse_attach_mode("auto"), AttachMode::auto_);
    EXPECT_EQ(parse_attach_mode("native"), AttachMode::native);
    EXPECT_EQ(parse_attach_mode("generic"), AttachMode::generic);
    EXPECT_EQ(parse_attach_mode("skb"), AttachMode::generic);
    try {
        parse_attach_mode("hw");
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("\"hw\""), std::string::npos) << e.what();
    }
    EXPECT_STREQ(attach_mode_name(AttachMode::auto_), "auto");
    EXPECT_STREQ(xdp_mode_name(XdpMode::generic), "generic");
}

// Pins go to a private directory on bpffs, not /sys/fs/bpf/xdpfw.
class PinTest : public test::BpffsDirTest {
protected:
    PinTest() : BpffsDirTest("pins") {}
};

TEST_F(PinTest, PinsAndRemovesOnlyOwnFiles)
{
    XdpfwObject obj = XdpfwObject::load(small_load_options());
    const std::string dir = instance_pin_dir("lab-1", root);
    EXPECT_EQ(dir, root + "/xdpfw/lab-1");
    make_pin_dir(dir, root);
    make_pin_dir(dir, root); // idempotent

    const std::string pin = pin_program(obj.prog_fd(), dir);
    EXPECT_EQ(pin, dir + "/prog");
    int fd = bpf_obj_get(pin.c_str());
    ASSERT_GE(fd, 0);
    ::close(fd);
    EXPECT_EQ(pin_program(obj.prog_fd(), dir), pin); // re-pin replaces

    EXPECT_EQ(remove_pin_dir(dir), 1);
    EXPECT_FALSE(std::filesystem::exists(dir));
    EXPECT_EQ(remove_pin_dir(dir), 0); // already gone

    // Something xdpfw did not create keeps the directory.
    make_pin_dir(dir, root);
    pin_program(obj.prog_fd(), dir);
    ASSERT_EQ(::mkdir((dir + "/someone-else").c_str(), 0700), 0);
    EXPECT_EQ(remove_pin_dir(dir), 1);
    EXPECT_TRUE(std::filesystem::exists(dir + "/someone-else"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/prog"));
}

TEST_F(PinTest, RejectsBadInstanceNamesAndNonBpffsRoots)
{
    EXPECT_THROW(instance_pin_dir("", root), std::invalid_argument);
    EXPECT_THROW(instance_pin_dir("..", root), std::invalid_argument);
    try {
        instance_pin_dir("a/b", root);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("'/'"), std::string::npos) << e.what();
    }
    try {
        make_pin_dir("/tmp/xdpfwt-not-bpffs/x", "/tmp");
        FAIL();
    } catch (const BpfError& e) {
        EXPECT_NE(std::string(e.what()).find("not a BPF filesystem"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists("/tmp/xdpfwt-not-bpffs"));
    EXPECT_THROW(make_pin_dir("/tmp/elsewhere", root), std::invalid_argument);
}

} // namespace
} // namespace xdpfw::test
