"""Every private name of redis-py and asyncio that redispool reads, writes or overrides.

redis-py's and asyncio's internals change between releases. Each such name is listed
once here (``NAMES``: whose it is, which redispool modules use it, what they do without
it), resolved when this module is imported (``MISSING`` and the capability flags below),
and checked by ``tests/test_compat.py``, which also scans the package's source: a private
name of another library used anywhere without an entry here fails that test. Cold paths
reach the names through the functions below; hot paths read a few inline (a function
call would cost more than the work there), each guarded by its flag or by an
``AttributeError`` that takes the slow path, as its entry says.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import sys
import types
import warnings
import weakref
from collections.abc import Callable, Collection
from typing import Any, Final, NamedTuple

import redis
import redis.asyncio.connection
import redis.asyncio.observability.recorder
import redis.observability.recorder

# redis-py's parser bases and socket constants, re-exported: nothing stands in for them
# (the ``timeout`` sentinel must be redis-py's own object), so a redis-py without them fails here.
from redis._parsers import _AsyncHiredisParser as _AsyncHiredisParser
from redis._parsers import _AsyncRESP2Parser as _AsyncRESP2Parser
from redis._parsers import _AsyncRESP3Parser as _AsyncRESP3Parser
from redis._parsers import _HiredisParser as _HiredisParser
from redis._parsers import _RESP3Parser as _RESP3Parser
from redis._parsers.socket import (
    NONBLOCKING_EXCEPTION_ERROR_NUMBERS as NONBLOCKING_EXCEPTION_ERROR_NUMBERS,
)
from redis._parsers.socket import NONBLOCKING_EXCEPTIONS as NONBLOCKING_EXCEPTIONS
from redis._parsers.socket import SENTINEL as SENTINEL
from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR as SERVER_CLOSED_CONNECTION_ERROR
from redis.connection import CacheProxyConnection
from redis.utils import check_protocol_version

from ._impl import Packer
from ._pack_py import Packer as _PurePacker
from .slot_codes import NO_SOCKET, OPAQUE_SOCKET


class Name(NamedTuple):
    """A private name: ``owner`` (a module or class, dotted) has ``name``; the redispool
    modules ``used_in`` name it; ``without`` says what they do where it is missing ("" for a
    name nothing replaces); ``via``, if set, is the redis-py function whose code must still
    use the name for redispool's use of it to hold (its ``co_names``, no source needed)."""

    owner: str
    name: str
    used_in: tuple[str, ...]
    without: str
    via: str = ""

    @property
    def key(self) -> str:
        return f"{self.owner}.{self.name}"


_SYNC = "redis.connection.AbstractConnection"
_ASYNC = "redis.asyncio.connection.AbstractConnection"
_POOL = "redis.connection.ConnectionPool"
_APOOL = "redis.asyncio.connection.ConnectionPool"
_STREAM = "asyncio.StreamReader"

_REQUIRED = ""
_SLOW = "an AttributeError on the hot path takes the pool's slow path (redis-py's methods)"
_NO_FAST_IO = "FAST_IO is off: connections keep redis-py's own write, read and read timeout"
_NO_SHORTCUT = "RELEASE_SHORTCUT is off: every release dispatches redis-py's release event"
_NO_WEAKREF = "not weakened: the cycle keeps a dropped pool or connection until a GC pass"
_RECORD = "UNKNOWN_COLLECTOR is planted: every check calls redis-py's recorder, as it does"
_OURS = "redispool's own override, for redis-py's code and tests that read or call it"
_MIRRORED = (
    "set as redis-py's BlockingConnectionPool.__init__ would (redispool's blocking pools"
    " are built on ConnectionPool), for redis-py's code and tests that read it"
)
_PARSER = "set as redis-py's parser base sets it, for redis-py's code that reads it"
_BENCH = "benchmarks only: None here, the bench's pure-Python redis-py reference fails"
_NO_COMMAND_PATH = "COMMAND_PATH is off: redispool.Redis runs redis-py's own execute_command"
_NO_PIPELINE_PATH = (
    "never called: redispool's Pipeline runs redis-py's own execute (its overrides unused)"
)
_CLIENT = "redis.client.Redis"
_PIPELINE = "redis.client.Pipeline"
_ACLIENT = "redis.asyncio.client.Redis"
_NO_ASYNC_COMMAND_PATH = (
    "ASYNC_COMMAND_PATH is off: redispool.asyncio.Redis runs redis-py's own"
    " execute_command (no auto-pipelining)"
)

