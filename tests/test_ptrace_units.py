"""The ptrace backend's pure parts on hand-made inputs: instruction analysis and out-of-line copies
(insn.py), the kernel's argument layout and format text (fetch.py, checked against texts and records
real uprobes produced on this machine), the probe store (store.py), where pages go (xol.py) and call
chains from memory (stack.py). The live tests are in test_ptrace_live.py."""
import multiprocessing
import os
import struct

import pytest

from pyperf_probe.errors import ProbeError
from pyperf_probe.probe.args import TraceArg
from pyperf_probe.probe.tracedef import UprobeDef
from pyperf_probe.ptrace import fetch, insn, stack, store, xol
from pyperf_probe.perfdata.synth import MapLine


class FakeMem:
    """A sparse memory of 4 KB pages, mapped when something is loaded into them (zeros elsewhere in them);
    reads stop at the first unmapped page, as /proc/PID/mem's do."""

    def __init__(self, chunks=None):
        self.bytes, self.pages = {}, set()
        for base, data in (chunks or {}).items():
            self.load(base, data)

    def load(self, base, data):
        for i, b in enumerate(data):
            self.bytes[base + i] = b
            self.pages.add((base + i) >> 12)

    def read(self, avma, size):
        out = bytearray()
        while len(out) < size and (avma + len(out)) >> 12 in self.pages:
            out.append(self.bytes.get(avma + len(out), 0))
        return bytes(out)

    def read_u64(self, avma):
        return struct.unpack("<Q", self.read(avma, 8))[0]

    def write(self, avma, data):
        self.load(avma, data)

    def write_u64(self, avma, value):
        self.load(avma, struct.pack("<Q", value))

    def read_cstring(self, avma, limit):
        data = self.read(avma, limit)
        if not data:
            return None
        return data.split(b"\0", 1)[0][:limit - 1]


class Regs:
    def __init__(self, **kw):
        for name in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "rip", "eflags", "r8", "r9",
                     "r10", "r11", "r12", "r13", "r14", "r15", "orig_rax", "cs", "ss", "ds", "es", "fs", "gs"):
            setattr(self, name, kw.get(name, 0))


# ---- insn ---------------------------------------------------------------------------------------------

LEAF = 0x555555555364  # pt_leaf in pt_work: mov 0x2d85(%rip),%rax (48 8b 05 85 2d 00 00)


def test_rip_relative_copy_keeps_its_target():
    step = insn.analyse(bytes.fromhex("488b05852d0000") + b"\x90" * 9, LEAF)
    assert step.out_of_line and step.size == 7 and step.disp_at == 3 and not step.at_func_entry
    slot = 0x555555553020
    code = step.slot_bytes(slot)
    # the copy: same opcode and ModRM, disp32 re-aimed at LEAF + 7 + 0x2d85 from the slot's next instruction
    assert code[:3] == bytes.fromhex("488b05")
    assert struct.unpack_from("<i", code, 3)[0] == LEAF + 7 + 0x2D85 - (slot + 7)
    # then jmp *0(%rip) and the absolute address of the next original instruction
    assert code[7:13] == bytes.fromhex("ff2500000000") and struct.unpack_from("<Q", code, 13)[0] == LEAF + 7
    assert len(code) <= insn.SLOT_SIZE
    with pytest.raises(ValueError):
        step.slot_bytes(LEAF + (3 << 30))  # out of a disp32's reach


def test_function_entry_instructions():
    push = insn.analyse(b"\x55\x48\x89\xe5", 0x1000)
    assert push.at_func_entry and push.out_of_line and push.slot_bytes(0x2000)[:1] == b"\x55"
    endbr = insn.analyse(bytes.fromhex("f30f1efa55"), 0x1000)
    assert endbr.at_func_entry and endbr.size == 4
    assert not insn.analyse(bytes.fromhex("4883ec08"), 0x1000).at_func_entry  # sub $8,%rsp


