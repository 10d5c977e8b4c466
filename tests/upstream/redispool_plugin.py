"""pytest plugin (``-p redispool_plugin``): run redis-py's own tests with redispool's
pools and Parser as redis-py's defaults.

The plugin is loaded before any test module imports names, so rebinding the pool classes
in redis-py's modules is enough for ``from redis import ConnectionPool`` in the tests.
redis-py binds its default parser as a default argument of the undecorated
``AbstractConnection.__init__``, so that default is what is replaced.

With ``$REDISPOOL_UPSTREAM_CLIENT`` set, it calls ``redispool.install()`` instead, so
that every ``redis.Redis`` the tests make (redis-py's conftest builds them with
``redis.Redis(connection_pool=...)``, ``.client()`` and ``from_url``) is a
``redispool.Redis``, and counts what went through the fused path: entries into
``redispool.Redis.execute_command`` and ``run_pipeline``/``run_transaction`` (looked up
in ``redispool.client`` at call time) and, made from within them, fallbacks to redis-py's own
``Redis._send_command_parse_response`` and ``Pipeline._execute_pipeline``/
``_execute_transaction`` (wrapped before redispool is imported, so that redispool takes
the wrappers for redis-py's own methods). Per test it records the counts of its call
phase (a fixture's flushdb in the teardown is not the test's), and writes them with the
totals to the JSON file ``$REDISPOOL_UPSTREAM_JSON`` names.

``install()`` also makes every ``redis.asyncio.Redis`` a ``redispool.asyncio.Redis``, so
the same mode runs redis-py's asyncio tests on redispool's asyncio command path, counted
the same way under ``async:`` names: entries into ``redispool.asyncio.Redis``'s
``execute_command`` and the ``async_run_pipeline``/``async_run_transaction`` its
``Pipeline`` looks up in ``redispool.asyncio.client`` at call time, and fallbacks made from
within them (a ``ContextVar`` marks a task inside one) to ``redis.asyncio``'s
``Redis._send_command_parse_response`` and ``Pipeline._execute_pipeline``/
``_execute_transaction``. ``async:shared`` counts the commands that went through a shared
lane (one that leaves a lane on its client: a new one, or one open before it).

With ``$REDISPOOL_UPSTREAM_AUTO_PIPELINE`` set too, ``auto_pipeline=True`` is the default of
``redispool.asyncio.Redis(...)`` and of its ``from_url`` for the run (their keyword-only
defaults, ``__kwdefaults__``, are rebound), so every client the tests make turns it on,
however made: ``redis.asyncio.Redis(connection_pool=...)`` in redis-py's conftest,
``from_url``, ``.client()`` (which makes ``self.__class__(...)``; a single-connection
client never shares its connection anyway), a test's own ``redis.Redis(...)``.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import os
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.client
import redis.asyncio.connection
import redis.client
import redis.cluster
import redis.connection

# ---- the fused path (client mode) -----------------------------------------------------------

#: What is counted: entries into the fused path, and fallbacks made from within it.
FUSED = ("execute_command", "run_pipeline", "run_transaction")
FALLBACKS = ("_send_command_parse_response", "_execute_pipeline", "_execute_transaction")
#: The same for ``redispool.asyncio.Redis``; ``async:shared``: commands on a shared lane.
AFUSED = ("async:execute_command", "async:run_pipeline", "async:run_transaction")
AFALLBACKS = tuple(f"async:{name}" for name in FALLBACKS)
SHARED = "async:shared"
_lock = threading.Lock()
_inside = threading.local()  # depth: in a fused entry, on this thread
_ainside: contextvars.ContextVar[int] = contextvars.ContextVar("_ainside", default=0)
_phase = "outside"  # of the test running: setup, call, teardown (or outside any test)
_counts: dict[str, int] = {}  # this phase's
_tests: dict[str, dict[str, int]] = {}  # each test's call phase (its counts above 0)
_totals: dict[str, dict[str, int]] = {}  # per phase, over the run


def _zero() -> dict[str, int]:
    return dict.fromkeys(FUSED + FALLBACKS + AFUSED + AFALLBACKS + (SHARED,), 0)


def _count(name: str) -> None:
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1


def _entry(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        _count(name)
        _inside.depth = getattr(_inside, "depth", 0) + 1
        try:
            return original(*args, **kwargs)
        finally:
            _inside.depth -= 1

    return counted


def _fallback(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        if getattr(_inside, "depth", 0):
            _count(name)
        return original(*args, **kwargs)

    return counted


def _aentry(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    async def counted(*args: Any, **kwargs: Any) -> Any:
        _count(name)
        token = _ainside.set(_ainside.get() + 1)
        try:
            return await original(*args, **kwargs)
        finally:
            _ainside.reset(token)

    return counted


def _afallback(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    async def counted(*args: Any, **kwargs: Any) -> Any:
        if _ainside.get():
            _count(name)
        return await original(*args, **kwargs)

    return counted


def _wrap_fallbacks() -> None:
    """Count redis-py's methods the fused path falls back to, called from within it."""
    redis_client: Any = redis.client.Redis
    redis_pipeline: Any = redis.client.Pipeline
    for owner, name in (
        (redis_client, "_send_command_parse_response"),
        (redis_pipeline, "_execute_pipeline"),
        (redis_pipeline, "_execute_transaction"),
    ):
        setattr(owner, name, _fallback(name, vars(owner)[name]))
    async_client: Any = redis.asyncio.client.Redis
    async_pipeline: Any = redis.asyncio.client.Pipeline
    for owner, name in (
        (async_client, "_send_command_parse_response"),
        (async_pipeline, "_execute_pipeline"),
        (async_pipeline, "_execute_transaction"),
    ):
        setattr(owner, name, _afallback(f"async:{name}", vars(owner)[name]))


