"""A throwaway three-master Redis Cluster on loopback, for the cluster pool tests.

``redis.cluster.RedisCluster`` builds one pool per node from ``connection_pool_class``, and
only a real cluster (a slot map, MOVED replies) exercises that path. Each node is a
``RedisServer`` (private free port and temporary directory), so nothing the user runs is
touched, and everything is stopped and removed on exit, also when creation fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from types import TracebackType

import redis

from redispool.server import RedisServer, ServerNotFound, find_redis_server

__all__ = ("RedisCluster3", "find_redis_cli")

# The config file name is relative: redis-server resolves it in its --dir, which
# RedisServer makes private to each node, so the nodes never share (and lock) one file.
NODE_ARGS = (
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    "5000",
    "--appendonly",
    "no",
    "--save",
    "",
)

SlotMap = tuple[tuple[int, int, str], ...]


def find_redis_cli(server_binary: str | None = None) -> str:
    """The cli that matches the server: the one next to it (``valkey-cli`` beside
    ``valkey-server``), else ``redis-cli`` or ``valkey-cli`` on PATH."""
    server_binary = server_binary or find_redis_server()
    name = os.path.basename(server_binary).replace("-server", "-cli")
    beside = os.path.join(os.path.dirname(server_binary), name)
    if name.endswith("-cli") and os.access(beside, os.X_OK):
        return beside
    on_path = shutil.which("redis-cli") or shutil.which("valkey-cli")
    if on_path is None:
        raise ServerNotFound(
            f"no {name} next to {server_binary}, no redis-cli or valkey-cli on PATH "
            "(needed to create the cluster)"
        )
    return on_path


class RedisCluster3:
    """Three masters (no replicas) sharing the 16384 slots, as a context manager."""

    host = "127.0.0.1"

    def __init__(self, binary: str | None = None, *, timeout: float = 20.0) -> None:
        self.binary = binary or find_redis_server()
        self.cli = find_redis_cli(self.binary)
        self.timeout = timeout
        self.servers: list[RedisServer] = []

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    @property
    def url(self) -> str:
        """The first node's URL: enough for ``RedisCluster.from_url`` to discover the rest."""
        if not self.servers:
            raise RuntimeError("the cluster is not running")
        return self.servers[0].url

    def start(self) -> RedisCluster3:
        """Start three nodes, join them with ``redis-cli --cluster create``, and wait until
        every node serves the same complete slot map; on any failure stop everything."""
        try:
            for _ in range(3):
                server = RedisServer(self.binary, extra_args=NODE_ARGS)
                self.servers.append(server)
                server.start()
            self._create()
            self.wait_until_stable()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        addresses = [f"{self.host}:{port}" for port in self.ports]
        command = [self.cli, "--cluster", "create", *addresses]
        command += ["--cluster-replicas", "0", "--cluster-yes"]
        try:
            result = subprocess.run(command, capture_output=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{' '.join(command)} hung for {self.timeout} s") from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{output}")

    def client(self, port: int) -> redis.Redis:
        """A plain (non-cluster) client of one node, for admin commands like SETSLOT."""
        return redis.Redis(self.host, port, decode_responses=True, socket_timeout=2)

    def node_ids(self) -> dict[int, str]:
        """Each node's cluster id by port (what ``CLUSTER SETSLOT ... NODE`` takes)."""
        ids: dict[int, str] = {}
        for port in self.ports:
            with self.client(port) as node:
                ids[port] = str(node.execute_command("CLUSTER", "MYID"))
        return ids

    def slot_owner(self, slot: int) -> int:
        """The port of the node that serves ``slot``, in the first node's view."""
        ids = {node_id: port for port, node_id in self.node_ids().items()}
        for first, last, node_id in self._view(self.ports[0])[1]:
            if first <= slot <= last:
                return ids[node_id]
        raise RuntimeError(f"slot {slot} is not served by any node")

    def move_slot(self, slot: int, port: int) -> None:
        """Hand ``slot`` and its keys to the node on ``port``, the way ``redis-cli --cluster
        reshard`` does (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE on every node), so that
        clients with the old slot map get MOVED replies."""
        source = self.slot_owner(slot)
        if source == port:
            return
        ids = self.node_ids()
        with self.client(port) as target, self.client(source) as owner:
            target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
            owner.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[port])
            while keys := owner.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
                owner.execute_command("MIGRATE", self.host, port, "", 0, 5000, "KEYS", *keys)
        # the target first: it then bumps its config epoch, so the move wins everywhere
        for node in [port, source, *(p for p in self.ports if p not in (port, source))]:
            with self.client(node) as client:
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[port])
        self.wait_until_stable()

    def wait_until_stable(self, timeout: float | None = None) -> None:
        """Wait until every node says ``cluster_state:ok``, knows all three nodes and
        reports the same slot map: before that, clients may see CLUSTERDOWN or stale
        redirects. Raises with what each node last reported."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            views = {port: self._view(port) for port in self.ports}
            states = {view[0] for view in views.values()}
            maps = {view[1] for view in views.values()}
            if states == {"ok:3"} and len(maps) == 1:
                return
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the cluster did not become stable; per node: {views}")
            time.sleep(0.05)

    def _view(self, port: int) -> tuple[str, SlotMap]:
        """A node's ``state:known_nodes`` and its slot map, or the error it gave."""
        try:
            with self.client(port) as node:
                info = str(node.execute_command("CLUSTER", "INFO"))
                slots = node.execute_command("CLUSTER", "SLOTS")
        except redis.RedisError as exc:
            return f"error: {exc}", ()
        fields = dict(line.split(":", 1) for line in info.split() if ":" in line)
        state = f"{fields.get('cluster_state')}:{fields.get('cluster_known_nodes')}"
        return state, tuple(sorted((int(s[0]), int(s[1]), str(s[2][2])) for s in slots))

    def stop(self) -> None:
        """Stop every node and remove its directory (idempotent)."""
        for server in self.servers:
            server.stop()

    def __enter__(self) -> RedisCluster3:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
