"""Another project's own tests, taken from the sdist of the version installed here."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fetch(package: str, version: str, extra: tuple[str, ...] = ()) -> Path:
    """``tests/`` (and the ``extra`` top-level files) of ``package==version``, unpacked
    once into ``.upstream/<package>-<version>``."""
    target = ROOT / ".upstream" / f"{package}-{version}"
    if (target / "tests").is_dir():
        return target
    download = ROOT / ".upstream" / "sdist"
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
    subprocess.run([*pip, f"{package}=={version}", "-d", str(download)], check=True)
    archive = next(download.glob(f"{package}-{version}.tar.gz"))
    prefix = f"{package}-{version}/"
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith(prefix + "tests/") or m.name[len(prefix) :] in extra
        ]
        for member in members:
            member.name = member.name.split("/", 1)[1]
        tar.extractall(target, members=members, filter="data")
    return target
