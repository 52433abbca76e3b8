// SPDX-License-Identifier: GPL-2.0-only
// The eBPF assembler (bpf_asm.hpp).
#include "lib/kernel/bpf_asm.hpp"

#include <fmt/format.h>

#include <limits>
#include <stdexcept>

namespace xdpfw::bpfasm {

namespace {

bpf_insn make(uint8_t code, Reg dst, Reg src, int16_t off, int32_t imm)
{
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

} // namespace

Label Asm::label()
{
    bound_.push_back(-1);
    return Label{static_cast<uint32_t>(bound_.size() - 1)};
}

void Asm::bind(Label l)
{
    if (l.id >= bound_.size() || bound_[l.id] >= 0)
        throw std::logic_error(fmt::format("bpf asm: label {} bound twice or unknown", l.id));
    bound_[l.id] = static_cast<int64_t>(insns_.size());
}

void Asm::alu64(uint8_t op, Reg dst, Reg src)
{
    emit(make(BPF_ALU64 | op | BPF_X, dst, src, 0, 0));
}

void Asm::alu64(uint8_t op, Reg dst, int32_t imm)
{
    emit(make(BPF_ALU64 | op | BPF_K, dst, R0, 0, imm));
}

void Asm::alu32(uint8_t op, Reg dst, int32_t imm)
{
    emit(make(BPF_ALU | op | BPF_K, dst, R0, 0, imm));
}

void Asm::be_to_host(Reg dst, int32_t bits)
{
    // BPF_TO_BE swaps on a little-endian host and zero-extends from `bits`.
    emit(make(BPF_ALU | BPF_END | BPF_TO_BE, dst, R0, 0, bits));
}

void Asm::ldx(uint8_t size, Reg dst, Reg src, int16_t off)
{
    emit(make(BPF_LDX | BPF_MEM | size, dst, src, off, 0));
}

void Asm::stx(uint8_t size, Reg dst, int16_t off, Reg src)
{
    emit(make(BPF_STX | BPF_MEM | size, dst, src, off, 0));
}

void Asm::st(uint8_t size, Reg dst, int16_t off, int32_t imm)
{
    emit(make(BPF_ST | BPF_MEM | size, dst, R0, off, imm));
}

void Asm::ld_imm64(Reg dst, uint64_t imm)
{
    emit(make(BPF_LD | BPF_DW | BPF_IMM, dst, R0, 0, static_cast<int32_t>(imm & 0xffffffffu)));
    emit(make(0, R0, R0, 0, static_cast<int32_t>(imm >> 32)));
}

void Asm::ld_map(Reg dst, int fd)
{
    emit(make(BPF_LD | BPF_DW | BPF_IMM, dst, static_cast<Reg>(BPF_PSEUDO_MAP_FD), 0, fd));
    emit(make(0, R0, R0, 0, 0));
}

void Asm::ld_map_value(Reg dst, int fd, int32_t off)
{
    emit(make(BPF_LD | BPF_DW | BPF_IMM, dst, static_cast<Reg>(BPF_PSEUDO_MAP_VALUE), 0, fd));
    emit(make(0, R0, R0, 0, off));
}

void Asm::call(int32_t helper)
{
    emit(make(BPF_JMP | BPF_CALL, R0, R0, 0, helper));
}

void Asm::exit()
{
    emit(make(BPF_JMP | BPF_EXIT, R0, R0, 0, 0));
}

void Asm::jump(uint8_t code, Reg dst, Reg src, int32_t imm, Label to)
{
    fixups_.push_back({insns_.size(), to.id});
    emit(make(code, dst, src, 0, imm));
}

void Asm::ja(Label to)
{
    jump(BPF_JMP | BPF_JA, R0, R0, 0, to);
}

void Asm::jmp(uint8_t op, Reg dst, int32_t imm, Label to)
{
    jump(BPF_JMP | op | BPF_K, dst, R0, imm, to);
}

void Asm::jmp(uint8_t op, Reg dst, Reg src, Label to)
{
    jump(BPF_JMP | op | BPF_X, dst, src, 0, to);
}

void Asm::jmp32(uint8_t op, Reg dst, int32_t imm, Label to)
{
    jump(BPF_JMP32 | op | BPF_K, dst, R0, imm, to);
}

std::vector<bpf_insn> Asm::finish() const
{
    std::vector<bpf_insn> out = insns_;
    for (const Fixup& f : fixups_) {
        if (f.label >= bound_.size() || bound_[f.label] < 0)
            throw std::logic_error(fmt::format("bpf asm: jump at {} to unbound label {}", f.at, f.label));
        const int64_t off = bound_[f.label] - static_cast<int64_t>(f.at) - 1;
        if (off < std::numeric_limits<int16_t>::min() || off > std::numeric_limits<int16_t>::max())
            throw std::logic_error(fmt::format("bpf asm: jump at {} out of reach ({})", f.at, off));
        out[f.at].off = static_cast<int16_t>(off);
    }
    return out;
}

} // namespace xdpfw::bpfasm
