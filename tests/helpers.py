"""What several test modules share: the stats invariant, a connection without a network,
the command paths' twins swapped in and counted, and the clean state of an asyncio pool."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from redispool import PoolStats


def balanced(stats: PoolStats) -> bool:
    """Every connection ever made is idle (open or not), in use, or counted as closed."""
    return stats.idle + stats.idle_closed + stats.in_use == stats.created - stats.closed


class Dummy:
    """A connection that never touches the network (as in redis-py's pool tests)."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.pid = os.getpid()
        self._sock: Any = None

    def connect(self) -> None:
        self._sock = object()

    def disconnect(self) -> None:
        self._sock = None

    def can_read(self) -> bool:
        return False

    def should_reconnect(self) -> bool:
        return False

    def re_auth(self) -> None:
        pass


#: The fused command path's entry points: ``redispool.Redis.execute_command`` and the two
#: functions ``redispool.Pipeline`` calls (looked up in ``redispool.client`` at call time).
FUSED_ENTRIES = ("execute_command", "run_pipeline", "run_transaction")


def use_command_twin(monkeypatch: Any, module: Any) -> None:
    """Make ``redispool.Redis`` and its ``Pipeline`` run ``module``'s fused path (a
    ``redispool._command_c``/``_command_py``)."""
    import redispool.client

    monkeypatch.setattr(redispool.client.Redis, "execute_command", module.execute_command)
    monkeypatch.setattr(redispool.client.Pipeline, "execute_command", module.pipeline_command)
    monkeypatch.setattr(redispool.client, "run_pipeline", module.run_pipeline)
    monkeypatch.setattr(redispool.client, "run_transaction", module.run_transaction)


def count_fused(monkeypatch: Any) -> dict[str, int]:
    """How often each of ``FUSED_ENTRIES`` is entered from now on (a count, nothing else:
    whether the entry then takes redis-py's path is not told apart)."""
    import redispool.client

    counts = dict.fromkeys(FUSED_ENTRIES, 0)
    owners: dict[str, Any] = {
        "execute_command": redispool.client.Redis,
        "run_pipeline": redispool.client,
        "run_transaction": redispool.client,
    }
    for name, owner in owners.items():
        original = getattr(owner, name) if owner is redispool.client else vars(owner)[name]

        def counting(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            counts[_name] += 1
            return _original(*args, **kw)

        monkeypatch.setattr(owner, name, counting)
    return counts


#: The asyncio command path's entry points, in ``redispool.asyncio.client``: the client's
#: and the pipeline's ``execute_command`` (a twin's ``execute_command`` and
#: ``pipeline_command``) and the two functions its ``Pipeline`` calls (module globals,
#: looked up at call time).
ASYNC_FUSED_ENTRIES = ("execute_command", "pipeline_command", "run_pipeline", "run_transaction")


def _async_owners() -> dict[str, tuple[Any, str]]:
    import redispool.asyncio.client as aclient

    return {
        "execute_command": (aclient.Redis, "execute_command"),
        "pipeline_command": (aclient.Pipeline, "execute_command"),
        "run_pipeline": (aclient, "async_run_pipeline"),
        "run_transaction": (aclient, "async_run_transaction"),
    }


def use_acommand_twin(monkeypatch: Any, module: Any) -> None:
    """Make ``redispool.asyncio.Redis`` and its ``Pipeline`` run ``module``'s lanes (a
    ``redispool._acommand_c``/``_acommand_py``)."""
    for entry, (owner, name) in _async_owners().items():
        monkeypatch.setattr(owner, name, getattr(module, entry))


def count_afused(monkeypatch: Any) -> dict[str, int]:
    """How often each of ``ASYNC_FUSED_ENTRIES`` is entered from now on (entered only:
    whether the entry then hands the command to redis-py's own path is not told apart)."""
    counts = dict.fromkeys(ASYNC_FUSED_ENTRIES, 0)
    for entry, (owner, name) in _async_owners().items():
        original = vars(owner)[name]

        def counting(*args: Any, _entry: str = entry, _original: Any = original, **kw: Any) -> Any:
            counts[_entry] += 1
            return _original(*args, **kw)

        monkeypatch.setattr(owner, name, counting)
    return counts


@contextlib.contextmanager
def calls_to(function: Any, argument: str) -> Iterator[list[Any]]:
    """The value of ``argument`` in each call (in this thread) of the Python ``function``,
    a coroutine function too (counted once, not at every resumption), seen by a profile
    function rather than by replacing it: the command paths step aside for a method
    replaced on redis-py's classes."""
    code = function.__code__
    seen: list[Any] = []
    frames: dict[int, Any] = {}  # the frames seen, kept alive so that their ids stay theirs

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code and id(frame) not in frames:
            frames[id(frame)] = frame
            seen.append(frame.f_locals[argument])

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(previous)
        frames.clear()


async def assert_connections_clean(pool: Any) -> None:
    """Every connection of an asyncio ``pool`` is back and in step: none lent, the stats
    balanced, each idle one read by redis-py's stream protocol again (no lane holds its
    transport), owing no reply, and a fresh command on each gets its own reply."""
    stats = pool.stats()
    assert stats.in_use == 0 and balanced(stats), stats
    for conn in pool._available_connections:  # as they are, before a checkout looks at them
        if conn._writer is not None:
            protocol = conn._writer.transport.get_protocol()
            assert isinstance(protocol, asyncio.StreamReaderProtocol), protocol
        assert conn._rp_packer.owed == 0
    conns = [await pool.get_connection() for _ in range(stats.idle)]
    try:
        assert len(set(map(id, conns))) == len(conns)
        for i, conn in enumerate(conns):
            value = f"fresh-{i}"
            await conn.send_command("ECHO", value)
            assert await conn.read_response() in (value, value.encode())
    finally:
        for conn in conns:
            await pool.release(conn)
    stats = pool.stats()
    assert stats.in_use == 0 and balanced(stats), stats
