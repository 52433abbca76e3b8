// SPDX-License-Identifier: GPL-2.0-only
// A small eBPF assembler: emits struct bpf_insn (linux/bpf.h) with named
// jump targets, for programs generated at run time (gen_program.hpp). It
// encodes instructions and resolves labels; the kernel's verifier checks
// what the program does. No library on Debian offers this from C++ (libbpf
// loads instructions but does not build them; the kernel's BPF_* macros
// live in a non-uapi header).
#pragma once

#include <linux/bpf.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace xdpfw::bpfasm {

enum Reg : uint8_t { R0 = 0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };

// A jump target: make one with Asm::label(), jump to it any time, bind it
// once where it belongs.
struct Label {
    uint32_t id = 0;
};

class Asm {
public:
    Label label();
    // The next instruction is the label's target. Throws std::logic_error
    // when the label is bound already.
    void bind(Label l);

    void mov64(Reg dst, Reg src) { alu64(BPF_MOV, dst, src); }
    void mov64(Reg dst, int32_t imm) { alu64(BPF_MOV, dst, imm); }
    void alu64(uint8_t op, Reg dst, Reg src);
    void alu64(uint8_t op, Reg dst, int32_t imm);
    void alu32(uint8_t op, Reg dst, int32_t imm);
    // dst = its low `bits` (16, 32) bytes swapped from network order.
    void be_to_host(Reg dst, int32_t bits);
    // Loads of size BPF_B, BPF_H, BPF_W or BPF_DW.
    void ldx(uint8_t size, Reg dst, Reg src, int16_t off);
    void stx(uint8_t size, Reg dst, int16_t off, Reg src);
    void st(uint8_t size, Reg dst, int16_t off, int32_t imm);
    void ld_imm64(Reg dst, uint64_t imm);
    // dst = the map of fd (for helpers that take a map).
    void ld_map(Reg dst, int fd);
    // dst = the address of byte off of the value of a one-entry array map.
    void ld_map_value(Reg dst, int fd, int32_t off);
    void call(int32_t helper);
    void exit();

    void ja(Label to);
    void jmp(uint8_t op, Reg dst, int32_t imm, Label to);
    void jmp(uint8_t op, Reg dst, Reg src, Label to);
    void jmp32(uint8_t op, Reg dst, int32_t imm, Label to);

    // The program, with every jump resolved. Throws std::logic_error on a
    // label that is unbound or out of a jump's reach.
    std::vector<bpf_insn> finish() const;
    std::size_t size() const { return insns_.size(); }

private:
    void emit(bpf_insn i) { insns_.push_back(i); }
    void jump(uint8_t code, Reg dst, Reg src, int32_t imm, Label to);

    struct Fixup {
        std::size_t at;
        uint32_t label;
    };
    std::vector<bpf_insn> insns_;
    std::vector<int64_t> bound_; // label id -> instruction index, -1 unbound
    std::vector<Fixup> fixups_;
};

} // namespace xdpfw::bpfasm