def test_call_and_ret_are_emulated():
    mem = FakeMem()
    call = insn.analyse(bytes.fromhex("e8e1ffffff"), 0x1193)  # call 0x1179
    assert not call.out_of_line
    regs = Regs(rsp=0x7000, rip=0x1193)
    call.emulate(regs, mem)
    assert (regs.rip, regs.rsp, mem.read_u64(0x6FF8)) == (0x1179, 0x6FF8, 0x1198)
    ret = insn.analyse(b"\xc3", 0x2060)
    ret.emulate(regs, mem)
    assert (regs.rip, regs.rsp) == (0x1198, 0x7000)
    ret8 = insn.analyse(bytes.fromhex("c20800"), 0x2060)  # ret $8
    regs = Regs(rsp=0x6FF8)
    ret8.emulate(regs, mem)
    assert (regs.rip, regs.rsp) == (0x1198, 0x7008)


def test_indirect_branches_read_their_operand():
    mem = FakeMem({0x3010: struct.pack("<Q", 0xABCDEF)})
    call = insn.analyse(bytes.fromhex("ff1500200000"), 0x1000)  # call *0x2000(%rip) -> [0x3006]
    regs = Regs(rsp=0x9000)
    mem.write_u64(0x3006, 0x4444)
    call.emulate(regs, mem)
    assert (regs.rip, mem.read_u64(regs.rsp)) == (0x4444, 0x1006)
    jmp = insn.analyse(b"\xff\xe0", 0x1000)  # jmp *%rax
    regs = Regs(rax=0x5555)
    jmp.emulate(regs, mem)
    assert regs.rip == 0x5555
    jmp_mem = insn.analyse(bytes.fromhex("ff6308"), 0x1000)  # jmp *8(%rbx)
    regs = Regs(rbx=0x3008)
    jmp_mem.emulate(regs, mem)
    assert regs.rip == 0xABCDEF


@pytest.mark.parametrize("flags,taken", [(0, False), (1 << 6, True), (1 << 7, True), (1 << 11, True),
                                         ((1 << 7) | (1 << 11), False)])
def test_jle_follows_the_flags(flags, taken):
    jle = insn.analyse(bytes.fromhex("7e0f"), 0x11F0)  # jle 0x1201: ZF=1 or SF!=OF
    regs = Regs(eflags=flags)
    jle.emulate(regs, FakeMem())
    assert regs.rip == (0x1201 if taken else 0x11F2)


def test_loop_and_jrcxz():
    loop = insn.analyse(bytes.fromhex("e2fe"), 0x1000)  # loop 0x1000
    regs = Regs(rcx=2)
    loop.emulate(regs, FakeMem())
    assert (regs.rcx, regs.rip) == (1, 0x1000)
    loop.emulate(regs, FakeMem())
    assert (regs.rcx, regs.rip) == (0, 0x1002)
    jrcxz = insn.analyse(bytes.fromhex("e305"), 0x1000)
    regs = Regs(rcx=0)
    jrcxz.emulate(regs, FakeMem())
    assert regs.rip == 0x1007


def test_unprobeable_instructions_are_refused():
    for code in (b"\xcc", b"\xcd\x80", b"\x48\xcf", b"\x0f\x0b"[:0] + b"\xff\xff"):
        with pytest.raises(ProbeError):
            insn.analyse(code + b"\x90" * 8, 0x1000)
    assert insn.analyse(b"\x0f\x05", 0x1000).out_of_line  # syscall runs from the slot


# ---- fetch --------------------------------------------------------------------------------------------

