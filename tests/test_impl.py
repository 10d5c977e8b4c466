"""The selector loads the compiled twins unless told not to: a broken build must not
silently leave the suite testing the pure twin twice."""

from __future__ import annotations

import os
import subprocess
import sys

import redispool
from redispool import _impl


def test_implementation_matches_environment() -> None:
    if os.environ.get("REDISPOOL_NO_EXTENSIONS"):
        assert redispool.IMPLEMENTATION == "python"
        assert redispool.Reader.__module__ == "redispool._reader_py"
        assert redispool.Packer.__module__ == "redispool._pack_py"
        assert _impl.SlotArray.__module__ == "redispool._slots_py"
    else:
        assert redispool.IMPLEMENTATION == "cython"
        assert redispool.Reader.__module__ == "redispool._reader_c"
        assert redispool.Packer.__module__ == "redispool._pack_c"
        assert _impl.SlotArray.__module__ == "redispool._slots_c"
    assert _impl.IMPLEMENTATION == redispool.IMPLEMENTATION


def test_info_command_reports_the_implementation() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "redispool", "info"], capture_output=True, text=True, check=True
    ).stdout
    assert f"implementation: {redispool.IMPLEMENTATION}" in out
    assert f"redispool: {redispool.__version__}" in out
    assert "redis-py:" in out
