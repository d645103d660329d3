"""Run a rendered pod with real binaries, in Linux namespaces.

`Sandbox` starts a holder process in fresh mount, network and PID namespaces
(`unshare`): the pod's network (its loopback shared by its containers, as in
Kubernetes) and a mount namespace in which the holder builds one root per
container, an overlay of `/` with that container's volumes bound at its mount
paths and nothing of the others', and one root for clients. Every root has an
`/etc/hosts` that maps the certificate names to the pod, and a system trust
store holding an unrelated CA. Containers and clients enter with `nsenter`,
each chrooted into its root, so nothing touches the host's own paths or ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from harness.pod_layout import IMAGE_PATH, PodLayout
from harness.pod_roots import CLIENT_ROOT, INGRESS_PORT, INSIDE
from harness.security_context import identity

CLIENT_PATH = IMAGE_PATH


class Sandbox:
    """The pod's namespaces: start its containers in them, run clients in them."""

    def __init__(self, layout: PodLayout) -> None:
        self.layout = layout
        self.workspace = Path(layout.workspace)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.helpers: list[subprocess.Popen[bytes]] = []
        self.pid: int | None = None
        # Its own corner of the workspace: several pods may share one (and its claims).
        self.state = self.workspace / f".sandbox-{layout.pod_name}"
        plan = self.state / "plan.json"
        (self.state / "nsroot").mkdir(parents=True, exist_ok=True)
        plan.write_text(json.dumps(asdict(layout)))
        for directory in ("home", "tmp"):
            (self.workspace / directory).mkdir(exist_ok=True)
        (self.workspace / "policy.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        ready = self.state / "ready"
        ready.unlink(missing_ok=True)
        holder = [sys.executable, "-m", "harness.pod_roots", str(plan)]
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--", *holder],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not ready.exists():
            if self.holder.poll() is not None or time.monotonic() > deadline:
                output = self.holder.stdout.read().decode() if self.holder.stdout else ""
                self.close()
                raise RuntimeError(f"the pod sandbox did not start:\n{output}")
            time.sleep(0.02)
        # `unshare --fork` waits for its child, the holder: PID 1 inside, this PID outside.
        children = Path(f"/proc/{self.holder.pid}/task/{self.holder.pid}/children").read_text().split()
        self.pid = int(children[0])

    def _enter(self, root: str = CLIENT_ROOT) -> list[str]:
        # The roots exist only in the pod's mount namespace: enter it, then chroot (which also cds to /).
        # By absolute paths: the environment given (a container's) need not have a PATH that finds them.
        return [
            "/usr/bin/nsenter", f"--target={self.pid}", "--mount", "--net", "--",
            "/usr/sbin/chroot", f"{self.state}/nsroot/{root}/root",
        ]  # fmt: skip

    def inside(self, path: Path) -> str:
        """A workspace path as commands inside the sandbox see it."""
        return f"{INSIDE}/{path.relative_to(self.workspace)}"

    def log(self, container: str | None = None) -> Path:
        return self.workspace / f"{self.layout.pod_name}-{self.layout.container(container).name}.log"

    @property
    def registry_log(self) -> Path:
        return self.log()

    @property
    def registry(self) -> subprocess.Popen[bytes] | None:
        """The registry's process (or the pod's only container's)."""
        return self.processes.get(self.layout.container().name)

    def _client_env(self) -> dict[str, str]:
        return {"PATH": CLIENT_PATH, "HOME": f"{INSIDE}/home", "TMPDIR": f"{INSIDE}/tmp"}

    def start(self, *argv: str) -> subprocess.Popen[str]:
        """A client command in the pod's network, in the background."""
        return subprocess.Popen(
            [*self._enter(), *argv], env=self._client_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A client command in the pod's network, with a clean environment."""
        return subprocess.run(
            [*self._enter(), *argv], env=self._client_env(), capture_output=True, text=True, timeout=120, check=False
        )

    def _wait_until(self, url: str, process: subprocess.Popen[bytes], log: Path, *, any_answer: bool = False) -> None:
        """Until `url` answers 200 (or anything, with `any_answer`) over HTTPS, as an unverifying probe sees it."""
        deadline = time.monotonic() + 20
        while True:
            probe = self.run("curl", "-sk", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", url)
            if probe.stdout == "200" or (any_answer and probe.stdout not in ("", "000")):
                return
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not become ready:\n{log.read_text()}")
            time.sleep(0.05)

    def _container_argv(self, name: str, argv: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
        """A container's process (or `argv` in it, as a hook or an exec probe runs), in its own root, with its
        securityContext applied; and its environment exactly."""
        container = self.layout.container(name)
        # What runc adds when the spec does not: the image's PATH, and HOME from /etc/passwd, "/" for
        # a uid it does not list (the pod's 10001 is in neither image's).
        env = {"PATH": IMAGE_PATH, "HOME": "/", **container.env}
        return [*self._enter(f"c-{name}"), *identity(container.security), *(argv or container.argv)], env

    def exec_in(self, name: str, *argv: str) -> subprocess.CompletedProcess[str]:
        """`argv` run in a running pod's container, as `kubectl exec` (and an exec probe, a hook) runs it."""
        command, env = self._container_argv(name, list(argv))
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    def start_container(self, name: str | None = None) -> None:
        """One container's process (by default the registry's, or the pod's only one)."""
        name = self.layout.container(name).name
        argv, env = self._container_argv(name)
        with self.log(name).open("ab") as output:
            # A process group of its own: what it starts ends with it, as a container's processes do.
            self.processes[name] = subprocess.Popen(
                argv, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start_beside(
        self, name: str, container: str, env: dict[str, str], ready_url: str, argv: list[str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A second process of `container` (its root, user and command, or `argv`) with `env` added, once
        `ready_url` answers: the same binary configured otherwise, side by side (see bench/)."""
        command, base = self._container_argv(container, argv)
        return self._start_server(command, {**base, **env}, f"{self.layout.pod_name}-{name}", ready_url)

    def _start_server(
        self, argv: list[str], env: dict[str, str], name: str, ready_url: str, *, any_answer: bool = False
    ) -> subprocess.Popen[bytes]:
        """A process logging to `<name>.log`, stopped with the helpers, once `ready_url` answers."""
        log = self.workspace / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)
        self.helpers.append(process)
        self._wait_until(ready_url, process, log, any_answer=any_answer)
        return process

    def start_registry(self) -> None:
        """Every container of the pod that is not running, then wait for its readiness probes: the pod's HTTPS
        port, and each exec probe run in its container."""
        for container in self.layout.containers:
            process = self.processes.get(container.name)
            if process is None or process.poll() is not None:
                self.start_container(container.name)
        if self.layout.port:
            registry = self.registry
            assert registry is not None
            self._wait_until(f"https://127.0.0.1:{self.layout.port}/", registry, self.registry_log)
        for container in self.layout.containers:
            if container.readiness:
                self._wait_for_probe(container.name, container.readiness)

    def _wait_for_probe(self, name: str, probe: list[str]) -> None:
        deadline = time.monotonic() + 20
        while (answer := self.exec_in(name, *probe)).returncode != 0:
            process = self.processes[name]
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{name}'s readiness probe {probe} failed: {answer.stderr}\n{self.log(name).read_text()}"
                )
            time.sleep(0.1)

    def kill_registry(self) -> None:
        """SIGKILL the registry, as the kernel's OOM killer would: no shutdown at all."""
        _end(self.processes.pop(self.layout.container().name), signal.SIGKILL)

    def run_container(self) -> subprocess.CompletedProcess[str]:
        """The pod's only container run to its end (a Job's pod)."""
        (container,) = self.layout.containers
        argv, env = self._container_argv(container.name)
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)

    def start_helper(
        self, name: str, argv: list[str], ready_url: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A server beside the pod (an object store, a proxy) in its network, once `ready_url` answers."""
        return self._start_server(
            [*self._enter(), *argv], env or {"PATH": CLIENT_PATH}, name, ready_url, any_answer=True
        )

    def connect(self, pod: Sandbox, index: int) -> str:
        """A link from this sandbox's network (the node's) to a pod's, as a CNI gives a pod its address."""
        subnet, node_side, pod_side = f"10.244.{index}", f"irn{os.getpid() % 100000}-{index}", f"irp{index}"
        commands = [
            ["ip", "link", "add", node_side, "type", "veth", "peer", "name", pod_side],
            ["ip", "link", "set", node_side, "netns", str(self.pid)],
            ["ip", "link", "set", pod_side, "netns", str(pod.pid)],
            ["nsenter", f"--target={self.pid}", "--net", "ip", "addr", "add", f"{subnet}.1/24", "dev", node_side],
            ["nsenter", f"--target={self.pid}", "--net", "ip", "link", "set", node_side, "up"],
            ["nsenter", f"--target={pod.pid}", "--net", "ip", "addr", "add", f"{subnet}.2/24", "dev", pod_side],
            ["nsenter", f"--target={pod.pid}", "--net", "ip", "link", "set", pod_side, "up"],
        ]
        for command in commands:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            assert result.returncode == 0, f"{command}: {result.stderr}"
        return f"{subnet}.2"

    def start_nginx(self, config: Path) -> None:
        """Debian's nginx in front of the pod, on 443 (the layout must not redirect 443 itself)."""
        assert not self.layout.redirect_ingress
        self.stop_helpers()
        argv = ["nginx", "-c", self.inside(config), "-g", "daemon off;"]
        self.start_helper("nginx", argv, f"https://127.0.0.1:{INGRESS_PORT}/")

    def terminate(self) -> dict[str, float]:
        """Stop the pod as the kubelet does: each container's preStop hook, then SIGTERM, and SIGKILL for what
        is left when the grace period ends. Returns each container's seconds from the start to its exit."""
        start = time.monotonic()
        deadline = start + self.layout.termination_grace_seconds
        exited: dict[str, float] = {}

        def stop(name: str, process: subprocess.Popen[bytes]) -> None:
            hook = self.layout.container(name).pre_stop
            if hook:
                argv, env = self._container_argv(name, hook)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    subprocess.run(argv, env=env, capture_output=True, timeout=deadline - time.monotonic(), check=False)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
                exited[name] = time.monotonic() - start
            except subprocess.TimeoutExpired:
                exited[name] = float("inf")  # still running when the grace period ended
            _end(process, signal.SIGKILL)

        stopping = [threading.Thread(target=stop, args=item) for item in self.processes.items()]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        self.processes.clear()
        return exited

    def stop_registry(self) -> None:
        """Every container of the pod, each sent SIGTERM at once (no preStop hooks: see `terminate`)."""
        running = [process for process in self.processes.values() if process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(timeout=self.layout.termination_grace_seconds)
        self.kill_all()

    def kill_all(self) -> None:
        """Every container SIGKILLed: the end of a test, where how they stop no longer matters."""
        for process in self.processes.values():
            _end(process, signal.SIGKILL)
        self.processes.clear()

    def stop_helpers(self) -> None:
        for helper in self.helpers:
            helper.terminate()
            helper.wait(timeout=15)
        self.helpers.clear()

    def close(self) -> None:
        self.kill_all()
        self.stop_helpers()
        if self.pid is not None:
            # PID 1 of the namespace: the kernel ends everything left inside with it.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait(timeout=15)


def _end(process: subprocess.Popen[bytes], signal_number: int) -> None:
    """`signal_number` to a container's process and everything it started (its group), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)
    process.wait(timeout=15)