# events/probe_pt_work/*/format of real uprobes on this kernel (6.18), as perf probe made them
KERNEL_PT_NAMED = """name: pt_named
ID: 2332
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;
\tfield:__data_loc char[] name_string;\toffset:16;\tsize:4;\tsigned:1;
\tfield:s32 n;\toffset:20;\tsize:4;\tsigned:1;

print fmt: "(%lx) name_string=\\"%s\\" n=%d", REC->__probe_ip, __get_str(name_string), REC->n
"""
KERNEL_PT_REC_RETURN = """name: pt_rec__return
ID: 2331
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long __probe_func;\toffset:8;\tsize:8;\tsigned:0;
\tfield:unsigned long __probe_ret_ip;\toffset:16;\tsize:8;\tsigned:0;
\tfield:u64 arg1;\toffset:24;\tsize:8;\tsigned:0;

print fmt: "(%lx <- %lx) arg1=0x%Lx", REC->__probe_func, REC->__probe_ret_ip, REC->arg1
"""


def test_format_text_is_the_kernels():
    args = fetch.parse_args([TraceArg("+0(%di)", "name_string", "string"), TraceArg("%si", "n", "s32")], False)
    assert fetch.format_text("pt_named", 2332, False, args) == KERNEL_PT_NAMED
    args = fetch.parse_args([TraceArg("$retval", "arg1")], True)
    assert fetch.format_text("pt_rec__return", 2331, True, args) == KERNEL_PT_REC_RETURN


def test_raw_record_is_the_kernels():
    """The RAW bytes of a real pt_named("alpha", 1) hit (perf report -D of a uprobe recording): common
    fields with preempt count 1, __probe_ip, the string's data_loc (len 6 << 16 | offset 24), n, 'alpha\\0'
    and 6 bytes of padding (the u32 size and the 36 bytes make a multiple of 8)."""
    real = bytes.fromhex("1c090001b8660000" "0d927da09d550000" "18000600" "01000000" "616c70686100" "000000000000")
    args = fetch.parse_args([TraceArg("+0(%di)", "name_string", "string"), TraceArg("%si", "n", "s32")], False)
    mem = FakeMem({0x7000: b"alpha\0garbage"})
    ctx = fetch.Context(Regs(rdi=0x7000, rsi=1), mem, b"pt_work", 0x559DA07D920D, 0x120D)
    assert fetch.Layout(2332, False, args).raw(0x66B8, ctx, 0x559DA07D920D) == real


def test_raw_return_record_is_the_kernels():
    real = bytes.fromhex("1b090001b8660000" "e9917da09d550000" "fb917da09d550000" "0100000000000000" "00000000")
    args = fetch.parse_args([TraceArg("$retval", "arg1")], True)
    ctx = fetch.Context(Regs(rax=1), FakeMem(), b"", 0, 0)
    assert fetch.Layout(2331, True, args).raw(0x66B8, ctx, 0x559DA07D91E9, 0x559DA07D91FB) == real
    plain = fetch.Layout(7, False, []).raw(5, None, 0x1234)
    assert len(plain) == 20 and plain == struct.pack("<HBBiQ", 7, 0, 1, 5, 0x1234) + bytes(4)


def test_fetch_kinds():
    mem = FakeMem({0x5000: struct.pack("<QQ", 0x6000, 0x1122334455667788), 0x6000: struct.pack("<I", 0xDEAD),
                   0x7000: struct.pack("<QQQ", 11, 22, 33), 0x400000 + 0x40: struct.pack("<H", 0xBEEF)})
    regs = Regs(rdi=0x5000, rsp=0x7000, rax=0xFFFFFFFFFFFFFFFF, rip=0x401000)
    ctx = fetch.Context(regs, mem, b"comm!", 0x401000, 0x1000)
    cases = [
        (TraceArg("+8(%di)", "a", "x64"), struct.pack("<Q", 0x1122334455667788)),
        (TraceArg("+0(+0(%di))", "b", "u32"), struct.pack("<I", 0xDEAD)),  # nested dereference
        (TraceArg("$stack2", "c", "u64"), struct.pack("<Q", 33)),
        (TraceArg("$stack", "d", None), struct.pack("<Q", 0x7000)),
        (TraceArg("%ax", "e", "s8"), b"\xff"),
        (TraceArg("@+0x40", "f", "u16"), struct.pack("<H", 0xBEEF)),  # file offset in the probed file
        (TraceArg("+8(%di)", "g", "b4@4/8"), bytes([0x8])),  # bits 4..7 of 0x88
        (TraceArg("+0(%sp)", "h", "u64[3]"), struct.pack("<3Q", 11, 22, 33)),
        (TraceArg("\\42", "i", "u8"), bytes([42])),
        (TraceArg("+0x100000(%di)", "j", "u32"), bytes(4)),  # a fault reads as zeros
    ]
    for targ, want in cases:
        (arg,) = fetch.parse_args([targ], False)
        raw = fetch.Layout(1, False, [arg]).raw(1, ctx, 0)
        assert raw[16:16 + len(want)] == want, targ


