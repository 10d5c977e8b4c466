"""What becomes of a connection given back to a pool: the decisions both pools share.

A release has two steps that can go wrong for the next user of the connection: a
connection that may hold an unread reply (its reply ledger says so) or reached a demoted
server must be closed before anyone else can take it, and the slot array's answer to the
release (``slot_codes``' flags) may ask for connections to be closed, waiters to be woken
or redis-py's release event to be fired. This module makes those decisions once; the sync
and asyncio pools carry them out with their own I/O (``disconnect()`` or a close that
cannot be cut short by cancellation, a thread or a task to wake). The common case, a clean
connection whose release answers ``RELEASED``, never gets here: the pools handle it inline.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .ledger import settle
from .slot_codes import CLOSE, FORKED, REAP, WAITERS


class Settled(NamedTuple):
    """A dirty connection's release, decided before the slot array sees it."""

    close: bool  #: close the connection itself first
    idle: list[Any]  #: idle connections of a demoted server, to close now (already noted)


class Released(NamedTuple):
    """The slot array's answer to a release, decoded."""

    close: list[Any]  #: connections to close: the released one (CLOSE) and reaped ones
    wake: bool  #: a waiter may now get a connection (or a slot for a new one)
    ours: bool  #: the connection was checked out from this pool: the release event is due


#: The answer for a connection that is not (or no longer) this pool's.
FOREIGN = Released([], False, False)


def settle_dirty(
    slots: Any, connection: Any, ledger: Any, reconnect: bool, primary: bool
) -> Settled:
    """A connection that may owe a reply (``ledger``, None if it has none), or that redis-py
    marked for reconnect (``reconnect``), is closed before it is released. One that saw
    READONLY (a failover demoted its server) takes every connection of the pool with it,
    unless the pool is meant for replicas (``primary`` False): idle ones now, in-use ones
    marked to reconnect on their release, so none keeps writing to a replica."""
    dirty, demoted = settle(ledger, slots)
    idle: list[Any] = []
    if demoted and primary:
        for conn in slots.busy_connections():
            mark = getattr(conn, "mark_for_reconnect", None)
            if mark is not None:
                mark()
        idle = slots.idle_connections()
        for conn in idle:
            slots.note_closed(conn)
    return Settled(dirty or reconnect, idle)


def decode(slots: Any, connection: Any, flags: int) -> Released:
    """Decode the flags ``slots.release(connection, ...)`` returned (not ``RELEASED``
    alone, which the pools handle inline; not ``FORKED``, which each pool handles its
    own way). Reaped connections are taken out of the array here."""
    if not flags or flags & FORKED:
        return FOREIGN
    close = [connection] if flags & CLOSE else []
    if flags & REAP:
        close += slots.reap()
    return Released(close, bool(flags & (WAITERS | CLOSE)), True)
