"""``make fuzz``: coverage-guided differential fuzzing, then a sanitizer replay.

1. atheris explores for ``--seconds`` per target (the Reader, the packer) with the
   optimised compiled twin, guided by the coverage of the pure twin, growing a corpus in
   ``build/fuzz-corpus`` from the seeds in ``tests/fuzz/corpus``.
2. Every corpus input runs again against a build with AddressSanitizer and
   UndefinedBehaviorSanitizer (preloaded runtimes), then random inputs for a while more.
   gcc's sanitizer runtimes replace libFuzzer's coverage hooks, which is why the
   sanitizer pass does not guide itself.

Any twin difference, sanitizer report or crash fails the run and leaves the input in
``build/fuzz-artifacts``. The totals are printed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "fuzz" / "harness.py"
SEEDS = ROOT / "tests" / "fuzz" / "corpus"
BUILD = ROOT / "build"


def sanitized_build() -> Path:
    """The compiled twins built with ASan and UBSan into build/sanitized."""
    out = BUILD / "sanitized"
    env = {
        **os.environ,
        "REDISPOOL_SANITIZE": "address,undefined",
        "REDISPOOL_REQUIRE_EXTENSIONS": "1",
    }
    subprocess.run(
        [
            *(sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(out)),
            *("--build-temp", str(BUILD / "sanitized-tmp")),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return out


def runtime_preload() -> str:
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        path = subprocess.run(
            ["gcc", f"-print-file-name={name}"], capture_output=True, text=True, check=True
        ).stdout.strip()
        libs.append(path)
    return ":".join(libs)


def fuzz(target: str, build: Path, args: list[str], env: dict[str, str]) -> int:
    """One libFuzzer run; returns the number of inputs executed."""
    artifacts = BUILD / "fuzz-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(HARNESS), target, str(build), f"-artifact_prefix={artifacts}/"]
    result = subprocess.run(
        command + args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        print(output[-6000:], file=sys.stderr)
        raise SystemExit(f"fuzzing {target} failed (exit {result.returncode})")
    done = re.findall(r"Done (\d+) runs", output)
    return int(done[-1]) if done else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="per target and phase")
    args = parser.parse_args()
    build = sanitized_build()
    sanitizer_env = {
        "LD_PRELOAD": runtime_preload(),
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        "PYTHONPATH": str(ROOT),
    }
    totals = []
    for target in ("reader", "pack"):
        corpus = BUILD / "fuzz-corpus" / target
        corpus.mkdir(parents=True, exist_ok=True)
        seeds = [str(corpus), str(SEEDS / target)]
        guided = fuzz(
            target,
            ROOT,
            [f"-max_total_time={args.seconds}", "-max_len=4096", *seeds],
            {"PYTHONPATH": str(ROOT)},
        )
        size = len(list(corpus.iterdir()))
        replayed = fuzz(target, build, ["-runs=0", *seeds], sanitizer_env)
        random_runs = fuzz(
            target, build, [f"-max_total_time={max(1, args.seconds // 2)}"], sanitizer_env
        )
        totals.append(
            f"{target}: {guided:,} guided executions (corpus {size} inputs), "
            f"{replayed:,} replayed and {random_runs:,} random under ASan+UBSan, "
            "0 crashes, 0 twin differences"
        )
    for line in totals:
        print(line)
    shutil.rmtree(BUILD / "fuzz-artifacts", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
