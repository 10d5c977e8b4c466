"""Exceptions raised by the Reader, named as hiredis names them.

A program written against ``hiredis`` catches ``HiredisError``/``ProtocolError``; keeping
the same names and hierarchy lets it run unchanged against ``redispool``.
"""

from __future__ import annotations

__all__ = ("HiredisError", "ProtocolError", "ReplyError", "UnhashableKeyError")


class HiredisError(Exception):
    """Base class of the Reader's exceptions (hiredis-compatible name)."""


class ProtocolError(HiredisError):
    """The byte stream is not valid RESP; the stream cannot be resynchronised."""


class ReplyError(HiredisError):
    """An error reply from the server (``-ERR ...`` or ``!<len>``); returned, not raised."""


class UnhashableKeyError(ProtocolError, TypeError):
    """A RESP3 map key is itself an array, set, map or push: a protocol error that is also a
    ``TypeError``, which is what hiredis raises there (``unhashable type``), so code written
    for either catches it."""


_DERIVED: dict[type[BaseException], type[BaseException]] = {}  # at most 64 protocolError types


def unhashable_key_error(protocol_error: type[BaseException]) -> type[BaseException]:
    """The class a Reader raises for an aggregate map key when its protocol errors are
    ``protocol_error`` instances: a subclass of both it and ``TypeError``.

    ``ProtocolError`` gives ``UnhashableKeyError``; any other type a subclass made once and
    named after it. A type that cannot also derive from ``TypeError`` is used as is: the
    Reader's ``protocolError=`` contract comes first.
    """
    derived = _DERIVED.get(protocol_error)
    if derived is None:
        if issubclass(protocol_error, TypeError):
            derived = protocol_error
        elif protocol_error is ProtocolError:
            derived = UnhashableKeyError
        else:
            namespace = {"__module__": protocol_error.__module__, "__doc__": protocol_error.__doc__}
            try:
                derived = type(protocol_error.__name__, (protocol_error, TypeError), namespace)
            except TypeError:
                derived = protocol_error
        if len(_DERIVED) >= 64:
            _DERIVED.clear()
        _DERIVED[protocol_error] = derived
    return derived
