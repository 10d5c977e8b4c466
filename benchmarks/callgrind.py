"""Deterministic perf gate: instructions executed inside redispool's compiled code for
fixed parse, pack, slot-array, pool and command workloads, counted by valgrind's callgrind and
compared with the committed baseline (``callgrind_baseline.json``). Runner noise does not
move these counts, so a change of more than ``--tolerance`` (5 %) means the code changed.

    python benchmarks/callgrind.py            # compare with the baseline (exit 1 if worse)
    python benchmarks/callgrind.py --update   # record a new baseline
    python benchmarks/callgrind.py --update command_get   # re-record one workload
    python benchmarks/callgrind.py --jobs 1   # one valgrind at a time (default: a CPU each)

Only instructions inside redispool's Cython entry points are counted (callgrind's
``--toggle-collect``), so interpreter start-up and the Python driving code do not count;
user-space code they call (libc's ``recv`` wrapper) counts, the kernel's side of a
syscall does not. The command workloads (``command_*``) count everything inside the
fused command path's entry point (``execute_command``, ``run_pipeline``,
``run_transaction``, or the pipeline's queueing ``pipeline_command``, of ``_command_c``),
the redis-py code, pool, packer and parser it calls included, against an in-memory
scripted server (``ScriptedSocket`` below). The asyncio command workloads (``acommand_*``:
``redispool.asyncio.Redis``, one command at a time, auto-pipelined, a pipeline, a
transaction) count everything inside the body of ``_acommand_c``'s coroutine
(``execute_command``, ``run_pipeline`` or ``run_transaction``; each resumption by the
event loop is a call of it) and inside the ``Lane`` methods the event loop calls
(``data_received``, ``flush``), against an in-memory transport (``ScriptedTransport``);
the event loop and the tasks driving them do not count.
The pool workloads (``pool_checkout``, ``pool_checkout_blocking``, ``apool_checkout``)
count all of a loop of checkouts and releases, the pools' Python-level ``get_connection``
and ``release`` and the interpreter running them included: the loop runs inside one call
of a C function of the interpreter (``PyOS_FSPath``, see ``_counted``), collection
toggled on it. The counts are the same in every run of one build and script. CPython's
type attribute lookups are left out (``TYPE_LOOKUP``): their cost follows the memory
layout (this script's text or path, what the imports leave on the heap), which moved
command_pipeline by 18 % between two checkouts of one build; without them, every workload
stays within about 1 % there.
The workloads import the ``redispool`` of the checkout this script is in (its parent
directory goes first on ``PYTHONPATH``), not an editable install's; the asyncio ones find
the C function of their coroutine's body in the C Cython generated for that build
(``src_c/_acommand_c.c``).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "callgrind_baseline.json"
COLLECT = "__pyx_pw_9redispool*"  # every Python-callable function of the compiled twins
# callgrind's --toggle-collect flips collection at each entry and exit of a matching
# function, so a command workload names its entry point alone (the packer, Reader and
# slot array it calls then count too, instead of toggling collection off)
COMMAND_COLLECT = "__pyx_pw_9redispool_10_command_c_*{}"
# an asyncio command workload names its entry coroutine's body and the functions called
# outside it, each exactly, as the C Cython generated for the build names them: a pattern
# ending in * would match the body's ".cold" part too, which a jump reaches (callgrind
# counts a jump into another function as a call), and two patterns with the same text
# before a * do not both take effect (callgrind 3.19 keeps the last). One call nests: a
# shared lane's first flush, from Lane.attach when the lane opens inside execute_command,
# toggles collection off while it runs (about 10,000 instructions, once per lane); the
# event loop's flushes, the rest, count.
ACOMMAND_PREFIX = "9redispool_11_acommand_c_"


def workload(name: str) -> None:
    """The fixed work measured, run inside valgrind."""
    from redispool import _pack_c, _reader_c, _slots_c
    from redispool._workloads import SHAPES
    from redispool.slot_codes import OPAQUE_SOCKET

    _settle()
    if name.startswith("parse_"):
        data, _ = SHAPES[name.removeprefix("parse_")]
        reader = _reader_c.Reader()
        reader.feed(data)
        while reader.gets() is not False:
            pass
    elif name == "pack_small":
        pack = _pack_c.Packer().pack
        for i in range(2_000):
            pack("SET", f"key:{i}", "value", "EX", 60)
    elif name == "pack_hset":
        pack = _pack_c.Packer().pack
        args = [x for i in range(100) for x in (f"f{i}", i)]
        for _ in range(50):
            pack("HSET", "hash", *args)
    elif name == "slots_cycle":
        _slots_cycle(_slots_c.SlotArray(64, check_after=3600.0), OPAQUE_SOCKET)
    elif name == "slots_cycle_polled":
        # the pools' default (health_check_after=0): every acquire peeks at a real socket
        mine, _peer = socket.socketpair()
        _slots_cycle(_slots_c.SlotArray(64, check_after=0.0), mine.fileno())
    elif name == "slots_stats":
        _slots_stats(_slots_c.SlotArray(64, check_after=3600.0))
    elif name in POOL_WORKLOADS:
        _pool_checkout(name)
    elif name.startswith("command_"):
        _command(name)
    elif name.startswith("acommand_"):
        _acommand(name)
    else:
        raise SystemExit(f"unknown workload {name}")


def _settle() -> None:
    """Collect, then freeze what is left: the collector's passes that land in the counted
    calls (allocations there trigger them) see the objects the workload made from now on,
    the same each run, not the rest of the heap (imports, this script), which changes with
    unrelated commits."""
    import gc

    gc.collect()
    gc.freeze()


WORKLOADS = (
    "parse_small_bulks",
    "parse_array_10k",
    "parse_resp3_maps",
    "parse_integers",
    "pack_small",
    "pack_hset",
    "slots_cycle",
    "slots_cycle_polled",
    "slots_stats",
    "pool_checkout",
    "pool_checkout_blocking",
    "apool_checkout",
    "command_get",
    "command_pipeline",
    "command_queue",
    "command_transaction",
    "acommand_get",
    "acommand_auto",
    "acommand_pipeline",
    "acommand_transaction",
)

#: the pool each pool workload checks connections out of and back in, 5,000 times, all of
#: it counted (the Python-level ``get_connection``/``release`` and the interpreter running
#: them): the loop runs inside ``PyOS_FSPath`` (see ``_counted``)
POOL_WORKLOADS = {
    "pool_checkout": "redispool.ConnectionPool",
    "pool_checkout_blocking": "redispool.BlockingConnectionPool",
    "apool_checkout": "redispool.asyncio.ConnectionPool",
}
#: the C function the pool workloads' loops run in: no checkout or release calls it
POOL_COLLECT = "PyOS_FSPath"
POOL_CYCLES = 5_000
#: the least a pool workload counts per cycle (4,100 to 7,700 on CPython 3.11): less means
#: the loop did not run inside ``POOL_COLLECT`` as callgrind sees it
POOL_FLOOR = 1_000

#: the compiled entry point each command workload is counted in
COMMAND_ENTRY = {
    "command_get": "execute_command",
    "command_pipeline": "run_pipeline",
    "command_queue": "pipeline_command",
    "command_transaction": "run_transaction",
}

#: the compiled code each asyncio command workload is counted in: the body of its entry
#: coroutine of ``_acommand_c``, and the functions of ``_acommand_c`` the event loop
#: (``Lane``'s) or the driving code (``pipeline_command``: queueing) calls outside it
ACOMMAND_ENTRY: dict[str, tuple[str, tuple[str, ...]]] = {
    "acommand_get": ("execute_command", ("Lane.data_received", "Lane.flush")),
    "acommand_auto": ("execute_command", ("Lane.data_received", "Lane.flush")),
    "acommand_pipeline": ("run_pipeline", ("pipeline_command", "Lane.data_received")),
    "acommand_transaction": ("run_transaction", ("pipeline_command", "Lane.data_received")),
}


def _command(name: str) -> None:
    """``redispool.Redis`` on a scripted in-memory server (RESP3), its connection made
    beforehand: 2,000 GETs through ``execute_command``, or 10 pipelines of 1,000 GETs
    (``run_pipeline``; ``command_queue``: their queueing, ``pipeline_command``), or 10
    MULTI/EXEC transactions of 1,000 GETs (``run_transaction``)."""
    from redispool import _command_c, _impl
    from redispool.client import Redis
    from redispool.pool import ConnectionPool

    assert _impl.execute_command is _command_c.execute_command, "the compiled command path"
    pool = ConnectionPool(connection_class=_scripted_connection(), protocol=3)
    pool.release(pool.get_connection())  # connected outside the counted calls
    r = Redis(connection_pool=pool)
    _settle()
    if name == "command_get":
        get = r.execute_command
        for _ in range(2_000):
            assert get("GET", GET_KEY) == GET_VALUE
    elif name in ("command_pipeline", "command_queue", "command_transaction"):
        for _ in range(10):
            pipe = r.pipeline(transaction=name == "command_transaction")
            for _ in range(1_000):
                pipe.execute_command("GET", GET_KEY)
            assert pipe.execute() == [GET_VALUE] * 1_000
    else:
        raise SystemExit(f"unknown workload {name}")


GET_KEY = "bench:k"
GET_VALUE = b"v" * 100

#: what the scripted server answers, by a marker in the command sent (its name, or for
#: CLIENT its subcommand), the first marker found deciding: GET and SET, and redis-py's
#: RESP3 handshake
SCRIPT: dict[bytes, bytes] = {
    b"GET": b"$%d\r\n%s\r\n" % (len(GET_VALUE), GET_VALUE),
    b"SET": b"+OK\r\n",
    b"HELLO": b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n",
    b"MAINT_NOTIFICATIONS": b"-ERR unknown subcommand 'MAINT_NOTIFICATIONS'\r\n",
    b"SETINFO": b"+OK\r\n",
}
#: how a MULTI/EXEC transaction's send begins and ends (redis-py packs them so)
MULTI = b"*1\r\n$5\r\nMULTI\r\n"
EXEC = b"*1\r\n$4\r\nEXEC\r\n"


class Script:
    """The scripted server behind ``ScriptedSocket`` and ``ScriptedTransport``: each
    send's commands are answered with the reply the first marker found maps to in
    ``replies``, one per command (the commands of one send alike, as a pipeline of GETs:
    a ``count`` and a copy, so the server's share of the counted instructions is small).
    A send beginning with MULTI opens a transaction, answered per command as a server
    does: ``+OK``, ``+QUEUED`` for each command queued (in this send or the next ones),
    and at EXEC (ending a send) the array of their replies. Nothing waits and nothing
    depends on timing, so a command costs the same instructions in every run."""

    #: in a transaction: the replies EXEC will send, and how many
    _queued: list[bytes] | None = None
    _queued_count = 0

    def __init__(self, replies: dict[bytes, bytes] = SCRIPT) -> None:
        self._replies = [(b"\r\n" + marker + b"\r\n", reply) for marker, reply in replies.items()]

    def _transaction(self, data: Any) -> tuple[bytes, int]:
        """The replies to a send inside a transaction (or opening one), and how many."""
        out: list[bytes] = []
        if data.startswith(MULTI):
            data = data[len(MULTI) :]
            self._queued, self._queued_count = [], 0
            out.append(b"+OK\r\n")
        queued = self._queued
        assert queued is not None, "EXEC without MULTI"
        executes = data.endswith(EXEC)
        if executes:
            data = data[: -len(EXEC)]
        count = 0
        for marker, reply in self._replies:
            count = data.count(marker)
            if count:
                out.append(b"+QUEUED\r\n" * count)
                queued.append(reply * count)
                self._queued_count += count
                break
        replies = len(out) - (count > 0) + count  # +OK, a +QUEUED per command
        if executes:
            out.append(b"*%d\r\n" % self._queued_count)
            out += queued
            self._queued = None
            replies += 1
        return b"".join(out), replies


class ScriptedSocket(Script):
    """An in-memory socket with a ``Script`` server behind it: ``recv_into`` hands its
    replies back. ``fileno`` is an idle socketpair end's: the pools' checkout peek is a
    real syscall."""

    def __init__(self, replies: dict[bytes, bytes] = SCRIPT) -> None:
        super().__init__(replies)
        self._pending = bytearray()
        self._mine, self._peer = socket.socketpair()

    def sendall(self, data: Any) -> None:
        if self._queued is not None or data.startswith(MULTI):
            self._pending += self._transaction(data)[0]
            return
        for marker, reply in self._replies:
            count = data.count(marker)
            if count:
                self._pending += reply * count
                return

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        pending = self._pending
        if not pending:  # a real socket would wait forever
            raise AssertionError("the scripted server has no reply to send")
        size = min(nbytes or len(buffer), len(pending))
        buffer[:size] = pending[:size]
        del pending[:size]
        return size

    def recv(self, size: int, flags: int = 0) -> bytes:
        data = bytes(self._pending[:size])
        if not flags & socket.MSG_PEEK:
            del self._pending[:size]
        return data

    def fileno(self) -> int:
        return self._mine.fileno()

    def settimeout(self, timeout: float | None) -> None:
        pass

    def gettimeout(self) -> float | None:
        return None

    def setsockopt(self, *args: Any) -> None:
        pass

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        self._mine.close()
        self._peer.close()


def _scripted_connection() -> type:
    """redis-py's ``Connection`` on a ``ScriptedSocket``: only ``_connect`` differs, so
    ``redispool.Redis`` takes its fused path on it."""
    from redis.connection import Connection

    class ScriptedConnection(Connection):
        def _connect(self) -> ScriptedSocket:
            return ScriptedSocket()

    return ScriptedConnection


def _acommand(name: str) -> None:
    """``redispool.asyncio.Redis`` on a scripted in-memory server (RESP3), its connections
    made beforehand: 2,000 GETs awaited one after the other through ``execute_command``
    (a lane per command), 50 tasks of 40 GETs each on an ``auto_pipeline=True`` client
    (sharing lanes), 10 pipelines of 1,000 GETs through ``run_pipeline``, or 10 MULTI/EXEC
    transactions of 1,000 GETs through ``run_transaction``. Each checks its replies, and
    that every reply went to a ``Lane`` (the fused path)."""
    from redispool import _acommand_c, _impl
    from redispool.asyncio import ConnectionPool, Redis

    assert _impl.async_execute_command is _acommand_c.execute_command, "the compiled path"
    assert _impl.async_run_pipeline is _acommand_c.run_pipeline
    tasks, gets = (50, 40) if name == "acommand_auto" else (1, 2_000)

    async def main() -> int:
        # no socket_timeout (redis.asyncio's default is 5 s): a lane would arm a timer,
        # and the cost of the timer heap depends on what the clock let expire
        pool = ConnectionPool(
            connection_class=_scripted_aconnection(), protocol=3, socket_timeout=None
        )
        # connected outside the counted calls, as many as the workload's tasks use
        conns = [await pool.get_connection() for _ in range(tasks)]
        for conn in conns:
            await pool.release(conn)
        r = Redis(connection_pool=pool, auto_pipeline=name == "acommand_auto")
        ScriptedTransport.seen.clear()
        # the collector's passes that land in the counted calls see the workload's own
        # objects only, each time: not the rest of the heap (imports, the event loop)
        _settle()
        if name in ("acommand_pipeline", "acommand_transaction"):
            for _ in range(10):
                pipe = r.pipeline(transaction=name == "acommand_transaction")
                for _ in range(1_000):
                    pipe.execute_command("GET", GET_KEY)
                assert await pipe.execute() == [GET_VALUE] * 1_000
            # a transaction's replies: MULTI's, a QUEUED per GET, and EXEC's array
            expected = 10_000 if name == "acommand_pipeline" else 10 * 1_002
        else:
            get = r.execute_command

            async def worker() -> None:
                for _ in range(gets):
                    assert await get("GET", GET_KEY) == GET_VALUE

            await asyncio.gather(*(worker() for _ in range(tasks)))
            expected = tasks * gets
        seen = dict(ScriptedTransport.seen)
        await pool.disconnect()
        assert seen.get("replies to lanes") == expected, seen
        return seen["lanes"]

    lanes = asyncio.run(main())
    if name == "acommand_auto":
        assert lanes * 10 <= tasks * gets, f"{lanes} lanes: the GETs were not shared"


class ScriptedTransport(Script, asyncio.Transport):
    """An in-memory asyncio transport with a ``Script`` server behind it, as
    ``ScriptedSocket``: every write's replies are handed to the protocol the transport has
    then (``set_protocol``: a ``Lane`` takes it over while replies are owed) in one
    ``data_received`` called by the event loop, as a socket read would be. ``seen`` counts
    the lanes set as protocol and the replies that went to one."""

    seen: ClassVar[Counter[str]] = Counter()

    def __init__(self, loop: Any, protocol: Any, replies: dict[bytes, bytes] = SCRIPT) -> None:
        Script.__init__(self, replies)
        asyncio.Transport.__init__(self)
        from redispool._acommand_c import Lane

        self._lane_class = Lane
        self._loop = loop
        self._protocol = protocol
        self._pending = bytearray()
        self._owed = 0
        self._closing = False

    def write(self, data: Any) -> None:
        if self._queued is not None or data.startswith(MULTI):
            reply, count = self._transaction(data)
            if count:
                if not self._pending:
                    self._loop.call_soon(self._deliver)
                self._pending += reply
                self._owed += count
            return
        for marker, reply in self._replies:
            count = data.count(marker)
            if count:
                if not self._pending:
                    self._loop.call_soon(self._deliver)
                self._pending += reply * count
                self._owed += count
                return

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def _deliver(self) -> None:
        data = bytes(self._pending)
        self._pending.clear()
        if isinstance(self._protocol, self._lane_class):
            self.seen["replies to lanes"] += self._owed
        self._owed = 0
        self._protocol.data_received(data)

    def set_protocol(self, protocol: Any) -> None:
        if isinstance(protocol, self._lane_class):
            self.seen["lanes"] += 1
        self._protocol = protocol

    def get_protocol(self) -> Any:
        return self._protocol

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def is_reading(self) -> bool:
        return not self._closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _scripted_aconnection() -> type:
    """redis.asyncio's ``Connection`` on a ``ScriptedTransport``: only ``_connect``
    differs, so ``redispool.asyncio.Redis`` takes its fused path on it."""
    from redis.asyncio.connection import Connection

    class ScriptedAConnection(Connection):
        async def _connect(self) -> None:
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader(loop=loop)
            protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
            transport = ScriptedTransport(loop, protocol)
            protocol.connection_made(transport)
            self._reader = reader
            self._writer = asyncio.StreamWriter(transport, protocol, reader, loop)

    return ScriptedAConnection


def collect(name: str) -> tuple[str, ...]:
    """The functions whose entry and exit toggle collection for workload ``name`` (one
    ``--toggle-collect`` each)."""
    if name in POOL_WORKLOADS:
        return (POOL_COLLECT,)
    if name in ACOMMAND_ENTRY:
        entry, functions = ACOMMAND_ENTRY[name]
        text = _acommand_source().read_text()
        return (coroutine_body(entry, text), *(wrapper(f, text) for f in functions))
    if name in COMMAND_ENTRY:
        return (COMMAND_COLLECT.format(COMMAND_ENTRY[name]),)
    return (COLLECT,)


class NotBuilt(SystemExit):
    """The functions to count cannot be named for this build."""


def _acommand_source() -> Path:
    """The C Cython generated for the ``_acommand_c`` the workloads import (found by a
    process with their ``PYTHONPATH``: this script may be a copy outside the checkout),
    next to it in an in-place build."""
    found = subprocess.run(
        [sys.executable, "-c", "import redispool._acommand_c as m; print(m.__file__)"],
        check=True,
        capture_output=True,
        env=_environment(),
    )
    module = Path(found.stdout.decode().strip())
    source = module.parent.parent / "src_c" / "_acommand_c.c"
    if not source.exists() or source.stat().st_mtime > module.stat().st_mtime:
        raise NotBuilt(f"{source} is missing or newer than {module}: build it in place")
    return source


def coroutine_body(name: str, text: str) -> str:
    """The C function that runs the body of ``_acommand_c``'s coroutine ``name`` (each
    resumption is a call of it) in the generated C ``text``: it is numbered by its place
    in the module, not named after the coroutine."""
    found = re.findall(
        rf"__Pyx_Coroutine_New\(\(__pyx_coroutine_body_t\) (__pyx_gb_{ACOMMAND_PREFIX}\w+), "
        rf"[^,]+, [^,]+, (?:__pyx_mstate_global->)?__pyx_n_[su]_{name},",
        text,
    )
    if len(set(found)) != 1:
        raise NotBuilt(f"no single coroutine {name} in _acommand_c's C: {found}")
    return str(found[0])


def wrapper(name: str, text: str) -> str:
    """The C function Python calls for ``_acommand_c``'s function ``name`` (``Class.method``
    for a method), in the generated C ``text`` (its name holds a number too)."""
    owner, _, function = name.rpartition(".")
    scope = f"{len(owner)}{owner}_" if owner else ""
    found: set[str] = set(
        re.findall(rf"\b(__pyx_pw_{ACOMMAND_PREFIX}{scope}\d+{function})\(", text)
    )
    if len(found) != 1:
        raise NotBuilt(f"no single function {name} in _acommand_c's C: {sorted(found)}")
    return found.pop()


def _slots_cycle(slots: Any, fd: int) -> None:
    """8 connections, then 5,000 acquire/release pairs (``fd``: the socket to peek at)."""
    conns = [object() for _ in range(8)]
    for conn in conns:
        _, slot = slots.checkout()
        slots.fill(slot, conn)
    for conn in conns:
        slots.release(conn, fd)
    for _ in range(5_000):
        conn = slots.acquire()
        assert conn is not None
        slots.release(conn, fd)


def _slots_stats(slots: Any) -> None:
    """The slot array's metrics, as a pool with ``redispool.metrics`` on records and reads
    them: 5,000 waits as ``BlockingConnectionPool._wait`` makes one when every connection
    is lent (``wait_begin``, a checkout finding the array full, ``wait_end`` with the time
    waited, every tenth one timed out), their times spread over every bucket of the
    wait-time histogram; then 1,000 ``stats()`` (each Prometheus scrape takes one per
    pool) of a full array of 64 connections, 16 idle, 8 of those with a closed socket."""
    from redispool.slot_codes import FULL, NO_SOCKET, OPAQUE_SOCKET
    from redispool.stats import WAIT_BUCKETS

    conns = [object() for _ in range(64)]
    for conn in conns:
        _, slot = slots.checkout()
        slots.fill(slot, conn)
    idle = conns[:16]
    fds = [NO_SOCKET if i % 2 else OPAQUE_SOCKET for i in range(len(idle))]
    for conn, fd in zip(idle, fds, strict=True):
        slots.release(conn, fd)
    for _ in idle:  # every connection lent: a checkout waits
        assert slots.acquire() is not None
    waited = [bound * 0.9 for bound in WAIT_BUCKETS] + [WAIT_BUCKETS[-1] * 2]
    for i in range(5_000):
        slots.wait_begin()
        code, _ = slots.checkout()
        assert code == FULL
        slots.wait_end(waited[i % len(waited)], i % 10 == 9)
    for conn, fd in zip(idle, fds, strict=True):
        slots.release(conn, fd)
    for _ in range(1_000):
        stats = slots.stats()
    assert stats.waits == 5_000 and stats.timeouts == 500 and stats.idle_closed == 8, stats
    assert sum(stats.wait_buckets) == 5_000 and all(stats.wait_buckets), stats


def _counted(loop: Any) -> None:
    """Run ``loop()`` inside the C function ``POOL_COLLECT`` (``PyOS_FSPath``), which the
    pool workloads toggle collection on: ``os.fspath`` calls it with its argument, which
    calls that object's ``__fspath__``, here one that runs the loop; so every instruction
    of the loop counts, the interpreter's included, and nothing before or after it (but
    the interpreter's own few calls of ``PyOS_FSPath`` on str paths while importing,
    about 6,000 instructions). Nothing a checkout or release runs calls it. Not called
    through ctypes: callgrind does not see libffi's call into it as a call (its
    trampoline has no symbol), so it would never toggle. A build that inlines it into
    ``os.fspath`` counts next to nothing, which ``measure`` rejects (``POOL_FLOOR``)."""
    ran = []

    class Loop:
        def __fspath__(self) -> str:
            loop()
            ran.append(True)
            return "counted"

    assert os.fspath(Loop()) == "counted" and ran == [True]


def _pool_checkout(name: str) -> None:
    """``POOL_CYCLES`` checkouts and releases (``release(get_connection())``; asyncio:
    ``await release(await get_connection())`` in one coroutine, run to completion by the
    event loop) of one connection, made and connected beforehand to a scripted server
    (RESP3), so each checkout takes the pool's fast path (an idle connection, its socket
    peeked at: the pools' default health check). Only the loop is counted (``_counted``)."""
    from redispool import _impl, _slots_c

    assert _impl.SlotArray.__module__ == _slots_c.__name__, "the compiled slot array"
    if name == "apool_checkout":
        _apool_checkout()
        return
    import redispool

    pool_class = getattr(redispool, POOL_WORKLOADS[name].rpartition(".")[2])
    pool = pool_class(connection_class=_scripted_connection(), protocol=3)
    first = pool.get_connection()  # connected outside the counted loop
    pool.release(first)
    get, release = pool.get_connection, pool.release

    def loop() -> None:
        for _ in range(POOL_CYCLES):
            release(get())

    _settle()
    _counted(loop)
    stats = pool.stats()
    assert pool.get_connection() is first and stats.hits == POOL_CYCLES, stats


