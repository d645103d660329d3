"""A Kubernetes node beside the registry's pod, trusting the CA only through the node-trust DaemonSet's files.

The node is a sandbox of its own (mount, network and PID namespaces) linked to
the pod over a veth pair, as a CNI links a pod: the external hostnames resolve
to the pod's address on that link (never to 127.0.0.0/8, which Docker treats
as an insecure registry and does not verify), and port 443 there is a DNAT to
the pod's HTTPS port, standing for the Ingress. The DaemonSet's own container
writes the node's certificate directories, which are bound at the paths the
clients read (`/etc/containerd/certs.d`, `/etc/docker/certs.d`); the system
trust store holds an unrelated CA only. Daemons run in the node's namespaces,
each with its own root, state and socket in the workspace, stopped by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from harness.e2e import Registry
from harness.pod_layout import IMAGE_PATH, PodLayout
from harness.pod_roots import CLIENT_ROOT, INGRESS_PORT, INSIDE
from harness.pod_sandbox import Sandbox

# The node's link to the pod: 10.244.<index>.1 on the node, .2 in the pod (see Sandbox.connect).
LINK_INDEX = 13
# The node directories the DaemonSet writes (its hostPath volumes), bound where the clients read them.
TRUST_DIRS = ("/etc/containerd/certs.d", "/etc/docker/certs.d")
# Podman also reads this one: empty on the node, so that only the DaemonSet's files count.
EMPTY_TRUST_DIRS = ("/etc/containers/certs.d",)
NODE_ENV = {"PATH": IMAGE_PATH, "HOME": f"{INSIDE}/home", "TMPDIR": f"{INSIDE}/tmp"}
# The node-trust script's commands: busybox applets, as in the registry image it runs in.
APPLETS = ("sh", "cp", "mv", "rm", "mkdir", "chmod", "cmp", "sleep", "echo", "cat", "sed", "tr", "head", "grep")
# A node whose containerd 1.x reads /etc/containerd/certs.d, as the node's own containerd here does.
CONTAINERD_NODE = {
    "/etc/containerd/config.toml": 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n'
    '  config_path = "/etc/containerd/certs.d"\n'
}


def rancher_node(platform: str) -> dict[str, str]:
    """A k3s (or RKE2) node: the config.toml they generate for their containerd 1.7 (pkg/agent/templates)."""
    config = f"/var/lib/rancher/{platform}/agent/etc/containerd"
    registry = f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{config}/certs.d"\n'
    return {f"{config}/config.toml": f"version = 2\n{registry}"}


def node_trust_run(mocks: FaithfulMocks) -> ProgramRun:
    """The dev stack with the node-trust DaemonSet on, every node's layout detected."""
    config = dev_config()
    config["image-registry:nodeTrust"] = json.dumps({"enabled": True})
    return run_program(config, mocks)


def wait_for(paths: list[Path], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in paths):
        assert time.monotonic() < deadline, f"never written: {[str(path) for path in paths if not path.exists()]}"
        time.sleep(0.1)


def start_node_trust(run: ProgramRun, workspace: Path, node_files: dict[str, str] | None = None) -> Sandbox:
    """The DaemonSet's container, its rendered command run by busybox; its hostPaths under `workspace/node`,
    on a node holding `node_files` (node path -> text; by default a containerd 1.x node's configuration)."""
    for path, text in (CONTAINERD_NODE if node_files is None else node_files).items():
        node_path(workspace, path).parent.mkdir(parents=True, exist_ok=True)
        node_path(workspace, path).write_text(text)
    layout = PodLayout.from_run(run, workspace, [], kind="DaemonSet", pod_name="node-trust")
    applets = workspace / "image-bin"
    applets.mkdir(exist_ok=True)
    for applet in APPLETS:
        if not (applets / applet).exists():
            (applets / applet).symlink_to("/bin/busybox")
    assert layout.container().argv[0] == "/bin/sh"
    layout.container().argv = ["/bin/busybox", *layout.container().argv]
    layout.container().env["PATH"] = f"/sandbox/{applets.relative_to(workspace)}"
    daemon_set = Sandbox(layout)
    daemon_set.start_container()
    return daemon_set


def node_path(workspace: Path, path: str) -> Path:
    """Where a node path written through a hostPath volume lies in the workspace (see PodLayout)."""
    return workspace / "node" / path.lstrip("/")


@dataclass
class Daemon:
    name: str
    pid: int
    nsenter: subprocess.Popen[bytes]
    log: Path