NAMES: Final[tuple[Name, ...]] = (
    # ---- redis-py's private modules: imported here, re-exported under the same names
    Name("redis._parsers", "_RESP3Parser", ("parsers", "_e2e", "_workloads", "_compat"), _REQUIRED),
    Name("redis._parsers", "_AsyncRESP3Parser", ("asyncio.parser", "_e2e", "_compat"), _REQUIRED),
    Name("redis._parsers", "_RESP2Parser", ("_workloads", "_compat"), _REQUIRED),
    # the parsers a connection reads with unless given redispool's (``stand_in_parser``)
    Name("redis._parsers", "_HiredisParser", ("_compat",), _REQUIRED),
    Name("redis._parsers", "_AsyncHiredisParser", ("_compat",), _REQUIRED),
    Name("redis._parsers", "_AsyncRESP2Parser", ("_compat",), _REQUIRED),
    Name("redis._parsers", "Encoder", ("_workloads",), _BENCH),
    Name("redis._parsers.socket", "SENTINEL", ("parsers", "_command_py"), _REQUIRED),
    Name(
        "redis._parsers.socket",
        "SERVER_CLOSED_CONNECTION_ERROR",
        ("parsers", "asyncio.parser", "_command_py", "_acommand_py"),
        _REQUIRED,
    ),
    Name("redis._parsers.socket", "NONBLOCKING_EXCEPTIONS", ("parsers",), _REQUIRED),
    Name("redis._parsers.socket", "NONBLOCKING_EXCEPTION_ERROR_NUMBERS", ("parsers",), _REQUIRED),
    Name(
        "redis.asyncio.connection",
        "async_timeout",
        ("asyncio.pool", "asyncio.parser"),
        "redis-py's own rule: asyncio.timeout from 3.11.3, else the async-timeout package",
    ),
    Name(
        "redis.observability.recorder",
        "_metrics_collector",
        ("pool", "fastpath", "_command_c", "_acommand_c", "_compat"),
        _RECORD,
    ),
    Name(
        "redis.observability.providers",
        "_observability_instance",
        ("fastpath", "_command_c", "_acommand_c"),
        "redispool.Redis asks get_observability_instance() on every command",
    ),
    Name(
        "redis.asyncio.observability.recorder",
        "_async_metrics_collector",
        ("asyncio.pool", "fastpath", "_acommand_c", "_compat"),
        _RECORD,
    ),
    # ---- redis-py's event dispatcher
    Name(
        "redis.event.EventDispatcher",
        "_event_listeners_mapping",
        ("pool", "asyncio.pool", "_compat"),
        _NO_SHORTCUT + " (a dispatcher without it: the same, for that pool)",
    ),
    # ---- redis-py's sync connections
    Name(
        _SYNC,
        "_command_packer",
        ("pool", "_command_py", "_command_c", "_compat"),
        "no reply ledger: " + _SLOW + "; " + _NO_COMMAND_PATH,
        via=f"{_SYNC}.pack_command",
    ),
    Name(_SYNC, "_should_reconnect", ("pool",), _SLOW, via=f"{_SYNC}.should_reconnect"),
    Name(
        _SYNC,
        "_sock",
        ("pool", "parsers", "_command_py", "_command_c", "_compat", "_workloads"),
        "checkout: connect() every time; fd: OPAQUE_SOCKET; the Parser: none (redis-py's"
        " own parsers read it the same way); " + _NO_COMMAND_PATH,
    ),
    Name(_SYNC, "_re_auth_token", ("pool",), _NO_SHORTCUT, via=f"{_SYNC}.re_auth"),
    Name(
        _SYNC,
        "_parser",
        ("_command_py", "_command_c", "_workloads"),
        _NO_COMMAND_PATH + "; benchmarks: the bench's in-memory runner fails",
    ),
    Name(
        _SYNC,
        "_construct_command_packer",
        ("patch",),
        "PACKER_HOOK is off: install() leaves it; connections made outside redispool's"
        " pools pack with redis-py's packer (no reply ledger)",
        via=f"{_SYNC}.__init__",
    ),
    Name("redis.connection.CacheProxyConnection", "_conn", ("_compat",), "no ledger, fd opaque"),
    Name(_SYNC, "_host_error", ("_command_py", "_command_c", "fastpath"), _NO_COMMAND_PATH),
    Name(
        _SYNC,
        "_himport_reconciled_revision",
        ("_command_py", "_command_c"),
        _NO_COMMAND_PATH,
        via="redis._himport_exec.reconcile_discards",
    ),
    Name("redis.connection.Connection", "_host", ("_command_py", "_command_c"), _NO_COMMAND_PATH),
    # ---- redis-py's sync client and pipeline, under redispool's (``redispool.client``)
    Name(
        _CLIENT,
        "_send_command_parse_response",
        ("_command_py", "_command_c", "fastpath"),
        _NO_COMMAND_PATH,
    ),
    Name(_CLIENT, "_execute_command", ("fastpath",), _NO_COMMAND_PATH),
    Name(_CLIENT, "_single_connection_client", ("_command_py", "_command_c"), _NO_COMMAND_PATH),
    Name(_CLIENT, "_close_connection", ("_command_py", "_command_c"), _NO_COMMAND_PATH),
    Name(
        _PIPELINE,
        "_execute_pipeline",
        ("client", "_command_py", "_command_c"),
        _NO_PIPELINE_PATH,
        via=f"{_PIPELINE}.execute",
    ),
    Name(
        _PIPELINE,
        "_execute_transaction",
        ("client", "_command_py", "_command_c"),
        _NO_PIPELINE_PATH,
        via=f"{_PIPELINE}.execute",
    ),
    # ---- redis-py's sync pools, under redispool's subclasses
    Name(_POOL, "_lock", ("pool",), _REQUIRED),  # the lock redis-py's cache proxy holds
    Name(_POOL, "_fork_lock", ("pool",), _REQUIRED),
    Name(_POOL, "_event_dispatcher", ("pool",), _REQUIRED),
    Name(_POOL, "_maint_notifications_pool_handler", ("views",), _NO_WEAKREF),
    Name(_POOL, "_checkpid", ("pool",), _OURS),
    Name(_POOL, "_available_connections", ("views",), _OURS),
    Name(_POOL, "_in_use_connections", ("views",), _OURS),
    Name(_POOL, "_created_connections", ("pool",), _OURS),
    Name(_POOL, "_get_free_connections", ("pool", "views"), _OURS),
    Name(_POOL, "_get_in_use_connections", ("views",), _OURS),
    Name("redis.connection.BlockingConnectionPool", "_connections", ("pool",), _OURS),
    Name("redis.connection.BlockingConnectionPool", "_in_maintenance", ("pool",), _MIRRORED),
    Name("redis.connection.BlockingConnectionPool", "_locked", ("pool",), _MIRRORED),
    # ---- redis-py's sync parser base, under redispool.Parser
    Name("redis._parsers.base._RESPBase", "_sock", ("parsers",), _PARSER),
    Name(
        "redis._parsers.base._RESPBase",
        "_buffer",
        ("parsers",),
        _PARSER + " (update_parser_timeout relaxes _buffer.socket_timeout)",
        via=f"{_SYNC}.update_parser_timeout",
    ),
    # ---- redis-py's asyncio connections
    Name(
        _ASYNC,
        "_reader",
        (
            "asyncio.pool",
            "asyncio.parser",
            "asyncio.fast_io",
            "_compat",
            "_acommand_py",
            "_acommand_c",
        ),
        _SLOW
        + "; "
        + _NO_FAST_IO
        + "; the AsyncParser: none (redis-py's reads it too); "
        + _NO_ASYNC_COMMAND_PATH,
    ),
    Name(
        _ASYNC,
        "_writer",
        ("asyncio.fast_io", "_compat", "_acommand_py", "_acommand_c"),
        _NO_FAST_IO + "; fd opaque; " + _NO_ASYNC_COMMAND_PATH,
    ),
    Name(
        _ASYNC,
        "_parser",
        ("asyncio.fast_io", "_compat", "_acommand_py", "_acommand_c"),
        _NO_FAST_IO + "; " + _NO_ASYNC_COMMAND_PATH,
    ),
    Name(
        _ASYNC,
        "_read_response_from_parser",
        ("asyncio.fast_io", "fastpath"),
        _NO_FAST_IO + "; " + _NO_ASYNC_COMMAND_PATH,
        via=f"{_ASYNC}.read_response",
    ),
    Name(
        _ASYNC,
        "_host_error",
        ("asyncio.fast_io", "_acommand_py", "_acommand_c"),
        _NO_FAST_IO + "; " + _NO_ASYNC_COMMAND_PATH,
    ),
    Name(
        _ASYNC,
        "_reschedule_active_read_timeout",
        ("asyncio.fast_io",),
        _NO_FAST_IO,
        via=f"{_ASYNC}.update_current_socket_timeout",
    ),
    Name(
        _ASYNC,
        "_close",
        ("_compat",),
        "close_now() closes the writer itself and forgets both streams, as _close does",
    ),
    Name(
        _ASYNC,
        "_should_reconnect",
        ("asyncio.pool", "_acommand_py", "_acommand_c"),
        _SLOW + "; " + _NO_ASYNC_COMMAND_PATH,
        via=f"{_ASYNC}.should_reconnect",
    ),
    Name(
        _ASYNC,
        "_re_auth_token",
        ("asyncio.pool", "_acommand_py", "_acommand_c"),
        _NO_SHORTCUT + "; lanes: a connection's pending re-authentication goes unseen",
        via=f"{_ASYNC}.re_auth",
    ),
    # ---- redis-py's asyncio pools, under redispool's subclasses
    Name(_APOOL, "_lock", ("asyncio.pool",), _REQUIRED),  # the MOVING handler holds it
    Name(_APOOL, "_event_dispatcher", ("asyncio.pool",), _REQUIRED),
    Name(_APOOL, "_maint_notifications_pool_handler", ("views",), _NO_WEAKREF),
    Name(_APOOL, "_available_connections", ("views",), _OURS),
    Name(_APOOL, "_in_use_connections", ("views",), _OURS),
    Name(_APOOL, "_get_free_connections", ("views",), _OURS),
    Name(_APOOL, "_get_in_use_connections", ("views",), _OURS),
    Name(
        "redis.asyncio.connection.BlockingConnectionPool",
        "_in_maintenance",
        ("asyncio.pool",),
        _MIRRORED,
    ),
    # ---- redis-py's asyncio parser base, under redispool.asyncio.AsyncParser
    Name("redis._parsers._AsyncRESP3Parser", "_stream", ("asyncio.parser",), _PARSER),
    Name("redis._parsers._AsyncRESP3Parser", "_read_size", ("asyncio.parser",), _PARSER),
    Name("redis._parsers._AsyncRESP3Parser", "_connected", ("asyncio.parser",), _PARSER),
    # ---- asyncio's StreamReader (checked on a probe reader, not only by name)
    Name(
        _STREAM,
        "_eof",
        ("asyncio.pool", "_compat", "_acommand_py", "_acommand_c"),
        "STREAM_PEEK is off: every asyncio checkout takes the slow path (can_read); "
        + _NO_ASYNC_COMMAND_PATH,
    ),
    Name(
        _STREAM,
        "_buffer",
        ("asyncio.pool", "asyncio.parser", "_compat", "_acommand_py", "_acommand_c"),
        "STREAM_PEEK is off: slow checkouts; AsyncParser.can_read reads what is there"
        " under a zero timeout instead of peeking; " + _NO_ASYNC_COMMAND_PATH,
    ),
    Name(
        _STREAM,
        "_waiter",
        ("asyncio.fast_io", "_compat", "_acommand_py", "_acommand_c"),
        _NO_FAST_IO + "; " + _NO_ASYNC_COMMAND_PATH,
    ),
    # ---- redispool.asyncio.Redis's command path (_acommand_py, _acommand_c)
    Name(
        _ASYNC,
        "_himport_reconciled_revision",
        ("_acommand_py", "_acommand_c"),
        _NO_ASYNC_COMMAND_PATH,
    ),
    Name(
        _ACLIENT,
        "_send_command_parse_response",
        ("fastpath", "_acommand_py", "_acommand_c"),
        _NO_ASYNC_COMMAND_PATH,
    ),
    Name(_ACLIENT, "_close_connection", ("_acommand_py", "_acommand_c"), _NO_ASYNC_COMMAND_PATH),
    Name(
        "redis.asyncio.client.Pipeline",
        "_execute_pipeline",
        ("asyncio.client", "_acommand_py", "_acommand_c"),
        _NO_PIPELINE_PATH,
        via="redis.asyncio.client.Pipeline.execute",
    ),
    Name(
        "redis.asyncio.client.Pipeline",
        "_execute_transaction",
        ("asyncio.client", "_acommand_py", "_acommand_c"),
        _NO_PIPELINE_PATH,
        via="redis.asyncio.client.Pipeline.execute",
    ),
    Name(_ACLIENT, "_single_conn_lock", ("_acommand_py", "_acommand_c"), _NO_ASYNC_COMMAND_PATH),
)

