"""Run redis-py's own test files against a private server twice, stock and with redispool
swapped in (``redispool_plugin``), and compare the failures.

Usage: ``python tests/upstream/redis_py.py [test files...]`` (``make upstream``). The server
is the one ``$REDISPOOL_SERVER`` names: redis (the default), valkey or a binary's path
(``make upstream SERVER=valkey``). The tests come from the sdist of the installed redis-py
version, fetched from PyPI into ``.upstream/``; they run from outside the sdist so that the
installed redis-py is tested. Exit status 1 if any test fails with redispool that passes
stock.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import redis
import sdist

from redispool.server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
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


def fetch_tests() -> Path:
    """redis-py's ``tests/`` and ``pyproject.toml`` for the installed version."""
    return sdist.fetch("redis", redis.__version__, extra=("pyproject.toml",))


def run(where: Path, url: str, files: list[str], plugin: bool) -> tuple[str, set[str]]:
    """One pytest run: its summary line and the ids of the tests that failed."""
    args = [sys.executable, "-m", "pytest", *files, "-m", "not onlycluster", "-q", "-rfE"]
    args += [f"--redis-url={url}", "-p", "no:cacheprovider", "-p", "no:randomly"]
    if plugin:
        args += ["-p", "redispool_plugin"]
    env = {"PYTHONPATH": f"{HERE}:{ROOT}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(args, cwd=where, capture_output=True, text=True, env=env).stdout
    failed = set(re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.MULTILINE))
    summary = [line for line in out.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    connections = [line for line in out.splitlines() if line.startswith("redispool")]
    return " ".join(summary[-1:] + connections), failed


def main() -> int:
    files = sys.argv[1:] or DEFAULT_FILES
    where = fetch_tests()
    with RedisServer() as server:
        stock, stock_failed = run(where, server.url, files, plugin=False)
        ours, our_failed = run(where, server.url, files, plugin=True)
    print(f"redis-py {redis.__version__} tests on {server.name} ({server.binary}, {server.url}):")
    print(f"  stock redis-py:  {stock}")
    print(f"  with redispool:  {ours}")
    diverging = our_failed - stock_failed
    for test in sorted(diverging):
        reason = INTERNALS.get(test)
        if reason is None:
            print(f"  fails only with redispool: {test}")
        else:
            print(f"  fails only with redispool, a test of redis-py's internals: {test} ({reason})")
    return 1 if diverging - INTERNALS.keys() else 0


if __name__ == "__main__":
    sys.exit(main())
