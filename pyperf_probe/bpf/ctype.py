"""The C types of the expression language, and C's rules for them on LP64 (x86-64 Linux).

A :class:`CType` is an integer type (size 1, 2, 4 or 8, signed or not), a pointer (to a C type, ``void`` or an
opaque ``struct``), or a ``char`` array (a tracepoint's ``char comm[16]``). Values are kept as Python ints
holding the mathematical value of the type (``canon``): what a 64-bit register holds after sign or zero
extension, which is also how the compiler keeps them (bpf/compiler.py).

The usual arithmetic conversions are C11 6.3.1.8 (integer promotion to ``int``, then the rank and signedness
rules); on LP64 ``long`` and ``long long`` have the same size, and ``unsigned long`` wins over ``long long``.
"""
from __future__ import annotations

from pyperf_probe.records import Record, field


class CType(Record):
    """A C type: ``name`` as written back in messages, ``size`` in bytes, ``signed``, the type pointed to
    (``pointee``, None for integers; a CType named ``void`` or ``struct X`` for those), ``array`` length."""

    __slots__ = ()
    _fields = ("name", "size", "signed", "pointee", "array", "rank")

    def __new__(cls, name: str, size: int, signed: bool = False, pointee=None, array: int = 0, rank: int = 0):
        return tuple.__new__(cls, (name, size, signed, pointee, array, rank))

    name = field(0)
    size = field(1)
    signed = field(2)
    pointee = field(3)
    array = field(4)
    rank = field(5, "C's conversion rank: 1 char, 2 short, 3 int, 4 long, 5 long long (0: not an integer)")

    @property
    def is_pointer(self) -> bool:
        return self.pointee is not None and not self.array

    @property
    def is_array(self) -> bool:
        return bool(self.array)

    @property
    def is_integer(self) -> bool:
        return self.pointee is None and self.rank > 0

    @property
    def is_char_pointer(self) -> bool:
        return self.pointee is not None and self.pointee.name in ("char", "signed char", "unsigned char")

    def __str__(self) -> str:
        return self.name


def _int(name: str, size: int, signed: bool, rank: int) -> CType:
    return CType(name, size, signed, None, 0, rank)


CHAR = _int("char", 1, True, 1)           # char is signed on x86-64
SCHAR = _int("signed char", 1, True, 1)
UCHAR = _int("unsigned char", 1, False, 1)
SHORT = _int("short", 2, True, 2)
USHORT = _int("unsigned short", 2, False, 2)
INT = _int("int", 4, True, 3)
UINT = _int("unsigned int", 4, False, 3)
LONG = _int("long", 8, True, 4)
ULONG = _int("unsigned long", 8, False, 4)
LLONG = _int("long long", 8, True, 5)
ULLONG = _int("unsigned long long", 8, False, 5)
BOOL = _int("_Bool", 1, False, 1)
VOID = CType("void", 0)

# Spellings of the integer types: C's, the kernel's (u32, __s64), <stdint.h>'s and the usual typedefs.
_NAMED = {
    "char": CHAR, "signed char": SCHAR, "unsigned char": UCHAR,
    "short": SHORT, "short int": SHORT, "signed short": SHORT, "unsigned short": USHORT,
    "unsigned short int": USHORT,
    "int": INT, "signed": INT, "signed int": INT, "unsigned": UINT, "unsigned int": UINT,
    "long": LONG, "long int": LONG, "signed long": LONG, "unsigned long": ULONG, "unsigned long int": ULONG,
    "long long": LLONG, "long long int": LLONG, "signed long long": LLONG, "unsigned long long": ULLONG,
    "unsigned long long int": ULLONG,
    "_Bool": BOOL, "bool": BOOL,
}
for _bits, (_s, _u) in {8: (SCHAR, UCHAR), 16: (SHORT, USHORT), 32: (INT, UINT), 64: (LLONG, ULLONG)}.items():
    for _prefix_s, _prefix_u in (("s", "u"), ("__s", "__u"), ("int", "uint")):
        suffix = "_t" if _prefix_s == "int" else ""
        _NAMED[f"{_prefix_s}{_bits}{suffix}"] = _s._replace(name=f"{_prefix_s}{_bits}{suffix}")
        _NAMED[f"{_prefix_u}{_bits}{suffix}"] = _u._replace(name=f"{_prefix_u}{_bits}{suffix}")
