"""Pure-Python twin of ``redispool._command_c``: redis-py's command path, fused.

``execute_command`` is what ``redis.Redis._execute_command`` does for one command, and
``run_pipeline``/``run_transaction`` what ``Pipeline._execute_pipeline`` and
``_execute_transaction`` do, each written as one function instead of a dozen method
calls: checkout, pack, send, read, callback, release. Every step keeps redis-py's
semantics: its exceptions and messages, its disconnects, its ``Retry`` policy and failure
callback (replayed through ``conn.retry.call_with_retry`` itself after a failure), its
health checks. A step this path cannot do exactly as redis-py does (a connection without
a socket, a due health check, HIMPORT SET) calls redis-py's own method for that step;
``redispool.fastpath`` says when the path is taken at all (redis-py's methods as
imported, no metrics, no tracer). ``pipeline_command`` is ``Pipeline.execute_command``.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

import redis.client
from redis.client import CaseInsensitiveDict
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ExecAbortError, ReadOnlyError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.himport import HImportRegistry, parse_himport_set_args

from . import _compat, fastpath
from ._compat import SENTINEL, SERVER_CLOSED_CONNECTION_ERROR
from .parsers import NOT_ENOUGH_DATA, Parser
from .push import PushNotification

__all__ = ("execute_command", "pipeline_command", "run_pipeline", "run_transaction")

NEVER_DECODE = redis.client.NEVER_DECODE
EMPTY_RESPONSE = redis.client.EMPTY_RESPONSE
_MISSING: Any = object()
_RESP3 = ("3", 3)


def _himport(args: tuple[Any, ...]) -> bool:
    """Whether redis-py sends ``args`` its own way (HIMPORT SET), decided cheaply first."""
    name = args[0]
    if type(name) is str and name[:1] not in "Hh":
        return False
    return parse_himport_set_args(args) is not None


def _gets(parser: Any, disable_decoding: bool) -> Any:
    """``Parser.read_response`` (default timeout) of a Parser whose stand-in's
    ``read_response`` is redis-py's own."""
    while True:
        reader = parser._reader
        if reader is None:
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        response = reader.gets(False) if disable_decoding else reader.gets()
        while response is NOT_ENOUGH_DATA:
            parser.read_from_socket()
            response = reader.gets(False) if disable_decoding else reader.gets()
        kind = type(response)
        ledger = parser._ledger
        if kind is bytes or kind is int or kind is str:
            if ledger is not None:
                ledger.replied()
            return response
        if isinstance(response, RedisConnectionError):
            raise response
        if kind is PushNotification:
            response = parser.handle_push_response(response)
            continue
        if ledger is not None:
            ledger.replied()
            if isinstance(response, ReadOnlyError):
                ledger.demoted = True
        if kind is list and response and isinstance(response[0], RedisConnectionError):
            raise response[0]
        return response


def callback_for(callbacks: Any, name: Any) -> Any:
    """``callbacks[name]`` if ``name in callbacks``, else ``_MISSING`` (the keys of a
    ``CaseInsensitiveDict`` are upper-case: an upper-case name is looked up as it is)."""
    if type(callbacks) is CaseInsensitiveDict and type(name) is str and name.isupper():
        return dict.get(callbacks, name, _MISSING)
    if name in callbacks:
        return callbacks[name]
    return _MISSING


