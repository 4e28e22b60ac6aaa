"""bpf/insn.py: instruction encodings checked by hand against Documentation/bpf/standardization/
instruction-set.rst (opcode | dst:4 src:4 | off:16 | imm:32, little-endian), the assembler's labels, and the
disassembler's notation."""
from pyperf_probe.bpf import insn as I


def hexes(insns):
    return [i.encode().hex() for i in (insns if isinstance(insns, list) else [insns])]


def test_alu_encodings():
    # 0xbf = ALU64 | X | MOV; byte 1 = src 1 << 4 | dst 6
    assert hexes(I.MOV64_REG(I.R6, I.R1)) == ["bf16000000000000"]
    # 0x07 = ALU64 | K | ADD, imm -4 as s32 little-endian
    assert hexes(I.ALU64_IMM(I.ADD, I.R2, -4)) == ["07020000fcffffff"]
    # 0xb4 = ALU (32-bit) | K | MOV; 0xbc = ALU | X | MOV (the zero-extending move)
    assert hexes(I.ALU32_IMM(I.MOV, I.R0, 1)) == ["b400000001000000"]
    assert hexes(I.MOV32_REG(I.R3, I.R3)) == ["bc33000000000000"]
    # signed division: ALU64 | X | DIV (0x3f) with offset 1
    assert hexes(I.SDIV64_REG(I.R1, I.R2)) == ["3f21010000000000"]
    assert hexes(I.SMOD64_REG(I.R1, I.R2)) == ["9f21010000000000"]
    # NEG: ALU64 | K | NEG = 0x87
    assert hexes(I.NEG64(I.R4)) == ["8704000000000000"]
    # a constant over 32 bits in an ALU immediate is taken as its low 32 bits, sign-extended by the kernel
    assert hexes(I.MOV64_IMM(I.R0, 0xFFFFFFFF)) == ["b7000000ffffffff"]


def test_memory_encodings():
    # 0x61 = LDX | W | MEM, r0 = *(u32 *)(r6 + 24)
    assert hexes(I.LDX_MEM(I.W, I.R0, I.R6, 24)) == ["6160180000000000"]
    # 0x7b = STX | DW | MEM, *(u64 *)(r10 - 8) = r1: offset -8 as s16
    assert hexes(I.STX_MEM(I.DW, I.FP, I.R1, -8)) == ["7b1af8ff00000000"]
    # 0x62 = ST | W | MEM with an immediate
    assert hexes(I.ST_MEM(I.W, I.FP, -4, 0)) == ["620afcff00000000"]
    # 0xdb = STX | DW | ATOMIC, imm = BPF_ADD (0)
    assert hexes(I.ATOMIC_ADD(I.DW, I.R0, I.R1, 0)) == ["db10000000000000"]


def test_wide_constants_take_two_slots():
    assert hexes(I.LD_IMM64(I.R1, 0x1122334455667788)) == ["1801000088776655", "0000000044332211"]
    # a map's fd: src_reg = BPF_PSEUDO_MAP_FD (1)
    assert hexes(I.LD_MAP_FD(I.R1, 5)) == ["1811000005000000", "0000000000000000"]


def test_jumps_and_calls():
    assert hexes(I.JMP_IMM(I.JNE, I.R0, 7, 3)) == ["5500030007000000"]
    assert hexes(I.JMP_REG(I.JSGT, I.R1, I.R2, -2)) == ["6d21feff00000000"]
    assert hexes(I.CALL_HELPER(I.HELPER_IDS["get_current_pid_tgid"])) == ["850000000e000000"]
    assert hexes(I.EXIT()) == ["9500000000000000"]


def test_labels_count_from_the_next_instruction():
    asm = I.Asm()
    out = asm.label("out")
    asm.emit(I.MOV64_IMM(I.R0, 1))
    asm.jump(I.JEQ, I.R1, 0, out)         # index 1: skips the LD_IMM64's two slots -> off 2
    asm.emit(I.LD_IMM64(I.R2, 1 << 40))
    asm.place(out)
    asm.emit(I.EXIT())
    insns = asm.finish()
    assert insns[1].off == 2
    back = I.Asm()
    top = back.label()
    back.place(top)
    back.emit(I.MOV64_IMM(I.R0, 0))
    back.goto(top)
    assert back.finish()[1].off == -2


def test_disassembly_reads_like_the_verifier():
    insns = [I.MOV64_REG(I.R6, I.R1), I.LDX_MEM(I.DW, I.R7, I.R6, 32).with_comment("field at +32"),
             *I.LD_MAP_FD(I.R1, 4), I.JMP_IMM(I.JEQ, I.R0, 0, 1), I.CALL_HELPER(1), I.EXIT()]
    lines = I.disasm(insns)
    assert lines[0] == "   0: (bf) r6 = r1"
    assert lines[1].startswith("   1: (79) r7 = *(u64 *)(r6 +32)") and lines[1].endswith("; field at +32")
    assert lines[2] == "   2: (18) r1 = map[fd 4] ll"
    assert lines[3] == "   4: (15) if r0 == 0 goto pc+1"
    assert lines[4] == "   5: (85) call map_lookup_elem#1"
    assert lines[5] == "   6: (95) exit"
