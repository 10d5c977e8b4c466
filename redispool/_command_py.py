"""Pure-Python twin of ``redispool._command_c``: redis-py's command path, fused.

``run_command`` is what ``redis.Redis._execute_command`` does for one command, and
``run_pipeline``/``run_transaction`` what ``Pipeline._execute_pipeline`` and
``_execute_transaction`` do, each written as one function instead of a dozen method
calls: checkout, pack, send, read, callback, release. Every step keeps redis-py's
semantics: its exceptions and messages, its disconnects, its ``Retry`` policy and failure
callback (replayed through ``conn.retry.call_with_retry`` itself after a failure), its
health checks. A step this path cannot do exactly as redis-py does (a connection without
a socket, a due health check, HIMPORT SET, a connection class or client class that
overrides how a command is sent, read or parsed) calls redis-py's own method for that
step. ``redispool.client`` decides when the path is taken at all.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

import redis.client
from redis.client import CaseInsensitiveDict
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ExecAbortError, ReadOnlyError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.himport import parse_himport_set_args

from . import fastpath
from ._compat import SENTINEL, SERVER_CLOSED_CONNECTION_ERROR
from .parsers import NOT_ENOUGH_DATA, Parser
from .push import PushNotification

__all__ = ("run_command", "run_pipeline", "run_transaction")

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


def _read_ours(parser: Any, disable_decoding: bool) -> Any:
    """``Parser.read_response`` with its default timeout, inlined."""
    if parser._stands_for.read_response is not parser._stands_for_read:
        return parser.read_response(disable_decoding)
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


def read(conn: Any, disable_decoding: bool) -> Any:
    """``AbstractConnection.read_response(disable_decoding)``: the parser's reply, or
    redis-py's exception for a failed read (after a disconnect), or the error reply raised."""
    host_error = conn._host_error()
    parser = conn._parser
    try:
        if type(parser) is Parser:
            response = _read_ours(parser, disable_decoding)
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
    if conn.health_check_interval:
        conn.next_health_check = monotonic() + conn.health_check_interval
    if isinstance(response, ResponseError):
        try:
            raise response
        finally:
            del response
    return response


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


def _callback(callbacks: Any, name: Any) -> Any:
    """``callbacks[name]`` if ``name in callbacks`` (a ``CaseInsensitiveDict``, whose keys
    are upper-case: an upper-case name is looked up as it is), else ``_MISSING``."""
    if type(callbacks) is CaseInsensitiveDict and type(name) is str and name.isupper():
        return dict.get(callbacks, name, _MISSING)
    if name in callbacks:
        return callbacks[name]
    return _MISSING


def _parse(client: Any, conn: Any, name: Any, options: dict[str, Any]) -> Any:
    """``Redis.parse_response``."""
    try:
        response = read(conn, NEVER_DECODE in options) if options else read(conn, False)
    except ResponseError:
        if options and EMPTY_RESPONSE in options:
            return options[EMPTY_RESPONSE]
        raise
    callback = _callback(client.response_callbacks, name)
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


_PARSER_READ = Parser.read_response


def _parser_replaced(parser: Any) -> bool:
    """Whether a test replaced redispool's ``Parser.read_response``, on the class or on
    this parser (``patch.object(conn._parser, "read_response", ...)``): then the command
    takes redis-py's path, which reads through it (``read`` inlines it)."""
    return type(parser) is Parser and (
        Parser.read_response is not _PARSER_READ or "read_response" in parser.__dict__
    )


