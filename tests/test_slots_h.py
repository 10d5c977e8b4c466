"""The slot array's C helpers (``src_c/_slots.h``) under ThreadSanitizer, from many
pthreads: the fork generation is read on every checkout from any thread, so it must be
race-free on free-threaded CPython."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(sys.platform != "linux" or not shutil.which("gcc"), reason="gcc on Linux")
def test_slots_header_is_race_free(tmp_path: Path) -> None:
    binary = tmp_path / "test_slots_h"
    build = subprocess.run(
        [
            *("gcc", "-fsanitize=thread", "-O1", "-g", "-pthread", "-I", str(ROOT / "src_c")),
            *(str(ROOT / "tests" / "c" / "test_slots_h.c"), "-o", str(binary)),
        ],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0 and "tsan" in build.stderr.lower():
        pytest.skip(f"ThreadSanitizer is not available: {build.stderr[-300:]}")
    assert build.returncode == 0, build.stderr
    env = {**os.environ, "TSAN_OPTIONS": "halt_on_error=1:exitcode=66"}
    run = subprocess.run([str(binary)], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert run.stdout.startswith("ok generation=400000")
