// SPDX-License-Identifier: GPL-2.0-only
// Generating and loading the specialised tier's generated program
// (gen_program.hpp). Semantics are xdpfw_spec_lean's (bpf/lib/spec.h) for the
// frames the program takes; the differential tests hold the two to the
// reference classifier.
#include "lib/kernel/gen_program.hpp"

#include "lib/kernel/bpf_asm.hpp"
#include "xdpfw_bpf.skel.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/if_ether.h>
#include <linux/in.h>

#include <cerrno>
#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace xdpfw {

namespace {

using namespace bpfasm;

constexpr uint32_t bit(int f)
{
    return 1u << f;
}

// Scalar fields the generated program reads (struct xdpfw_spec.ranged).
constexpr uint32_t kScalars = bit(XDPFW_FIELD_IFINDEX) | bit(XDPFW_FIELD_VLAN) | bit(XDPFW_FIELD_PROTO) |
                              bit(XDPFW_FIELD_SPORT) | bit(XDPFW_FIELD_DPORT) | bit(XDPFW_FIELD_ICMP) |
                              bit(XDPFW_FIELD_ETHER);
// Past this the compiled program is as good: the path is the tests.
constexpr size_t kMaxInsns = 4096;

// Offsets of the frame the program takes: Ethernet, IPv4 without options.
constexpr int16_t kEthProto = 12, kIp = 14, kIpTotLen = 16, kIpFrag = 20, kIpProto = 23, kIpSrc = 26,
                  kIpDst = 30, kL4 = 34;
constexpr int32_t kIpHlen = 20;
// Stack slots: the generation (a key), a second key, acc while helpers
// run, the addresses whose class is looked up (source, destination).
constexpr int16_t kGenSlot = -4, kKeySlot = -8, kAccSlot = -16, kAddrSlot = -20;
// A bitmaps spec's: the generation as 64 bits (the verifier bounds an offset
// by it), the live header, the word the walk opens, a bitmap word's
// position, the first bitmap page (when the bitmaps fit one), and the
// fields' bitmap references.
constexpr int16_t kGen64Slot = -32, kHdrSlot = -40, kWordSlot = -48, kAtSlot = -56, kPageSlot = -64,
                  kRefSlot = -72;

// A field's tests: value ranges (disjoint) and what other values admit.
struct FieldTest {
    std::vector<xdpfw_spec_range> ranges;
    uint64_t other = 0;

