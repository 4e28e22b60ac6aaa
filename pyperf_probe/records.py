"""Immutable records that cost nothing at start-up: the light stand-in for frozen dataclasses.

STYLE.md asks for one frozen dataclass per binary struct. On the start-up path of ``pyperf probe -F`` that is
not affordable: ``import dataclasses`` pulls in inspect, ast, dis, re and enum, and ``typing.NamedTuple``
pulls in typing (measured with ``python -X importtime``: together about 10 ms, against a whole ``perf probe
-F`` run of about 14 ms CPU; see bench/probe_funcs). So the records that this path builds (ELF headers,
sections, symbols, ld.so.cache entries, option-table rows) are tuple subclasses written out by hand, the way
``collections.namedtuple`` generates them: immutable (a tuple has no attribute storage: ``__slots__ = ()``),
hashable, equal by value, unpackable, and each field a read-only C-level accessor.

A record class subclasses :class:`Record`, names its ``_fields``, writes ``__new__`` with its real
signature (keyword arguments and defaults work as for a dataclass) and gives each field a :func:`field`::

    class Point(Record):
        __slots__ = ()
        _fields = ("x", "y")

        def __new__(cls, x: int, y: int = 0):
            return tuple.__new__(cls, (x, y))

        x = field(0, "the abscissa")
        y = field(1, "the ordinate")
"""
from __future__ import annotations

try:            # the descriptor collections.namedtuple uses (a builtin module: no file to import)
    from _collections import _tuplegetter
except ImportError:         # another Python implementation
    _tuplegetter = None


def field(index: int, doc: str = ""):
    """A read-only attribute for item ``index`` of the record."""
    if _tuplegetter is not None:
        return _tuplegetter(index, doc)
    return property(lambda self: self[index], doc=doc)


class Record(tuple):
    """Base of the light records: ``repr`` and ``_replace`` as namedtuple has them."""

    __slots__ = ()
    _fields: tuple = ()

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
        return f"{type(self).__name__}({inner})"

    def _replace(self, **changes):
        """A copy with some fields changed (``dataclasses.replace`` / ``namedtuple._replace``)."""
        values = dict(zip(self._fields, self))
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return type(self)(**values)

    def __getnewargs__(self):
        return tuple(self)
