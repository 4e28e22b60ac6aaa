"""``export-to-sqlite``: perf's database of a recording (tools/perf/scripts/python/export-to-sqlite.py over
tools/perf/util/db-export.c and the db-export callbacks of scripting-engines/trace-event-python.c, perf 6.1).

perf numbers every object the first time a sample needs it, and the tables keep those numbers:

* per sample, in this order: its event (``selected_events``), the machine, the thread's main thread
  (``threads``: its own id as process_id), the main thread's *exec comm* (the comm its last exec gave it,
  with the comm_exec attr bit, else its current one; ``comms`` with the main thread as c_thread_id, and a
  ``comm_threads`` row), the thread itself (with a ``comm_threads`` row linking it to that exec comm when it
  is new), the thread's current comm (a ``comms`` row, no comm_threads row); then the sample's id, its dso
  and symbol (a dso's first use makes a ``dsos`` row, a symbol's a ``symbols`` row; an address in a map
  without symbol gets a zero-size symbol ``unknown`` there, made once per address), then with
  ``callchains`` its call path, then the ``samples`` row, whose comm_id is the exec comm's;
* comms are perf's ``struct comm`` objects: a thread starts with ``:TID``, its first COMM (or the parent's
  comm at FORK) overrides that one, later COMMs add new ones; FORK makes a new thread (new id) for the tid;
* call paths (``callchains``): a tree from a root (exported first, id 1) keyed by (symbol, address when no
  symbol), walked from the outermost frame (perf resolves the chain in caller order), inline frames as
  symbols of their own, one per address and level (perf's inline nodes are cached per dso address). perf
  6.1's script crashes on ``callchains`` alone (trace_begin calls call_return_table, whose query exists
  only with ``calls``); pyperf writes what the script writes with that line fixed. With ``calls`` perf
  exports calls and returns of branch samples only (Intel PT): here the tables keep their zero rows.

The script binds every value as text (``str(x)``); pyperf binds the Python values, which the columns'
affinities store the same way (a number in an integer, bigint or boolean column is an integer either way,
a name in a varchar column text; no value is NULL or a float), without a string per value.
Tracepoint and probe samples are exported too: perf hands them to the script's per-event
handlers, never to the database export, so perf's database of a probe recording has no samples.
"""
from __future__ import annotations

import datetime
import os
import sqlite3
import sys

from pyperf_probe.export.sqlite_schema import STATEMENTS
from pyperf_probe.perfdata.format import MISC_CPUMODE_MASK, MISC_USER
from pyperf_probe.perfdata.records import CommRecord, ForkRecord

COMM_EXEC_BIT = 1 << 24          # perf_event_attr.comm_exec
DATA_SRC_NONE = 0x5080021        # PERF_MEM_DATA_SRC_NONE: evsel__parse_sample's default
BATCH = 4096

# db-export.c branch_types[] and the trace begin / end variants db_export__branch_types adds
_BRANCHES = [(0, "no branch"), (3, "call"), (5, "return"), (9, "conditional jump"), (1, "unconditional jump"),
             (67, "software interrupt"), (69, "return from interrupt"), (19, "system call"),
             (21, "return from system call"), (33, "asynchronous branch"), (99, "hardware interrupt"),
             (129, "transaction abort"), (257, "trace begin"), (513, "trace end"), (2051, "vm entry"),
             (4099, "vm exit")]
TRACE_BEGIN, TRACE_END = 256, 512


def branch_types() -> list[tuple[int, str]]:
    rows = list(_BRANCHES)
    for kind, name in _BRANCHES:
        if kind == 1 or kind & (TRACE_BEGIN | TRACE_END):
            continue
        rows.append((kind | TRACE_BEGIN, f"trace begin / {name}"))
        rows.append((kind | TRACE_END, f"{name} / trace end"))
    return rows


def usage_lines() -> str:
    return ("Usage is: export-to-sqlite.py <database name> [<columns>] [<calls>] [<callchains>] [<pyside-version-1>]\n"
            "where:  columns            'all' or 'branches'\n"
            "        calls              'calls' => create calls and call_paths table\n"
            "        callchains         'callchains' => create call_paths table\n"
            "        pyside-version-1   'pyside-version-1' => use pyside version 1\n")