# ---- resolution -----------------------------------------------------------------------------


def lookup(path: str) -> Any:
    """The module, class or function at a dotted ``path``; None if it is gone."""
    parts = path.split(".")
    prefixes = [".".join(parts[:end]) for end in range(len(parts), 0, -1)]
    module = next((sys.modules[p] for p in prefixes if p in sys.modules), None)
    if module is None:  # not imported yet (every owner above is, by redis-py itself)
        for prefix in prefixes:
            try:
                module = importlib.import_module(prefix)
                break
            except ImportError:
                continue
        else:
            return None
    found: Any = module
    for part in parts[len(module.__name__.split(".")) :]:
        found = getattr(found, part, None)
    return found


# What only the benchmarks use (redis-py's pure-Python parsers as a reference): None if gone.
_RESP2Parser: Any = lookup("redis._parsers._RESP2Parser")
Encoder: Any = lookup("redis._parsers.Encoder")


def _code_names(function: Any) -> tuple[str, ...]:
    code = getattr(inspect.unwrap(function), "__code__", None) if function is not None else None
    return code.co_names if code is not None else ()


def has(owner: Any, name: str) -> bool:
    """Whether ``owner`` has ``name``: as an attribute (a module's global; a class's method,
    slot or class attribute), or as an instance attribute that the code of the class or a
    base uses (``__init__`` first; ``co_names``, so no source is needed)."""
    if owner is None:
        return False
    if hasattr(owner, name):
        return True
    if not isinstance(owner, type):
        return False
    classes = owner.__mro__
    if any(name in _code_names(klass.__dict__.get("__init__")) for klass in classes):
        return True
    return any(
        name in _code_names(member)
        for klass in classes
        for member in vars(klass).values()
        if inspect.isfunction(member)
    )


