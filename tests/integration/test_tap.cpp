// SPDX-License-Identifier: GPL-2.0-only
// `xdpfwctl tap` on a real xdpfwd: the socket filter keeps exactly the
// frames that passed XDP and match its words (none XDP dropped), shows in
// `bpftool prog show` as socket_filter while it runs and is gone after,
// puts back the VLAN tag the receive path took off, stops after --count,
// and refuses words it cannot honour, naming them.
#include "lib/lang/rule_parser.hpp"
#include "lib/reference/reference.hpp"
#include "testing/daemon_lab_test.hpp"
#include "testing/frame_io.hpp"
#include "testing/live_frames.hpp"
#include "testing/packet_builder.hpp"
#include "testing/policy_text.hpp"
#include "testing/random_policy.hpp"
#include "testing/spawn.hpp"
#include "testing/temp_dir.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <algorithm>
#include <map>
#include <random>
#include <sstream>
#include <thread>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kXdpfwctl = std::string(XDPFW_BINARY_DIR) + "/bin/xdpfwctl";

std::string read_file(const std::string& path)
{
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// `xdpfwctl tap ARGS` running in ns, its stderr in a log file.
class TapProcess {
public:
    TapProcess(const NetNs& ns, const std::string& dir, const std::vector<std::string>& args,
               const std::string& name = "tap")
        : log_(dir + "/" + name + ".log")
    {
        std::vector<std::string> argv = {"nsenter", "--net=" + ns.path(), kXdpfwctl, "tap"};
        argv.insert(argv.end(), args.begin(), args.end());
        pid_ = spawn_logged(argv, log_, false, "xdpfwctl tap");
    }
    ~TapProcess()
    {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    std::string log() const { return read_file(log_); }

    // The socket filter's program id from the ready line; 0 when the tap
    // exited or did not get ready within wait.
    uint32_t wait_ready(std::chrono::milliseconds wait)
    {
        const auto end = Clock::now() + wait;
        while (Clock::now() < end) {
            const std::string text = log();
            const auto at = text.find("prog id ");
            if (at != std::string::npos)
                return static_cast<uint32_t>(std::stoul(text.substr(at + 8)));
            if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
                pid_ = -1;
                return 0;
            }
            std::this_thread::sleep_for(20ms);
        }
        return 0;
    }
    // The exit status once it ended (after sig, unless 0), or -1 after wait.
    int finish(int sig, std::chrono::milliseconds wait)
    {
        if (pid_ > 0 && sig)
            ::kill(pid_, sig);
        const auto end = Clock::now() + wait;
        while (pid_ > 0 && Clock::now() < end) {
            if (::waitpid(pid_, &status_, WNOHANG) == pid_)
                pid_ = -1;
            else
                std::this_thread::sleep_for(20ms);
        }
        if (pid_ > 0)
            return -1;
        return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
    }

private:
    std::string log_;
    pid_t pid_ = -1;
    int status_ = 0;
};

// `bpftool prog show id N` type, or "" when there is no such program.
std::string prog_type(uint32_t id)
{
    const CmdResult r = run(fmt::format("bpftool -j prog show id {} 2>/dev/null", id));
    if (!r.ok())
        return "";
    return nlohmann::json::parse(r.output).value("type", "");
}

// Every frame of a pcap file (libpcap reads it back).
std::vector<std::vector<uint8_t>> pcap_frames(const std::string& path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    if (!p)
        throw std::runtime_error(path + ": " + err);
    EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
    std::vector<std::vector<uint8_t>> out;
    pcap_pkthdr* h;
    const u_char* data;
    while (pcap_next_ex(p, &h, &data) == 1) {
        EXPECT_EQ(h->caplen, h->len);
        out.emplace_back(data, data + h->caplen);
    }
    pcap_close(p);
    return out;
}

std::array<uint8_t, 16> v4(const char* dotted)
{
    std::array<uint8_t, 16> a{};
    inet_pton(AF_INET, dotted, a.data());
    return a;
}

class Tap : public DaemonLabTest {};

TEST_F(Tap, KeepsExactlyThePassedFramesThatMatch)
{
    XDPFW_NEED_LIVE_FRAMES();
    DaemonProcess& d = lab->daemon;
    CtlResult add = d.ctl({"rule", "add", "proto=udp", "dport=7001", "action=drop", "--json"});
    ASSERT_EQ(add.code, 0) << add.err;
    const uint32_t drop_id = add.json().at("rule_id").get<uint32_t>();

    const std::string pcap = d.dir() + "/tap.pcap";
    TapProcess tap(lab->dut, d.dir(),
                   {"-i", "dut0", "-w", pcap, "--duration", "60", "src=10.99.1.2", "proto=udp",
                    "dport=7000-7002"});
    const uint32_t id = tap.wait_ready(10s);
    ASSERT_NE(id, 0u) << tap.log();
    EXPECT_EQ(prog_type(id), "socket_filter");

    UdpReceiver r7000(lab->dut, DaemonLab::dut4, 7000), r7002(lab->dut, DaemonLab::dut4, 7002);
    UdpReceiver r7003(lab->dut, DaemonLab::dut4, 7003), r6(lab->dut, DaemonLab::dut6, 7000);
    for (uint16_t port : {7000, 7001, 7002, 7003})
        EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, port, 10), 10u);
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut6, 7000, 10), 10u); // not from 10.99.1.2
    // What the stack delivered, the tap saw first.
    EXPECT_EQ(r7000.receive(10, 3s), 10u);
    EXPECT_EQ(r7002.receive(10, 3s), 10u);
    EXPECT_EQ(r7003.receive(10, 3s), 10u);
    EXPECT_EQ(r6.receive(10, 3s), 10u);
    EXPECT_EQ(d.rule_packets(drop_id), 10u); // XDP's side: the 7001 frames

    EXPECT_EQ(tap.finish(SIGINT, 10s), 0) << tap.log();
    EXPECT_NE(tap.log().find("20 frames captured, 0 dropped"), std::string::npos) << tap.log();
    EXPECT_EQ(prog_type(id), "") << "the socket filter outlived the tap";

    // Debian's tshark decodes the file: 10 frames to each kept port, all
    // from the matching source, none to the port XDP dropped.
    const CmdResult shark =
        run("tshark -r " + pcap + " -T fields -e ip.src -e udp.dstport 2>/dev/null");
    ASSERT_TRUE(shark.ok()) << shark.output;
    std::map<std::string, int> lines;
    std::istringstream in(shark.output);
    for (std::string line; std::getline(in, line);)
        ++lines[line];
    const std::map<std::string, int> want = {{"10.99.1.2\t7000", 10}, {"10.99.1.2\t7002", 10}};
    EXPECT_EQ(lines, want) << shark.output;
}

