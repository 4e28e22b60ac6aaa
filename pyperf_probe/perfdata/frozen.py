"""Frozen records for perfdata, session and report: the frozen dataclass's semantics without its import.

STYLE.md asks for one frozen dataclass per binary struct. ``pyperf report`` cannot afford the module:
``import dataclasses`` pulls in inspect, ast, dis, tokenize, re and copy, and each ``@dataclass`` runs
``exec`` to build its methods (measured with ``python -X importtime``: about 11 ms for the import and 5 ms
for perfdata.records' classes, against perf's whole flat report of a 132K-sample file in ~110 ms;
bench/report). So these records are tuple subclasses, as ``pyperf_probe.records.Record`` builds them for
``pyperf probe -F``, with what a frozen dataclass adds to a namedtuple:

* equality and hashing by class *and* values (an ``ExitRecord`` never equals the ``ForkRecord`` with the
  same fields, nor a plain tuple), as ``@dataclass(eq=True, frozen=True)`` compares;
* ``replace(**changes)``, the ``dataclasses.replace`` of a record;
* the field accessors made from ``_fields`` when the class is created, so a record class is its
  docstring, ``_fields``, a ``__new__`` with the real signature (keywords and defaults work as for the
  dataclass) and its methods::

    class FileSection(Frozen):
        \"\"\"``struct perf_file_section {u64 offset; u64 size;}``.\"\"\"

        __slots__ = ()
        _fields = ("offset", "size")

        def __new__(cls, offset: int, size: int):
            return tuple.__new__(cls, (offset, size))

Immutable (``__slots__ = ()``: no attribute storage), unpackable and cheap to build (one
``tuple.__new__``).
"""
from __future__ import annotations

from pyperf_probe.records import Record, field


class Frozen(Record):
    """Base of the frozen records (see the module docstring)."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for index, name in enumerate(cls.__dict__.get("_fields", ())):
            if name not in cls.__dict__:
                setattr(cls, name, field(index))

    def __eq__(self, other):
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    __hash__ = tuple.__hash__

    # the dataclass has no order: a record's fields are not a sort key
    __lt__ = __le__ = __gt__ = __ge__ = object.__lt__

    def replace(self, **changes):
        """A copy with ``changes`` (``dataclasses.replace``); an unknown field name is a TypeError."""
        return self._replace(**changes)