class Options:
    """The script's arguments: ``DB [all|branches] [calls] [callchains] [pyside-version-1]``."""

    def __init__(self, words: list[str]):
        if not words:
            raise ValueError("Too few or bad arguments")
        self.db = words[0]
        self.columns = words[1] if len(words) > 1 else "all"
        if self.columns not in ("all", "branches"):
            raise ValueError("Too few or bad arguments")
        self.calls = self.callchains = False
        for word in words[2:]:
            if word == "calls":
                self.calls = True
            elif word == "callchains":
                self.callchains = True
            elif word != "pyside-version-1":
                raise ValueError("Too few or bad arguments")

    @property
    def branches(self) -> bool:
        return self.columns == "branches"

    @property
    def call_paths(self) -> bool:
        """A call path for each sample: perf's ``cpr`` exists with callchains and without calls."""
        return self.callchains and not self.calls


def printdate(out, *words) -> None:
    print(datetime.datetime.today(), *words, sep=" ", file=out, flush=True)


# --- perf's objects: comms, threads ---------------------------------------------------------------------

class Comm:
    """``struct comm``: its string, start time, exec flag; ``db_id`` once exported."""

    __slots__ = ("text", "start", "exec", "db_id")

    def __init__(self, text: str, start: int, exec_: bool):
        self.text, self.start, self.exec, self.db_id = text, start, exec_, 0


class ThreadDb:
    """What perf keeps per ``struct thread`` for the export: the comm list (newest first) and the db id."""

    __slots__ = ("comms", "comm_set", "db_id")

    def __init__(self, tid: int):
        self.comms = [Comm(f":{tid}", 0, False)]
        self.comm_set = False
        self.db_id = 0

    def set_comm(self, text: str, time: int, exec_: bool) -> None:
        """``____thread__set_comm``: the first one overrides the default ``:TID`` comm."""
        if not self.comm_set:
            comm = self.comms[0]
            comm.text, comm.start = text, time
            if exec_:
                comm.exec = True
        else:
            self.comms.insert(0, Comm(text, time, exec_))
        self.comm_set = True

    def exec_comm(self, is_main: bool) -> Comm:
        """``thread__exec_comm``."""
        last = second_last = None
        for comm in self.comms:
            if comm.exec:
                return comm
            second_last, last = last, comm
        if second_last is not None and not last.start and is_main:
            return second_last
        return last


