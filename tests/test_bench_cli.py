"""``python -m redispool bench``: the main job runs end to end and fails clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redispool", "bench", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_against_a_server(redis_url: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = bench(
        "--url",
        redis_url,
        "--rounds",
        "1",
        "--json",
        str(tmp_path / "r.json"),
        "--plot",
        str(tmp_path / "r.png"),
    )
    assert out.returncode == 0, out.stderr
    assert "asyncio GET, 50 tasks" in out.stdout and "% of floor" in out.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    clients = {row["client"] for row in result["end_to_end"]}
    assert clients == {"redispool", "redis-py+hiredis", "redis-py", "raw socket"}
    assert all(row["us_per_op"] > 0 for row in result["end_to_end"])
    assert {row["pool"] for row in result["pools"]} >= {"redispool ConnectionPool"}
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")


def test_no_server_and_no_url() -> None:
    out = bench(env={"REDISPOOL_SERVER": "/nonexistent/redis-server"})
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "redis-server" in lines[0] and "--url" in lines[0]
