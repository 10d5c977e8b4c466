"""redis-py parser classes built on ``redispool.Reader``.

``Parser`` is what ``parser_class=`` takes on ``redis.ConnectionPool``, ``redis.Connection``
and ``Redis.from_url``. It subclasses redis-py's ``_RESP3Parser`` because redis-py 8 checks
``isinstance`` before it accepts a parser under a pool with maintenance notifications, and
swaps any ``_RESP2Parser`` for its pure-Python parser once RESP3 is negotiated; the Reader
itself speaks RESP2 and RESP3, so one class serves both protocols. Everything redis-py
calls is overridden: socket reads go straight into the Reader, as in ``_HiredisParser``.
"""

from __future__ import annotations

import select
import socket
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import _compat
from ._compat import (  # redis-py's private parser module's, the same objects in 5.0 to 8.x
    NONBLOCKING_EXCEPTION_ERROR_NUMBERS,
    NONBLOCKING_EXCEPTIONS,
    SENTINEL,
    SERVER_CLOSED_CONNECTION_ERROR,
    _RESP3Parser,
)
from ._impl import Reader
from .push import PushNotification

__all__ = ("Parser",)

# Returned by Reader.gets() for an incomplete reply; False and None are valid RESP3 replies.
NOT_ENOUGH_DATA: Any = object()

_POLLRDHUP = getattr(select, "POLLRDHUP", 0)


class _SocketState:
    """What redis-py expects at ``parser._buffer``: the socket and the read timeout that
    maintenance notifications relax (``update_parser_timeout`` sets ``socket_timeout``)."""

    __slots__ = ("_sock", "socket_timeout")

    def __init__(self, sock: socket.socket, socket_timeout: float | None) -> None:
        self._sock = sock
        self.socket_timeout = socket_timeout


def _readable(sock: socket.socket, timeout: float | None) -> bool:
    """Whether ``sock`` has bytes (or EOF) to read, waiting at most ``timeout`` seconds."""
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():  # TLS bytes decrypted above the socket
        return True
    if hasattr(select, "poll"):  # no FD_SETSIZE limit, allocates nothing
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(None if timeout is None else timeout * 1000))
    return bool(select.select([sock], [], [], timeout)[0])


def _closed(sock: socket.socket) -> bool:
    """Whether a readable socket holds EOF rather than data (a non-destructive peek)."""
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except NONBLOCKING_EXCEPTIONS:
        return False
    except ValueError:  # TLS sockets take no recv flags: trust the poll flags
        if not hasattr(select, "poll"):
            return False
        poller = select.poll()
        poller.register(sock, select.POLLIN | _POLLRDHUP)
        events = poller.poll(0)
        closed = select.POLLHUP | select.POLLERR | select.POLLNVAL | _POLLRDHUP
        return bool(events and events[0][1] & closed)
    except OSError:
        return True