def test_strings_comm_immediate_and_faults():
    args = fetch.parse_args([TraceArg("$comm", "c"), TraceArg('\\"hi"', "i"), TraceArg("+0(%di)", "s", "string"),
                             TraceArg("+0(%si)", "z", "ustring")], False)
    ctx = fetch.Context(Regs(rdi=0, rsi=0x9000), FakeMem({0x9000: b"zz\0"}), b"pt_work", 0, 0)
    raw = fetch.Layout(1, False, args).raw(1, ctx, 0)
    locs = struct.unpack_from("<4I", raw, 16)
    # fixed part ends at 16 + 4*4 = 32: "pt_work\0" (8), "hi\0" (3), NULL pointer: length 0, "zz\0" (3)
    assert [(loc >> 16, loc & 0xFFFF) for loc in locs] == [(8, 32), (3, 40), (0, 43), (3, 43)]
    assert raw[32:46] == b"pt_work\0hi\0zz\0"
    assert (len(raw) + 4) % 8 == 0
    fmt = fetch.print_fmt(False, args)
    assert fmt == ('"(%lx) c=\\"%s\\" i=\\"%s\\" s=\\"%s\\" z=\\"%s\\"", REC->__probe_ip, __get_str(c), '
                   '__get_str(i), __get_str(s), __get_str(z)')


def test_bad_arguments_are_refused():
    for targ, retprobe in [(TraceArg("%si", "x", "string"), False),  # a register is no string's address
                           (TraceArg("$retval", "r"), False), (TraceArg("%xyz", "r"), False),
                           (TraceArg("%di", "r", "u128"), False), (TraceArg("%di", "r", "u32[2]"), False)]:
        with pytest.raises(ProbeError):
            fetch.parse_args([targ], retprobe)


def test_types_read_back_from_uprobe_events_text():
    (arg,) = fetch.parse_args([TraceArg("+0(%di):string", "name")], False)
    assert arg.type.string and arg.kind == "memory"
    array = fetch.parse_args([TraceArg("+0(%di):x32[2]", "a")], False)[0]
    assert array.field_line() == "\tfield:u32 a[];\toffset:16;\tsize:8;\tsigned:0;\n"
    assert fetch.print_fmt(False, [array]) == '"(%lx) a={0x%x,0x%x}", REC->__probe_ip, REC->a[0], REC->a[1]'


# ---- store --------------------------------------------------------------------------------------------

def _def(group, event, offset=0x1169, retprobe=False):
    return UprobeDef(path="/tmp/ex/prog", file_offset=offset, retprobe=retprobe, group=group, event=event)


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tmp_path


def test_store_place_and_relative_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert store.path() == os.path.join(str(tmp_path), "pyperf", "ptrace_events")
    monkeypatch.setenv("XDG_STATE_HOME", "relative/dir")  # not absolute: ignored, as the XDG rules say
    monkeypatch.setenv("HOME", str(tmp_path))
    assert store.path() == os.path.join(str(tmp_path), ".local", "state", "pyperf", "ptrace_events")


