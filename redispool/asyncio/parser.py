"""``AsyncParser``: redis-py's asyncio parser interface on the compiled Reader."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ReadOnlyError

from .. import _compat
from .._compat import SERVER_CLOSED_CONNECTION_ERROR, _AsyncRESP3Parser
from .._impl import Reader
from ..push import PushNotification

NOT_ENOUGH_DATA = object()


class AsyncParser(_AsyncRESP3Parser):
    """``parser_class`` for ``redis.asyncio`` connections (RESP2 and RESP3).

    A subclass of redis-py's ``_AsyncRESP3Parser``, so pools with maintenance
    notifications accept it and ``HELLO 3`` never swaps it out. Error replies map to
    redis-py's exception classes as in ``redispool.Parser``; push messages go to
    redis-py's (awaitable) push handlers. A read cancelled while waiting for bytes keeps
    what it has: the next read continues the same reply.
    """

    #: The Reader class (the compiled twin when available); tests swap in either twin.
    reader_class: Any = Reader

    def __init__(self, socket_read_size: int) -> None:
        super().__init__(socket_read_size)
        self._reader: Any = None
        self._ledger: Any = None
        # the redis-py parser class read with otherwise, and its own read_response
        self._stands_for, self._stands_for_read = _compat.stand_in_parser(True, None)

    def on_connect(self, connection: Any) -> None:
        protocol = getattr(connection, "protocol", None)
        self._stands_for, self._stands_for_read = _compat.stand_in_parser(True, protocol)
        ledger = self._ledger = _compat.async_ledger(connection)
        if ledger is not None:
            ledger.fd = _compat.async_fd(connection)
        self._stream = connection._reader
        if self._stream is None:
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        self.encoder = encoder = connection.encoder
        kwargs: dict[str, Any] = {
            "protocolError": InvalidResponse,
            "replyError": self.parse_error,
            "notEnoughData": NOT_ENOUGH_DATA,
        }
        if encoder.decode_responses:
            kwargs["encoding"] = encoder.encoding
            kwargs["errors"] = encoder.encoding_errors
        self._reader = self.reader_class(**kwargs)
        self._connected = True

    def on_disconnect(self) -> None:
        self._connected = False
        if self._ledger is not None:
            self._ledger.disconnected()

    async def can_read(self) -> bool:
        """Whether bytes wait in the Reader or the stream; never blocks. A stream the
        server closed raises ``ConnectionError``, as the sync ``Parser`` does, so a pool
        reconnects it even where pending bytes are allowed (maintenance notifications)."""
        if not self._connected:
            raise OSError("Buffer is closed.")
        if self._reader.has_data():
            return True
        stream: Any = self._stream
        if stream.at_eof():
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        if _compat.STREAM_PEEK:
            return bool(stream._buffer)
        try:  # no peek at the stream's buffer: take what is there into the Reader
            async with _compat.async_timeout(0):
                await self.read_from_socket()
        except asyncio.TimeoutError:
            return False
        return True

    async def read_from_socket(self) -> bool:
        stream: Any = self._stream
        data = await stream.read(self._read_size)
        if not data:
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR) from None
        self._reader.feed(data)
        return True

    async def read_response(
        self, disable_decoding: bool = False, push_request: bool = False
    ) -> Any:
        if self._stands_for.read_response is not self._stands_for_read:  # replaced
            return await _compat.replaced_read(
                self,
                self._stands_for,
                disable_decoding=disable_decoding,
                push_request=push_request,
            )
        while True:
            if not self._connected:
                raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR) from None
            reader = self._reader
            response = reader.gets(False) if disable_decoding else reader.gets()
            while response is NOT_ENOUGH_DATA:
                await self.read_from_socket()
                response = reader.gets(False) if disable_decoding else reader.gets()
            kind = type(response)
            if kind is bytes or kind is int or kind is str:
                if self._ledger is not None:
                    self._ledger.replied()
                return response
            if isinstance(response, RedisConnectionError):
                raise response
            if kind is PushNotification:
                response = await self.handle_push_response(response)
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