class _Replies:
    """Reads and parses replies off one connection as ``read_response`` and
    ``parse_response`` do, with what stays the same between the replies of a pipeline
    looked up once."""

    __slots__ = (
        "address",
        "callbacks",
        "conn",
        "host",
        "ours",
        "parser",
        "plain_address",
        "port",
    )

    def __init__(self, conn: Any, callbacks: Any) -> None:
        self.conn = conn
        parser = self.parser = conn._parser
        self.ours = (
            type(parser) is Parser and parser._stands_for.read_response is parser._stands_for_read
        )
        self.callbacks = callbacks
        self.plain_address = fastpath.address(type(conn))
        self.host: Any = _MISSING
        self.port: Any = _MISSING
        self.address = ""

    def host_error(self) -> str:
        """``conn._host_error()``, as redis-py takes it before every read (for redis-py's
        own ``Connection._host_error``, formatted here, and again only when the host or
        port changed)."""
        conn = self.conn
        if not self.plain_address:
            text: str = conn._host_error()
            return text
        host, port = conn._host, conn.port
        if host is not self.host or port is not self.port:
            self.host, self.port = host, port
            self.address = f"{host}:{port}"  # Connection._host_error's, host as _host
        return self.address

    def read(self, disable_decoding: bool, host_error: str) -> Any:
        """``AbstractConnection.read_response(disable_decoding)``: the parser's reply, or
        redis-py's exception for a failed read (after a disconnect), or the error reply
        raised; ``host_error`` is taken before the read."""
        conn = self.conn
        parser = self.parser
        try:
            if self.ours:
                response = _gets(parser, disable_decoding)
            elif conn.protocol in _RESP3:
                response = parser.read_response(
                    disable_decoding=disable_decoding, push_request=False, timeout=SENTINEL
                )
            else:
                response = parser.read_response(disable_decoding=disable_decoding, timeout=SENTINEL)
        except TimeoutError:  # socket.timeout
            conn.disconnect()
            raise RedisTimeoutError(f"Timeout reading from {host_error}")  # noqa: B904 (redis-py's)
        except OSError as e:
            conn.disconnect()
            raise RedisConnectionError(f"Error while reading from {host_error} : {e.args}")  # noqa: B904
        except BaseException:
            conn.disconnect()
            raise
        interval = conn.health_check_interval
        if interval:
            conn.next_health_check = monotonic() + interval
        if isinstance(response, ResponseError):
            try:
                raise response
            finally:
                del response
        return response

    def callback(self, name: Any) -> Any:
        """``callback_for(self.callbacks, name)``."""
        return callback_for(self.callbacks, name)

    def parse(self, name: Any, options: dict[str, Any], host_error: str) -> Any:
        """``Redis.parse_response``."""
        try:
            if options:
                response = self.read(NEVER_DECODE in options, host_error)
            else:
                response = self.read(False, host_error)
        except ResponseError:
            if options and EMPTY_RESPONSE in options:
                return options[EMPTY_RESPONSE]
            raise
        callback = self.callback(name)
        if callback is _MISSING:
            return response
        if options:
            options = {
                key: value
                for key, value in options.items()
                if key != "keys" and key != NEVER_DECODE and key != EMPTY_RESPONSE
            }
            return callback(response, **options)
        return callback(response)


def send(conn: Any, chunks: Any) -> None:
    """``AbstractConnection.send_packed_command`` past its connect and health check."""
    sock = conn._sock
    try:
        for chunk in chunks:
            sock.sendall(chunk)
    except TimeoutError:  # socket.timeout
        conn.disconnect()
        raise RedisTimeoutError("Timeout writing to socket")  # noqa: B904 (redis-py's)
    except OSError as e:
        conn.disconnect()
        if len(e.args) == 1:
            errno, errmsg = "UNKNOWN", e.args[0]
        else:
            errno, errmsg = e.args[0], e.args[1]
        raise RedisConnectionError(f"Error {errno} while writing to socket. {errmsg}.")  # noqa: B904
    except BaseException:
        conn.disconnect()
        raise


def _plain_connection(conn: Any) -> bool:
    """A connected connection whose class and object send and read as redis-py's, with
    a parser that reads as the fused path does (the class first: a CacheProxyConnection
    has no ``_sock``)."""
    return (
        fastpath.connection(type(conn))
        and not fastpath.overridden(conn, fastpath.CONNECTION_METHODS)
        and conn._sock is not None
        and _plain_parser(conn._parser)
    )


def _plain_parser(parser: Any) -> bool:
    """Whether the connection's parser reads as the fused path does: any class but
    redispool's ``Parser`` (read through its own ``read_response``), or a ``Parser``
    whose ``read_response`` nobody replaced."""
    if type(parser) is not Parser:
        return True
    return fastpath.parser(Parser) and not fastpath.overridden(parser, fastpath.PARSER_METHODS)