TEST_F(Tap, PutsBackTheVlanTagItMatched)
{
    const std::string pcap = lab->daemon.dir() + "/vlan.pcap";
    TapProcess tap(lab->dut, lab->daemon.dir(),
                   {"-i", "dut0", "-w", pcap, "--duration", "60", "vlan=5", "dport=7009"});
    ASSERT_NE(tap.wait_ready(10s), 0u) << tap.log();

    FrameSender send(lab->peer, "peer0");
    FrameSpec spec;
    spec.dst_mac = parse_mac(lab->link.mac_a());
    spec.src_mac = parse_mac(lab->link.mac_b());
    spec.src = v4(DaemonLab::peer4);
    spec.dst = v4(DaemonLab::dut4);
    spec.dport = 7009;
    for (uint16_t vid : {5, 6, 5, 0xffff}) { // 0xffff: untagged
        spec.vlans.clear();
        if (vid != 0xffff)
            spec.vlans.push_back(VlanTag{0x8100, vid, 0});
        send.send(build_frame(spec));
    }
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(tap.finish(SIGINT, 10s), 0) << tap.log();
    const auto frames = pcap_frames(pcap);
    ASSERT_EQ(frames.size(), 2u) << tap.log();
    spec.vlans = {VlanTag{0x8100, 5, 0}};
    EXPECT_EQ(frames[0], build_frame(spec)); // byte for byte, tag included
}