class _NoLoop:
    """All a ``StreamReader`` asks of its loop until it waits for data."""

    def get_debug(self) -> bool:
        return False


def _waiter_idle(reader: Any) -> bool:
    return reader._waiter is None


def _buffer_holds(reader: Any) -> bool:
    empty = not reader._buffer
    reader.feed_data(b"+")
    return empty and bool(reader._buffer)


def _eof_set(reader: Any) -> bool:
    before = reader._eof
    reader.feed_eof()
    return before is False and reader._eof is True


def stream_names(reader_class: Any = asyncio.StreamReader) -> frozenset[str]:
    """The ``StreamReader`` names that behave as redispool reads them, each tried on a new
    reader that never waits: ``_waiter`` None while no read waits, ``_buffer`` holding the
    bytes fed and not yet read, ``_eof`` set by EOF."""
    works = set()
    for name, behaves in (
        ("_waiter", _waiter_idle),
        ("_buffer", _buffer_holds),
        ("_eof", _eof_set),
    ):
        try:
            if behaves(reader_class(loop=_NoLoop())):
                works.add(name)
        except Exception:  # not there, or not as it was
            pass
    return frozenset(works)


def present(entry: Name, streams: Collection[str] | None = None) -> bool:
    """Whether ``entry``'s name is there (and, with ``via``, still used by redis-py)."""
    if entry.owner == _STREAM:
        return entry.name in (stream_names() if streams is None else streams)
    if not has(lookup(entry.owner), entry.name):
        return False
    return not entry.via or entry.name in _code_names(lookup(entry.via))


