"""Reference leaks: loops over every public path of the compiled twins, in a fresh
subprocess, must leave the resident set size where it was (multidict's pattern).
``make stress`` runs them for 1,000,000 iterations; ``make test`` for 100,000."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import weakref
from types import ModuleType

import pytest

from redispool._impl import NO_EXTENSIONS

ITERATIONS = int(os.environ.get("REDISPOOL_LEAK_ITERATIONS", "100000"))

LOOPS = {
    "reader": """
        from redispool._reader_c import Reader
        data = b"*3\\r\\n$3\\r\\nfoo\\r\\n%1\\r\\n+k\\r\\n,1.5\\r\\n>2\\r\\n:1\\r\\n_\\r\\n"
        def body():
            r = Reader(encoding="utf-8")
            r.feed(data)
            r.gets()
            r.feed(b"$70000\\r\\n" + b"x" * 10)
            r.gets()
            r.len()
    """,
    "reader_errors": """
        from redispool._reader_c import Reader
        from redispool import ProtocolError
        def body():
            bad = (b"x\\r\\n", b"*1\\r\\n$-2\\r\\n", b"%1\\r\\n*0\\r\\n:1\\r\\n")
            for wire in (*bad, b"$1\\r\\n\\xff\\r\\n"):
                r = Reader(encoding="utf-8", max_depth=4)
                r.feed(wire)
                try:
                    r.gets()
                except (ProtocolError, UnicodeDecodeError):
                    pass
            r = Reader(replyError=lambda m: ("err", m))
            r.feed(b"-ERR x\\r\\n")
            r.gets()
    """,
    "pack": """
        from redispool._pack_c import Packer, pack_command
        from redis.exceptions import DataError
        packer = Packer()
        big = b"v" * 7000
        def body():
            packer.pack("SET", "k", big, 1, 2.5, memoryview(b"mv"))
            pack_command(("GET", "k"))
            try:
                packer.pack("SET", None)
            except DataError:
                pass
            try:
                pack_command(("SET", object()))
            except TypeError:
                pass
    """,
    "slots": """
        from redispool._slots_c import SlotArray
        def body():
            s = SlotArray(4)
            conns = [object() for _ in range(4)]
            for c in conns:
                code, slot = s.checkout()
                s.fill(slot, c)
            for c in conns:
                s.release(c)
            s.release(s.acquire())
            s.remove(conns[0])
            s.stats()
            s.clear()
    """,
}

# Current RSS from /proc (ru_maxrss would start at the parent's size: it survives exec).
SCRIPT = """
import gc, os
def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024
{loop}
for _ in range(2000):  # warm up: caches, free lists, interned strings
    body()
gc.collect()
start = rss_kib()
for _ in range({iterations}):
    body()
gc.collect()
print(rss_kib() - start)
"""


@pytest.mark.skipif(NO_EXTENSIONS, reason="checks the compiled twins")
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")
@pytest.mark.parametrize("name", list(LOOPS))
def test_no_leak(name: str) -> None:
    script = SCRIPT.format(loop=textwrap.dedent(LOOPS[name]), iterations=ITERATIONS)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600
    )
    growth_kib = int(out.stdout.strip())
    assert growth_kib < 2048, f"{name}: RSS grew by {growth_kib} KiB"


def test_the_leak_check_sees_a_leak() -> None:
    """The measurement itself: a loop that keeps ~10 MB is caught."""
    leaky = "keep = []\ndef body():\n    keep.append(bytearray(64))\n"
    script = SCRIPT.format(loop=leaky, iterations=100_000)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert int(out.stdout.strip()) > 2048


class Owner:
    def __init__(self, reader_mod: ModuleType) -> None:
        self.reader = reader_mod.Reader(replyError=self.on_error, protocolError=self.on_error)

    def on_error(self, message: str) -> Exception:
        return Exception(message)


def test_reader_with_bound_method_callbacks_is_collected(reader_mod: ModuleType) -> None:
    """A Reader whose callbacks are bound methods of its owner forms a cycle; the garbage
    collector must be able to break it (the Reader takes part in GC)."""
    owner = Owner(reader_mod)
    owner.reader.feed(b"-ERR x\r\n")
    assert str(owner.reader.gets()) == "ERR x"
    ref = weakref.ref(owner)
    del owner
    gc.collect()
    assert ref() is None
