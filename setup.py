"""Declares the Cython extensions; everything else is in pyproject.toml.

The extensions are optional: ``REDISPOOL_NO_EXTENSIONS=1`` skips them, and a failed build
(no compiler, no Cython) installs the pure-Python twins with one warning, unless
``REDISPOOL_REQUIRE_EXTENSIONS=1``. ``REDISPOOL_DEBUG_BUILD=1`` builds without
optimisation and with debug symbols (for gdb); ``REDISPOOL_SANITIZE=address,undefined``
adds those sanitizers (run with the sanitizer runtime preloaded, as ``make fuzz`` does).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = bool(os.environ.get("REDISPOOL_NO_EXTENSIONS"))
REQUIRE_EXTENSIONS = bool(os.environ.get("REDISPOOL_REQUIRE_EXTENSIONS"))
DEBUG_BUILD = bool(os.environ.get("REDISPOOL_DEBUG_BUILD"))
SANITIZE = os.environ.get("REDISPOOL_SANITIZE", "")


class OptionalBuildExt(build_ext):
    """A compile failure falls back to the pure-Python twins instead of failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # setuptools raises several unrelated types here
            self._fallback(exc)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._fallback(exc)

    warned = False

    def _fallback(self, exc: Exception) -> None:
        if REQUIRE_EXTENSIONS:
            raise exc
        if not OptionalBuildExt.warned:
            OptionalBuildExt.warned = True
            print(
                f"WARNING: redispool's compiled extensions were not built ({exc}); "
                "installing the pure-Python implementation.",
                file=sys.stderr,
            )


def extensions() -> list:  # type: ignore[type-arg]
    if NO_EXTENSIONS or sys.implementation.name != "cpython":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError as exc:
        if REQUIRE_EXTENSIONS:
            raise
        print(f"WARNING: Cython is not available ({exc}); pure-Python install.", file=sys.stderr)
        return []
    from Cython import __version__ as cython_version
    from setuptools import Extension

    flags = ["-O0", "-g3"] if DEBUG_BUILD else ["-O2"]
    link_flags: list[str] = []
    if SANITIZE:
        sanitize = [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer", "-g"]
        flags += [*sanitize, "-fno-sanitize-recover=all"]
        link_flags += sanitize
    modules = [
        Extension(
            f"redispool.{source.stem}",
            [str(source)],
            include_dirs=["src_c"],
            define_macros=[("REDISPOOL_CYTHON_VERSION", f'"{cython_version}"')],
            extra_compile_args=flags if os.name != "nt" else [],
            extra_link_args=link_flags if os.name != "nt" else [],
            libraries=["ws2_32"] if os.name == "nt" else [],  # WSAPoll in _slots.h
        )
        for source in sorted(Path("src_c").glob("_*_c.pyx"))
    ]
    return cythonize(
        modules,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "freethreading_compatible": True,
        },
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