class Node:
    """The node's namespaces, linked to the registry's pod; commands and daemons run in them."""

    def __init__(self, registry: Registry, trust_dirs: tuple[str, ...] = TRUST_DIRS) -> None:
        self.workspace = registry.workspace
        self.trust_dirs = trust_dirs
        self.sandbox = Sandbox(PodLayout.without_containers(self.workspace, "node"))
        self.daemons: list[Daemon] = []
        try:
            self.pod_address = self.sandbox.connect(registry.sandbox, LINK_INDEX)
            self._resolve_and_route(registry.run.outputs["hostnames"], registry.layout.port)
            for path in trust_dirs:
                self._bind(self.sandbox.inside(node_path(self.workspace, path)), path)
            for path in EMPTY_TRUST_DIRS:
                self.check("mkdir", "-p", path)
                self.check("mount", "-t", "tmpfs", "tmpfs", path)
        except BaseException:
            self.sandbox.close()
            raise

    def _resolve_and_route(self, hostnames: list[str], pod_port: int) -> None:
        line = f"{self.pod_address} {' '.join(hostnames)}"
        self.check("/bin/sh", "-c", 'printf "%s\\n" "$1" >> /etc/hosts', "sh", line)
        self.check(
            "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", self.pod_address, "--dport", str(INGRESS_PORT),
            "-j", "DNAT", "--to-destination", f"{self.pod_address}:{pod_port}",
        )  # fmt: skip

    def _bind(self, source: str, target: str) -> None:
        self.check("mkdir", "-p", target)
        self.check("mount", "--bind", source, target)

    @contextlib.contextmanager
    def without_trust(self) -> Iterator[None]:
        """The node as it was before the DaemonSet ran: its certificate directories empty."""
        for path in self.trust_dirs:
            self.check("umount", path)
        try:
            yield
        finally:
            for path in self.trust_dirs:
                self._bind(self.sandbox.inside(node_path(self.workspace, path)), path)

    def inside(self, path: Path) -> str:
        return self.sandbox.inside(path)

    def _enter(self) -> list[str]:
        # Its PID namespace too (unlike a pod's clients): the node's /proc is that namespace's, and the
        # daemons and podman read /proc/self. Whatever is left there ends with the namespace.
        return [
            "/usr/bin/nsenter", f"--target={self.sandbox.pid}", "--mount", "--net", "--pid", "--",
            "/usr/sbin/chroot", f"{self.sandbox.state}/nsroot/{CLIENT_ROOT}/root",
        ]  # fmt: skip

    def run(self, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """A command on the node (its root, its network), with a clean environment."""
        return subprocess.run(
            [*self._enter(), *argv], env=NODE_ENV, capture_output=True, text=True, timeout=timeout, check=False
        )

    def check(self, *argv: str) -> str:
        """A setup command that must succeed; its output."""
        result = self.run(*argv)
        assert result.returncode == 0, f"{argv[0]} failed on the node: {result.stderr.strip()}"
        return result.stdout

    def start_daemon(self, name: str, argv: list[str], ready: Callable[[], bool], timeout: float = 60) -> Daemon:
        """`argv` in the node's namespaces, its output in `node-<name>.log`, once `ready()` says so."""
        log = self.workspace / f"node-{name}.log"
        # chroot and the shell exec: nsenter's one child (it forks into the PID namespace) is the daemon.
        wrapper = ["/bin/sh", "-c", 'log=$1; shift; exec "$@" >>"$log" 2>&1', "sh", self.inside(log)]
        nsenter = subprocess.Popen([*self._enter(), *wrapper, *argv], env=NODE_ENV)
        deadline = time.monotonic() + timeout
        children = Path(f"/proc/{nsenter.pid}/task/{nsenter.pid}/children")
        while not children.read_text().split():
            assert nsenter.poll() is None, f"{name} did not start"
            assert time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.01)
        daemon = Daemon(name, int(children.read_text().split()[0]), nsenter, log)
        self.daemons.append(daemon)
        while not ready():
            if nsenter.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready:\n{log.read_text() if log.exists() else ''}")
            time.sleep(0.1)
        return daemon

    def stop_daemon(self, daemon: Daemon) -> None:
        """SIGTERM to the daemon's PID, as a service manager stops it; nsenter ends with it."""
        self.daemons.remove(daemon)
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon.pid, signal.SIGTERM)
        try:
            daemon.nsenter.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.nsenter.wait(timeout=15)

    def close(self) -> None:
        try:
            for daemon in reversed(list(self.daemons)):
                self.stop_daemon(daemon)
        finally:
            self.sandbox.close()