    uint64_t at(uint32_t v) const
    {
        for (const xdpfw_spec_range& r : ranges)
            if (static_cast<uint32_t>(v - r.lo) <= r.span)
                return r.bits;
        return other;
    }
};

FieldTest field_test(const xdpfw_spec& s, int f)
{
    FieldTest t;
    const xdpfw_spec_field& sf = s.f[f];
    for (uint32_t i = 0; i < sf.n_ranges && i < XDPFW_SPEC_MAX_RANGES; i++)
        t.ranges.push_back(sf.r[i]);
    t.other = sf.other;
    return t;
}

enum class Proto { tcp, udp, icmp, other };

uint64_t rule_bits(uint32_t n)
{
    return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

class Generator {
public:
    Generator(const xdpfw_spec& s, const GenMaps& m)
        : s_(s), m_(m), count_mask_(s.bitmaps ? 0 : rule_bits(s.n_rules) & ~s.terminal)
    {
        fb_ = a_.label();
        def_count_ = a_.label();
        def_nocount_ = a_.label();
        take_drop_ = a_.label();
        take_pass_ = a_.label();
        for (Label& l : rule_)
            l = a_.label();
    }

    std::vector<bpf_insn> run()
    {
        control();
        parse();
        if (s_.bitmaps)
            take_rules();
        else
            rules();
        defaults();
        fallback();
        return a_.finish();
    }

private:
    // r6 ctx, r7 the live header, r9 this CPU's rule counters; r8 the
    // frame's length and r2 its start once parsed; r0 the rules the fields
    // admit while classifying.
    void control()
    {
        a_.mov64(R6, R1);
        a_.ld_map_value(R1, m_.ctrl, 0);
        a_.ldx(BPF_W, R2, R1, offsetof(xdpfw_ctrl, committed));
        a_.jmp(BPF_JEQ, R2, 0, fb_);
        a_.ldx(BPF_W, R2, R1, offsetof(xdpfw_ctrl, active_gen));
        a_.alu64(BPF_AND, R2, 1);
        a_.stx(BPF_W, R10, kGenSlot, R2);
        if (s_.bitmaps)
            a_.stx(BPF_DW, R10, kGen64Slot, R2);
        lookup(m_.policy, kGenSlot);
        a_.jmp(BPF_JEQ, R0, 0, fb_);
        a_.mov64(R7, R0);
        if (s_.bitmaps)
            a_.stx(BPF_DW, R10, kHdrSlot, R7);
        // Not the policy this program was generated for: the compiled
        // program (and through it the general one) decides.
        a_.ldx(BPF_DW, R1, R7, offsetof(xdpfw_policy_hdr, spec_key));
        a_.ld_imm64(R2, s_.key);
        a_.jmp(BPF_JNE, R1, R2, fb_);
        a_.call(BPF_FUNC_get_smp_processor_id);
        a_.stx(BPF_W, R10, kKeySlot, R0);
        lookup(m_.rule_counters, kKeySlot);
        a_.jmp(BPF_JEQ, R0, 0, fb_);
        a_.mov64(R9, R0);
        // Bitmaps that fit one page: its address, looked up before the
        // packet is read (nothing here depends on the packet).
        if (s_.bitmaps && s_.bm.pages == 1) {
            a_.ldx(BPF_DW, R1, R10, kGen64Slot);
            a_.alu64(BPF_OR, R1, int32_t(xdpfw_bitmap_slot(0, 0)));
            page_lookup(fb_);
            a_.stx(BPF_DW, R10, kPageSlot, R0);
        }
    }

    // r0 = the page in xdpfw_tables slot r1; no page: to `missing`.
    void page_lookup(Label missing)
    {
        a_.stx(BPF_W, R10, kKeySlot, R1);
        lookup(m_.tables, kKeySlot);
        a_.jmp(BPF_JEQ, R0, 0, missing);
        a_.mov64(R1, R0);
        a_.st(BPF_W, R10, kKeySlot, 0);
        a_.mov64(R2, R10);
        a_.alu64(BPF_ADD, R2, kKeySlot);
        a_.call(BPF_FUNC_map_lookup_elem);
        a_.jmp(BPF_JEQ, R0, 0, missing);
    }

    // r0 = map's value for the key at r10 + key_off, or 0 (an array's
    // lookup the verifier inlines).
    void lookup(int map, int16_t key_off)
    {
        a_.ld_map(R1, map);
        a_.mov64(R2, R10);
        a_.alu64(BPF_ADD, R2, key_off);
        a_.call(BPF_FUNC_map_lookup_elem);
    }

    // Ethernet and IPv4 as xdpfw_parse_ipv4() takes them; anything it
    // would read otherwise (VLAN tags, IPv6, options, non-first fragments,
    // a cut or malformed header) goes to the fallback.
    void parse()
    {
        a_.ldx(BPF_W, R2, R6, offsetof(xdp_md, data));
        a_.ldx(BPF_W, R3, R6, offsetof(xdp_md, data_end));
        a_.mov64(R8, R3);
        a_.alu64(BPF_SUB, R8, R2);
        bound(kL4);
        a_.ldx(BPF_H, R1, R2, kEthProto);
        a_.jmp(BPF_JNE, R1, htons(ETH_P_IP), fb_);
        a_.ldx(BPF_B, R1, R2, kIp);
        a_.jmp(BPF_JNE, R1, 0x45, fb_); // version 4, no options
        a_.ldx(BPF_H, R4, R2, kIpTotLen);
        a_.be_to_host(R4, 16);
        a_.jmp(BPF_JLT, R4, kIpHlen, fb_);
        a_.mov64(R1, R4);
        a_.alu64(BPF_ADD, R1, kIp);
        a_.jmp(BPF_JGT, R1, R8, fb_); // cut
        a_.ldx(BPF_H, R1, R2, kIpFrag);
        a_.alu64(BPF_AND, R1, htons(0x1fff));
        a_.jmp(BPF_JNE, R1, 0, fb_); // a non-first fragment
        a_.alu64(BPF_SUB, R4, kIpHlen); // r4: the L4 bytes (c->rem)
        a_.ldx(BPF_B, R5, R2, kIpProto);
        Label tcp = a_.label(), udp = a_.label(), icmp = a_.label();
        a_.jmp(BPF_JEQ, R5, IPPROTO_TCP, tcp);
        a_.jmp(BPF_JEQ, R5, IPPROTO_UDP, udp);
        a_.jmp(BPF_JEQ, R5, IPPROTO_ICMP, icmp);
        classify(Proto::other);
        a_.bind(tcp);
        bound(kL4 + 20);
        a_.ldx(BPF_B, R1, R2, kL4 + 12);
        a_.alu64(BPF_AND, R1, 0xf0);
        a_.alu64(BPF_RSH, R1, 2); // data offset, bytes
        a_.jmp(BPF_JLT, R1, 20, fb_);
        a_.jmp(BPF_JGT, R1, R4, fb_);
        classify(Proto::tcp);
        a_.bind(udp);
        bound(kL4 + 8);
        a_.jmp(BPF_JLT, R4, 8, fb_);
        classify(Proto::udp);
        a_.bind(icmp);
        bound(kL4 + 4);
        a_.jmp(BPF_JLT, R4, 4, fb_);
        classify(Proto::icmp);
    }

    // The frame holds n bytes, else the fallback (r3: data_end).
    void bound(int32_t n)
    {
        a_.mov64(R1, R2);
        a_.alu64(BPF_ADD, R1, n);
        a_.jmp(BPF_JGT, R1, R3, fb_);
    }

    // One protocol's path: the fields it fixes are folded into the
    // starting rule word here, the others tested on the frame.
    void classify(Proto p)
    {
        if (s_.bitmaps) {
            classify_bitmaps(p);
            return;
        }
        const bool ports = p == Proto::tcp || p == Proto::udp;
        uint64_t acc = s_.base;
        struct Dyn {
            FieldTest test;
            std::function<void()> load; // the value into r1
            bool flags = false;         // r1 indexes the TCP flags table instead
        };
        std::vector<Dyn> dyn;
        auto scalar = [&](int f, bool known, uint32_t v, std::function<void()> load) {
            if (!(s_.ranged & bit(f)))
                return;
            if (known)
                acc &= field_test(s_, f).at(v);
            else
                dyn.push_back({field_test(s_, f), std::move(load)});
        };
        const uint32_t proto = p == Proto::tcp ? IPPROTO_TCP : p == Proto::udp ? IPPROTO_UDP : IPPROTO_ICMP;
        scalar(XDPFW_FIELD_VLAN, true, XDPFW_VLAN_NONE, {});
        scalar(XDPFW_FIELD_ETHER, true, ETH_P_IP, {});
        scalar(XDPFW_FIELD_PROTO, p != Proto::other, XDPFW_FAMILY_IPV4 * 256 + proto, [&] {
            a_.mov64(R1, R5);
            a_.alu64(BPF_ADD, R1, XDPFW_FAMILY_IPV4 * 256);
        });
        scalar(XDPFW_FIELD_SPORT, !ports, XDPFW_PORT_NONE, [&] { load_be(BPF_H, kL4, 16); });
        scalar(XDPFW_FIELD_DPORT, !ports, XDPFW_PORT_NONE, [&] { load_be(BPF_H, kL4 + 2, 16); });
        scalar(XDPFW_FIELD_ICMP, p != Proto::icmp, XDPFW_ICMP_NONE, [&] {
            a_.ldx(BPF_B, R1, R2, kL4);
            a_.alu64(BPF_LSH, R1, 8);
            a_.ldx(BPF_B, R3, R2, kL4 + 1);
            a_.alu64(BPF_OR, R1, R3);
        });
        if (s_.flags_table) {
            if (p == Proto::tcp)
                dyn.push_back({{}, [&] { a_.ldx(BPF_B, R1, R2, kL4 + 13); }, true});
            else
                acc &= s_.tcp_flags[XDPFW_FLAGS_NONE];
        }
        scalar(XDPFW_FIELD_IFINDEX, false, 0,
               [&] { a_.ldx(BPF_W, R1, R6, offsetof(xdp_md, ingress_ifindex)); });
        std::vector<uint32_t> tables; // directions whose class is looked up
        for (int f : {XDPFW_FIELD_SRC, XDPFW_FIELD_DST}) {
            if (!(s_.lookup & bit(f)))
                continue;
            if (s_.v4_inline & bit(f))
                dyn.push_back({field_test(s_, f), [&, f] { load_be(BPF_W, addr_off(f - XDPFW_FIELD_SRC), 32); }});
            else
                tables.push_back(f - XDPFW_FIELD_SRC);
        }
        if (acc == 0) {
            to_default();
            return;
        }
        uint64_t possible = acc, certain = acc;
        a_.ld_imm64(R0, acc);
        for (const Dyn& d : dyn)
            if (!(d.flags ? flags(d.load, possible, certain) : field(d.test, d.load, possible, certain)))
                return; // every outcome is the default
        if (!tables.empty()) {
            // Helper calls follow, which take r0-r5: the addresses and acc
            // wait on the stack.
            for (uint32_t d : tables) {
                load_be(BPF_W, addr_off(d), 32);
                a_.stx(BPF_W, R10, kAddrSlot - 4 * int16_t(d), R1);
            }
            a_.stx(BPF_DW, R10, kAccSlot, R0);
            for (uint32_t d : tables)
                if (!address_class(d, possible, certain))
                    return;
            a_.ldx(BPF_DW, R0, R10, kAccSlot);
        }
        winner(possible, certain);
    }

    static int16_t addr_off(uint32_t dir) { return dir ? kIpDst : kIpSrc; }

    // A bitmaps spec's path: each used field's bitmap reference from the
    // live generation's tables (for the frame's value, or the one the path
    // fixes), then the AND of their words at the largest first-word hint,
    // as xdpfw_walk_start() opens it; the word's first rule decides. A
    // word with no rule is the default only when it is the last; anything
    // past one word goes to the fallback (the general program).
    void classify_bitmaps(Proto p)
    {
        const xdpfw_spec_bitmaps& bm = s_.bm;
        const bool ports = p == Proto::tcp || p == Proto::udp;
        auto used = [&](int f) { return (bm.used_fields & bit(f)) != 0; };
        std::vector<int16_t> refs;
        auto next_slot = [&] {
            refs.push_back(int16_t(kRefSlot - 8 * int16_t(refs.size())));
            return refs.back();
        };
        // Scalar fields first: their values come from the frame (r2), which
        // the address lookups' helper calls clobber. value: the one this
        // path fixes, else load() puts the frame's (bounded) in r1.
        auto table_ref = [&](int f, int map, uint32_t base, uint32_t slots, std::optional<uint32_t> value,
                             const std::function<void()>& load) {
            if (!used(f))
                return;
            if (!value)
                load();
            a_.ld_map_value(R3, map, int32_t(4 * (base + value.value_or(0))));
            if (!value) {
                a_.alu64(BPF_LSH, R1, 2);
                a_.alu64(BPF_ADD, R3, R1);
            }
            a_.ldx(BPF_DW, R4, R10, kGen64Slot);
            a_.alu64(BPF_MUL, R4, int32_t(4 * slots));
            a_.alu64(BPF_ADD, R3, R4);
            a_.ldx(BPF_W, R1, R3, 0);
            a_.stx(BPF_DW, R10, next_slot(), R1);
        };
        auto scalar = [&](int f, uint32_t base, uint32_t slots, std::optional<uint32_t> value,
                          const std::function<void()>& load) {
            table_ref(f, m_.scalars, base, slots, value, load);
        };
        auto port = [&](int16_t off) {
            return [this, off] {
                load_be(BPF_H, off, 16);
                a_.alu64(BPF_AND, R1, 0xffff);
            };
        };
        table_ref(XDPFW_FIELD_IFINDEX, m_.iif, 0, XDPFW_IFINDEX_SLOTS, std::nullopt, [&] {
            a_.ldx(BPF_W, R1, R6, offsetof(xdp_md, ingress_ifindex));
            a_.jmp(BPF_JGE, R1, XDPFW_IFINDEX_SLOTS, fb_); // the general program's hash
        });
        scalar(XDPFW_FIELD_VLAN, XDPFW_SCALAR_BASE_VLAN, XDPFW_VLAN_SLOTS, XDPFW_VLAN_NONE, {});
        const uint32_t proto = p == Proto::tcp ? IPPROTO_TCP : p == Proto::udp ? IPPROTO_UDP : IPPROTO_ICMP;
        scalar(XDPFW_FIELD_PROTO, XDPFW_SCALAR_BASE_PROTO + XDPFW_FAMILY_IPV4 * 256, XDPFW_PROTO_SLOTS,
               p == Proto::other ? std::nullopt : std::optional<uint32_t>(proto), [&] { a_.mov64(R1, R5); });
        const std::optional<uint32_t> no_port = ports ? std::nullopt : std::optional<uint32_t>(XDPFW_PORT_NONE);
        scalar(XDPFW_FIELD_SPORT, XDPFW_SCALAR_BASE_SPORT, XDPFW_PORT_SLOTS, no_port, port(kL4));
        scalar(XDPFW_FIELD_DPORT, XDPFW_SCALAR_BASE_DPORT, XDPFW_PORT_SLOTS, no_port, port(kL4 + 2));
        scalar(XDPFW_FIELD_TCP_FLAGS, XDPFW_SCALAR_BASE_TCP_FLAGS, XDPFW_FLAGS_SLOTS,
               p == Proto::tcp ? std::nullopt : std::optional<uint32_t>(XDPFW_FLAGS_NONE),
               [&] { a_.ldx(BPF_B, R1, R2, kL4 + 13); });
        scalar(XDPFW_FIELD_ICMP, XDPFW_SCALAR_BASE_ICMP, XDPFW_ICMP_SLOTS,
               p == Proto::icmp ? std::nullopt : std::optional<uint32_t>(XDPFW_ICMP_NONE), [&] {
                   a_.ldx(BPF_B, R1, R2, kL4);
                   a_.alu64(BPF_LSH, R1, 8);
                   a_.ldx(BPF_B, R3, R2, kL4 + 1);
                   a_.alu64(BPF_OR, R1, R3);
               });
        // An IPv4 frame's ethertype is the policy's constant.
        if (used(XDPFW_FIELD_ETHER)) {
            a_.alu32(BPF_MOV, R1, int32_t(bm.ether_ipv4));
            a_.stx(BPF_DW, R10, next_slot(), R1);
        }
        // Addresses: the class in the live IPv4 table, then its reference.
        std::vector<uint32_t> dirs;
        for (uint32_t d = 0; d < XDPFW_DIRECTIONS; d++)
            if (used(XDPFW_FIELD_SRC + int(d))) {
                dirs.push_back(d);
                load_be(BPF_W, addr_off(d), 32);
                a_.stx(BPF_W, R10, kAddrSlot - 4 * int16_t(d), R1);
            }
        for (uint32_t d : dirs) {
            v4_class(d);
            a_.jmp(BPF_JGE, R1, int32_t(m_.class_cap), fb_);
            table_ref(XDPFW_FIELD_SRC + int(d), m_.addr_class, d * m_.class_cap, XDPFW_DIRECTIONS * m_.class_cap,
                      std::nullopt, [] {});
        }
        // r4: the word to open, the largest hint of the references; a
        // missing entry (XDPFW_NO_RULE) goes to the fallback. Without
        // branches: each one would double the paths the verifier walks
        // (xdpfw_use() leaves the all-rules bitmap out of the AND; here its
        // hint, 0, changes nothing, and its word is all ones).
        a_.mov64(R4, 0);
        for (int16_t slot : refs) {
            a_.ldx(BPF_W, R1, R10, slot);
            a_.jmp32(BPF_JEQ, R1, int32_t(XDPFW_NO_RULE), fb_);
            a_.alu64(BPF_RSH, R1, XDPFW_REF_HINT_SHIFT);
            // r4 = max(r1, r4): r1 - ((r1 - r4) & ((r1 - r4) s>> 63)).
            a_.mov64(R3, R1);
            a_.alu64(BPF_SUB, R3, R4);
            a_.mov64(R0, R3);
            a_.alu64(BPF_ARSH, R0, 63);
            a_.alu64(BPF_AND, R3, R0);
            a_.alu64(BPF_SUB, R1, R3);
            a_.mov64(R4, R1);
        }
        a_.alu64(BPF_AND, R4, int32_t(XDPFW_REF_HINT_MAX)); // what it is: bounds for the verifier
        a_.jmp(BPF_JGE, R4, int32_t(bm.n_words), def_nocount_); // a field admits no rule
        used_nocount_ = true;
        // r5: the AND of the references' words.
        if (bm.pages == 1)
            a_.ldx(BPF_DW, R7, R10, kPageSlot);
        else
            a_.stx(BPF_DW, R10, kWordSlot, R4);
        a_.mov64(R5, -1);
        for (int16_t slot : refs) {
            a_.ldx(BPF_W, R1, R10, slot);
            a_.alu64(BPF_AND, R1, int32_t(XDPFW_REF_INDEX_MASK));
            a_.alu64(BPF_MUL, R1, int32_t(bm.stride));
            a_.alu64(BPF_ADD, R1, int32_t(bm.n_summary));
            if (bm.pages == 1) {
                a_.alu64(BPF_ADD, R1, R4);
                a_.jmp(BPF_JGE, R1, int32_t(XDPFW_KPAGE_WORDS), fb_);
                a_.alu64(BPF_LSH, R1, 3);
                a_.alu64(BPF_ADD, R1, R7);
                a_.ldx(BPF_DW, R3, R1, 0);
                a_.alu64(BPF_AND, R5, R3);
            } else {
                // Its page through xdpfw_tables: acc and the word's
                // position wait on the stack through the lookups.
                a_.ldx(BPF_DW, R4, R10, kWordSlot);
                a_.alu64(BPF_ADD, R1, R4);
                a_.stx(BPF_DW, R10, kAtSlot, R1);
                a_.stx(BPF_DW, R10, kAccSlot, R5);
                a_.alu64(BPF_RSH, R1, 15); // log2(XDPFW_KPAGE_WORDS)
                a_.jmp(BPF_JGE, R1, int32_t(bm.pages), fb_);
                a_.alu64(BPF_ADD, R1, int32_t(XDPFW_DIRECTIONS * XDPFW_TOP_PAGES));
                a_.alu64(BPF_LSH, R1, 1);
                a_.ldx(BPF_DW, R3, R10, kGen64Slot);
                a_.alu64(BPF_OR, R1, R3);
                page_lookup(fb_);
                a_.ldx(BPF_DW, R1, R10, kAtSlot);
                a_.alu64(BPF_AND, R1, int32_t(XDPFW_KPAGE_WORDS - 1));
                a_.alu64(BPF_LSH, R1, 3);
                a_.alu64(BPF_ADD, R0, R1);
                a_.ldx(BPF_DW, R3, R0, 0);
                a_.ldx(BPF_DW, R5, R10, kAccSlot);
                a_.alu64(BPF_AND, R5, R3);
            }
        }
        if (bm.pages != 1)
            a_.ldx(BPF_DW, R4, R10, kWordSlot);
        // No rule in the word: the default if it is the last, else the
        // general program looks further.
        Label found = a_.label();
        a_.jmp(BPF_JNE, R5, 0, found);
        a_.jmp(BPF_JEQ, R4, int32_t(bm.n_words - 1), def_nocount_);
        a_.ja(fb_);
        a_.bind(found);
        // r1 = the index of r5's lowest set bit (no count-trailing-zeros
        // instruction: halves, from 32 bits down).
        a_.mov64(R2, 0);
        for (int half = 32; half >= 1; half /= 2) {
            Label low = a_.label();
            if (half == 32) {
                a_.jmp32(BPF_JNE, R5, 0, low);
            } else {
                a_.mov64(R3, R5);
                a_.alu64(BPF_AND, R3, int32_t((1u << half) - 1));
                a_.jmp(BPF_JNE, R3, 0, low);
            }
            a_.alu64(BPF_RSH, R5, half);
            a_.alu64(BPF_ADD, R2, half);
            a_.bind(low);
        }
        a_.mov64(R1, R4);
        a_.alu64(BPF_LSH, R1, 6);
        a_.alu64(BPF_ADD, R1, R2);
        a_.jmp(BPF_JGE, R1, int32_t(std::min(s_.n_rules, m_.max_rules)), fb_);
        // r3: the rule (xdpfw_rules of the live generation); a drop or pass
        // without sampling is taken here, any other action by the general
        // program.
        a_.ld_map_value(R3, m_.rules, 0);
        a_.ldx(BPF_DW, R4, R10, kGen64Slot);
        a_.alu64(BPF_MUL, R4, int32_t(m_.max_rules * sizeof(xdpfw_rule)));
        a_.alu64(BPF_ADD, R3, R4);
        a_.mov64(R4, R1);
        a_.alu64(BPF_LSH, R4, 4); // sizeof(struct xdpfw_rule)
        a_.alu64(BPF_ADD, R3, R4);
        a_.ldx(BPF_W, R4, R3, offsetof(xdpfw_rule, action)); // action, flags, sample
        a_.alu64(BPF_AND, R4, ~int32_t(XDPFW_RULE_XSK_PASS << 8)); // meaningless past xsk
        a_.jmp(BPF_JEQ, R4, XDPFW_ACT_DROP, take_drop_);
        a_.jmp(BPF_JEQ, R4, XDPFW_ACT_PASS, take_pass_);
        a_.ja(fb_);
    }

    // The rule at r3 (index r1) drops or passes: its counter, its verdict.
    void take_rules()
    {
        for (const bool pass : {false, true}) {
            a_.bind(pass ? take_pass_ : take_drop_);
            a_.ldx(BPF_W, R5, R3, offsetof(xdpfw_rule, counter_slot));
            a_.jmp(BPF_JGE, R5, int32_t(m_.max_rules), fb_);
            a_.alu64(BPF_LSH, R5, 4); // sizeof(struct xdpfw_counter)
            a_.alu64(BPF_ADD, R5, R9);
            count_at(R5, 0);
            const int verdict = pass ? XDP_PASS : XDP_DROP;
            if (m_.record) {
                a_.ld_map_value(R2, m_.bss, m_.last_off);
                a_.st(BPF_W, R2, offsetof(xdpfw_last_verdict, reason),
                      int32_t(pass ? XDPFW_REASON_RULE_PASS : XDPFW_REASON_RULE_DROP));
                a_.stx(BPF_W, R2, offsetof(xdpfw_last_verdict, rule_index), R1);
                a_.ldx(BPF_W, R4, R3, offsetof(xdpfw_rule, rule_id));
                a_.stx(BPF_W, R2, offsetof(xdpfw_last_verdict, rule_id), R4);
                a_.st(BPF_W, R2, offsetof(xdpfw_last_verdict, action), verdict);
                a_.st(BPF_W, R2, offsetof(xdpfw_last_verdict, generated), 1);
            }
            verdict_exit(verdict);
        }
    }

    // No rule can match any more (acc is 0): the default, no count rule.
    void to_default()
    {
        a_.ja(def_nocount_);
        used_nocount_ = true;
    }

    // acc &= what the class of the address of direction dir admits, the
    // class looked up in the live generation's IPv4 table as
    // xdpfw_v4_class() does, its rule word from the spec's class_bits (in
    // GenMaps::classes). Only a DIR-24 leaf is read here; a /24 block with
    // longer prefixes (a chunk or host table) goes to the fallback.
    bool address_class(uint32_t d, uint64_t& possible, uint64_t& certain)
    {
        const uint32_t n = std::min<uint32_t>(s_.n_classes[d], XDPFW_SPEC_MAX_CLASSES);
        uint64_t any = 0, all = n ? ~0ULL : 0;
        for (uint32_t c = 0; c < n; c++) {
            any |= s_.class_bits[d][c];
            all &= s_.class_bits[d][c];
        }
        if ((possible & any) == 0) {
            to_default();
            return false;
        }
        v4_class(d);
        // A class past the spec's admits nothing.
        a_.jmp(BPF_JGE, R1, int32_t(n), def_nocount_);
        used_nocount_ = true;
        a_.alu64(BPF_LSH, R1, 3);
        a_.ld_map_value(R3, m_.classes, int32_t(d * XDPFW_SPEC_MAX_CLASSES * sizeof(uint64_t)));
        a_.alu64(BPF_ADD, R3, R1);
        a_.ldx(BPF_DW, R3, R3, 0);
        a_.ldx(BPF_DW, R0, R10, kAccSlot);
        a_.alu64(BPF_AND, R0, R3);
        a_.stx(BPF_DW, R10, kAccSlot, R0);
        possible &= any;
        certain &= all;
        return true;
    }

    // r1 = the class of direction d's address (at kAddrSlot) in the live
    // generation's IPv4 table, as xdpfw_v4_class() finds it: 0 without a
    // table; a DIR-24 leaf's class; a chunk or a host table: the fallback.
    void v4_class(uint32_t d)
    {
        Label zero = a_.label(), have = a_.label();
        a_.ldx(BPF_W, R1, R7, int16_t(offsetof(xdpfw_policy_hdr, v4_table) + 4 * d));
        a_.jmp(BPF_JEQ, R1, 0, zero);
        a_.ldx(BPF_W, R1, R7, int16_t(offsetof(xdpfw_policy_hdr, v4_host_buckets) + 4 * d));
        a_.jmp(BPF_JGT, R1, int32_t(m_.host_buckets), zero);
        // The DIR-24 page of the address's /8: its slot in xdpfw_tables.
        a_.ldx(BPF_W, R1, R10, kAddrSlot - 4 * int16_t(d));
        a_.alu64(BPF_RSH, R1, 24);
        a_.alu64(BPF_ADD, R1, int32_t(d * XDPFW_TOP_PAGES));
        a_.alu64(BPF_LSH, R1, 1);
        a_.ldx(BPF_W, R3, R10, kGenSlot);
        a_.alu64(BPF_OR, R1, R3);
        page_lookup(zero);
        a_.ldx(BPF_W, R1, R10, kAddrSlot - 4 * int16_t(d));
        a_.alu64(BPF_RSH, R1, 8);
        a_.alu64(BPF_AND, R1, int32_t(XDPFW_KPAGE_SLOTS - 1));
        a_.alu64(BPF_LSH, R1, 2);
        a_.alu64(BPF_ADD, R0, R1);
        a_.ldx(BPF_W, R1, R0, 0);
        a_.mov64(R3, R1);
        a_.alu64(BPF_RSH, R3, XDPFW_TBL24_KIND_SHIFT);
        a_.jmp(BPF_JNE, R3, XDPFW_TBL24_LEAF, fb_);
        a_.alu64(BPF_AND, R1, int32_t(XDPFW_TBL24_VALUE_MASK));
        a_.ja(have);
        a_.bind(zero);
        a_.mov64(R1, 0);
        a_.bind(have);
    }

    void load_be(uint8_t size, int16_t off, int32_t bits)
    {
        a_.ldx(size, R1, R2, off);
        a_.be_to_host(R1, bits);
    }

    // acc &= what the field's value admits. possible and certain bound acc
    // from above and below as the generator knows it: an outcome that
    // leaves no possible rule goes to the default at once, one that clears
    // no possible bit costs nothing. False when no outcome continues.
    bool field(const FieldTest& t, const std::function<void()>& load, uint64_t& possible, uint64_t& certain)
    {
        bool relevant = (possible & t.other) != possible;
        for (const xdpfw_spec_range& r : t.ranges)
            relevant = relevant || (possible & r.bits) != possible;
        if (!relevant)
            return true;
        load();
        Label done = a_.label();
        uint64_t next_possible = 0, next_certain = ~0ULL;
        bool any = false;
        auto outcome = [&](uint64_t b) {
            if ((possible & b) == 0) {
                to_default();
                return false;
            }
            if (possible & ~b) {
                if (b <= 0x7fffffffULL) {
                    a_.alu64(BPF_AND, R0, static_cast<int32_t>(b));
                } else {
                    a_.ld_imm64(R3, b);
                    a_.alu64(BPF_AND, R0, R3);
                }
            }
            next_possible |= possible & b;
            next_certain &= certain & b;
            any = true;
            return true;
        };
        for (const xdpfw_spec_range& r : t.ranges) {
            Label next = a_.label();
            if (r.lo != 0) {
                a_.mov64(R4, R1);
                a_.alu64(BPF_SUB, R4, static_cast<int32_t>(r.lo));
                a_.jmp32(BPF_JGT, R4, static_cast<int32_t>(r.span), next);
            } else {
                a_.jmp32(BPF_JGT, R1, static_cast<int32_t>(r.span), next);
            }
            if (outcome(r.bits))
                a_.ja(done);
            a_.bind(next);
        }
        outcome(t.other);
        a_.bind(done);
        possible = next_possible;
        certain = any ? next_certain : 0;
        return any;
    }

    // acc &= the TCP flags table's entry for the flag byte: one load from
    // the table's map (GenMaps::flags), the byte as its index.
    bool flags(const std::function<void()>& load, uint64_t& possible, uint64_t& certain)
    {
        uint64_t any = 0, all = ~0ULL;
        for (uint32_t v = 0; v < 256; v++) {
            any |= s_.tcp_flags[v];
            all &= s_.tcp_flags[v];
        }
        if ((possible & any) == 0) {
            to_default();
            return false;
        }
        if ((possible & all) != possible) {
            load();
            a_.alu64(BPF_LSH, R1, 3);
            a_.ld_map_value(R3, m_.flags, 0);
            a_.alu64(BPF_ADD, R3, R1);
            a_.ldx(BPF_DW, R3, R3, 0);
            a_.alu64(BPF_AND, R0, R3);
        }
        possible &= any;
        certain &= all;
        return true;
    }

    // The first terminal rule acc holds, else the default.
    void winner(uint64_t possible, uint64_t certain)
    {
        const uint64_t term = possible & s_.terminal;
        for (int i = 0; i < 64; i++) {
            if (!(term >> i & 1))
                continue;
            used_rules_ |= 1ULL << i;
            if (certain >> i & 1) {
                a_.ja(rule_[i]);
                return;
            }
            a_.mov64(R1, R0);
            if (i)
                a_.alu64(BPF_RSH, R1, i);
            a_.jmp(BPF_JSET, R1, 1, rule_[i]);
        }
        if (possible & count_mask_) {
            a_.ja(def_count_);
            used_count_ = true;
        } else {
            to_default();
        }
    }

    // Counts the count rules in `mask` that acc (r0) holds.
    void count_rules(uint64_t mask)
    {
        for (int j = 0; j < 64; j++) {
            if (!((mask & count_mask_) >> j & 1))
                continue;
            Label skip = a_.label();
            a_.mov64(R1, R0);
            if (j)
                a_.alu64(BPF_RSH, R1, j);
            a_.alu64(BPF_AND, R1, 1);
            a_.jmp(BPF_JEQ, R1, 0, skip);
            count_rule(s_.rules[j].counter_slot);
            a_.bind(skip);
        }
    }

    void count_rule(uint32_t slot)
    {
        if (slot >= m_.max_rules)
            throw std::invalid_argument(fmt::format("counter slot {} past {} rules", slot, m_.max_rules));
        const int64_t off = int64_t{slot} * sizeof(xdpfw_counter);
        if (off + 8 <= INT16_MAX) {
            count_at(R9, static_cast<int16_t>(off));
        } else {
            a_.mov64(R3, R9);
            a_.alu64(BPF_ADD, R3, static_cast<int32_t>(off));
            count_at(R3, 0);
        }
    }

    // packets += 1, bytes += the frame's length (r8).
    void count_at(Reg base, int16_t off)
    {
        a_.ldx(BPF_DW, R4, base, off + offsetof(xdpfw_counter, packets));
        a_.alu64(BPF_ADD, R4, 1);
        a_.stx(BPF_DW, base, off + offsetof(xdpfw_counter, packets), R4);
        a_.ldx(BPF_DW, R4, base, off + offsetof(xdpfw_counter, bytes));
        a_.alu64(BPF_ADD, R4, R8);
        a_.stx(BPF_DW, base, off + offsetof(xdpfw_counter, bytes), R4);
    }

    void record(uint32_t reason, uint32_t index, uint32_t rule_id, int verdict)
    {
        if (!m_.record)
            return;
        a_.ld_map_value(R1, m_.bss, m_.last_off);
        a_.st(BPF_W, R1, offsetof(xdpfw_last_verdict, reason), static_cast<int32_t>(reason));
        a_.st(BPF_W, R1, offsetof(xdpfw_last_verdict, rule_index), static_cast<int32_t>(index));
        a_.st(BPF_W, R1, offsetof(xdpfw_last_verdict, rule_id), static_cast<int32_t>(rule_id));
        a_.st(BPF_W, R1, offsetof(xdpfw_last_verdict, action), verdict);
        a_.st(BPF_W, R1, offsetof(xdpfw_last_verdict, generated), 1);
    }

    void verdict_exit(int verdict)
    {
        a_.mov64(R0, verdict);
        a_.exit();
    }

    // Rule i won: the count rules before it, its counter, its action (drop
    // or pass: the spec is lean).
    void rules()
    {
        for (int i = 0; i < 64; i++) {
            if (!(used_rules_ >> i & 1))
                continue;
            a_.bind(rule_[i]);
            count_rules(i ? rule_bits(i) : 0);
            const xdpfw_rule& r = s_.rules[i];
            count_rule(r.counter_slot);
            const bool pass = r.action == XDPFW_ACT_PASS;
            const int verdict = pass ? XDP_PASS : XDP_DROP;
            record(pass ? XDPFW_REASON_RULE_PASS : XDPFW_REASON_RULE_DROP, i, r.rule_id, verdict);
            verdict_exit(verdict);
        }
    }

    // No terminal rule: the policy's default, counted in its reason; a
    // daemon that samples default verdicts gets them from the fallback.
    void defaults()
    {
        if (!used_count_ && !used_nocount_)
            return;
        Label tail = a_.label();
        auto sampled = [&] {
            a_.ld_map_value(R1, m_.ctrl, offsetof(xdpfw_ctrl, sample_default));
            a_.ldx(BPF_W, R1, R1, 0);
            a_.jmp(BPF_JNE, R1, 0, fb_);
        };
        if (used_count_) {
            a_.bind(def_count_);
            sampled();
            count_rules(~0ULL);
            a_.ja(tail);
        }
        if (used_nocount_) {
            a_.bind(def_nocount_);
            if (s_.bitmaps) // r7 held a bitmap page
                a_.ldx(BPF_DW, R7, R10, kHdrSlot);
            sampled();
        }
        a_.bind(tail);
        Label drop = a_.label();
        a_.ldx(BPF_B, R1, R7, offsetof(xdpfw_policy_hdr, default_action));
        a_.jmp(BPF_JEQ, R1, XDPFW_ACT_DROP, drop);
        default_verdict(XDPFW_REASON_DEFAULT_PASS, XDP_PASS);
        a_.bind(drop);
        default_verdict(XDPFW_REASON_DEFAULT_DROP, XDP_DROP);
    }

    void default_verdict(uint32_t reason, int verdict)
    {
        Label skip = a_.label();
        a_.st(BPF_W, R10, kKeySlot, static_cast<int32_t>(reason));
        lookup(m_.reason_stats, kKeySlot);
        a_.jmp(BPF_JEQ, R0, 0, skip);
        count_at(R0, 0);
        a_.bind(skip);
        record(reason, XDPFW_NO_RULE, XDPFW_NO_RULE, verdict);
        verdict_exit(verdict);
    }

    // The compiled program decides; were its slot empty (its daemon gone),
    // the general one; were both, the frame is aborted (counted by the
    // kernel's xdp_exception tracepoint).
    void fallback()
    {
        a_.bind(fb_);
        for (int map : {m_.fallback, m_.progs}) {
            a_.mov64(R1, R6);
            a_.ld_map(R2, map);
            a_.mov64(R3, 0);
            a_.call(BPF_FUNC_tail_call);
        }
        verdict_exit(XDP_ABORTED);
    }

    const xdpfw_spec& s_;
    const GenMaps& m_;
    const uint64_t count_mask_;
    Asm a_;
    Label fb_, def_count_, def_nocount_, rule_[64], take_drop_, take_pass_;
    uint64_t used_rules_ = 0;
    bool used_count_ = false, used_nocount_ = false;
};

std::string eligibility(const xdpfw_spec& s)
{
    if (s.bitmaps) // its program reads every field a bitmaps spec may use
        return {};
    if (!s.lean_rules)
        return "the policy is not lean (a rule other than drop or pass, sample= or ct=)";
    for (uint32_t d = 0; d < XDPFW_DIRECTIONS; d++) {
        const uint32_t f = bit(XDPFW_FIELD_SRC + d);
        if ((s.lookup & f) && !(s.v4_inline & f) && !(s.class_table & (1u << d)))
            return fmt::format("its {} addresses are looked up past their classes (more than {})",
                               d ? "destination" : "source", XDPFW_SPEC_MAX_CLASSES);
    }
    if (s.ranged & ~kScalars)
        return "it tests a field the generated program does not read (ct=)";
    if (s.n_rules > XDPFW_SPEC_MAX_RULES)
        return "more rules than one word";
    return {};
}

} // namespace

std::string generated_why_not(const xdpfw_spec& s)
{
    if (std::string why = eligibility(s); !why.empty())
        return why;
    GenMaps sizing;
    sizing.max_rules = 1u << 20;
    sizing.class_cap = 1u << 20;
    const size_t n = Generator(s, sizing).run().size();
    if (n > kMaxInsns)
        return fmt::format("its program would have {} instructions (at most {})", n, kMaxInsns);
    return {};
}

std::vector<bpf_insn> generate_program(const xdpfw_spec& s, const GenMaps& maps)
{
    if (std::string why = generated_why_not(s); !why.empty())
        throw std::invalid_argument("no generated program: " + why);
    return Generator(s, maps).run();
}

std::shared_ptr<GeneratedProgram> GeneratedProgram::load(const XdpfwObject& general, const xdpfw_spec& spec,
                                                         int spec_prog_fd)
{
    const xdpfw_bpf* skel = general.skel();
    UniqueFd fallback(bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, (std::string(kGeneratedMapPrefix) + "fb").c_str(), sizeof(uint32_t),
                                     sizeof(uint32_t), 1, nullptr));
    if (fallback.get() < 0)
        throw BpfError(errno, "create the generated program's fallback array");
    const uint32_t zero = 0;
    if (bpf_map_update_elem(fallback.get(), &zero, &spec_prog_fd, BPF_ANY) != 0)
        throw BpfError(errno, "put the specialised program in the generated program's fallback array");
    // The TCP flags table, read-only once written.
    UniqueFd flags;
    if (spec.flags_table) {
        flags = UniqueFd(bpf_map_create(BPF_MAP_TYPE_ARRAY, (std::string(kGeneratedMapPrefix) + "flags").c_str(), sizeof(uint32_t),
                                        sizeof(spec.tcp_flags), 1, nullptr));
        if (flags.get() < 0 || bpf_map_update_elem(flags.get(), &zero, spec.tcp_flags, BPF_ANY) != 0 ||
            bpf_map_freeze(flags.get()) != 0)
            throw BpfError(errno, "create the generated program's TCP flags table");
    }