class Parser(_RESP3Parser):
    """redis-py parser (RESP2 and RESP3) backed by the compiled ``redispool.Reader``.

    Error replies map to redis-py's exception classes (``parse_error``), RESP3 push
    messages go to redis-py's push handlers, ``decode_responses``/``encoding_errors`` are
    honoured, and a read interrupted by a timeout resumes where it stopped. When the
    connection packs with redispool's ``Packer``, every reply read is entered in its
    ledger (``redispool.ledger``).
    """

    #: The Reader class (the compiled twin when available); tests swap in either twin.
    reader_class: Any = Reader

    def __init__(self, socket_read_size: int) -> None:
        super().__init__(socket_read_size)
        self._reader: Any = None
        self._ledger: Any = None
        self._recv = bytearray(socket_read_size)
        # the redis-py parser class read with otherwise, and its own read_response
        self._stands_for, self._stands_for_read = _compat.stand_in_parser(False, None)

    def on_connect(self, connection: Any) -> None:
        protocol = getattr(connection, "protocol", None)
        self._stands_for, self._stands_for_read = _compat.stand_in_parser(False, protocol)
        ledger = self._ledger = _compat.ledger(_compat.sync_packer(connection))
        if ledger is not None:
            ledger.fd = _compat.sync_fd(connection)
        self._sock = connection._sock
        self._buffer = _SocketState(connection._sock, connection.socket_timeout)
        self.encoder = encoder = connection.encoder
        kwargs: dict[str, Any] = {
            "protocolError": InvalidResponse,
            "replyError": self.parse_error,
            "errors": encoder.encoding_errors,
            "notEnoughData": NOT_ENOUGH_DATA,
        }
        if encoder.decode_responses:
            kwargs["encoding"] = encoder.encoding
        self._reader = self.reader_class(**kwargs)

    def on_disconnect(self) -> None:
        if self._ledger is not None:
            self._ledger.disconnected()
        self._sock = None
        self._buffer = None
        self._reader = None
        self.encoder = None

    def can_read(self, timeout: float | None = 0) -> bool:
        """Whether a reply (or EOF) is waiting: buffered in the Reader or on the socket.
        A socket closed by the server raises ``ConnectionError`` instead."""
        reader = self._reader
        sock = self._sock
        if reader is None or sock is None:
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        if reader.has_data():
            return True
        if not _readable(sock, timeout):
            return False
        if _closed(sock):
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        return True

    def read_from_socket(self, timeout: Any = SENTINEL, raise_on_timeout: bool = True) -> bool:
        """Feed one ``recv`` into the Reader; False if nothing came and that is allowed."""
        sock = self._sock
        reader = self._reader
        state = self._buffer
        if sock is None or reader is None or state is None:  # disconnected meanwhile
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        custom_timeout = timeout is not SENTINEL
        try:
            if custom_timeout:
                sock.settimeout(timeout)
            size = sock.recv_into(self._recv)
            if size == 0:
                raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
            reader.feed(self._recv, 0, size)
            return True
        except TimeoutError:  # socket.timeout
            if raise_on_timeout:
                raise RedisTimeoutError("Timeout reading from socket") from None
            return False
        except NONBLOCKING_EXCEPTIONS as ex:
            allowed = NONBLOCKING_EXCEPTION_ERROR_NUMBERS.get(ex.__class__, -1)
            if ex.errno == allowed:
                if not raise_on_timeout:
                    return False
                if timeout == 0:
                    raise RedisTimeoutError("Timeout reading from socket") from None
            raise RedisConnectionError(f"Error while reading from socket: {ex.args}") from None
        finally:
            if custom_timeout:
                sock.settimeout(state.socket_timeout)

    def read_response(
        self,
        disable_decoding: bool = False,
        push_request: bool = False,
        timeout: Any = SENTINEL,
    ) -> Any:
        if self._stands_for.read_response is not self._stands_for_read:  # replaced
            return _compat.replaced_read(
                self,
                self._stands_for,
                disable_decoding=disable_decoding,
                push_request=push_request,
                timeout=timeout,
            )
        while True:
            reader = self._reader
            if reader is None:
                raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
            response = reader.gets(False) if disable_decoding else reader.gets()
            while response is NOT_ENOUGH_DATA:
                self.read_from_socket(timeout=timeout)
                response = reader.gets(False) if disable_decoding else reader.gets()
            kind = type(response)
            if kind is bytes or kind is int or kind is str:
                if self._ledger is not None:
                    self._ledger.replied()
                return response
            if isinstance(response, RedisConnectionError):
                raise response
            if kind is PushNotification:
                response = self.handle_push_response(response)
                if push_request:
                    return response
                continue  # the reply the caller waits for comes after the push
            if self._ledger is not None:
                self._ledger.replied()
                if isinstance(response, ReadOnlyError):  # the server was demoted: see pools
                    self._ledger.demoted = True
            if kind is list and response and isinstance(response[0], RedisConnectionError):
                raise response[0]
            return response
