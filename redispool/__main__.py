"""``python -m redispool info | demo``."""

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
    demo = commands.add_parser("demo", help="real commands and a parse-speed comparison")
    demo.add_argument("--url", help="use this server instead of an embedded redis-server")
    demo.add_argument("--rounds", type=int, default=15, help="timing rounds per parser")
    args = parser.parse_args(argv)
    if args.command == "info":
        info()
        return 0
    from ._demo import main as run_demo
    from .server import ServerNotFound

    try:
        run_demo(args.url, args.rounds)
    except ServerNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
