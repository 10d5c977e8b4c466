"""The commands that never share a connection with other callers' commands.

Auto-pipelining writes many callers' commands on one connection, so a command may share
it only if it neither holds the connection (a blocking read would delay every command
behind it), nor changes what the connection is for the commands after it (a database,
credentials, a protocol, a transaction, a tracking mode), nor makes the server send what
nobody asked for (push mode). These run on a connection of their own instead, as with
auto-pipelining off. The list is ``redispool``'s reference notes' (``command-path.md``).
"""

from __future__ import annotations

from typing import Any, Final

from .ledger import NO_FIXED_REPLIES

#: Blocking commands (XREAD and XREADGROUP only with BLOCK, see ``STREAM_READS``).
BLOCKING: Final = frozenset(
    {
        "BLPOP",
        "BRPOP",
        "BRPOPLPUSH",
        "BLMOVE",
        "BLMPOP",
        "BZPOPMIN",
        "BZPOPMAX",
        "BZMPOP",
        "WAIT",
        "WAITAOF",
        "MIGRATE",
    }
)
#: Connection state and transactions (every CLIENT subcommand: REPLY, TRACKING, SETNAME...;
#: RESET is in ``PUSH``, whose replies cannot be counted).
STATEFUL: Final = frozenset(
    {
        "SELECT",
        "AUTH",
        "HELLO",
        "QUIT",
        "CLIENT",
        "READONLY",
        "READWRITE",
        "ASKING",
        "MULTI",
        "EXEC",
        "DISCARD",
        "WATCH",
        "UNWATCH",
    }
)
#: Push mode and replication streams (and RESET): the commands whose replies cannot be
#: counted (``redispool.ledger``).
PUSH: Final = frozenset(NO_FIXED_REPLIES)
EXCLUSIVE: Final = BLOCKING | STATEFUL | PUSH
#: Stream reads that block when given ``BLOCK``.
STREAM_READS: Final = frozenset({"XREAD", "XREADGROUP"})

_known: dict[str, bool] = {}  # redis-py's spellings of names, answered once
_KNOWN_MAX = 4096


def _word(arg: Any) -> str:
    """``arg``'s first word, upper-cased ("" for what is not text)."""
    if isinstance(arg, (bytes, bytearray, memoryview)):
        arg = bytes(arg).decode("latin-1")
    if not isinstance(arg, str):
        return ""
    words = arg.split(None, 1)
    return words[0].upper() if words else ""


def exclusive(args: tuple[Any, ...]) -> bool:
    """Whether the command ``args`` must run on a connection of its own (any spelling:
    ``"blpop"``, ``b"CLIENT"``, ``"CLIENT SETNAME"``, XREAD with ``block``)."""
    name = args[0]
    if type(name) is str:
        known = _known.get(name)
        if known is not None:
            return known
    word = _word(name)
    if word in STREAM_READS:
        return any(_word(arg) == "BLOCK" for arg in args[1:])
    answer = word in EXCLUSIVE
    if type(name) is str and len(_known) < _KNOWN_MAX:
        _known[name] = answer
    return answer
