"""``python -m redispool info | bench``."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from importlib import metadata

import redis

from . import __version__
from ._impl import IMPLEMENTATION


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def info() -> None:
    print(f"redispool: {__version__}")
    print(f"implementation: {IMPLEMENTATION}")
    if IMPLEMENTATION == "cython":
        compiled = importlib.import_module("redispool._reader_c")
        print(f"built with Cython: {compiled.__cython_version__}")
    print(f"redis-py: {redis.__version__}")
    print(f"hiredis: {_version('hiredis')}")
    print(f"python: {platform.python_implementation()} {platform.python_version()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m redispool")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="which implementation is loaded, and versions")
    bench = commands.add_parser(
        "bench", help="redispool vs redis-py (+hiredis) vs a raw socket, side by side"
    )
    bench.add_argument("--url", help="measure against this server, not an embedded one")
    bench.add_argument("--rounds", type=int, default=9, help="timing rounds (medians)")
    bench.add_argument("--json", metavar="FILE", help="write the results as JSON")
    bench.add_argument("--plot", metavar="FILE", help="write a PNG bar chart")
    args = parser.parse_args(argv)
    if args.command == "info":
        info()
        return 0
    from ._bench import run
    from .server import ServerNotFound

    try:
        run(args.url, args.rounds, args.json, args.plot)
    except ServerNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
