"""Deterministic perf gate: instructions executed inside redispool's compiled code for
fixed parse, pack, slot-array and command workloads, counted by valgrind's callgrind and
compared with the committed baseline (``callgrind_baseline.json``). Runner noise does not
move these counts, so a change of more than ``--tolerance`` (5 %) means the code changed.

    python benchmarks/callgrind.py            # compare with the baseline (exit 1 if worse)
    python benchmarks/callgrind.py --update   # record a new baseline
    python benchmarks/callgrind.py --update command_get   # re-record one workload

Only instructions inside redispool's Cython entry points are counted (callgrind's
``--toggle-collect``), so interpreter start-up and the Python driving code do not count;
user-space code they call (libc's ``recv`` wrapper) counts, the kernel's side of a
syscall does not. The command workloads (``command_*``) count everything inside the
fused command path's entry point (``execute_command``, ``run_pipeline`` of ``_command_c``),
the redis-py code, pool, packer and parser it calls included, against an in-memory
scripted server (``ScriptedSocket`` below). The workloads import the
``redispool`` of the checkout this script is in (its parent directory goes first on
``PYTHONPATH``), not an editable install's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "callgrind_baseline.json"
COLLECT = "__pyx_pw_9redispool*"  # every Python-callable function of the compiled twins
# callgrind's --toggle-collect flips collection at each entry and exit of a matching
# function, so a command workload names its entry point alone (the packer, Reader and
# slot array it calls then count too, instead of toggling collection off)
COMMAND_COLLECT = "__pyx_pw_9redispool_10_command_c_*{}"


def workload(name: str) -> None:
    """The fixed work measured, run inside valgrind."""
    from redispool import _pack_c, _reader_c, _slots_c
    from redispool._workloads import SHAPES
    from redispool.slot_codes import OPAQUE_SOCKET

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
    elif name.startswith("command_"):
        _command(name)
    else:
        raise SystemExit(f"unknown workload {name}")


WORKLOADS = (
    "parse_small_bulks",
    "parse_array_10k",
    "parse_resp3_maps",
    "parse_integers",
    "pack_small",
    "pack_hset",
    "slots_cycle",
    "slots_cycle_polled",
    "command_get",
    "command_pipeline",
)

#: the compiled entry point each command workload is counted in
COMMAND_ENTRY = {"command_get": "execute_command", "command_pipeline": "run_pipeline"}


def _command(name: str) -> None:
    """``redispool.Redis`` on a scripted in-memory server (RESP3), its connection made
    beforehand: 2,000 GETs through ``execute_command``, or 10 pipelines of 1,000 GETs through
    ``run_pipeline``."""
    from redispool import _command_c, _impl
    from redispool.client import Redis
    from redispool.pool import ConnectionPool

    assert _impl.execute_command is _command_c.execute_command, "the compiled command path"
    pool = ConnectionPool(connection_class=_scripted_connection(), protocol=3)
    pool.release(pool.get_connection())  # connected outside the counted calls
    r = Redis(connection_pool=pool)
    if name == "command_get":
        get = r.execute_command
        for _ in range(2_000):
            assert get("GET", GET_KEY) == GET_VALUE
    elif name == "command_pipeline":
        for _ in range(10):
            pipe = r.pipeline(transaction=False)
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


class ScriptedSocket:
    """An in-memory socket with a server behind it: every command sent is answered with
    the reply the first marker found maps to in ``replies`` (all the commands of one send
    alike, as a pipeline of GETs), and ``recv_into`` hands those bytes back. Nothing waits
    and nothing depends on timing, so a command costs the same instructions in every run,
    and the server's share of them is small (a ``count`` and a copy). ``fileno`` is an idle
    socketpair end's: the pools' checkout peek is a real syscall."""

    def __init__(self, replies: dict[bytes, bytes] = SCRIPT) -> None:
        self._replies = [(b"\r\n" + marker + b"\r\n", reply) for marker, reply in replies.items()]
        self._pending = bytearray()
        self._mine, self._peer = socket.socketpair()

    def sendall(self, data: Any) -> None:
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


def collect(name: str) -> str:
    """The functions whose entry and exit toggle collection for workload ``name``."""
    entry = COMMAND_ENTRY.get(name)
    return COLLECT if entry is None else COMMAND_COLLECT.format(entry)


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


def _pythonpath() -> str:
    """This checkout first, so the workloads measure its build (the script's own directory,
    not the checkout, is what Python puts on ``sys.path``)."""
    rest = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(HERE.parent)] + ([rest] if rest else []))


def measure(name: str) -> int:
    """Instructions (Ir) callgrind counted inside redispool for one workload."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                f"--toggle-collect={collect(name)}",
                sys.executable,
                __file__,
                "--run",
                name,
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": _pythonpath()},
        )
        text = Path(out).read_text()
    match = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"no instruction total in callgrind's output for {name}")
    if not int(match.group(1)):  # a renamed entry point would pass the gate at zero
        raise SystemExit(f"{name}: nothing counted; is {collect(name)} a compiled function?")
    return int(match.group(1))


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
            failures.append(f"{name}: {count:,} instructions, {count / base - 1:+.1%} vs {base:,}")
    return failures


def update(path: Path, names: list[str], keep: bool) -> None:
    """Measure ``names`` into the baseline at ``path``, keeping its other entries if
    ``keep``. A workload that does not run on this build (CI records the baseline on the
    base commit, which may predate it) is left out, and said so."""
    counts = json.loads(path.read_text()) if keep and path.exists() else {}
    for name in names:
        try:
            counts[name] = measure(name)
        except subprocess.CalledProcessError as exc:
            counts.pop(name, None)
            last = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
            print(f"{name}: does not run on this build, left out ({''.join(last)})")
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
        update(args.baseline, names, keep=bool(args.workloads))
        return 0
    measured = {name: measure(name) for name in names}
    baseline = json.loads(args.baseline.read_text())
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