TEST_F(Tap, StopsAfterCountAndRefusesWordsItCannotHonour)
{
    const std::string pcap = lab->daemon.dir() + "/count.pcap";
    TapProcess tap(lab->dut, lab->daemon.dir(),
                   {"-i", "dut0", "-w", pcap, "--count", "3", "proto=udp", "dport=7005"});
    ASSERT_NE(tap.wait_ready(10s), 0u) << tap.log();
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, 7005, 10), 10u);
    EXPECT_EQ(tap.finish(0, 10s), 0) << tap.log();
    EXPECT_EQ(pcap_frames(pcap).size(), 3u);

    const auto refused = [&](const std::string& args) {
        return run_in(lab->dut, kXdpfwctl + " tap -i dut0 -w " + lab->daemon.dir() +
                                    "/never.pcap " + args + " 2>&1");
    };
    CmdResult r = refused("proto=udp action=drop");
    EXPECT_EQ(r.status, 64) << r.output;
    EXPECT_NE(r.output.find("xdpfwctl: tap: action: not a match word"), std::string::npos)
        << r.output;
    r = refused("src=@blocked");
    EXPECT_EQ(r.status, 64) << r.output;
    EXPECT_NE(r.output.find("tap: src: @blocked is a set reference"), std::string::npos)
        << r.output;
    r = refused("iif=dut0");
    EXPECT_EQ(r.status, 64) << r.output;
    EXPECT_NE(r.output.find("tap: iif: "), std::string::npos) << r.output;
    r = run_in(lab->dut, kXdpfwctl + " tap -i nosuch0 -w /dev/null 2>&1");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("interface nosuch0"), std::string::npos) << r.output;
}

// A tap the kernel refuses, for real: `xdpfwctl tap` run without
// CAP_PERFMON (and CAP_SYS_ADMIN, which stands for it) is verified as an
// unprivileged program, and the verifier refuses the parser's variable
// offsets into its frame buffer ("prohibited for !root"). The error names
// the program and the missing capability and carries the verifier's log,
// as a refused XDP program's does (docs/TAP.md); without CAP_BPF the kernel
// refuses before verifying, and the error says that capability is missing.
TEST(TapLoadError, RefusedProgramShowsTheVerifierLog)
{
    NetNs ns;
    TempDir dir("xdpfw-tapv");
    const auto tap_without = [&](const std::string& caps) {
        return run_in(ns, fmt::format("setpriv --bounding-set={} {} tap -i lo -w {} --count 1 "
                                      "--duration 1 proto=udp dport=53 2>&1",
                                      caps, kXdpfwctl, dir / "never.pcap"));
    };
    CmdResult r = tap_without("-perfmon,-sys_admin");
    if (r.status == 0)
        GTEST_SKIP() << "this kernel's verifier accepts the tap without CAP_PERFMON: no refusal "
                        "to observe\n"
                     << r.output;
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("xdpfwctl: tap: load xdpfw tap socket filter (this process lacks "
                            "CAP_PERFMON;"),
              std::string::npos)
        << r.output;
    const size_t log_at = r.output.find("\nverifier log:\n");
    ASSERT_NE(log_at, std::string::npos) << r.output;
    const std::string log = r.output.substr(log_at);
    // The verifier's own lines: the instructions it walked and its summary.
    EXPECT_NE(log.find("xdpfw_tap"), std::string::npos) << log;
    EXPECT_NE(log.find("processed "), std::string::npos) << log;
    EXPECT_NE(log.find(" insns (limit "), std::string::npos) << log;
    EXPECT_NE(log.find("Permission denied"), std::string::npos) << log;

    r = tap_without("-bpf,-sys_admin");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("load xdpfw tap socket filter (this process lacks CAP_BPF;"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("Operation not permitted"), std::string::npos) << r.output;
}