def _attempt(client: Any, conn: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """``Redis._send_command_parse_response`` for one try."""
    if (
        not _plain_connection(conn)
        or (conn.health_check_interval and monotonic() > conn.next_health_check)
        or (options and "check_health" in options)
        or _himport(args)
    ):
        return client._send_command_parse_response(conn, args[0], *args, **options)
    send(conn, conn._command_packer.pack(*args))
    replies = _Replies(conn, client.response_callbacks)
    return replies.parse(args[0], options, replies.host_error())


def execute_command(client: Any, *args: Any, **options: Any) -> Any:
    """``Redis.execute_command``: the fused path while redis-py's metrics are off and the
    client's class parses as redis-py's does, else redis-py's own."""
    if (
        fastpath.metrics_off()
        and fastpath.client(type(client))
        and not fastpath.overridden(client, fastpath.CLIENT_METHODS)
    ):
        return _run(client, args, options)
    return redis.client.Redis.execute_command(client, *args, **options)


def _run(client: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """``Redis._execute_command``, metrics off."""
    args[0]  # redis-py's IndexError for no command, before a checkout
    pool = client.connection_pool
    conn = client.connection or pool.get_connection()
    single = client._single_connection_client
    if single:
        client.single_connection_lock.acquire()
    try:
        retry = conn.retry
        if not fastpath.retry(type(retry)) or fastpath.overridden(retry, ("call_with_retry",)):
            return _retry(client, conn, args, options, None)  # it runs every try
        try:
            return _attempt(client, conn, args, options)
        except Exception as error:  # redis-py's policy decides, from its first step on
            first = error
        try:  # outside the except: a later try's error is not chained to the first
            return _retry(client, conn, args, options, first)
        finally:
            del first
    finally:
        try:
            if conn and conn.should_reconnect():
                client._close_connection(conn)
                conn.connect()
        finally:
            if single:
                client.single_connection_lock.release()
            if not client.connection:
                pool.release(conn)


def _retry(
    client: Any,
    conn: Any,
    args: tuple[Any, ...],
    options: dict[str, Any],
    first: Exception | None,
) -> Any:
    """``conn.retry.call_with_retry`` as ``Redis._execute_command`` calls it, with
    redis-py's failure callback. After a first try of the fused path raised ``first``,
    the policy is handed a first try that raises it; with ``first`` None (a policy that
    is not redis-py's own ``Retry``) every try runs under the policy."""
    pending = [] if first is None else [first]
    start = monotonic()
    name = args[0]

    def attempt() -> Any:
        if pending:
            raise pending.pop()
        return _attempt(client, conn, args, options)

    def failure_callback(error: Exception, failure_count: int) -> None:
        if redis.client.is_debug_log_enabled():
            redis.client.add_debug_log_for_operation_failure(conn)
        client._close_connection(conn, error, failure_count, start, name)

    try:
        return conn.retry.call_with_retry(attempt, failure_callback, with_failure_count=True)
    finally:
        del pending[:]


# ---- pipelines ----------------------------------------------------------------------------


def _pipeline_parse(
    pipe: Any, replies: _Replies, name: Any, options: dict[str, Any], unwatch: Any
) -> Any:
    """``Pipeline.parse_response``: ``Redis.parse_response`` and the WATCH flags."""
    result = replies.parse(name, options, replies.host_error())
    if name in unwatch:
        pipe.watching = False
    elif name == "WATCH":
        pipe.watching = True
    return result


def pipeline_command(pipe: Any, *args: Any, **kwargs: Any) -> Any:
    """``Pipeline.execute_command``: run now while WATCHing, else queue (``command_stack``
    appended to inline while ``pipeline_execute_command`` is redis-py's own and nothing
    wraps redis-py's ``execute_command``)."""
    if not fastpath.queue(type(pipe)) or fastpath.overridden(pipe, ("pipeline_execute_command",)):
        return redis.client.Pipeline.execute_command(pipe, *args, **kwargs)  # as it is now
    if (pipe.watching or args[0] == "WATCH") and not pipe.explicit_transaction:
        return pipe.immediate_execute_command(*args, **kwargs)
    pipe.command_stack.append((args, kwargs))
    return pipe


def _sendable(pipe: Any, conn: Any, commands: list[Any]) -> bool:
    """Whether a stack can go the fused way: a connected plain connection, a plain
    pipeline class, no HIMPORT SET (its fieldsets are prepared first) and no HIMPORT
    DISCARD owed to the server (redis-py sends those before any pipeline)."""
    if (
        not _plain_connection(conn)
        or not fastpath.pipeline(type(pipe))
        or fastpath.overridden(pipe, fastpath.PIPELINE_METHODS)
    ):
        return False
    registry = getattr(conn, "himport_registry", None)
    if (
        isinstance(registry, HImportRegistry)
        and conn._himport_reconciled_revision != registry.revision
    ):
        return False
    return not any(_himport(args) for args, _ in commands)


def _pack_all(conn: Any, stack: list[Any]) -> Any:
    """``conn.pack_commands(stack)``: in one call into redispool's Packer."""
    packer = _compat.ledger(conn._command_packer)
    if packer is None:
        return conn.pack_commands(stack)
    return packer.pack_commands(stack)


def run_pipeline(pipe: Any, conn: Any, commands: list[Any], raise_on_error: bool) -> list[Any]:
    """``Pipeline._execute_pipeline``."""
    if not _sendable(pipe, conn, commands):
        done: list[Any] = redis.client.Pipeline._execute_pipeline(
            pipe, conn, commands, raise_on_error
        )
        return done
    chunks = _pack_all(conn, [args for args, _ in commands])
    conn.send_packed_command(chunks)
    replies = _Replies(conn, pipe.response_callbacks)
    unwatch = pipe.UNWATCH_COMMANDS
    responses: list[Any] = []
    append = responses.append
    for args, options in commands:
        try:
            append(_pipeline_parse(pipe, replies, args[0], options, unwatch))
        except ResponseError as e:
            append(e)
    if raise_on_error:
        pipe.raise_first_error(commands, responses)
    return responses


def run_transaction(pipe: Any, conn: Any, commands: list[Any], raise_on_error: bool) -> list[Any]:
    """``Pipeline._execute_transaction``."""
    if not _sendable(pipe, conn, commands):
        done: list[Any] = redis.client.Pipeline._execute_transaction(
            pipe, conn, commands, raise_on_error
        )
        return done
    stack = [("MULTI",)]
    stack += [args for args, options in commands if EMPTY_RESPONSE not in options]
    stack.append(("EXEC",))
    conn.send_packed_command(_pack_all(conn, stack))
    replies = _Replies(conn, pipe.response_callbacks)
    unwatch = pipe.UNWATCH_COMMANDS
    errors: list[Any] = []
    try:
        _pipeline_parse(pipe, replies, "_", {}, unwatch)
    except ResponseError as e:
        errors.append((0, e))
    for i, command in enumerate(commands):
        if EMPTY_RESPONSE in command[1]:
            errors.append((i, command[1][EMPTY_RESPONSE]))
        else:
            try:
                _pipeline_parse(pipe, replies, "_", {}, unwatch)
            except ResponseError as e:
                pipe.annotate_exception(e, i + 1, command[0])
                errors.append((i, e))
    try:
        response = _pipeline_parse(pipe, replies, "_", {}, unwatch)
    except ExecAbortError:
        if errors:
            raise errors[0][1]  # noqa: B904 (redis-py's)
        raise
    pipe.watching = False
    if response is None:
        raise WatchError("Watched variable changed.")
    for i, error in errors:
        response.insert(i, error)
    if len(response) != len(commands):
        pipe.connection.disconnect()
        raise ResponseError("Wrong number of response items from pipeline execution")
    if raise_on_error:
        pipe.raise_first_error(commands, response)
    data = []
    for r, cmd in zip(response, commands, strict=False):
        if not isinstance(r, Exception):
            args, options = cmd
            options.pop("keys", None)
            callback = replies.callback(args[0])
            if callback is not _MISSING:
                r = callback(r, **options)
        data.append(r)
    return data