def _close_phase(test: str | None) -> None:
    global _counts
    with _lock:
        done, _counts = _counts, {}
    total = _totals.setdefault(_phase, _zero())
    for name, n in done.items():
        total[name] += n
    if test is not None:
        _tests[test] = {name: n for name, n in done.items() if n}  # {} for none


CLIENT = bool(os.environ.get("REDISPOOL_UPSTREAM_CLIENT"))
if CLIENT:
    # Before redispool is imported: its fastpath takes redis-py's methods as they are at
    # its import for redis-py's own (a method replaced later is a test's, and honoured by
    # leaving the fused path), and these wrappers only count.
    if "redispool" in sys.modules:
        raise RuntimeError("redispool_plugin must be loaded before redispool is imported")
    _wrap_fallbacks()

import redispool  # noqa: E402
import redispool._acommand_py  # noqa: E402
import redispool._impl  # noqa: E402
import redispool.asyncio  # noqa: E402
import redispool.asyncio.client  # noqa: E402
import redispool.client  # noqa: E402


def _swap_pools_and_parsers() -> None:
    init: Any = redis.connection.AbstractConnection.__init__
    raw = getattr(init, "__wrapped__", init)
    names = [p.name for p in inspect.signature(raw).parameters.values() if p.default is not p.empty]
    defaults = list(raw.__defaults__)
    defaults[names.index("parser_class")] = redispool.Parser
    raw.__defaults__ = tuple(defaults)

    for module in (redis, redis.connection, redis.client, redis.cluster):
        module.ConnectionPool = redispool.ConnectionPool  # type: ignore[attr-defined,misc]
    for module in (redis, redis.connection):
        module.BlockingConnectionPool = redispool.BlockingConnectionPool  # type: ignore[misc]
    for module in (redis.asyncio, redis.asyncio.connection, redis.asyncio.client):
        module.ConnectionPool = redispool.asyncio.ConnectionPool  # type: ignore[attr-defined,misc]
    for module in (redis.asyncio, redis.asyncio.connection):
        module.BlockingConnectionPool = redispool.asyncio.BlockingConnectionPool  # type: ignore[misc]
    async_init: Any = redis.asyncio.connection.AbstractConnection.__init__
    async_raw = getattr(async_init, "__wrapped__", async_init)
    async_raw.__kwdefaults__["parser_class"] = redispool.asyncio.AsyncParser


if CLIENT:
    redispool.install()
    # redispool.Redis's method, and the functions its Pipeline looks up at call time
    _redis: Any = redispool.client.Redis
    _redis.execute_command = _entry("execute_command", vars(_redis)["execute_command"])
    for _name in FUSED[1:]:
        setattr(redispool.client, _name, _entry(_name, getattr(redispool.client, _name)))
    # redispool.asyncio.Redis's, and what its Pipeline looks up at call time
    _aredis: Any = redispool.asyncio.client.Redis
    _aredis.execute_command = _aentry(AFUSED[0], vars(_aredis)["execute_command"])
    for _name in AFUSED[1:]:
        _global = _name.replace("async:", "async_")
        _original = getattr(redispool.asyncio.client, _global)
        setattr(redispool.asyncio.client, _global, _aentry(_name, _original))
    _aexecute = _aredis.execute_command

    async def _counted_shared(self: Any, *args: Any, **kwargs: Any) -> Any:
        """A command that went through a shared lane leaves one on its client: one it
        made (another object than before) or one that was open before and took it."""
        before = getattr(self, "_rp_lane", None)
        was_open = before is not None and before.state != before.CLOSED
        try:
            return await _aexecute(self, *args, **kwargs)
        finally:
            after = getattr(self, "_rp_lane", None)
            if after is not None and (after is not before or was_open):
                _count(SHARED)

    _aredis.execute_command = _counted_shared
    if os.environ.get("REDISPOOL_UPSTREAM_AUTO_PIPELINE"):
        # every client the tests make auto-pipelines (see the module's docstring);
        # the functions themselves, not inspect.unwrap: update_wrapper made their
        # __wrapped__ redis-py's
        vars(_aredis)["__init__"].__kwdefaults__["auto_pipeline"] = True
        vars(_aredis)["from_url"].__func__.__kwdefaults__["auto_pipeline"] = True