def resolve(is_present: Callable[[Name], bool] | None = None) -> frozenset[str]:
    """The keys (``owner.name``) of the entries missing here."""
    if is_present is None:
        streams = stream_names()
        return frozenset(e.key for e in NAMES if not present(e, streams))
    return frozenset(e.key for e in NAMES if not is_present(e))


def flags(missing: Collection[str]) -> dict[str, bool]:
    """The capability flags for a set of missing keys (what ``resolve`` returns)."""

    def here(*keys: str) -> bool:
        return not any(key in missing for key in keys)

    return {
        "STREAM_PEEK": here(f"{_STREAM}._eof", f"{_STREAM}._buffer"),
        "FAST_IO": here(
            *(
                f"{_ASYNC}.{name}"
                for name in (
                    "_reader",
                    "_writer",
                    "_parser",
                    "_read_response_from_parser",
                    "_host_error",
                    "_reschedule_active_read_timeout",
                )
            ),
            f"{_STREAM}._waiter",
        ),
        "RELEASE_SHORTCUT": here(
            "redis.event.EventDispatcher._event_listeners_mapping",
            f"{_SYNC}._re_auth_token",
            f"{_ASYNC}._re_auth_token",
        ),
        "PACKER_HOOK": here(f"{_SYNC}._construct_command_packer"),
        "ASYNC_COMMAND_PATH": here(
            *(f"{_ASYNC}.{name}" for name in ("_reader", "_writer", "_parser", "_host_error")),
            f"{_ASYNC}._himport_reconciled_revision",
            f"{_ASYNC}._read_response_from_parser",
            f"{_ASYNC}._should_reconnect",
            f"{_STREAM}._eof",
            f"{_STREAM}._buffer",
            f"{_STREAM}._waiter",
            *(
                f"{_ACLIENT}.{name}"
                for name in (
                    "_send_command_parse_response",
                    "_close_connection",
                    "_single_conn_lock",
                )
            ),
        ),
        "COMMAND_PATH": here(
            *(f"{_SYNC}.{name}" for name in ("_sock", "_parser", "_command_packer")),
            f"{_SYNC}._host_error",
            f"{_SYNC}._himport_reconciled_revision",
            "redis.connection.Connection._host",
            *(
                f"{_CLIENT}.{name}"
                for name in (
                    "_execute_command",
                    "_send_command_parse_response",
                    "_single_connection_client",
                    "_close_connection",
                )
            ),
        ),
    }


