"""Deterministic perf gate: instructions executed inside redispool's compiled code for
fixed parse, pack and slot-array workloads, counted by valgrind's callgrind and compared
with the committed baseline (``callgrind_baseline.json``). Runner noise does not move
these counts, so a change of more than ``--tolerance`` (5 %) means the code changed.

    python benchmarks/callgrind.py            # compare with the baseline (exit 1 if worse)
    python benchmarks/callgrind.py --update   # record a new baseline

Only instructions inside redispool's Cython entry points are counted (callgrind's
``--toggle-collect``), so interpreter start-up and the Python driving code do not count;
user-space code they call (libc's ``recv`` wrapper) counts, the kernel's side of a
syscall does not. The workloads import the ``redispool`` of the checkout this script is
in (its parent directory goes first on ``PYTHONPATH``), not an editable install's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "callgrind_baseline.json"
COLLECT = "__pyx_pw_9redispool*"  # every Python-callable function of the compiled twins


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
        import socket

        mine, _peer = socket.socketpair()
        _slots_cycle(_slots_c.SlotArray(64, check_after=0.0), mine.fileno())
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
)


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
                f"--toggle-collect={COLLECT}",
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
    return int(match.group(1))


def compare(measured: dict[str, int], baseline: dict[str, int], tolerance: float) -> list[str]:
    """Failures: workloads that run more than ``tolerance`` more instructions than the
    baseline, or that have no baseline."""
    failures = []
    for name, count in measured.items():
        base = baseline.get(name)
        if base is None:
            failures.append(f"{name}: no baseline (run with --update)")
        elif count > base * (1 + tolerance):
            failures.append(f"{name}: {count:,} instructions, {count / base - 1:+.1%} vs {base:,}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--update", action="store_true", help="write a new baseline")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument(
        "--baseline",
        type=Path,
        default=BASELINE,
        help="baseline file (CI: one made from the base commit)",
    )
    args = parser.parse_args(argv)
    if args.run:
        workload(args.run)
        return 0
    measured = {name: measure(name) for name in WORKLOADS}
    if args.update:
        args.baseline.write_text(json.dumps(measured, indent=2) + "\n")
        print(f"wrote {args.baseline}")
        return 0
    baseline = json.loads(args.baseline.read_text())
    for name, count in measured.items():
        base = baseline.get(name)
        change = f"{count / base - 1:+.2%}" if base else "new"
        print(f"{name:<22}{count:>14,} instructions  {change}")
    failures = compare(measured, baseline, args.tolerance)
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
