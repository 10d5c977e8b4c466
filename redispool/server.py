"""Find and run a throwaway ``redis-server`` on a free loopback port.

The demo, the benchmarks and the test session all need a real server and must not touch
one the user runs: this starts a private one (temporary directory, no persistence,
loopback only) and stops it at exit.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

__all__ = ("RedisServer", "ServerNotFound", "find_redis_server")

INSTALL_HINT = (
    "no redis-server found: install it (Debian/Ubuntu: apt-get install redis-server), "
    "set REDISPOOL_REDIS_SERVER to its path, or pass --url redis://HOST:PORT"
)


class ServerNotFound(RuntimeError):
    """No ``redis-server`` binary is available."""


def find_redis_server() -> str:
    """The ``redis-server`` to run: ``$REDISPOOL_REDIS_SERVER``, else the one on PATH."""
    binary = os.environ.get("REDISPOOL_REDIS_SERVER") or shutil.which("redis-server")
    if not binary or not os.access(binary, os.X_OK):
        raise ServerNotFound(INSTALL_HINT)
    return binary


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

    @property
    def version(self) -> tuple[int, ...]:
        out = subprocess.run([self.binary, "--version"], capture_output=True, check=True).stdout
        match = re.search(rb"v=(\d+)\.(\d+)\.(\d+)", out)
        if match is None:
            raise RuntimeError(f"cannot read the version of {self.binary}: {out!r}")
        return tuple(int(part) for part in match.groups())

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