#: What is missing in this redis-py and this Python (empty where redispool is tested).
MISSING: Final = resolve()
_FLAGS = flags(MISSING)
#: The asyncio checkout trusts an idle stream by peeking at ``_eof`` and ``_buffer``.
STREAM_PEEK: bool = _FLAGS["STREAM_PEEK"]
#: The asyncio pool gives its connections ``fast_io.ConnectionIO`` (write, read, watchdog).
FAST_IO: bool = _FLAGS["FAST_IO"]
#: Releases skip redis-py's release event while its listeners could only re-authenticate.
RELEASE_SHORTCUT: bool = _FLAGS["RELEASE_SHORTCUT"]
#: ``install()`` gives connections made anywhere a ``Packer`` (``_construct_command_packer``).
PACKER_HOOK: bool = _FLAGS["PACKER_HOOK"]
#: ``redispool.Redis`` runs commands on its fused path (``_command_py``/``_command_c``).
COMMAND_PATH: bool = _FLAGS["COMMAND_PATH"]
#: ``redispool.asyncio.Redis`` runs commands on lanes (``_acommand_py``/``_acommand_c``).
ASYNC_COMMAND_PATH: bool = _FLAGS["ASYNC_COMMAND_PATH"]


def warn_required(missing: Collection[str]) -> None:
    """Say which missing names nothing replaces (using one fails where it is used)."""
    required = [e.key for e in NAMES if e.key in missing and e.without == _REQUIRED]
    if required:
        warnings.warn(
            f"redispool needs redis-py internals that redis-py {redis.__version__} lacks: "
            + ", ".join(required),
            RuntimeWarning,
            stacklevel=3,
        )


warn_required(MISSING)

# ---- fallbacks ------------------------------------------------------------------------------

#: Planted as redis-py's metrics collector where its recorder module has none under the
#: name the pools read inline: never None, so every such check calls redis-py's recorder.
UNKNOWN_COLLECTOR: Final = object()


def plant_collectors() -> None:
    """Plant ``UNKNOWN_COLLECTOR`` where a recorder module lacks the collector's name."""
    for module, name in (
        (redis.observability.recorder, "_metrics_collector"),
        (redis.asyncio.observability.recorder, "_async_metrics_collector"),
    ):
        if not hasattr(module, name):
            setattr(module, name, UNKNOWN_COLLECTOR)


plant_collectors()


def _own_async_timeout() -> Any:
    """redis-py's choice of asyncio timeout context, made here (see redis-py #2633)."""
    if sys.version_info >= (3, 11, 3):
        return getattr(asyncio, "timeout")  # noqa: B009 (mypy checks as Python 3.10)
    return importlib.import_module("async_timeout").timeout  # redis-py's dependency there


#: ``async with async_timeout(seconds)``: the timeout context redis-py's asyncio code uses.
async_timeout: Any = getattr(redis.asyncio.connection, "async_timeout", None) or (
    _own_async_timeout()
)

#: What ``release_listeners`` returns where the shortcut cannot be taken: a listener list
#: that no pool calls quiet (``redispool.listeners.quiet``), so the event is dispatched.
UNKNOWN_LISTENERS: Final = (object(),)


