"""A real multi-node Ray cluster on this machine's loopback interface, for tests and benchmarks.

Each "node" is a `ray start --block` process (its own raylet, object store and worker processes), so
killing one is a real node loss, unlike `local_mode` or a single `ray.init()`. Everything stays on
127.0.0.1: Ray's CLI on Linux rewrites a loopback `--node-ip-address` to the primary interface address
(so that other machines could join), which a single-machine cluster does not need. The launcher below
switches that rewrite off in the `ray start` process only, and `use_loopback_driver()` does the same
for the driver process. Nothing here is needed against a real cluster.

`ray stop` is never used: it kills every Ray process on the machine, including other people's. Each
node is stopped by killing exactly the processes it started: the descendants of its `ray start`
process plus anything carrying this cluster's marker in its environment (Ray workers re-parent).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
MARKER = "SELFTAUGHT_RAY_TEST_CLUSTER"
_LAUNCH = (
    "import sys; import ray._private.services as services; "
    "services.resolve_ip_for_localhost = lambda host: host; "
    "from ray.scripts.scripts import main; sys.argv[0] = 'ray'; sys.exit(main())"
)


def use_loopback_driver() -> None:
    """Let this process's `ray.init` reach a cluster bound to 127.0.0.1 (call before connecting)."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if "ray" in sys.modules:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    """One `ray start --block` process and what it started."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path


class LoopbackCluster:
    """Start a head node (and more nodes) on 127.0.0.1; `stop()` kills exactly what was started."""

    def __init__(self, head_cpus: int = 1, env: dict[str, str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="st-ray-", dir="/tmp"))  # short: Ray's socket paths
        self.port = free_port()
        self.address = f"{LOOPBACK}:{self.port}"
        self.env = {
            **os.environ,
            **(env or {}),
            MARKER: str(self.dir),
            "RAY_USAGE_STATS_ENABLED": "0",
            # Notice a killed node within seconds, not tens of seconds (Ray system config via env).
            "RAY_health_check_period_ms": "1000",
            "RAY_health_check_failure_threshold": "3",
        }
        self.env.pop("RAY_ADDRESS", None)
        self.env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # set in a loopback driver; nodes must not
        self.nodes: list[Node] = []
        self.head = self._start(
            "head",
            [
                "--head",
                "--port",
                str(self.port),
                "--num-cpus",
                str(head_cpus),
                "--include-dashboard",
                "false",
                "--ray-client-server-port",
                str(free_port()),
                "--dashboard-port",
                str(free_port()),
                "--temp-dir",
                str(self.dir),
            ],
        )

    def _start(self, name: str, args: list[str]) -> Node:
        log = self.dir / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _LAUNCH,
                    "start",
                    "--block",
                    "--node-ip-address",
                    LOOPBACK,
                    "--disable-usage-stats",
                    "--dashboard-agent-listen-port",
                    str(free_port()),
                    *args,
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        node = Node(name, proc, log)
        self.nodes.append(node)
        return node

    def add_node(self, cpus: int = 1) -> Node:
        """A further node joining the head (another raylet with its own workers)."""
        return self._start(f"node{len(self.nodes)}", ["--address", self.address, "--num-cpus", str(cpus)])

    def wait_for_cpus(self, cpus: float, timeout: float = 120.0) -> None:
        """Block until the cluster reports `cpus` CPUs (every node has joined); needs a connected driver."""
        import ray

        deadline = time.monotonic() + timeout
        while ray.cluster_resources().get("CPU", 0) < cpus:
            for node in self.nodes:
                if node.proc.poll() is not None:
                    raise RuntimeError(f"ray node {node.name} exited: {node.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Ray cluster did not reach {cpus} CPUs in {timeout:g} s")
            time.sleep(0.2)

    def wait_for_nodes(self, alive: int, timeout: float = 60.0) -> None:
        """Block until the cluster's view agrees that exactly `alive` nodes are up (after a kill)."""
        import ray

        deadline = time.monotonic() + timeout
        while sum(1 for node in ray.nodes() if node["Alive"]) != alive:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Ray cluster did not settle at {alive} nodes in {timeout:g} s")
            time.sleep(0.2)

    def wait_for_head(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection((LOOPBACK, self.port), 0.5).close()
                return
            except OSError:
                if self.head.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"ray head did not start: {self.head.log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.1)

    def kill_node(self, node: Node) -> None:
        """Lose `node` the hard way: SIGKILL to its raylet, workers and sandboxes at once."""
        pids = set(_descendants(node.proc.pid)) | {node.proc.pid}
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.proc.wait(timeout=10)
        self.nodes.remove(node)

    def stop(self) -> None:
        """Kill every node of this cluster (never anything else) and remove its directory."""
        for node in reversed(list(self.nodes)):
            self.kill_node(node)
        for pid in _marked(str(self.dir)):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def leftovers(self) -> list[int]:
        """Processes of this cluster still alive (zombies excluded); empty after `stop()`."""
        return [pid for pid in _marked(str(self.dir)) if not _zombie(pid)]


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(name))
    return children


def _descendants(root: int) -> list[int]:
    children, found, todo = _children_map(), [], [root]
    while todo:
        for kid in children.get(todo.pop(), []):
            found.append(kid)
            todo.append(kid)
    return found


def _marked(value: str) -> list[int]:
    """Processes whose environment carries this cluster's marker."""
    needle = f"{MARKER}={value}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(name))
    return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
