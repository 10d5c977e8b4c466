"""Run redis-py's own test files against private servers, stock and with redispool swapped
in (``redispool_plugin``), and compare the failures.

Three suites, each pairs of a stock run and a redispool run of the same files on the same
protocol:

- ``pools``: ``DEFAULT_FILES`` with redispool's pools and parsers as redis-py's defaults;
- ``client``: ``CLIENT_FILES`` under ``redispool.install()``, so that every ``redis.Redis``
  the tests make is a ``redispool.Redis`` on its fused command path, once per protocol
  (redis-py's ``--protocol``, 2 and 3). The plugin counts the tests that went through the
  fused path and the fallbacks to redis-py's own code made from within it, and writes them
  to ``.upstream/fused-<run>.json`` (with the summary of every run, in
  ``.upstream/redis_py.json``); a run in which no test used the fused path fails;
- ``aclient``: ``ACLIENT_FILES``, redis-py's asyncio tests, the same way (``install()``
  makes every ``redis.asyncio.Redis`` a ``redispool.asyncio.Redis``), once per protocol
  as made and once per protocol with ``auto_pipeline=True`` the default of every client
  the tests make (``$REDISPOOL_UPSTREAM_AUTO_PIPELINE``, see the plugin). A run in
  which no test went through ``redispool.asyncio.Redis.execute_command`` fails, and so does
  an auto-pipelining run in which no command went through a shared lane.

Each run's pytest output is kept in ``.upstream/logs/``.

Usage: ``python tests/upstream/redis_py.py [--suite pools|client|aclient] [--serial]
[test files...]``
(``make upstream``; files given replace the selected suites' own). The stock and the
redispool run of a pair go side by side, each on a server of its own (``--serial``: one
after the other). The server is the one ``$REDISPOOL_SERVER`` names: redis (the default),
valkey or a binary's path (``make upstream SERVER=valkey``). The tests come from the
sdist of the installed redis-py version, fetched from PyPI into ``.upstream/``; they run
from outside the sdist so that the installed redis-py is tested. Exit status 1 if any test
fails with redispool that passes stock.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import sdist

from redispool.server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUT = ROOT / ".upstream"
DEFAULT_FILES = [
    "tests/test_connection.py",
    "tests/test_parsers",
    "tests/test_encoding.py",
    "tests/test_pubsub.py",
    "tests/test_pipeline.py",
    "tests/test_connection_pool.py",
    "tests/test_max_connections_error.py",
    "tests/test_multiprocessing.py",
    "tests/test_lock.py",
    "tests/test_monitor.py",
    "tests/test_retry.py",
    "tests/test_asyncio/test_connection_pool.py",
    "tests/test_asyncio/test_pipeline.py",
    "tests/test_asyncio/test_pubsub.py",
    "tests/maint_notifications",
]
#: What the ``client`` suite runs with ``redispool.Redis`` as ``redis.Redis``.
CLIENT_FILES = [
    "tests/test_commands.py",
    "tests/test_pipeline.py",
    "tests/test_pubsub.py",
    "tests/test_lock.py",
    "tests/test_scripting.py",
    "tests/test_encoding.py",
    "tests/test_retry.py",
    "tests/test_connection.py",
]
PROTOCOLS = ("2", "3")
#: What the ``aclient`` suite runs with ``redispool.asyncio.Redis`` as ``redis.asyncio.Redis``,
#: without and with auto-pipelining.
ACLIENT_FILES = [
    "tests/test_asyncio/test_commands.py",
    "tests/test_asyncio/test_pipeline.py",
    "tests/test_asyncio/test_pubsub.py",
    "tests/test_asyncio/test_lock.py",
    "tests/test_asyncio/test_scripting.py",
]
AUTO_PIPELINE = (False, True)


#: Tests that pass stock and fail with redispool because they check how redis-py works
#: inside, not what a user of it can observe; each with the reason. Any other such test
#: fails ``make upstream``.
INTERNALS = {
    "tests/maint_notifications/test_async_maint_notifications_handling.py"
    "::test_blocking_pool_locks_get_only_during_maintenance": (
        "counts entries into the asyncio pool's lock: redis-py's release() takes it every "
        "time, redispool's only during maintenance (its slot array needs no lock), which "
        "keeps a lock round trip off every release"
    ),
}


@dataclass
class Run:
    """One pytest run: its outcome counts, the ids of the tests that failed, its time."""

    label: str
    summary: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    fused: dict[str, Any] | None = None
    log: Path | None = None  # pytest's output


def fetch_tests() -> Path:
    """redis-py's ``tests/`` and ``pyproject.toml`` for the installed version."""
    return sdist.fetch("redis", redis.__version__, extra=("pyproject.toml",))