class Exporter:
    """The database writer (see the module docstring)."""

    def __init__(self, session, opts: Options, conn):
        self.session, self.opts, self.conn = session, opts, conn
        self.machine = session.machine
        self.comm_exec = any(e.attr.flags & COMM_EXEC_BIT for e in session.evsels)
        self.threads: dict = {}               # session Thread object -> ThreadDb
        self.last = dict(evsel=0, thread=0, comm=0, comm_thread=0, dso=0, symbol=0, sample=0, call_path=0)
        self.evsel_ids: dict = {}
        self.machine_id = 0
        self.dso_ids: dict = {}
        self.symbol_ids: dict = {}
        self.call_paths: dict = {}            # (parent id, symbol key, ip) -> id
        self.generation = 0                   # COMM and FORK records seen: the thread cache's key
        self._thread_cache: dict = {}         # thread -> (generation, thread db id, exec comm id)
        self._location_cache: dict = {}       # Frame -> (dso id, symbol id, offset)
        self.rows: dict = {name: [] for name in ("selected_events", "machines", "threads", "comms", "comm_threads",
                                                  "dsos", "symbols", "samples", "call_paths")}
        self.nr_rows = 0
        idle = self.machine.threads.get(0)
        if idle is not None:                  # perf_session__register_idle_thread: "swapper" at time 0
            tdb = self.threads[idle] = ThreadDb(0)
            tdb.set_comm("swapper", 0, False)

    # --- record stream hooks (the session's handlers run first) ------------------------------------------

    def hook(self) -> None:
        """Follow COMM and FORK as perf's threads do: wrap the session's record handlers."""
        session, original = self.session, self.session.record_handlers

        def handlers():
            table = dict(original())
            comm_h, fork_h = table[CommRecord], table[ForkRecord]

            def on_comm(rec):
                comm_h(rec)
                self.generation += 1
                thread = self.machine.threads.get(rec.tid)
                if thread is not None:
                    tdb = self.threads.get(thread)
                    if tdb is None:         # made by this COMM: its default comm, overridden below
                        tdb = self.threads[thread] = ThreadDb(rec.tid)
                    tdb.set_comm(rec.comm, _time(rec.time), rec.exec)

            def on_fork(rec):
                fork_h(rec)
                self.generation += 1
                child = self.machine.threads.get(rec.tid)
                if child is None:
                    return
                tdb = self.threads[child] = ThreadDb(rec.tid)    # a new thread, a new id
                parent = self.machine.threads.get(rec.ptid)
                if parent is not None and parent.comm_set:     # thread__fork: the parent's comm, at the fork
                    tdb.set_comm(parent.comm, _time(rec.time), False)
            table[CommRecord], table[ForkRecord] = on_comm, on_fork
            return table
        session.record_handlers = handlers

    def thread_db(self, thread) -> ThreadDb:
        tdb = self.threads.get(thread)
        if tdb is None:
            tdb = self.threads[thread] = ThreadDb(thread.tid)
            if thread.comm_set:        # named before the export followed it (no record seen): its comm
                tdb.set_comm(thread.comm, 0, False)
        return tdb

    # --- rows ---------------------------------------------------------------------------------------------

    def add_row(self, table: str, values) -> None:
        self.rows[table].append(values)
        self.nr_rows += 1
        if self.nr_rows >= BATCH:
            self.flush()

    def flush(self) -> None:
        for table, rows in self.rows.items():
            if rows:
                if table == "samples" and self.opts.branches:
                    rows = [r[0:15] + r[19:25] for r in rows]
                marks = ", ".join("?" * len(rows[0]))
                self.conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
                rows.clear()
        self.nr_rows = 0

    def _next(self, kind: str) -> int:
        self.last[kind] += 1
        return self.last[kind]

    # --- db_export__sample --------------------------------------------------------------------------------

    def sample(self, rs) -> None:
        evsel_id = self.evsel_ids.get(rs.evsel)
        if evsel_id is None:
            evsel_id = self.evsel_ids[rs.evsel] = self._next("evsel")
            self.add_row("selected_events", (evsel_id, self.session.evsels[rs.evsel].name or "unknown"))
        if not self.machine_id:
            self.machine_id = 1
            self.add_row("machines", (1, -1, ""))
        s = rs.sample
        thread = self.machine.threads.get(s.tid if s.tid is not None else -1)
        thread_id = comm_id = 0
        if thread is not None:
            cached = self._thread_cache.get(thread)
            if cached is None or cached[0] != self.generation:
                comm = self._threads(thread)
                cached = self._thread_cache[thread] = (self.generation, self.threads[thread].db_id,
                                                       comm.db_id if comm is not None else 0)
            thread_id, comm_id = cached[1], cached[2]
        sample_id = self._next("sample")
        location = self._location_cache.get(rs.location)
        if location is None:
            location = self._location_cache[rs.location] = self._location(rs.location)
        call_path_id = self._call_path(rs.chain) if self.opts.call_paths and rs.chain else 0
        ip, addr = s.ip or 0, s.addr or 0
        self.add_row("samples", (
            sample_id, evsel_id, self.machine_id, thread_id, comm_id, location[0], location[1], location[2],
            ip if ip < _SIGN else ip - _WRAP, _d64(_time(s.time)), -1 if s.cpu is None else s.cpu,
            0, 0, 0, addr if addr < _SIGN else addr - _WRAP, rs.period, s.weight or 0, s.transaction or 0,
            DATA_SRC_NONE if s.data_src is None else s.data_src, 0, 0, call_path_id, 0, 0, 0))

    def _threads(self, thread):
        """``db_export__threads``: the exec comm of the thread's main thread, or None."""
        main = self._main_thread(thread)
        comm = None
        if main is not None:
            mdb = self.thread_db(main)
            self._thread(main, mdb, mdb)
            comm = mdb.exec_comm(True) if self.comm_exec else mdb.comms[0]
            if not comm.db_id:
                comm.db_id = self._next("comm")
                self.add_row("comms", (comm.db_id, comm.text, mdb.db_id, _d64(comm.start), int(comm.exec)))
                self.add_row("comm_threads", (self._next("comm_thread"), comm.db_id, mdb.db_id))
        tdb = self.thread_db(thread)
        if thread is not main:
            new = not tdb.db_id
            self._thread(thread, tdb, self.threads.get(main) if main is not None else None)
            if comm is not None and new:
                self.add_row("comm_threads", (self._next("comm_thread"), comm.db_id, tdb.db_id))
        current = tdb.comms[0]
        if not current.db_id:
            current.db_id = self._next("comm")
            self.add_row("comms", (current.db_id, current.text, tdb.db_id, _d64(current.start), int(current.exec)))
        return comm

    def _main_thread(self, thread):
        """``thread__main_thread``."""
        if thread.pid == thread.tid:
            return thread
        if thread.pid == -1:
            return None
        return self.machine.threads.get(thread.pid)

    def _thread(self, thread, tdb: ThreadDb, main_db) -> None:
        if tdb.db_id:
            return
        tdb.db_id = self._next("thread")
        self.add_row("threads", (tdb.db_id, self.machine_id, main_db.db_id if main_db else 0, thread.pid,
                                 thread.tid))

    def _dso(self, dso) -> int:
        dso_id = self.dso_ids.get(dso)
        if dso_id is None:
            dso_id = self.dso_ids[dso] = self._next("dso")
            build_id = dso.build_id or (dso.image.build_id if getattr(dso, "image", None) is not None else None)
            self.add_row("dsos", (dso_id, self.machine_id, dso.short_name, dso.long_name, build_id or ""))
        return dso_id

    def _symbol(self, key, dso_id: int, start: int, end: int, binding: int, name: str) -> int:
        sym_id = self.symbol_ids.get(key)
        if sym_id is None:
            sym_id = self.symbol_ids[key] = self._next("symbol")
            self.add_row("symbols", (sym_id, dso_id, _d64(start), _d64(end), binding, name))
        return sym_id

    def _location(self, frame):
        """``db_ids_from_al`` for the sample's own address: (dso id, symbol id, offset)."""
        dso = frame.dso_obj
        if dso is None:
            return 0, 0, 0
        dso_id = self._dso(dso)
        address = frame.file_offset if frame.file_offset is not None else frame.avma
        if frame.sym is None:
            return dso_id, self._symbol(("unknown", dso, address), dso_id, address, address, 0, "unknown"), 0
        symbol = frame.symbol
        svma = dso.svma(frame.file_offset) if frame.file_offset is not None else None
        offset = (svma if svma is not None else address) - frame.sym_start
        return dso_id, self._real_symbol(frame, dso, dso_id, symbol), offset

    def _real_symbol(self, frame, dso, dso_id: int, symbol) -> int:
        end = symbol.end if symbol is not None and symbol.end else frame.sym_start
        binding = symbol.binding if symbol is not None else 0
        return self._symbol(("sym", dso, frame.sym_start, frame.sym), dso_id, frame.sym_start, end, binding,
                            frame.sym)

    # --- call paths (callchains) ---------------------------------------------------------------------------

    def _call_path(self, chain) -> int:
        """``call_path_from_sample``: the chain from its outermost frame, each frame's symbol exported as
        it is met; the leaf's call path id."""
        current = 0                     # the root, exported (id 1) with the first path
        levels = _levels(chain)
        for frame, level in reversed(levels):
            key = self._frame_symbol(frame, level)
            ip = 0 if key is not None else frame.avma
            if not current:
                current = self.call_paths.get(("root",))
                if current is None:
                    current = self.call_paths[("root",)] = self._next("call_path")
                    self.add_row("call_paths", (current, 0, 0, 0))
            node_key = (current, key, ip)
            node = self.call_paths.get(node_key)
            if node is None:
                node = self.call_paths[node_key] = self._next("call_path")
                self.add_row("call_paths", (node, current, self.symbol_ids.get(key, 0) if key else 0, _d64(ip)))
            current = node
        return current

    def _frame_symbol(self, frame, level: int):
        """The symbol key of a chain frame, its row exported: the real symbol, an inline frame's own
        symbol (per dso address and level), or perf's 'unknown' at the frame's raw address (perf looks the
        avma up in the dso there, ``dso__find_symbol(dso, node->ip)``); None without a map."""
        dso = frame.dso_obj
        if dso is None:
            return None
        dso_id = self._dso(dso)
        if frame.sym is None:
            key = ("unknown", dso, frame.avma)
            self._symbol(key, dso_id, frame.avma, frame.avma, 0, "unknown")
            return key
        if not frame.inlined:
            symbol = frame.symbol
            self._real_symbol(frame, dso, dso_id, symbol)
            return ("sym", dso, frame.sym_start, frame.sym)
        base = dso.resolve(frame.file_offset) if frame.file_offset is not None else None
        symbol = base.symbol if base is not None else None
        end = symbol.end if symbol is not None and symbol.end else frame.sym_start
        key = ("inline", dso, frame.file_offset, level)
        self._symbol(key, dso_id, frame.sym_start, end, symbol.binding if symbol is not None else 0, frame.sym)
        return key


