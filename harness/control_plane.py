"""A Kubernetes control plane on this machine, for the real-engine tests: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok (which plays the nodes' kubelets, so pods become Running
and Ready with no container run), from the toolchain's `control_plane` piece.

Admission and authorization are a real cluster's (the default plugins with PodSecurity, plus
NodeRestriction; Node,RBAC; service-account tokens signed and checked), so what the registry program
creates is refused or accepted as it would be. Everything listens on 127.0.0.1 on ports picked free;
each process's PID is recorded in the state directory, and its output goes to a log file there.

    with ControlPlane(state, bin_dir) as kubeconfig: ...
    python -m harness.control_plane up --state DIR --bin DIR [--volumes N]   # last line: the kubeconfig
    python -m harness.control_plane down --state DIR
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from harness.control_plane_objects import KWOK_ANNOTATION, Api, node, nodes_ready, storage
from harness.control_plane_pki import SERVICE_CIDR, Pki, write_kubeconfig, write_pki
from harness.pulumi_engine import Kubectl

# Stopped in reverse: clients first, etcd last, so no component logs a storm of lost connections.
ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ControlPlaneError(RuntimeError):
    """The control plane did not come up (the message names the component and ends with its log) or go down."""


class ControlPlane:
    """Starts and stops one control plane whose files (keys, data, logs, PIDs) are all under `state_dir`."""

    def __init__(self, state_dir: Path, bin_dir: Path, *, nodes: int = 2, volumes: int = 4) -> None:
        self.state = state_dir.resolve()
        self.bin = bin_dir
        self.node_names = [f"kwok-node-{index}" for index in range(1, nodes + 1)]
        self.volumes = volumes
        self.pids = self.state / "pids"
        self.logs = self.state / "logs"
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self) -> Path:
        """A fresh cluster (earlier data is discarded), Traefik's CRDs installed as on k3s; returns the admin's
        kubeconfig once it is usable."""
        if self._recorded():
            raise ControlPlaneError(f"{self.state} still records running processes: stop it first")
        for folder in ("etcd", "pki", "pids", "logs"):
            shutil.rmtree(self.state / folder, ignore_errors=True)
        self.pids.mkdir(parents=True)
        self.logs.mkdir()
        pki = write_pki(self.state / "pki")
        server, etcd = f"https://127.0.0.1:{_free_port()}", f"http://127.0.0.1:{_free_port()}"
        kubeconfigs = {
            name: write_kubeconfig(pki, name, server) for name in ("admin", "controller-manager", "scheduler", "kwok")
        }
        try:
            self._launch("etcd", self._etcd_args(etcd))
            self._launch("kube-apiserver", self._apiserver_args(pki, server, etcd))
            api = Api(server, pki)
            self._wait("kube-apiserver /readyz", lambda: api.call("/readyz")[0] == 200)
            # Started together once the API answers: they only need it, not each other.
            self._launch("kube-controller-manager", self._controller_manager_args(pki, kubeconfigs))
            self._launch(
                "kube-scheduler",
                ["--kubeconfig", str(kubeconfigs["scheduler"]), "--secure-port=0", "--leader-elect=false"],
            )
            self._launch("kwok", self._kwok_args(kubeconfigs["kwok"]), env={"HOME": str(self.state)})
            self._register(api)
            self._wait("nodes Ready", lambda: nodes_ready(api, self.node_names))
            self._wait(
                "the default ServiceAccount",
                lambda: api.call("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
            )
            # As k3s ships them: the stack's default Ingress (Traefik) has a ServersTransport.
            Kubectl(self.bin, kubeconfigs["admin"]).install_ingress_crds()
        except BaseException:
            self.stop()
            raise
        return kubeconfigs["admin"]

    def stop(self) -> None:
        """Stops every recorded process (TERM, then KILL after a grace) and waits until each is gone."""
        recorded = self._recorded()
        for name in sorted(recorded, key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER), reverse=True):
            _terminate(recorded[name])
            (self.pids / f"{name}.pid").unlink(missing_ok=True)
        for child in self.children:
            child.poll()  # _alive reaped it already; this tells Popen so, or it warns that the child still runs
        self.children.clear()

    def __enter__(self) -> Path:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # --- processes -------------------------------------------------------------------------------------------

    def _launch(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        binary = self.bin / name
        with (self.logs / f"{name}.log").open("ab") as log:
            # A session of its own: a Ctrl-C in the caller's terminal reaches the caller, which stops us in order.
            process = subprocess.Popen(
                [str(binary), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.state,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        self.children.append(process)
        (self.pids / f"{name}.pid").write_text(f"{process.pid}\n")

    def _recorded(self) -> dict[str, int]:
        """The recorded processes still alive (a PID file whose process is gone is dropped)."""
        alive = {}
        for pid_file in sorted(self.pids.glob("*.pid")) if self.pids.is_dir() else []:
            pid = int(pid_file.read_text())
            if _alive(pid) and self._ours(pid):
                alive[pid_file.stem] = pid
            else:
                pid_file.unlink()
        return alive

    def _ours(self, pid: int) -> bool:
        """Whether `pid` is still one of ours: each of our command lines names the state directory (a PID
        recorded long ago may have been reused by another process, which `down` must not kill)."""
        try:
            return str(self.state).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            return False

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            for name in ORDER:
                pid_file = self.pids / f"{name}.pid"
                if pid_file.exists() and not _alive(int(pid_file.read_text())):
                    raise ControlPlaneError(f"{name} exited while waiting for {what}:\n{self._log_tail(name)}")
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"timed out waiting for {what}:\n{self._log_tail('kube-apiserver')}")
            time.sleep(0.25)

    def _log_tail(self, name: str) -> str:
        log = self.logs / f"{name}.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"

    # --- components ------------------------------------------------------------------------------------------

    def _etcd_args(self, client: str) -> list[str]:
        peer = f"http://127.0.0.1:{_free_port()}"
        # Plain HTTP on loopback only; no fsync: the data is thrown away with the cluster.
        return [
            "--name=control-plane",
            f"--data-dir={self.state / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=control-plane={peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]

    def _apiserver_args(self, pki: Pki, server: str, etcd: str) -> list[str]:
        return [
            f"--etcd-servers={etcd}",
            "--bind-address=127.0.0.1",
            f"--secure-port={server.rsplit(':', 1)[-1]}",
            f"--cert-dir={self.state / 'pki'}",
            f"--tls-cert-file={pki.cert('apiserver')}",
            f"--tls-private-key-file={pki.key('apiserver')}",
            f"--client-ca-file={pki.cert('ca')}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.directory / 'service-account.pub'}",
            f"--service-account-signing-key-file={pki.key('service-account')}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # As kubeadm: NodeRestriction on top of the defaults (PodSecurity among them); privileged allowed.
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--profiling=false",
        ]

    def _controller_manager_args(self, pki: Pki, kubeconfigs: dict[str, Path]) -> list[str]:
        # No leader election (a single instance: it would only delay the start); no serving port.
        return [
            "--kubeconfig",
            str(kubeconfigs["controller-manager"]),
            "--secure-port=0",
            "--leader-elect=false",
            "--controllers=*",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.key('service-account')}",
            f"--root-ca-file={pki.cert('ca')}",
            f"--cluster-signing-cert-file={pki.cert('ca')}",
            f"--cluster-signing-key-file={pki.key('ca')}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
        ]

    def _kwok_args(self, kubeconfig: Path) -> list[str]:
        # The kwok binary has no stages built in: the piece ships kwokctl's defaults (node-initialize,
        # node-heartbeat-with-lease, pod-ready/complete/delete) next to its bin folder.
        stages = (self.bin / "kwok").resolve().parent.parent / "share" / "kwok-stages.yaml"
        return [
            f"--kubeconfig={kubeconfig}",
            f"--config={stages}",
            "--manage-nodes-with-annotation-selector=" + "=".join(KWOK_ANNOTATION),
            "--cidr=10.244.0.0/16",
            "--node-ip=127.0.0.1",
            "--node-lease-duration-seconds=40",
        ]

    # --- objects ---------------------------------------------------------------------------------------------

    def _register(self, api: Api) -> None:
        version = api.call("/version")[1]["gitVersion"]
        objects = [("/api/v1/nodes", node(name, version)) for name in self.node_names]
        if self.volumes:
            objects += storage(self.state / "volumes", self.volumes)
        for path, body in objects:
            status, _ = api.call(path, body)
            if status not in (201, 409):
                raise ControlPlaneError(f"creating {body['kind']} {body['metadata']['name']}: HTTP {status}")


def _alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie child is reaped and counts as gone)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child (`down` from another process): /proc tells
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _terminate(pid: int) -> None:
    for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)
    raise ControlPlaneError(f"process {pid} survived SIGKILL")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.control_plane", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start; prints the admin kubeconfig's path last")
    up.add_argument("--bin", type=Path, required=True, help="the toolchain's bin folder")
    up.add_argument("--nodes", type=int, default=2)
    up.add_argument("--volumes", type=int, default=4, help="100Gi hostPath volumes of a default class (0: none)")
    for command in (up, commands.add_parser("down", help="stop the processes recorded in --state")):
        command.add_argument("--state", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "down":
        ControlPlane(args.state, Path()).stop()
        return 0
    started = time.monotonic()
    kubeconfig = ControlPlane(args.state, args.bin, nodes=args.nodes, volumes=args.volumes).start()
    print(f"control plane up in {time.monotonic() - started:.1f} s; logs and PIDs in {args.state}", file=sys.stderr)
    print(kubeconfig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