    GenMaps m;
    m.ctrl = bpf_map__fd(skel->maps.xdpfw_ctrl);
    m.policy = bpf_map__fd(skel->maps.xdpfw_policy);
    m.rule_counters = bpf_map__fd(skel->maps.xdpfw_rule_counters);
    m.reason_stats = bpf_map__fd(skel->maps.xdpfw_reason_stats);
    // What the address classes admit (class_table), likewise.
    UniqueFd classes;
    if (spec.lookup & ~spec.v4_inline) {
        classes = UniqueFd(bpf_map_create(BPF_MAP_TYPE_ARRAY, (std::string(kGeneratedMapPrefix) + "class").c_str(),
                                          sizeof(uint32_t), sizeof(spec.class_bits), 1, nullptr));
        if (classes.get() < 0 || bpf_map_update_elem(classes.get(), &zero, spec.class_bits, BPF_ANY) != 0 ||
            bpf_map_freeze(classes.get()) != 0)
            throw BpfError(errno, "create the generated program's class table");
    }
    m.fallback = fallback.get();
    m.flags = flags.get();
    m.classes = classes.get();
    m.tables = bpf_map__fd(skel->maps.xdpfw_tables);
    m.scalars = bpf_map__fd(skel->maps.xdpfw_scalars);
    m.addr_class = bpf_map__fd(skel->maps.xdpfw_addr_class);
    m.rules = bpf_map__fd(skel->maps.xdpfw_rules);
    m.iif = bpf_map__fd(skel->maps.xdpfw_iif);
    m.class_cap = general.options().caps.max_addr_classes;
    m.host_buckets = xdpfw_host_buckets(general.options().caps.max_v4_hosts);
    m.progs = bpf_map__fd(skel->maps.xdpfw_progs);
    m.bss = bpf_map__fd(skel->maps.bss);
    m.last_off = offsetof(std::remove_pointer_t<decltype(skel->bss)>, xdpfw_last);
    m.max_rules = general.options().caps.max_rules;
    m.record = general.options().record_verdict;
    const std::vector<bpf_insn> insns = generate_program(spec, m);

    std::string log(1 << 20, '\0');
    LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_XDP, .log_level = 0);
    int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xdpfw_gen", "GPL", insns.data(), insns.size(), &o);
    if (fd < 0) {
        const int err = errno;
        // Again with the log: the verifier's reasons.
        o.log_level = 1;
        o.log_buf = log.data();
        o.log_size = static_cast<uint32_t>(log.size());
        fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xdpfw_gen", "GPL", insns.data(), insns.size(), &o);
        if (fd < 0) {
            log.resize(log.find('\0') == std::string::npos ? log.size() : log.find('\0'));
            throw BpfError(err, "load the generated program", log);
        }
    }
    return std::shared_ptr<GeneratedProgram>(new GeneratedProgram(UniqueFd(fd), std::move(fallback), insns.size()));
}

} // namespace xdpfw