def _levels(chain) -> list:
    """(frame, level) of each frame: an inline frame's level in the expansion of its address (0 innermost),
    so that recursion through one call site does not merge two expansions (see export.pprof)."""
    out, group = [], []
    for frame in chain:
        if group and (frame.avma != group[-1].avma or any(f is frame for f in group)):
            group = []
        out.append((frame, len(group)))
        group.append(frame)
        if not frame.inlined:
            group = []
    return out


_SIGN, _WRAP = 1 << 63, 1 << 64


def _time(t) -> int:
    return -1 if t is None else t


def _d64(value: int) -> int:
    """``tuple_set_d64``: a u64 as a signed 64-bit PyLong."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value


# --- the script ------------------------------------------------------------------------------------------

def create(conn, opts: Options) -> None:
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("BEGIN TRANSACTION")
    for cond, sql in STATEMENTS:
        if cond is None or (cond == "branches" and opts.branches) or (cond == "all" and not opts.branches) or \
                (cond == "call_paths" and (opts.calls or opts.callchains)) or (cond == "calls" and opts.calls):
            conn.execute(sql)
    conn.execute("END TRANSACTION")


def _is_empty(conn, table: str) -> bool:
    return conn.execute(f"SELECT * FROM {table} LIMIT 1").fetchone() is None


def _drop(conn, name: str) -> None:
    conn.execute(f"DROP VIEW {name}_view")
    conn.execute(f"DROP TABLE {name}")


def finish(conn, opts: Options, out) -> None:
    """``trace_end``: indexes for calls, then the tables nothing went into are dropped."""
    conn.execute("END TRANSACTION")
    printdate(out, "Adding indexes")
    if opts.calls:
        conn.execute("CREATE INDEX pcpid_idx ON calls (parent_call_path_id)")
        conn.execute("CREATE INDEX pid_idx ON calls (parent_id)")
        conn.execute("ALTER TABLE comms ADD has_calls boolean")
        conn.execute("UPDATE comms SET has_calls = 1 WHERE comms.id IN (SELECT DISTINCT comm_id FROM calls)")
    printdate(out, "Dropping unused tables")
    if _is_empty(conn, "ptwrite"):
        _drop(conn, "ptwrite")
    if all(_is_empty(conn, t) for t in ("mwait", "pwre", "exstop", "pwrx")):
        conn.execute("DROP VIEW power_events_view")
        for t in ("mwait", "pwre", "exstop", "pwrx"):
            _drop(conn, t)
        if _is_empty(conn, "cbr"):
            _drop(conn, "cbr")
    if _is_empty(conn, "context_switches"):
        _drop(conn, "context_switches")
    printdate(out, "Done")


def run_export(words: list[str], open_walk, out=None) -> int:
    """``export-to-sqlite DB [columns] [calls|callchains]``: the script's messages on ``out``."""
    out = out or sys.stdout
    try:
        opts = Options(words)
    except ValueError as exc:
        sys.stderr.write(usage_lines() + f"pyperf: {exc}\n")
        return 1
    printdate(out, "Creating database ...")
    if os.path.exists(opts.db):
        sys.stderr.write(f"{opts.db} already exists\n")
        return 1
    walk = open_walk()
    with walk:
        conn = sqlite3.connect(opts.db, isolation_level=None)
        try:
            create(conn, opts)
            printdate(out, "Writing records...")
            conn.execute("BEGIN TRANSACTION")
            _unknown_rows(conn, opts)
            exporter = Exporter(walk.session, opts, conn)
            exporter.hook()
            for sample in walk.samples():
                exporter.sample(sample)
            exporter.flush()
            finish(conn, opts, out)
        finally:
            conn.close()
    return 0


def _unknown_rows(conn, opts: Options) -> None:
    """``trace_begin``: id 0 of each table means unknown; and the branch types."""
    rows = [("selected_events", (0, "unknown")), ("machines", (0, 0, "unknown")), ("threads", (0, 0, 0, -1, -1)),
            ("comms", (0, "unknown", 0, 0, 0)), ("dsos", (0, 0, "unknown", "unknown", "")),
            ("symbols", (0, 0, 0, 0, 0, "unknown")),
            ("samples", (0,) * (21 if opts.branches else 25))]
    if opts.calls or opts.callchains:
        rows.append(("call_paths", (0, 0, 0, 0)))
    if opts.calls:
        rows.append(("calls", (0,) * 14))
    for table, values in rows + [("branch_types", bt) for bt in branch_types()]:
        conn.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(values))})", values)
