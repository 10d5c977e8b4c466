"""The codes the slot array, the Packer and the pools exchange, each defined here once.

``SlotArray.checkout()`` answers with a checkout code; ``SlotArray.release()`` with a set
of release flags (0: the connection was not checked out from that array) and takes a
socket descriptor or a socket code as ``fd``; ``Packer.lend_fd`` answers with a descriptor,
a socket code or ``DIRTY``. The compiled twins cannot import these at compile time: they
keep the same values as C enums in ``src_c/_slot_codes.pxd`` and export them as attributes
of ``redispool._slots_c``, and ``tests/test_slots.py`` checks that both agree name by name.

Plain ints, not ``IntEnum``/``IntFlag``: the pools compare and mask release flags on every
release, where an enum's Python-level ``__and__`` would cost a call each time.
"""

from __future__ import annotations

from typing import Final

# SlotArray.checkout() codes
READY: Final = 0  #: an idle connection, used recently enough to hand out as is
CHECK: Final = 1  #: an idle connection, idle longer than ``check_after``: peek at its socket
RENEW: Final = 2  #: an idle connection past ``max_lifetime`` or ``idle_timeout``: reconnect
NEW: Final = 3  #: no idle connection; a slot was reserved for a new one (``fill``/``cancel``)
FULL: Final = 4  #: no idle connection and no room for a new one

# SlotArray.release() flags; 0 means "not checked out from this array" (foreign or double)
RELEASED: Final = 1  #: the connection is idle again
CLOSE: Final = 2  #: the slot was freed (``max_idle``/``max_lifetime``): disconnect it
WAITERS: Final = 4  #: somebody waits for a connection: notify
REAP: Final = 8  #: the coldest idle connection is past ``idle_timeout``/``max_lifetime``
FORKED: Final = 16  #: the process forked since the array was made: the pool must reset

# socket codes: ``fd`` values that are not descriptors
NO_SOCKET: Final = -1  #: closed (``acquire`` hands it out: the caller connects it)
OPAQUE_SOCKET: Final = -2  #: open, but not a socket ``acquire`` can poll (the caller checks)
#: ``Packer.lend_fd`` of a connection that may hold an unread reply or reached a demoted
#: server: the pools disconnect it instead of releasing its socket to the array.
DIRTY: Final = -3