def _apool_checkout() -> None:
    """``apool_checkout``: the asyncio pool's cycles, as ``_pool_checkout``'s."""
    from redispool.asyncio import ConnectionPool

    loop = asyncio.new_event_loop()

    async def connect() -> tuple[Any, Any]:
        pool = ConnectionPool(
            connection_class=_scripted_aconnection(), protocol=3, socket_timeout=None
        )
        conn = await pool.get_connection()  # connected outside the counted loop
        await pool.release(conn)
        return pool, conn

    pool, first = loop.run_until_complete(connect())
    get, release = pool.get_connection, pool.release

    async def cycles() -> None:
        for _ in range(POOL_CYCLES):
            await release(await get())

    _settle()
    _counted(lambda: loop.run_until_complete(cycles()))
    stats = pool.stats()
    assert stats.hits == POOL_CYCLES and stats.misses == 1, stats
    assert loop.run_until_complete(get()) is first
    loop.run_until_complete(pool.disconnect())
    loop.close()


def _pythonpath() -> str:
    """This checkout first, so the workloads measure its build (the script's own directory,
    not the checkout, is what Python puts on ``sys.path``)."""
    rest = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(HERE.parent)] + ([rest] if rest else []))


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": _pythonpath()}


#: CPython's type attribute lookup (``_PyType_Lookup``; ``_PyType_LookupRef`` where it
#: exists): its cost depends on the memory layout, not on the code. Its cache is indexed by
#: the address of the attribute's name, so a layout that collides more often walks the MRO
#: more often: 13.4M against 20.2M instructions of command_pipeline's 66M-73M, the same
#: build run from two checkouts. The count leaves these calls out (both runs: 52.8M-53.0M).
TYPE_LOOKUP = frozenset({"_PyType_Lookup", "_PyType_LookupRef"})
_NAMED = re.compile(r"\((\d+)\)(?: (.*))?")