def test_store_add_select_remove(state):
    assert store.read_defs() == [] and not store.names_ptrace_events(["probe_prog:leaf"])
    store.add([_def("probe_prog", "leaf"), _def("probe_prog", "mid", 0x1183)])
    store.add([_def("probe_prog", "leaf__return", 0x1169, True), _def("other", "x")])
    text = open(store.path()).read().splitlines()
    assert text[1:] == ["p:probe_prog/leaf /tmp/ex/prog:0x1169", "p:probe_prog/mid /tmp/ex/prog:0x1183",
                        "r:probe_prog/leaf__return /tmp/ex/prog:0x1169", "p:other/x /tmp/ex/prog:0x1169"]
    # globs expand in the order the events were added (as perf over tracefs here), each event once
    assert [n for n, _ in store.select(["probe_prog:*", "probe_prog:mid"])] == [
        "probe_prog:leaf", "probe_prog:mid", "probe_prog:leaf__return"]
    assert [n for n, _ in store.select(["*:x,probe_prog/mid/"])] == ["other:x", "probe_prog:mid"]
    assert store.unmatched(["probe_prog:leaf", "sched:sched_switch"]) == ["sched:sched_switch"]
    assert store.names_ptrace_events(["probe_prog:leaf"]) and not store.names_ptrace_events(["a:b"])
    with pytest.raises(ProbeError) as err:
        store.add([_def("probe_other", "leaf")])  # the name is taken in another group: perf's clash rule
    assert err.value.errno == 17 and 'event "leaf" already exists' in err.value.message
    store.remove(["probe_prog:leaf", "other:x"])
    assert [f"{d.group}:{d.event}" for d in store.read_defs()] == ["probe_prog:mid", "probe_prog:leaf__return"]


def test_store_multi_probe_event(state):
    store.add([_def("g", "ev", 0x10), _def("g", "ev", 0x20)])  # one event, two places (a line probe)
    ((name, defs),) = store.select(["g:ev"])
    assert name == "g:ev" and [d.file_offset for d in defs] == [0x10, 0x20]


def _add_many(args):
    base, n = args
    for i in range(n):
        store.add([_def("g", f"e{base}_{i}")])


def test_store_concurrent_adds_lose_nothing(state):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        pool.map(_add_many, [(b, 10) for b in range(4)])
    assert len({d.event for d in store.read_defs()}) == 40
    assert not [f for f in os.listdir(os.path.dirname(store.path())) if f.startswith("ptrace_events.")
                and not f.endswith(".lock")]  # no temporary file left


# ---- xol ----------------------------------------------------------------------------------------------

def _maps(*spans):
    return [MapLine(lo, hi, perms, 0, 0, 0, 0, path) for lo, hi, perms, path in spans]


def test_pages_go_below_the_executable_or_above_the_mmap_base():
    maps = _maps((0x555555554000, 0x555555555000, "r--p", "/x"), (0x555555555000, 0x555555556000, "r-xp", "/x"),
                 (0x555555556000, 0x555555558000, "r--p", "/x"), (0x555555558000, 0x555555559000, "rw-p", "/x"),
                 (0x555555559000, 0x55555557A000, "rw-p", "[heap]"),
                 (0x7FFFF7FC3000, 0x7FFFF7FFF000, "r-xp", "/lib/ld.so"),
                 (0x7FFFFFFDE000, 0x7FFFFFFFF000, "rw-p", "[stack]"))
    near_exe = xol.free_page_near(maps, 0x555555555364)
    assert near_exe[0] == 0x555555553000  # right below the executable
    assert 0x55555557A000 not in near_exe  # never just above [heap] (brk grows there)
    near_ld = xol.free_page_near(maps, 0x7FFFF7FC5000, stack_limit=8 << 20)
    quiet = (0x7FFFFFFFF000 - (8 << 20) - (2 << 20)) & ~0xFFF
    assert near_ld[0] == quiet  # between the mmap base and the stack's growth limit
    assert 0x7FFFFFFDD000 not in near_ld  # never just below [stack]
    assert xol.free_page_near(maps, 0x7FFFF7FC5000, stack_limit=0)[0] == 0x7FFFF7FC2000
    assert all(abs(a - 0x555555555364) <= xol.REACH for a in near_exe)


