"""Exceptions raised by the Reader, named as hiredis names them.

A program written against ``hiredis`` catches ``HiredisError``/``ProtocolError``; keeping
the same names and hierarchy lets it run unchanged against ``redispool``.
"""

from __future__ import annotations

__all__ = ("HiredisError", "ProtocolError", "ReplyError")


class HiredisError(Exception):
    """Base class of the Reader's exceptions (hiredis-compatible name)."""


class ProtocolError(HiredisError):
    """The byte stream is not valid RESP; the stream cannot be resynchronised."""


class ReplyError(HiredisError):
    """An error reply from the server (``-ERR ...`` or ``!<len>``); returned, not raised."""
