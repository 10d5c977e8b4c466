"""Coverage-guided differential fuzzing of the compiled Reader and packer (atheris).

Each input drives the compiled twin, built with AddressSanitizer and
UndefinedBehaviorSanitizer, and the pure-Python twin, whose coverage guides atheris (the
two share their structure; gcc builds carry no libFuzzer coverage). Both must give the
same replies or the same error: a difference, a sanitizer report or a crash stops the
run with the input saved. ``python tests/fuzz/run.py`` builds and runs it (``make fuzz``).

    python tests/fuzz/harness.py reader|pack BUILD_DIR [libFuzzer options] [corpus dirs]
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ["REDISPOOL_NO_EXTENSIONS"] = "1"  # the package itself runs pure; see load()

import atheris

with atheris.instrument_imports(include=["redispool"]):
    from redispool import _pack_py, _reader_py


def load(name: str, build: Path) -> ModuleType:
    """The sanitizer build of compiled module ``name``, loaded from ``build``."""
    path = next((build / "redispool").glob(f"{name}.*.so"))
    spec = importlib.util.spec_from_file_location(f"redispool.{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


NOT_ENOUGH = object()


def replies(reader_class: Any, chunks: list[bytes], kwargs: dict[str, Any]) -> list[Any]:
    """Every reply (or the error that ends the stream) from feeding ``chunks``."""
    reader = reader_class(notEnoughData=NOT_ENOUGH, **kwargs)
    out: list[Any] = []
    try:
        for chunk in chunks:
            reader.feed(chunk)
            while (reply := reader.gets()) is not NOT_ENOUGH:
                out.append(reply)
        out.append(("len", reader.len(), reader.has_data()))
    except Exception as exc:  # protocol errors, limits, decode errors
        out.append((type(exc).__name__, str(exc)))
    return out


def normal(value: Any) -> Any:
    """Comparable form: nan equals nan, error instances by class and text."""
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, dict):  # as pairs: keys may be error instances (by identity)
        return [("dict", normal(k), normal(v)) for k, v in value.items()]
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, BaseException):
        return (type(value).__name__, str(value))
    return value


def fuzz_reader(reader_c: ModuleType) -> Any:
    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        options = fdp.ConsumeIntInRange(0, 7)
        kwargs: dict[str, Any] = {}
        if options & 1:
            kwargs["encoding"] = "utf-8"
            kwargs["errors"] = "replace" if options & 2 else "strict"
        if options & 4:
            kwargs["max_depth"] = fdp.ConsumeIntInRange(1, 8)
            kwargs["max_bulk_len"] = fdp.ConsumeIntInRange(0, 64)
        cuts = fdp.ConsumeIntListInRange(fdp.ConsumeIntInRange(0, 6), 0, 1 << 16)
        stream = fdp.ConsumeBytes(fdp.remaining_bytes())
        bounds = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
        chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
        compiled = normal(replies(reader_c.Reader, chunks, kwargs))
        pure = normal(replies(_reader_py.Reader, chunks, kwargs))
        if compiled != pure:
            raise AssertionError(f"twins differ on {stream!r} {kwargs}:\n{compiled}\n{pure}")

    return one


def fuzz_pack(pack_c: ModuleType) -> Any:
    def value(fdp: Any) -> Any:
        kind = fdp.ConsumeIntInRange(0, 5)
        if kind == 0:
            return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 9000))
        if kind == 1:
            return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
        if kind == 2:
            return fdp.ConsumeInt(8)
        if kind == 3:
            return fdp.ConsumeRegularFloat()
        if kind == 4:
            return memoryview(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 100)))
        return [None, True, 1j][fdp.ConsumeIntInRange(0, 2)]  # rejected types

    def outcome(packer: Any, args: tuple[Any, ...]) -> Any:
        try:
            return b"".join(bytes(chunk) for chunk in packer.pack(*args))
        except Exception as exc:
            return type(exc).__name__

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        args = tuple(value(fdp) for _ in range(fdp.ConsumeIntInRange(1, 8)))
        compiled = outcome(pack_c.Packer(), args)
        pure = outcome(_pack_py.Packer(), args)
        if compiled != pure:
            raise AssertionError(f"twins differ on {args!r}: {compiled!r} != {pure!r}")

    return one


def main() -> None:
    target, build = sys.argv[1], Path(sys.argv[2])
    if target == "reader":
        test = fuzz_reader(load("_reader_c", build))
    elif target == "pack":
        test = fuzz_pack(load("_pack_c", build))
    else:
        raise SystemExit(f"unknown target {target}")
    atheris.Setup([sys.argv[0], *sys.argv[3:]], test)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