def test_xol_area_places_slots_and_pages():
    mem = FakeMem()
    area = xol.XolArea()
    area.set_home(0x7FFFF7FBF000, mem)
    assert area.trampoline() == 0x7FFFF7FBF000 and mem.read(0x7FFFF7FBF000, 32) == b"\xcc" * 32
    far = insn.analyse(bytes.fromhex("488b05852d0000"), LEAF)  # rip-relative: the home page is out of reach
    allocated = []
    slot = area.place(far, mem, lambda near: allocated.append(near) or 0x555555553000)
    assert allocated == [LEAF] and slot == 0x555555553020 and area.slot_start(slot + 9) == slot
    near = insn.analyse(b"\x55", 0x7FFFF7FC5000)
    assert area.place(near, mem, lambda n: pytest.fail("no new page needed")) == 0x7FFFF7FBF020
    copy = area.copy()
    assert [(p.avma, p.used) for p in copy.pages] == [(0x7FFFF7FBF000, 1), (0x555555553000, 1)]


# ---- stack --------------------------------------------------------------------------------------------

def test_fp_chain_as_the_kernel_walks_it():
    frames = {0x7100: (0x7200, 0x401111), 0x7200: (0x7300, 0x402222), 0x7300: (0, 0x7F0000333)}
    mem = FakeMem({0x7000: struct.pack("<Q", 0x400999)})
    for fp, (nxt, ret) in frames.items():
        mem.load(fp, struct.pack("<QQ", nxt, ret))
    regs = Regs(rsp=0x7000, rbp=0x7100)
    user = 0xFFFFFFFFFFFFFE00
    assert stack.fp_chain(mem, regs, 0x400500, False, 127) == [user, 0x400500, 0x401111, 0x402222, 0x7F0000333]
    # at a function's first instruction (push %rbp / endbr64) the caller is at %rsp
    assert stack.fp_chain(mem, regs, 0x400500, True, 127)[:3] == [user, 0x400500, 0x400999]
    assert stack.fp_chain(mem, regs, 0x400500, True, 3) == [user, 0x400500, 0x400999, 0x401111]
    # the trampoline in place of return addresses: the pending returns' own, innermost first
    mem.load(0x7108, struct.pack("<Q", 0x55000))
    mem.load(0x7208, struct.pack("<Q", 0x55000))
    chain = stack.fp_chain(mem, regs, 0x400500, False, 127, 0x55000, [0xAAA, 0xBBB])
    assert chain == [user, 0x400500, 0xAAA, 0xBBB, 0x7F0000333]


def test_user_stack_copy_stops_at_unmapped_memory():
    mem = FakeMem({0x8F00: b"\x01" * 0x100})  # the last mapped page ends at 0x9000
    data, dyn = stack.user_stack(mem, 0x8F00, 8192)
    assert len(data) == 8192 and dyn == 0x100 and data[:0x100] == b"\x01" * 0x100 and not any(data[0x100:])
    assert stack.user_stack(mem, 0, 64) == (bytes(64), 0)


def test_store_refuses_probes_of_a_rebuilt_file(state, tmp_path):
    """A definition keeps the build-id of its file: after a rebuild its offset may be mid-instruction, and
    the backend refuses it rather than corrupt the program."""
    import shutil
    import record_helpers as rh
    target = str(tmp_path / "app")
    shutil.copy(rh.workload("pt_work"), target)
    d = UprobeDef(path=target, file_offset=rh.file_offset(target, "pt_leaf"), group="g", event="leaf")
    store.add([d])
    assert open(store.path()).read().splitlines()[1].startswith(f"p:g/leaf {target}:0x")
    assert " # build-id " in open(store.path()).read()
    store.check_files(store.read_defs())  # unchanged: fine
    shutil.copy(rh.workload("libpt_plugin.so"), target)  # "rebuilt"
    with pytest.raises(ProbeError) as err:
        store.check_files(store.read_defs())
    assert err.value.errno == 116 and "changed since g:leaf was placed" in err.value.message