def release_listeners(dispatcher: Any, event_class: type) -> Any:
    """The listeners redis-py's ``dispatcher`` holds for ``event_class``
    (``_event_listeners_mapping``), or ``UNKNOWN_LISTENERS``."""
    mapping = getattr(dispatcher, "_event_listeners_mapping", None)
    if mapping is None or not RELEASE_SHORTCUT:
        return UNKNOWN_LISTENERS
    return mapping.get(event_class)


def ignore_error(error: Exception) -> None:
    """The error callback ``re_auth_callback`` gives ``Retry`` (redis-py's ``_mock``)."""


async def ignore_error_async(error: Exception) -> None:
    """The same for the asyncio pool's ``Retry``."""


def close_now(connection: Any) -> None:
    """Close an asyncio connection without suspending (cancellation cannot cut it short):
    its parser is told, then redis-py's ``_close``, or without one, what ``_close`` does."""
    parser = getattr(connection, "_parser", None)
    if parser is not None:
        parser.on_disconnect()
    close = getattr(connection, "_close", None)
    if callable(close):
        close()
        return
    writer = getattr(connection, "_writer", None)
    if writer is not None:
        writer.close()
    try:
        connection._writer = connection._reader = None
    except AttributeError:  # neither stream under these names: reconnect on next use
        connection.mark_for_reconnect()


# ---- reading the names -----------------------------------------------------------------------

_LEDGERS = (Packer, _PurePacker)
#: The classes whose objects keep a reply ledger (``ledger``), for an inlined check.
LEDGER_TYPES: Final = _LEDGERS


def sync_packer(connection: Any) -> Any:
    """The ``command_packer`` a redis-py connection packs with (``_command_packer``)."""
    return getattr(connection, "_command_packer", None)


def ledger(packer: Any) -> Any:
    """``packer`` if it is a redispool ``Packer`` (which keeps a reply ledger), else None."""
    return packer if isinstance(packer, _LEDGERS) else None


def _unwrapped(connection: Any) -> Any:
    """The connection a client-side caching proxy wraps (``_conn``; None if unknown), or
    ``connection``."""
    if isinstance(connection, CacheProxyConnection):
        return getattr(connection, "_conn", None)
    return connection


def sync_ledger(connection: Any) -> Any:
    """The reply ledger of a sync connection (through a client-side caching proxy too)."""
    return ledger(sync_packer(_unwrapped(connection)))


def async_ledger(connection: Any) -> Any:
    """The reply ledger of an asyncio connection: the ``Packer`` that the pool (or
    ``install()``) gave it, as ``_rp_packer``; redis-py's asyncio connections have no
    packer hook of their own."""
    return ledger(getattr(connection, "_rp_packer", None))


def _descriptor(sock: Any) -> int:
    if sock is None:
        return NO_SOCKET
    try:
        return int(sock.fileno())  # -1 (NO_SOCKET) once closed
    except (AttributeError, OSError, TypeError, ValueError):
        return OPAQUE_SOCKET


def sync_fd(connection: Any) -> int:
    """What ``SlotArray.release`` takes as ``fd`` for a sync connection: its socket's
    descriptor (``_sock``), ``NO_SOCKET`` if disconnected, ``OPAQUE_SOCKET`` if unknown."""
    try:
        sock = _unwrapped(connection)._sock
    except AttributeError:
        return OPAQUE_SOCKET
    return _descriptor(sock)


def async_fd(connection: Any) -> int:
    """The same for an asyncio connection (the socket under its ``_writer``'s transport)."""
    try:
        writer = connection._writer
    except AttributeError:
        return OPAQUE_SOCKET
    if writer is None:
        return NO_SOCKET
    return _descriptor(writer.transport.get_extra_info("socket"))


def default_parsers() -> tuple[Any, Any]:
    """redis-py's ``DefaultParser`` names, sync and asyncio, as redis-py defines them (a
    user who names one has not chosen a parser: ``install()`` leaves these names alone)."""
    import redis.asyncio.connection
    import redis.connection

    return redis.connection.DefaultParser, redis.asyncio.connection.DefaultParser


class _WeakPool:
    """``pool`` of a maintenance handler made by ``weak_pool_handler``: the pool itself,
    held weakly (None once it is gone)."""

    def __get__(self, handler: Any, owner: Any = None) -> Any:
        if handler is None:
            return self
        ref = getattr(handler, "_rp_pool", None)
        return None if ref is None else ref()

    def __set__(self, handler: Any, pool: Any) -> None:
        try:
            ref: Any = weakref.ref(pool)
        except TypeError:  # None, or an object that cannot be referred to weakly: held
            ref = lambda: pool  # noqa: E731
        handler._rp_pool = ref