// A rule's match as tap words: its canonical text without what is not a
// match word.
std::vector<std::string> match_words(const Rule& r)
{
    std::vector<std::string> words;
    std::istringstream in(format_rule(r));
    for (std::string w; in >> w;)
        if (!w.starts_with("priority=") && !w.starts_with("action=") &&
            !w.starts_with("fallback="))
            words.push_back(w);
    return words;
}

// Random rules' matches (without iif and sets, which a tap refuses) as taps,
// all running at once on one veth without XDP, against the same random
// frames (VLAN tags, QinQ, IPv4 options, IPv6 extension headers, fragments,
// non-IP): each file holds exactly the frames the reference's rule_matches
// accepts, byte for byte.
TEST(TapDifferential, KeepsWhatTheReferenceMatches)
{
    NetNs a, b;
    VethPair link({&a, "tap0", "", ""}, {&b, "tap1", "", ""});
    // The sender's kernel must add no frames of its own (IPv6 router
    // solicitations, MLD reports): the files are compared exactly.
    run_in_checked(b, "sysctl -qw net.ipv6.conf.tap1.disable_ipv6=1");
    TempDir dir("xdpfw-tap");
    std::mt19937_64 rng(20261206);
    RandomPolicyOptions opts;
    opts.min_rules = 10;
    opts.max_rules = 10;
    opts.max_sets = 0;
    opts.field_chance = 0.3;
    Policy policy = random_policy(rng, opts);
    for (Rule& r : policy.rules) {
        r.match.iif.reset();
        for (auto* addr : {&r.match.src, &r.match.dst})
            if (*addr && (*addr)->is_set())
                addr->reset();
        r.text = format_rule(r);
    }
    std::vector<std::unique_ptr<TapProcess>> taps;
    for (size_t i = 0; i < policy.rules.size(); ++i) {
        std::vector<std::string> args = {"-i", "tap0", "-w", dir / fmt::format("{}.pcap", i),
                                         "--duration", "60"};
        for (const std::string& w : match_words(policy.rules[i]))
            args.push_back(w);
        taps.push_back(std::make_unique<TapProcess>(a, dir.path().string(), args,
                                                    fmt::format("tap{}", i)));
    }
    for (auto& t : taps)
        ASSERT_NE(t->wait_ready(20s), 0u) << t->log();

    PacketGenerator gen(policy);
    std::vector<PacketFields> pkts;
    std::vector<std::vector<uint8_t>> frames;
    FrameSender send(b, "tap1");
    for (int k = 0; k < 400; ++k) {
        PacketFields pkt = gen.next(rng);
        // An IPv6 next header naming an extension header is walked, never
        // final: such a "protocol" has no frame of its own.
        if (pkt.family == Family::ipv6 && (pkt.proto == 0 || pkt.proto == 43 ||
                                           pkt.proto == 44 || pkt.proto == 51 || pkt.proto == 60))
            pkt.proto = 59;
        frames.push_back(build_frame(spec_from_fields(pkt, rng)));
        pkts.push_back(pkt);
        send.send(frames.back());
    }
    std::this_thread::sleep_for(500ms);
    const IfaceResolver none = [](const std::string&) { return 0u; };
    size_t kept = 0;
    for (size_t i = 0; i < taps.size(); ++i) {
        ASSERT_EQ(taps[i]->finish(SIGINT, 10s), 0) << taps[i]->log();
        std::vector<std::vector<uint8_t>> want;
        for (size_t k = 0; k < pkts.size(); ++k)
            if (rule_matches(policy.rules[i], policy, pkts[k], none))
                want.push_back(frames[k]);
        std::vector<std::vector<uint8_t>> got = pcap_frames(dir / fmt::format("{}.pcap", i));
        std::sort(want.begin(), want.end());
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got.size(), want.size()) << policy.rules[i].text;
        EXPECT_TRUE(got == want) << policy.rules[i].text;
        kept += got.size();
    }
    EXPECT_GT(kept, 0u);
}

} // namespace
} // namespace xdpfw::test