def type_lookups(text: str) -> int:
    """Instructions callgrind's output ``text`` counted inside calls of ``TYPE_LOOKUP``
    functions from any other function (inclusive: what they call counts too)."""
    names: dict[str, str] = {}  # fn and cfn share one table of compressed names
    caller = callee = ""
    total = 0
    after_calls = False
    for line in text.splitlines():
        if after_calls:  # the line after ``calls=``: position(s), then the inclusive cost
            after_calls = False
            if callee in TYPE_LOOKUP and caller not in TYPE_LOOKUP:
                total += int(line.split()[-1])
        elif line.startswith(("fn=", "cfn=")):
            key, _, rest = line.partition("=")
            match = _NAMED.match(rest)
            name = rest
            if match is not None:
                if match.group(2) is not None:
                    names[match.group(1)] = match.group(2)
                name = names.get(match.group(1), "")
            if key == "fn":
                caller = name
            else:
                callee = name
        elif line.startswith("calls="):
            after_calls = True
    return total


def measure(name: str) -> int:
    """Instructions (Ir) callgrind counted inside redispool for one workload."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)")
    functions = collect(name)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                *(f"--toggle-collect={function}" for function in functions),
                sys.executable,
                __file__,
                "--run",
                name,
            ],
            check=True,
            capture_output=True,
            env=_environment(),
        )
        text = Path(out).read_text()
    match = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"no instruction total in callgrind's output for {name}")
    count = int(match.group(1)) - type_lookups(text)
    if not count:  # a renamed entry point would pass the gate at zero
        raise SystemExit(f"{name}: nothing counted; are {functions} compiled functions?")
    if name in POOL_WORKLOADS and count < POOL_CYCLES * POOL_FLOOR:
        raise SystemExit(
            f"{name}: {count:,} instructions counted, too few for {POOL_CYCLES:,} cycles: "
            f"callgrind did not see the loop run inside {POOL_COLLECT} (inlined?)"
        )
    return count


def compare(
    measured: dict[str, int], baseline: dict[str, int], tolerance: float, new_ok: bool = False
) -> list[str]:
    """Failures: workloads that run more than ``tolerance`` more instructions than the
    baseline, or that have no baseline (unless ``new_ok``: new since the baseline's commit)."""
    failures = []
    for name, count in measured.items():
        base = baseline.get(name)
        if base is None:
            if not new_ok:
                failures.append(f"{name}: no baseline (run with --update {name})")
        elif count > base * (1 + tolerance):
            failures.append(
                f"{name}: {count:,} instructions, {count / base - 1:+.1%} vs {base:,} "
                f"({count / base:.3f}x baseline, max {1 + tolerance:.2f}x)"
            )
    return failures


def measure_all(
    names: list[str], jobs: int, costs: dict[str, int] | None = None
) -> dict[str, int | Exception]:
    """``measure`` each workload, ``jobs`` valgrind processes at a time (the counts do not
    depend on what else runs); a workload's exception in place of its count. In the order
    of ``names``; started costliest first by ``costs`` (the baseline's counts; those it
    lacks first of all), so that no long run starts last."""
    costs = costs or {}
    started = sorted(names, key=lambda name: -costs.get(name, sys.maxsize))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        submitted = {name: pool.submit(measure, name) for name in started}
        concurrent.futures.wait(submitted.values())
    futures = {name: submitted[name] for name in names}
    out: dict[str, int | Exception] = {}
    for name, future in futures.items():
        error = future.exception()
        if error is not None and not isinstance(error, Exception):
            raise error  # KeyboardInterrupt
        out[name] = future.result() if error is None else error
    return out


def update(path: Path, names: list[str], keep: bool, jobs: int = 1) -> None:
    """Measure ``names`` into the baseline at ``path``, keeping its other entries if
    ``keep``. A workload that does not run on this build (CI records the baseline on the
    base commit, which may predate it) is left out, and said so."""
    old = json.loads(path.read_text()) if path.exists() else {}
    counts = dict(old) if keep else {}
    for name, result in measure_all(names, jobs, old).items():
        try:
            if isinstance(result, Exception):
                raise result
            counts[name] = result
        except subprocess.CalledProcessError as exc:
            counts.pop(name, None)
            last = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
            print(f"{name}: does not run on this build, left out ({''.join(last)})")
        except NotBuilt as exc:
            counts.pop(name, None)
            print(f"{name}: does not run on this build, left out ({exc})")
    ordered = {name: counts[name] for name in WORKLOADS if name in counts}
    path.write_text(json.dumps(ordered, indent=2) + "\n")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument(
        "workloads",
        nargs="*",
        metavar="WORKLOAD",
        help=f"measure only these (default: all: {', '.join(WORKLOADS)}); with --update, "
        "the baseline's other entries are kept",
    )
    parser.add_argument("--update", action="store_true", help="write a new baseline")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="valgrind processes run at a time (default: the CPU count, %(default)s here)",
    )
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument(
        "--baseline",
        type=Path,
        default=BASELINE,
        help="baseline file (CI: one made from the base commit)",
    )
    parser.add_argument(
        "--new-ok",
        action="store_true",
        help="show a workload the baseline lacks as new instead of failing (CI: a workload "
        "added since the base commit)",
    )
    args = parser.parse_args(argv)
    if args.run:
        workload(args.run)
        return 0
    unknown = [name for name in args.workloads if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)} (known: {', '.join(WORKLOADS)})")
    names = args.workloads or list(WORKLOADS)
    if args.update:
        update(args.baseline, names, keep=bool(args.workloads), jobs=args.jobs)
        return 0
    baseline = json.loads(args.baseline.read_text())
    measured = {}
    for name, result in measure_all(names, args.jobs, baseline).items():
        if isinstance(result, Exception):
            raise result
        measured[name] = result
    for name, count in measured.items():
        base = baseline.get(name)
        change = f"{count / base - 1:+.2%}" if base else "new"
        print(f"{name:<22}{count:>14,} instructions  {change}")
    failures = compare(measured, baseline, args.tolerance, args.new_ok)
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
