"""Run hiredis-py's own tests against both Reader/packer twins, each in the place of
``hiredis``.

Usage: ``python tests/upstream/hiredis_py.py [test files...]`` (part of ``make
upstream``). The tests come from the sdist of the installed hiredis version, fetched from
PyPI into ``.upstream/``. A ``hiredis`` stand-in package, written into ``.upstream/``,
re-exports one twin (``redispool._reader_c``/``_pack_c`` or ``_reader_py``/``_pack_py``)
and redispool's exceptions. Exit status 1 if any test fails against either twin.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import sdist

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILES = ["tests/test_reader.py", "tests/test_pack.py", "tests/test_gc.py"]
STAND_IN = '''"""hiredis, as redispool's {twin} twins (tests/upstream/hiredis_py.py)."""
__version__ = "{version}"  # set first: redis-py reads it while redispool imports
from redispool._reader_{twin} import Reader
from redispool._pack_{twin} import pack_command
from redispool.errors import HiredisError, ProtocolError, ReplyError
from redispool.push import PushNotification
'''


def fetch_tests(hiredis_version: str) -> Path:
    """hiredis-py's ``tests/`` for the installed version."""
    target = sdist.fetch("hiredis", hiredis_version)
    (target / "pytest.ini").write_text("[pytest]\n")  # not redispool's pytest settings
    return target


def stand_in(twin: str, hiredis_version: str) -> Path:
    """A directory holding a ``hiredis`` package that is redispool's ``twin`` twins."""
    where = ROOT / ".upstream" / f"hiredis-as-{twin}"
    (where / "hiredis").mkdir(parents=True, exist_ok=True)
    text = STAND_IN.format(twin=twin, version=hiredis_version)
    (where / "hiredis" / "__init__.py").write_text(text)
    return where


def main() -> int:
    files = sys.argv[1:] or DEFAULT_FILES
    hiredis_version = version("hiredis")
    where = fetch_tests(hiredis_version)
    failed = 0
    for twin in ("c", "py"):
        path = stand_in(twin, hiredis_version)
        args = [sys.executable, "-m", "pytest", *files, "-q", "-rfE", "-p", "no:cacheprovider"]
        env = {"PYTHONPATH": f"{path}:{ROOT}", "PATH": "/usr/bin:/bin"}
        if twin == "py":
            env["REDISPOOL_NO_EXTENSIONS"] = "1"
        run = subprocess.run(args, cwd=where, capture_output=True, text=True, env=env)
        summary = (run.stdout.strip().splitlines() or ["no output"])[-1]
        print(f"hiredis-py {hiredis_version} tests, redispool._reader_{twin}: {summary}")
        if run.returncode != 0:
            print(run.stdout[-4000:] + run.stderr[-2000:])
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
