"""Deliberately slowed builds, to show the ratio gate catches a small regression: a copy
of this checkout (its tracked files as they are now) with one edit, built in place, and
the gate (``gate.py``, with the arguments given: ``make gate-check`` adds ``--callgrind``)
run on it.

    python benchmarks/slowed.py checkout [GATE ARGS...]   # an extra Python call per checkout
    python benchmarks/slowed.py reply [GATE ARGS...]      # an extra Python call per parsed reply
    python benchmarks/slowed.py checkout --reuse [GATE ARGS...]  # the copy built before

``checkout`` wraps the slot array's ``acquire`` in ``redispool/pool.py``'s
``ConnectionPool.get_connection`` in a Python function; ``reply`` has the compiled
Reader's ``gets`` return each reply through a Python lambda. The exit code is the gate's
(1 when it caught the slowdown). The copy is left in ``build/slowed-VARIANT``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: variant -> [(file, text, replacement)]: each text must occur exactly once
EDITS: dict[str, list[tuple[str, str, str]]] = {
    "checkout": [
        (
            "redispool/pool.py",
            "        conn = self._slots.acquire()\n        if conn is not None:\n",
            "        conn = _slowed(self._slots.acquire())\n        if conn is not None:\n",
        ),
        (
            "redispool/pool.py",
            "\nclass ConnectionPool(",
            "\ndef _slowed(x: Any) -> Any:\n    return x\n\n\nclass ConnectionPool(",
        ),
    ],
    "reply": [
        (
            "src_c/_reader_c.pyx",
            "            raise exc\n        return reply\n",
            "            raise exc\n        return _slowed(reply)\n",
        ),
        (
            "src_c/_reader_c.pyx",
            "\ncdef class Reader",
            '\n_slowed = eval("lambda x: x")  # a Python-level call\n\n\ncdef class Reader',
        ),
    ],
}


def edit(root: Path, variant: str) -> None:
    for name, text, replacement in EDITS[variant]:
        path = root / name
        source = path.read_text()
        if source.count(text) != 1:
            raise SystemExit(f"{variant}: {name} no longer has the text to edit once: {text!r}")
        path.write_text(source.replace(text, replacement))


def copy(variant: str) -> Path:
    """The tracked files of this checkout, as they are in the work tree, in build/."""
    target = ROOT / "build" / f"slowed-{variant}"
    shutil.rmtree(target, ignore_errors=True)
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    return target


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EDITS:
        print(__doc__, file=sys.stderr)
        return 2
    variant, gate_args = argv[0], argv[1:]
    reuse = gate_args[:1] == ["--reuse"]
    if reuse:
        gate_args = gate_args[1:]
        root = ROOT / "build" / f"slowed-{variant}"
    if not reuse or not (root / "benchmarks" / "gate.py").exists():
        root = copy(variant)
        edit(root, variant)
        subprocess.run(
            [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
            cwd=root,
            check=True,
            env={**os.environ, "REDISPOOL_REQUIRE_EXTENSIONS": "1"},
        )
    print(f"slowed variant {variant!r}: {root}", flush=True)
    return subprocess.run(
        [sys.executable, str(root / "benchmarks" / "gate.py"), *gate_args], cwd=root
    ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