def run(
    where: Path,
    files: list[str],
    label: str,
    plugin: bool,
    client: bool = False,
    protocol: str | None = None,
    auto_pipeline: bool = False,
) -> Run:
    """One pytest run on a server of its own."""
    result = Run(label)
    args = [sys.executable, "-m", "pytest", *files, "-m", "not onlycluster", "-q", "-rfE"]
    args += ["-p", "no:cacheprovider", "-p", "no:randomly"]
    if protocol:
        args.append(f"--protocol={protocol}")
    env = {"PYTHONPATH": f"{HERE}:{ROOT}", "PATH": "/usr/bin:/bin"}
    if "REDISPOOL_SERVER" in os.environ:
        env["REDISPOOL_SERVER"] = os.environ["REDISPOOL_SERVER"]
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    json_path = OUT / f"fused-{slug}.json"
    if plugin:
        args += ["-p", "redispool_plugin"]
    if client:
        env["REDISPOOL_UPSTREAM_CLIENT"] = "1"
        env["REDISPOOL_UPSTREAM_JSON"] = str(json_path)
        json_path.unlink(missing_ok=True)
    if auto_pipeline:
        env["REDISPOOL_UPSTREAM_AUTO_PIPELINE"] = "1"
    started = time.monotonic()
    with RedisServer() as server:
        done = subprocess.run(
            [*args, f"--redis-url={server.url}"],
            cwd=where,
            capture_output=True,
            text=True,
            env=env,
        )
    result.seconds = time.monotonic() - started
    out = done.stdout
    result.log = OUT / "logs" / (slug + ".log")
    result.log.parent.mkdir(parents=True, exist_ok=True)
    result.log.write_text(out + done.stderr)
    result.failed = set(re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.MULTILINE))
    lines = out.splitlines()
    summary = [line for line in lines if re.search(r"\d+ (passed|failed)", line)]
    result.summary = summary[-1].strip("= ") if summary else "no summary (see pytest's output)"
    result.counts = {k: int(n) for n, k in re.findall(r"(\d+) (\w+)", result.summary)}
    result.notes = [line for line in lines if line.startswith("redispool")]
    if client:
        try:
            result.fused = json.loads(json_path.read_text())
        except (OSError, ValueError):
            result.fused = None
    return result


@dataclass
class Plan:
    """A pair of runs: which files, under which suite, protocol and auto-pipelining."""

    suite: str
    files: list[str]
    protocol: str | None = None
    auto_pipeline: bool = False

    @property
    def client(self) -> bool:
        return self.suite != "pools"


def pair(where: Path, plan: Plan, serial: bool) -> tuple[Run, Run]:
    """The stock run and the redispool run of ``plan``'s files."""
    suffix = f", RESP{plan.protocol}" if plan.protocol else ""
    ours = {
        "pools": "with redispool",
        "client": "redispool.Redis",
        "aclient": "redispool.asyncio.Redis",
    }[plan.suite]
    stock_label = "stock redis-py" + suffix
    if plan.suite == "aclient":  # a label (and log) of its own for each stock run
        stock_label = "stock redis.asyncio" + suffix
        if plan.auto_pipeline:
            ours += ", auto_pipeline"
            stock_label += " (vs auto_pipeline)"
    args = (where, plan.files)
    with ThreadPoolExecutor(1 if serial else 2) as pool:
        stock = pool.submit(run, *args, stock_label, False, False, plan.protocol)
        mine = pool.submit(
            run, *args, ours + suffix, True, plan.client, plan.protocol, plan.auto_pipeline
        )
        return stock.result(), mine.result()


def report(stock: Run, ours: Run, plan: Plan) -> bool:
    """Print a pair's results; whether it diverges beyond ``INTERNALS`` or, for a client
    run, never took the fused path (for an asyncio one, never ``execute_command``'s, or
    with auto-pipelining never a shared lane)."""
    for r in (stock, ours):
        print(f"  {r.label + ':':<26} {r.summary} ({r.seconds:.0f} s)")
        for note in r.notes:
            print(f"    {note}")
    bad = False
    diverging = ours.failed - stock.failed
    for test in sorted(diverging):
        reason = INTERNALS.get(test)
        if reason is None:
            bad = True
            print(f"  fails only with redispool: {test}")
        else:
            print(f"  fails only with redispool, a test of redis-py's internals: {test} ({reason})")
    if plan.client:
        if not ours.fused:
            bad = True
            print("  no count of the fused path was written: the plugin did not run")
        elif not ours.fused["tests_on_fused_path"]:
            bad = True
            print("  no test went through the fused path (no redispool.Redis, or all fell back)")
        elif plan.suite == "aclient" and not ours.fused["tests_on_async_execute_command"]:
            bad = True
            print("  no test went through redispool.asyncio.Redis.execute_command")
        elif plan.auto_pipeline and not ours.fused["tests_on_shared_lane"]:
            bad = True
            print("  auto_pipeline on, and no command went through a shared lane")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=("pools", "client", "aclient"), help="only this suite")
    parser.add_argument("--serial", action="store_true", help="one run at a time")
    parser.add_argument("files", nargs="*", help="redis-py test files (tests/...)")
    options = parser.parse_args()
    where = fetch_tests()
    OUT.mkdir(exist_ok=True)
    server = RedisServer()
    print(f"redis-py {redis.__version__} tests on {server.name} ({server.binary}):")
    bad = False
    record: dict[str, Any] = {"redis_py": redis.__version__, "server": server.name, "runs": []}
    plans: list[Plan] = []
    if options.suite in (None, "pools"):
        plans.append(Plan("pools", options.files or DEFAULT_FILES))
    if options.suite in (None, "client"):
        plans += [Plan("client", options.files or CLIENT_FILES, p) for p in PROTOCOLS]
    if options.suite in (None, "aclient"):
        files = options.files or ACLIENT_FILES
        plans += [Plan("aclient", files, p, auto) for auto in AUTO_PIPELINE for p in PROTOCOLS]
    for plan in plans:
        stock, ours = pair(where, plan, options.serial)
        bad |= report(stock, ours, plan)
        for r in (stock, ours):
            entry = {k: getattr(r, k) for k in ("label", "summary", "counts", "seconds")}
            entry["failed"] = sorted(r.failed)
            if r.fused is not None:
                entry["fused"] = {k: v for k, v in r.fused.items() if k != "per_test"}
            record["runs"].append(entry)
    (OUT / "redis_py.json").write_text(json.dumps(record, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