for _name, _base in {"size_t": ULONG, "ssize_t": LONG, "pid_t": INT, "uid_t": UINT, "gid_t": UINT,
                     "off_t": LONG, "loff_t": LLONG, "uintptr_t": ULONG, "intptr_t": LONG, "ptrdiff_t": LONG,
                     "time_t": LONG, "gfp_t": UINT, "umode_t": USHORT, "mode_t": UINT, "dev_t": UINT,
                     "u_int": UINT, "u_long": ULONG, "clockid_t": INT, "socklen_t": UINT}.items():
    _NAMED[_name] = _base._replace(name=_name)

QUALIFIERS = ("const", "volatile", "__user", "__restrict", "restrict", "__kernel")


def is_type_word(word: str) -> bool:
    """Whether ``word`` can start or continue a type name (for telling ``(int)x`` from ``(x)``)."""
    return (word in _NAMED or word in QUALIFIERS or word in ("struct", "union", "enum", "void", "signed",
                                                              "unsigned", "long", "short"))


def pointer_to(target: CType) -> CType:
    name = target.name + ("*" if target.name.endswith("*") else " *")
    return CType(name, 8, False, target, 0, 0)


def array_of(element: CType, length: int) -> CType:
    return CType(f"{element.name}[{length}]", element.size * length, False, element, length, 0)


def named(words: list) -> CType | None:
    """The type spelled by ``words`` (``['unsigned', 'long']``, ``['struct', 'timespec']``), qualifiers
    dropped; None if it is not one."""
    words = [w for w in words if w not in QUALIFIERS]
    if not words:
        return None
    if words[0] in ("struct", "union", "enum") and len(words) == 2:
        if words[0] == "enum":
            return INT._replace(name=" ".join(words))
        return CType(" ".join(words), 0)        # opaque: only usable behind a pointer
    if words == ["void"]:
        return VOID
    return _NAMED.get(" ".join(words))


def parse_type(text: str) -> CType | None:
    """A type as written in a signature or after ``:`` in a spec: ``const char *``, ``u64``, ``char*``."""
    stars = text.count("*")
    words = text.replace("*", " ").split()
    base = named(words)
    if base is None:
        return None
    for _ in range(stars):
        base = pointer_to(base)
    if base is VOID or (base.size == 0 and not base.is_pointer):
        return None
    return base


# --- C's conversions ----------------------------------------------------------------------------------------

def canon(value: int, ctype: CType) -> int:
    """``value`` converted to ``ctype``: wrapped to its width, sign-extended if signed (pointers: unsigned
    64-bit; ``_Bool``: 0 or 1)."""
    if ctype is BOOL or ctype.name in ("_Bool", "bool"):
        return int(value != 0)
    bits = 8 * (ctype.size if ctype.is_integer else 8)
    value &= (1 << bits) - 1
    if ctype.is_integer and ctype.signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def promote(ctype: CType) -> CType:
    """Integer promotion: anything narrower than ``int`` becomes ``int``."""
    if ctype.is_integer and ctype.rank < INT.rank:
        return INT
    return ctype


def common(a: CType, b: CType) -> CType:
    """The usual arithmetic conversions of two integer operands (C11 6.3.1.8)."""
    a, b = promote(a), promote(b)
    if a.size == b.size and a.signed == b.signed:
        return a if a.rank >= b.rank else b
    if a.signed == b.signed:
        return a if a.rank > b.rank else b
    unsigned, signed = (a, b) if not a.signed else (b, a)
    if unsigned.rank >= signed.rank:
        return unsigned
    if signed.size > unsigned.size:
        return signed
    return _NAMED["unsigned " + signed.name] if ("unsigned " + signed.name) in _NAMED else ULONG