else:
    _swap_pools_and_parsers()

_connects = 0
_checkouts = 0
_on_connect = redispool.Parser.on_connect
_async_checkouts = 0
_get_connection = redispool.ConnectionPool.get_connection
_async_get_connection = redispool.asyncio.ConnectionPool.get_connection


def _counting_get_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
    global _checkouts
    _checkouts += 1
    return _get_connection(self, *args, **kwargs)


async def _counting_async_get_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
    global _async_checkouts
    _async_checkouts += 1
    return await _async_get_connection(self, *args, **kwargs)


redispool.ConnectionPool.get_connection = _counting_get_connection  # type: ignore[method-assign]
redispool.asyncio.ConnectionPool.get_connection = _counting_async_get_connection  # type: ignore[method-assign]


def _counting_on_connect(self: redispool.Parser, connection: Any) -> None:
    global _connects
    _connects += 1
    _on_connect(self, connection)


redispool.Parser.on_connect = _counting_on_connect  # type: ignore[method-assign]


@contextmanager
def _in_phase(phase: str, item: Any) -> Iterator[None]:
    """Count into ``phase`` of ``item`` (what ran before it, into the phase it ran in)."""
    global _phase
    _close_phase(None)
    _phase = phase
    try:
        yield
    finally:
        _close_phase(item.nodeid if phase == "call" else None)
        _phase = "outside"


if CLIENT:

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(item: Any) -> Generator[None, None, None]:
        with _in_phase("setup", item):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(item: Any) -> Generator[None, None, None]:
        with _in_phase("call", item):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(item: Any, nextitem: Any) -> Generator[None, None, None]:
        with _in_phase("teardown", item):
            return (yield)


def _fused(counts: dict[str, int], names: tuple[str, ...] = FUSED + AFUSED) -> int:
    return sum(counts.get(name, 0) for name in names)


def _fused_summary() -> dict[str, Any]:
    _close_phase(None)
    total = _zero()
    for counts in _totals.values():
        for name, n in counts.items():
            total[name] += n
    return {
        "tests": len(_tests),
        "tests_on_fused_path": sum(1 for c in _tests.values() if _fused(c)),
        "tests_on_sync_fused_path": sum(1 for c in _tests.values() if _fused(c, FUSED)),
        "tests_with_fallbacks": sum(
            1 for c in _tests.values() if any(c.get(name) for name in FALLBACKS + AFALLBACKS)
        ),
        "tests_on_async_execute_command": sum(1 for c in _tests.values() if c.get(AFUSED[0])),
        "tests_on_shared_lane": sum(1 for c in _tests.values() if c.get(SHARED)),
        "auto_pipeline": bool(os.environ.get("REDISPOOL_UPSTREAM_AUTO_PIPELINE")),
        "totals": total,
        "per_phase": _totals,
        "per_test": _tests,
    }


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"redispool.Parser connections: {_connects}")
    terminalreporter.write_line(f"redispool pool checkouts: {_checkouts}")
    terminalreporter.write_line(f"redispool asyncio pool checkouts: {_async_checkouts}")
    if not CLIENT:
        return
    summary = _fused_summary()
    total = summary["totals"]
    terminalreporter.write_line(
        f"redispool.Redis fused path: {summary['tests_on_sync_fused_path']} of {summary['tests']}"
        f" tests; {total['execute_command']} commands, {total['run_pipeline']} pipelines,"
        f" {total['run_transaction']} transactions;"
        f" fallbacks {sum(total[name] for name in FALLBACKS)}"
        f" ({', '.join(f'{name} {total[name]}' for name in FALLBACKS)})"
    )
    if summary["auto_pipeline"] or any(total[name] for name in AFUSED):
        terminalreporter.write_line(
            f"redispool.asyncio.Redis fused path: {summary['tests_on_async_execute_command']}"
            f" of {summary['tests']} tests through its execute_command;"
            f" {total[AFUSED[0]]} commands, {total[AFUSED[1]]} pipelines,"
            f" {total[AFUSED[2]]} transactions; auto_pipeline {summary['auto_pipeline']}:"
            f" {total[SHARED]} commands on a shared lane"
            f" in {summary['tests_on_shared_lane']} tests;"
            f" fallbacks {sum(total[name] for name in AFALLBACKS)}"
            f" ({', '.join(f'{name[6:]} {total[name]}' for name in AFALLBACKS)})"
        )
    path = os.environ.get("REDISPOOL_UPSTREAM_JSON")
    if path:
        with open(path, "w") as f:
            json.dump(summary, f, indent=1, sort_keys=True)