_WEAK_POOL_HANDLERS: dict[type, type] = {}


def weak_pool_handler(handler: Any) -> Any:
    """redis-py's maintenance-notification pool handler (the pool's
    ``_maint_notifications_pool_handler``, also in its ``connection_kwargs``, and a copy
    on every connection) holds its pool: cycles that would keep a dropped pool and its
    sockets alive until a GC pass. The handler becomes an instance of a subclass of its
    class (same name and module) whose ``pool`` is held weakly, so ``handler.pool is
    pool`` as in redis-py; the copies it makes for connections (``get_handler_for_connection``)
    are made the same way. Returns ``handler``."""
    cls = type(handler)
    if handler is None or isinstance(cls.__dict__.get("pool"), _WeakPool):
        return handler
    sub = _WEAK_POOL_HANDLERS.get(cls)
    if sub is None:

        def get_handler_for_connection(self: Any) -> Any:
            return weak_pool_handler(cls.get_handler_for_connection(self))

        namespace = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "pool": _WeakPool(),
            "get_handler_for_connection": get_handler_for_connection,
        }
        sub = _WEAK_POOL_HANDLERS[cls] = type(cls.__name__, (cls,), namespace)
    pool = handler.__dict__.pop("pool", None)
    handler.__class__ = sub
    handler.pool = pool
    return handler


#: redis-py's own parser classes (sync, asyncio) and their ``read_response`` as defined
#: (a test may replace it on the class, with ``unittest.mock.patch``).
_PARSERS = (
    (_HiredisParser, _RESP2Parser, _RESP3Parser),
    (_AsyncHiredisParser, _AsyncRESP2Parser, _AsyncRESP3Parser),
)
_READS = {cls: cls.read_response for classes in _PARSERS for cls in classes}


def stand_in_parser(is_async: bool, protocol: Any) -> tuple[Any, Any]:
    """The redis-py parser class a connection with this ``protocol`` reads with unless it
    is given redispool's, and that class's own ``read_response``: ``DefaultParser``
    (hiredis's when installed, for both protocols), else the pure-Python parser of the
    protocol, as redis-py's ``Connection.__init__`` picks."""
    resp2, resp3 = _PARSERS[is_async][1:]
    default = default_parsers()[is_async]
    if default not in (resp2, resp3):
        cls = default
    else:
        cls = resp3 if check_protocol_version(protocol, 3) else resp2
    return cls, _READS.get(cls, cls.read_response)


def replaced_read(parser: Any, cls: Any, **kwargs: Any) -> Any:
    """Call ``cls.read_response`` where it is no longer redis-py's (a test replaced it)
    for ``parser``, as a connection reading with ``cls`` would: bound as Python binds
    it (a ``Mock`` is not bound), with the arguments redis-py's connections pass
    (no ``push_request`` for a RESP2 parser)."""
    read = cls.read_response
    bind = getattr(type(read), "__get__", None)
    if bind is not None:
        read = bind(read, parser, type(parser))
    if cls in (_RESP2Parser, _AsyncRESP2Parser):
        kwargs.pop("push_request", None)
    return read(**kwargs)


def with_globals(function: Any, replacements: dict[str, Any]) -> Any:
    """A copy of ``function`` whose module globals are those of now with ``replacements``
    bound instead; decorators made with ``functools.wraps`` (``__wrapped__``) are copied
    around the copy, so their checks and warnings still run. For redis-py code that looks
    a class up at call time (``Redis.__init__`` builds ``ConnectionPool``): the copy runs
    redis-py's own lines, and nothing shared is rebound."""
    wrapped = getattr(function, "__wrapped__", None)
    if wrapped is None:
        namespace = dict(function.__globals__)
        namespace.update(replacements)
        copy = types.FunctionType(
            function.__code__,
            namespace,
            function.__name__,
            function.__defaults__,
            function.__closure__,
        )
    else:
        inner = with_globals(wrapped, replacements)
        cells = tuple(
            types.CellType(inner) if _holds(cell, wrapped) else cell
            for cell in function.__closure__ or ()
        )
        copy = types.FunctionType(
            function.__code__, function.__globals__, function.__name__, function.__defaults__, cells
        )
    copy.__kwdefaults__ = function.__kwdefaults__
    return functools.update_wrapper(copy, function)


def _holds(cell: Any, value: Any) -> bool:
    try:
        return cell.cell_contents is value
    except ValueError:  # an empty cell
        return False
