// SPDX-License-Identifier: GPL-2.0-only
// The eBPF assembler (lib/kernel/bpf_asm.hpp) and the generator of the
// specialised tier's generated program (lib/kernel/gen_program.hpp), as
// instructions: no kernel here (tests/bpf/test_generated.cpp runs them).
#include "lib/compiler/compiler.hpp"
#include "lib/kernel/bpf_asm.hpp"
#include "lib/kernel/gen_program.hpp"
#include "testing/policy_text.hpp"
#include "testing/random_policy.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

namespace xdpfw {
namespace {

using namespace bpfasm;

TEST(BpfAsm, JumpsResolveForwardAndBack)
{
    Asm a;
    Label top = a.label(), out = a.label();
    a.bind(top);
    a.mov64(R0, 1);                  // 0
    a.jmp(BPF_JEQ, R1, 7, out);      // 1 -> 4
    a.alu64(BPF_ADD, R1, 1);         // 2
    a.ja(top);                       // 3 -> 0
    a.bind(out);
    a.exit();                        // 4
    const std::vector<bpf_insn> p = a.finish();
    ASSERT_EQ(p.size(), 5u);
    EXPECT_EQ(p[1].code, BPF_JMP | BPF_JEQ | BPF_K);
    EXPECT_EQ(p[1].imm, 7);
    EXPECT_EQ(p[1].off, 2);
    EXPECT_EQ(p[3].code, BPF_JMP | BPF_JA);
    EXPECT_EQ(p[3].off, -4);
    EXPECT_EQ(p[4].code, BPF_JMP | BPF_EXIT);
}

TEST(BpfAsm, WideImmediatesAndMapReferences)
{
    Asm a;
    a.ld_imm64(R3, 0x1122334455667788ULL);
    a.ld_map(R1, 9);
    a.ld_map_value(R2, 12, 40);
    const std::vector<bpf_insn> p = a.finish();
    ASSERT_EQ(p.size(), 6u);
    EXPECT_EQ(p[0].code, BPF_LD | BPF_DW | BPF_IMM);
    EXPECT_EQ(uint32_t(p[0].imm), 0x55667788u);
    EXPECT_EQ(uint32_t(p[1].imm), 0x11223344u);
    EXPECT_EQ(p[2].src_reg, BPF_PSEUDO_MAP_FD);
    EXPECT_EQ(p[2].imm, 9);
    EXPECT_EQ(p[4].src_reg, BPF_PSEUDO_MAP_VALUE);
    EXPECT_EQ(p[4].imm, 12);
    EXPECT_EQ(p[5].imm, 40);
}

TEST(BpfAsm, LabelMisuseIsRefused)
{
    Asm a;
    Label l = a.label();
    a.ja(l);
    EXPECT_THROW(a.finish(), std::logic_error); // never bound
    a.bind(l);
    EXPECT_THROW(a.bind(l), std::logic_error); // bound twice
    a.exit();
    EXPECT_NO_THROW(a.finish());
}

xdpfw_spec spec_of(const std::vector<std::string>& rules)
{
    const CompiledPolicy c = compile(test::make_policy(rules), CompileOptions{.resolve = test::fake_ifindex});
    if (!c.spec)
        throw std::runtime_error("no spec: " + c.spec_why_not);
    return *c.spec;
}

size_t count_code(const std::vector<bpf_insn>& p, uint8_t code)
{
    return size_t(std::count_if(p.begin(), p.end(), [&](const bpf_insn& i) { return i.code == code; }));
}

// What the generator folds: for one rule on a prefix, a protocol and a
// port, the UDP path tests the port and the address (two range compares)
// and the winner is known, so no bit of the rule word is tested; the other
// protocols go straight to the default. Past that, the program is its
// control, parse, counter and fallback.
TEST(GenProgram, OneRuleIsTwoComparesAndACounter)
{
    const xdpfw_spec s = spec_of({"src=198.18.0.0/16 proto=udp dport=5001 action=drop"});
    ASSERT_EQ(generated_why_not(s), "");
    GenMaps m;
    m.max_rules = 64;
    const std::vector<bpf_insn> p = generate_program(s, m);
    EXPECT_EQ(count_code(p, BPF_JMP32 | BPF_JGT | BPF_K), 2u);
    EXPECT_EQ(count_code(p, BPF_JMP | BPF_JSET | BPF_K), 0u);
    EXPECT_LT(p.size(), 160u); // 145 when written
    // Recording the verdict (tests) adds stores, nothing else.
    m.record = true;
    EXPECT_GT(generate_program(s, m).size(), p.size());
}

// With two terminal rules the winner is found by testing the rule word.
TEST(GenProgram, SeveralRulesTestTheRuleWord)
{
    const xdpfw_spec s = spec_of({"priority=1 proto=udp dport=53 action=pass", "priority=2 proto=udp action=drop",
                                  "priority=3 dport=80 action=count"});
    ASSERT_EQ(generated_why_not(s), "");
    GenMaps m;
    m.max_rules = 64;
    const std::vector<bpf_insn> p = generate_program(s, m);
    EXPECT_GE(count_code(p, BPF_JMP | BPF_JSET | BPF_K), 1u);
}

TEST(GenProgram, RefusesWhatItCannotRun)
{
    EXPECT_NE(generated_why_not(spec_of({"proto=udp action=drop sample=10"})).find("not lean"), std::string::npos);
    EXPECT_NE(generated_why_not(spec_of({"ct=new action=drop"})).find("not lean"), std::string::npos);
    // An address looked up past the classes the spec carries.
    xdpfw_spec wide = spec_of({"proto=udp dport=53 action=drop"});
    wide.lookup = 1u << XDPFW_FIELD_DST;
    wide.v4_inline = 0;
    wide.class_table = 1u; // the source's only
    EXPECT_NE(generated_why_not(wide).find("destination addresses are looked up past"), std::string::npos)
        << generated_why_not(wide);
    wide.class_table = 3u;
    EXPECT_EQ(generated_why_not(wide), "");
    const xdpfw_spec s = spec_of({"proto=udp dport=53 action=drop"});
    GenMaps m;
    m.max_rules = 0; // the rule's counter slot lies past the table
    EXPECT_THROW(generate_program(s, m), std::invalid_argument);
}

// A bitmaps spec (more than one word of rules): the program looks each used
// field's bitmap reference up and ANDs one word per field. Bitmaps in one
// page: that page looked up once, before the packet is read (two helper
// calls); in several, a page lookup per field.
TEST(GenProgram, BitmapsSpecReadsOneWordPerField)
{
    std::vector<std::string> rules;
    for (int i = 0; i < 100; i++)
        rules.push_back(fmt::format("priority={} proto=udp src=10.{}.0.0/16 dport={} action=drop", i, i, 1000 + i));
    rules.push_back("priority=200 proto=tcp action=pass");
    xdpfw_spec s = spec_of(rules);
    ASSERT_EQ(s.bitmaps, 1u);
    ASSERT_EQ(s.bm.pages, 1u);
    ASSERT_EQ(generated_why_not(s), "");
    GenMaps m;
    m.max_rules = 1024;
    m.class_cap = 4096;
    const std::vector<bpf_insn> one = generate_program(s, m);
    const size_t calls1 = count_code(one, BPF_JMP | BPF_CALL);
    // The policy, the CPU and its counters, the page, per path a DIR-24
    // page (two each), the two fallback tail calls and the two defaults'
    // reason counters.
    EXPECT_EQ(calls1, 3u + 2u + 4u * 2u + 2u + 2u);
    EXPECT_LT(one.size(), 1000u);
    s.bm.pages = 3;
    const std::vector<bpf_insn> three = generate_program(s, m);
    // Per path, a page per field (protocol, source, port) instead of one.
    EXPECT_EQ(count_code(three, BPF_JMP | BPF_CALL), calls1 - 2u + 4u * 3u * 2u);
    // Recording the verdict writes who decided.
    m.record = true;
    EXPECT_GT(generate_program(s, m).size(), three.size());
}

} // namespace
} // namespace xdpfw
