"""Which commands' replies a connection can count.

A socket peek at checkout cannot see a reply still in flight, so redis-py hands such a
connection to the next caller, who then reads someone else's reply. redispool counts
instead: the ``Packer`` a pool gives each connection adds one reply owed per command it
packs, the ``Parser`` takes one off per reply it returns, and a connection released while
it owes one is disconnected, never lent again. The count is exact for ordinary commands,
pipelines and transactions. The commands below have no fixed number of replies (pub/sub,
MONITOR, CLIENT REPLY, replication, RESET); packing one makes the count ``UNCOUNTABLE``
until the connection disconnects, which is what redis-py's pub/sub and monitor code does
on release anyway.
"""

from __future__ import annotations

from typing import Any, Final

#: ``Packer.owed`` of a connection whose replies cannot be counted: never lent again
#: (its ``lend_fd`` is ``redispool.slot_codes.DIRTY``).
UNCOUNTABLE: Final = 1 << 62

#: The commands after which a connection's replies cannot be counted (``CLIENT REPLY``
#: too, below); ``redispool.exclusive`` keeps them off shared connections.
NO_FIXED_REPLIES: Final = (
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    "MONITOR",
    "SYNC",
    "PSYNC",
    "RESET",
)

#: redis-py's own spellings, looked up before anything else (``CLIENT`` needs its second word).
UNCOUNTED: Final = frozenset(
    variant
    for name in (*NO_FIXED_REPLIES, "CLIENT REPLY")
    for text in (name, name.lower())
    for variant in (text, text.encode())
)


def uncounted(args: tuple[Any, ...]) -> bool:
    """Whether a command's replies cannot be counted, in any spelling (``Subscribe``,
    ``b"monitor"``, ``"client reply"``, ``CLIENT`` and ``REPLY`` as two arguments)."""
    if not args:
        return False
    name = args[0]
    if isinstance(name, (str, bytes)) and name in UNCOUNTED:
        return True
    if type(name) is str and name.isupper() and name != "CLIENT":  # redis-py's spelling
        return False
    words = [_text(arg).upper() for arg in args[:2]]
    first = words[0].split()
    if not first:
        return False
    if first[0] in NO_FIXED_REPLIES:
        return True
    second = first[1] if len(first) > 1 else (words[1] if len(words) > 1 else "")
    return first[0] == "CLIENT" and second == "REPLY"


def settle(ledger: Any, slots: Any) -> tuple[bool, bool]:
    """What a release learns from a connection's ledger (None: it has none): whether the
    connection must be disconnected (a reply may be unread, or its server was demoted)
    and whether its server was demoted. Counts the dirty close; clears the demotion."""
    if ledger is None:
        return False, False
    owed, demoted = bool(ledger.owed), bool(ledger.demoted)
    if owed:
        slots.note_dirty()
    ledger.demoted = False
    return owed or demoted, demoted


def _text(arg: Any) -> str:
    if isinstance(arg, (bytes, bytearray, memoryview)):
        return bytes(arg).decode("latin-1")
    return arg if isinstance(arg, str) else ""