def _attempt(client: Any, conn: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """``Redis._send_command_parse_response`` for one try. The connection's class is
    checked first: another one (a test's ``Mock(spec=Connection)``) may lack the
    attributes read next."""
    if (
        not fastpath.connection(type(conn))
        or conn._sock is None
        or _parser_replaced(conn._parser)
        or (conn.health_check_interval and monotonic() > conn.next_health_check)
        or (options and "check_health" in options)
        or _himport(args)
    ):
        return client._send_command_parse_response(conn, args[0], *args, **options)
    send(conn, conn._command_packer.pack(*args))
    return _parse(client, conn, args[0], options)


def run_command(client: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """``Redis._execute_command`` with metrics off (``redispool.client`` checks)."""
    pool = client.connection_pool
    conn = client.connection or pool.get_connection()
    single = client._single_connection_client
    if single:
        client.single_connection_lock.acquire()
    try:
        try:
            return _attempt(client, conn, args, options)
        except Exception as error:  # redis-py's policy decides, from its first step on
            return _retry(client, conn, args, options, error)
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
    client: Any, conn: Any, args: tuple[Any, ...], options: dict[str, Any], first: Exception
) -> Any:
    """What ``conn.retry.call_with_retry`` does after its first try raised ``first``:
    the policy is handed a first try that raises it, then redis-py's failure callback
    and further tries run as in ``Redis._execute_command``."""
    pending = [first]
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


def _pipeline_parse(pipe: Any, conn: Any, name: Any, options: dict[str, Any]) -> Any:
    """``Pipeline.parse_response``: ``Redis.parse_response`` and the WATCH flags."""
    result = _parse(pipe, conn, name, options)
    if name in pipe.UNWATCH_COMMANDS:
        pipe.watching = False
    elif name == "WATCH":
        pipe.watching = True
    return result


def _sendable(pipe: Any, conn: Any, commands: list[Any]) -> bool:
    """Whether a stack can go the fused way: a connected plain connection and parser, a
    plain pipeline class, no HIMPORT SET (its fieldsets are prepared first)."""
    return (
        fastpath.connection(type(conn))
        and conn._sock is not None
        and not _parser_replaced(conn._parser)
        and fastpath.pipeline(type(pipe))
        and not any(_himport(args) for args, _ in commands)
    )


def _coalesce(chunks: list[Any], cutoff: int) -> list[Any]:
    """Chunks to send: runs of small ones joined (fewer ``sendall`` calls), large values
    and memoryviews sent as they are, uncopied (redis-py's ``pack_commands`` rule)."""
    out: list[Any] = []
    run: list[Any] = []
    for chunk in chunks:
        if type(chunk) is bytes and len(chunk) <= cutoff:
            run.append(chunk)
            continue
        if run:
            out.append(b"".join(run))
            run = []
        out.append(chunk)
    if run:
        out.append(b"".join(run))
    return out


def _pack_all(conn: Any, stack: Any) -> list[Any]:
    packer = conn._command_packer
    chunks: list[Any] = []
    for args in stack:
        chunks += packer.pack(*args)
    return _coalesce(chunks, conn._buffer_cutoff)


def run_pipeline(pipe: Any, conn: Any, commands: list[Any], raise_on_error: bool) -> list[Any]:
    """``Pipeline._execute_pipeline``."""
    if not _sendable(pipe, conn, commands):
        done: list[Any] = redis.client.Pipeline._execute_pipeline(
            pipe, conn, commands, raise_on_error
        )
        return done
    chunks = _pack_all(conn, [args for args, _ in commands])
    conn.send_packed_command(chunks)
    responses: list[Any] = []
    append = responses.append
    for args, options in commands:
        try:
            append(_pipeline_parse(pipe, conn, args[0], options))
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
    errors: list[Any] = []
    try:
        _pipeline_parse(pipe, conn, "_", {})
    except ResponseError as e:
        errors.append((0, e))
    for i, command in enumerate(commands):
        if EMPTY_RESPONSE in command[1]:
            errors.append((i, command[1][EMPTY_RESPONSE]))
        else:
            try:
                _pipeline_parse(pipe, conn, "_", {})
            except ResponseError as e:
                pipe.annotate_exception(e, i + 1, command[0])
                errors.append((i, e))
    try:
        response = _pipeline_parse(pipe, conn, "_", {})
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
    callbacks = pipe.response_callbacks
    data = []
    for r, cmd in zip(response, commands, strict=False):
        if not isinstance(r, Exception):
            args, options = cmd
            options.pop("keys", None)
            callback = _callback(callbacks, args[0])
            if callback is not _MISSING:
                r = callback(r, **options)
        data.append(r)
    return data
