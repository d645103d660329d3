"""Run the rendered registry pod with the real registry binary, in Linux namespaces.

The host side (`PodLayout`) turns the program's Deployment into what a kubelet
would give the container: its environment resolved from the ConfigMap and
Secrets, and its volumes laid out as directories (Secrets the way the kubelet's
atomic writer does it, the claim as a directory that outlives the pod).

`Sandbox` then starts a holder process in fresh mount, network and PID
namespaces (`unshare`). The holder builds a throwaway root (an overlay of `/`
on tmpfs), binds each volume at its mount path, gives the pod an `/etc/hosts`
that maps every certificate name to itself, hides the system trust store and
chroots. The registry and every client command then enter those namespaces
with `nsenter`, so nothing touches the host's own paths or ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.doubles import ProgramRun

REGISTRY_BINARY = "/usr/bin/docker-registry"
# Where the registry:3.x image keeps its configuration, and what it holds.
IMAGE_CONFIG_PATH = "/etc/distribution/config.yml"
IMAGE_CONFIG = Path(__file__).with_name("registry-image-config.yml")
# The one 3.x setting Debian's 2.8 binary cannot parse (it takes `storage.tag` for a second
# storage driver). It tunes tag listing only; every other default of the image stays in force.
UNPARSEABLE_BY_2_8 = ("storage", "tag")
INGRESS_PORT = 443
CLIENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The workspace as seen inside the pod's root (the pod's own /tmp would hide a host path there).
INSIDE = "/sandbox"


@dataclass
class Mount:
    source: str
    target: str
    read_only: bool


@dataclass
class PodLayout:
    """A pod as the kubelet would run it: environment, mounts, user."""

    workspace: str
    env: dict[str, str]
    mounts: list[Mount]
    run_as_user: int
    run_as_group: int
    fs_group: int
    argv: list[str] = field(default_factory=list)
    host_names: list[str] = field(default_factory=list)
    port: int = 5000
    # External names reach the pod on 443 (the Ingress, as a redirect); off when a real proxy listens there.
    redirect_ingress: bool = True
    # Pods side by side in one workspace keep their volumes apart (claims are shared, as in a cluster).
    pod_name: str = "pod"

    @classmethod
    def from_run(
        cls, run: ProgramRun, workspace: Path, host_names: list[str], *, kind: str = "Deployment", pod_name: str = "pod"
    ) -> PodLayout:
        """The pod of the Deployment (or CronJob); again on the same workspace, a new pod: emptyDir starts
        empty, claims keep their data."""
        pod = pod_template(run, kind)["spec"]
        (container,) = pod["containers"]
        security = pod["securityContext"]
        objects = objects_by_name(run)
        layout = cls(
            workspace=str(workspace),
            env=container_environment(container, objects),
            mounts=[],
            run_as_user=security["runAsUser"],
            run_as_group=security.get("runAsGroup", 0),
            fs_group=security.get("fsGroup", 0),
            argv=entrypoint(container),
            host_names=host_names,
            port=next((port["containerPort"] for port in container.get("ports", []) if port["name"] == "https"), 0),
            pod_name=pod_name,
        )
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for mount in container["volumeMounts"]:
            assert "subPath" not in mount
            source = layout.lay_out_volume(volumes[mount["name"]], objects)
            layout.mounts.append(Mount(str(source), mount["mountPath"], bool(mount.get("readOnly"))))
        return layout

    def lay_out_volume(self, volume: dict[str, Any], objects: dict[tuple[str, str], Any]) -> Path:
        root = Path(self.workspace) / "volumes" / self.pod_name
        if "secret" in volume or "configMap" in volume:
            source = volume.get("secret") or volume["configMap"]
            kind, name = ("Secret", source["secretName"]) if "secret" in volume else ("ConfigMap", source["name"])
            path = root / str(volume["name"])
            files = _projected_files(objects[(kind, name)], source)
            write_secret_volume(path, files, source.get("defaultMode", 0o644), self.fs_group)
            return path
        if "hostPath" in volume:
            # The node's own directory: a directory of the workspace stands for the node's filesystem.
            path = Path(self.workspace) / "node" / str(volume["hostPath"]["path"]).lstrip("/")
            path.mkdir(parents=True, exist_ok=True)
            return path
        if "persistentVolumeClaim" in volume:
            # The claim outlives the pod: keyed by claim name, never wiped here.
            path = Path(self.workspace) / "claims" / str(volume["persistentVolumeClaim"]["claimName"])
            if not path.exists():
                path.mkdir(parents=True)
                os.chown(path, 0, self.fs_group)
                path.chmod(0o2775)  # what fsGroup does to a fresh volume
            return path
        if "emptyDir" in volume:
            path = root / str(volume["name"])
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            path.chmod(0o1777)
            return path
        raise AssertionError(f"volume type not laid out by the sandbox: {volume}")

    def update_secret(self, run: ProgramRun, volume_name: str) -> None:
        """What the kubelet does when a mounted Secret changes: rewrite it, swapping ..data atomically."""
        pod = pod_template(run)["spec"]
        volume = next(volume for volume in pod["volumes"] if volume["name"] == volume_name)
        self.lay_out_volume(volume, objects_by_name(run))


def pod_template(run: ProgramRun, kind: str = "Deployment") -> dict[str, Any]:
    workload = run.manifest(kind)["spec"]
    template: dict[str, Any] = (workload["jobTemplate"]["spec"] if kind == "CronJob" else workload)["template"]
    return template


def entrypoint(container: dict[str, Any]) -> list[str]:
    """What the registry image runs for this container: its /entrypoint.sh (2.x and 3.x alike) applied
    to the container's args, or the image's CMD, with Debian's binary standing in for `registry`."""
    if "command" in container:
        return [*container["command"], *container.get("args", [])]
    args = list(container.get("args") or [IMAGE_CONFIG_PATH])
    if args[0].endswith((".yaml", ".yml")):
        args = ["registry", "serve", *args]
    elif args[0] in ("serve", "garbage-collect", "help") or args[0].startswith("-"):
        args = ["registry", *args]
    return [REGISTRY_BINARY if args[0] == "registry" else args[0], *args[1:]]


def objects_by_name(run: ProgramRun) -> dict[tuple[str, str], Any]:
    return {(item["kind"], item["metadata"]["name"]): item for item in run.manifests()}


def container_environment(container: dict[str, Any], objects: dict[tuple[str, str], Any]) -> dict[str, str]:
    """The container's environment, resolved the way the kubelet resolves it (a missing reference raises)."""
    env = {}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
            continue
        source = variable["valueFrom"]
        if "configMapKeyRef" in source:
            reference = source["configMapKeyRef"]
            env[variable["name"]] = objects[("ConfigMap", reference["name"])]["data"][reference["key"]]
        else:
            reference = source["secretKeyRef"]
            env[variable["name"]] = objects[("Secret", reference["name"])]["stringData"][reference["key"]]
    return env


def _projected_files(config: dict[str, Any], source: dict[str, Any]) -> dict[str, str]:
    """The files a Secret (stringData) or a ConfigMap (data) volume shows, `items` honoured."""
    data: dict[str, str] = config.get("stringData") or config["data"]
    if "items" in source:
        return {item["path"]: data[item["key"]] for item in source["items"]}
    return dict(data)


def write_secret_volume(path: Path, files: dict[str, str], mode: int, group: int) -> None:
    """The kubelet's atomic writer: files in a timestamped dir, `..data` swapped by rename."""
    path.mkdir(parents=True, exist_ok=True)
    version = path / f"..{time.time_ns()}"
    version.mkdir()
    for name, text in files.items():
        file = version / name
        file.write_text(text)
        os.chown(file, 0, group)
        file.chmod(mode)
    version.chmod(0o755)
    staging = path / "..data_tmp"
    staging.unlink(missing_ok=True)
    staging.symlink_to(version.name)
    previous = (path / "..data").resolve() if (path / "..data").exists() else None
    staging.rename(path / "..data")
    for name in files:
        link = path / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")
    if previous is not None and previous != version:
        shutil.rmtree(previous)


class Sandbox:
    """The pod's namespaces: start the registry in them, run clients in them."""

    def __init__(self, layout: PodLayout) -> None:
        self.layout = layout
        self.workspace = Path(layout.workspace)
        self.registry: subprocess.Popen[bytes] | None = None
        # Its own corner of the workspace: several pods may share one (and its claims).
        state = self.workspace / f".sandbox-{layout.pod_name}"
        self.registry_log = self.workspace / f"{layout.pod_name}-registry.log"
        self.helpers: list[subprocess.Popen[bytes]] = []
        self.pid: int | None = None
        plan = state / "plan.json"
        (state / "nsroot").mkdir(parents=True, exist_ok=True)
        plan.write_text(json.dumps(asdict(layout)))
        for directory in ("home", "tmp"):
            (self.workspace / directory).mkdir(exist_ok=True)
        (self.workspace / "policy.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        ready = state / "ready"
        ready.unlink(missing_ok=True)
        self.holder = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--net",
                "--pid",
                "--fork",
                "--kill-child",
                "--",
                sys.executable,
                "-m",
                "tests.pod_sandbox",
                str(plan),
            ],
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

    def _enter(self) -> list[str]:
        # By absolute path: the environment given (the container's) need not have a PATH that finds it.
        return ["/usr/bin/nsenter", f"--target={self.pid}", "--mount", "--net", "--root", "--wd"]

    def inside(self, path: Path) -> str:
        """A workspace path as commands inside the sandbox see it."""
        return f"{INSIDE}/{path.relative_to(self.workspace)}"

    def start(self, *argv: str) -> subprocess.Popen[str]:
        """A client command inside the pod's namespaces, in the background."""
        return subprocess.Popen(
            [*self._enter(), *argv],
            env={"PATH": CLIENT_PATH, "HOME": f"{INSIDE}/home", "TMPDIR": f"{INSIDE}/tmp"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A client command inside the pod's namespaces, with a clean environment."""
        return subprocess.run(
            [*self._enter(), *argv],
            env={"PATH": CLIENT_PATH, "HOME": f"{INSIDE}/home", "TMPDIR": f"{INSIDE}/tmp"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def _spawn(self, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as output:
            return subprocess.Popen([*self._enter(), *argv], env=env, stdout=output, stderr=subprocess.STDOUT)

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

    def _as_the_pod(self) -> list[str]:
        layout = self.layout
        return ["/usr/bin/setpriv", f"--reuid={layout.run_as_user}", f"--regid={layout.run_as_group}",
                f"--groups={layout.fs_group}", "--"]  # fmt: skip

    def start_container(self) -> None:
        """The container's process (the image's entrypoint on its args), its environment exactly, as the pod's user."""
        self.registry = self._spawn([*self._as_the_pod(), *self.layout.argv], dict(self.layout.env), self.registry_log)

    def start_registry(self) -> None:
        """The registry's container, once its readiness probe answers."""
        self.start_container()
        assert self.registry is not None
        self._wait_until(f"https://127.0.0.1:{self.layout.port}/", self.registry, self.registry_log)

    def kill_registry(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a node failure would end it: no shutdown at all."""
        assert self.registry is not None
        self.registry.kill()
        self.registry.wait(timeout=15)
        self.registry = None

    def run_container(self) -> subprocess.CompletedProcess[str]:
        """The container's process run to its end (a Job's pod), as the pod's user with its environment."""
        return subprocess.run(
            [*self._enter(), *self._as_the_pod(), *self.layout.argv],
            env=dict(self.layout.env),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def start_helper(
        self, name: str, argv: list[str], ready_url: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A server beside the pod (an object store, a proxy) in its network, once `ready_url` answers."""
        log = self.workspace / f"{name}.log"
        process = self._spawn(argv, env or {"PATH": CLIENT_PATH}, log)
        self.helpers.append(process)
        self._wait_until(ready_url, process, log, any_answer=True)
        return process

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
            subprocess.run(command, check=True, capture_output=True)
        return f"{subnet}.2"

    def start_nginx(self, config: Path) -> None:
        """Debian's nginx in front of the pod, on 443 (the layout must not redirect 443 itself)."""
        assert not self.layout.redirect_ingress
        self.stop_helpers()
        argv = ["nginx", "-c", self.inside(config), "-g", "daemon off;"]
        self.start_helper("nginx", argv, f"https://127.0.0.1:{INGRESS_PORT}/")

    def stop_registry(self) -> None:
        if self.registry is not None and self.registry.poll() is None:
            self.registry.send_signal(signal.SIGTERM)
            self.registry.wait(timeout=15)
        self.registry = None

    def stop_helpers(self) -> None:
        for helper in self.helpers:
            helper.terminate()
            helper.wait(timeout=15)
        self.helpers.clear()

    def close(self) -> None:
        self.stop_registry()
        self.stop_helpers()
        if self.pid is not None:
            # PID 1 of the namespace: the kernel ends everything left inside with it.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait(timeout=15)


def image_config_for_debian() -> str:
    """The image's config file as Debian's 2.8 binary can load it: the same, but for `storage.tag`."""
    config = yaml.safe_load(IMAGE_CONFIG.read_text())
    section, key = UNPARSEABLE_BY_2_8
    config[section].pop(key)
    return yaml.safe_dump(config)


def _hold(plan_path: str) -> None:
    """Inside fresh namespaces: build the pod's root, then wait to be killed."""
    layout = PodLayout(**json.loads(Path(plan_path).read_text()))
    layout.mounts = [Mount(**mount) for mount in layout.mounts]  # type: ignore[arg-type]
    workspace = Path(layout.workspace)
    state = Path(plan_path).parent
    nsroot = state / "nsroot"
    root = nsroot / "root"

    def sh(*argv: str) -> None:
        subprocess.run(argv, check=True)

    sh("mount", "--make-rprivate", "/")
    sh("mount", "-t", "tmpfs", "tmpfs", str(nsroot))
    for directory in ("upper", "work", "root"):
        (nsroot / directory).mkdir()
    sh(
        "mount",
        "-t",
        "overlay",
        "overlay",
        "-o",
        f"lowerdir=/,upperdir={nsroot}/upper,workdir={nsroot}/work",
        str(root),
    )
    sh("mount", "--rbind", "/dev", f"{root}/dev")
    sh("mount", "--rbind", "/sys", f"{root}/sys")
    sh("mount", "-t", "proc", "proc", f"{root}/proc")
    Path(f"{root}{INSIDE}").mkdir()
    sh("mount", "--bind", str(workspace), f"{root}{INSIDE}")
    for mount in layout.mounts:
        target = Path(f"{root}{mount.target}")
        target.mkdir(parents=True, exist_ok=True)
        sh("mount", "--bind", mount.source, str(target))
        if mount.read_only:
            sh("mount", "-o", "remount,bind,ro", str(target))
    # The image's own configuration file, as the container sees it.
    config = Path(f"{root}{IMAGE_CONFIG_PATH}")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(image_config_for_debian())
    (root / "etc" / "hosts").write_text(f"127.0.0.1 localhost {' '.join(layout.host_names)}\n")
    # Clients trust only what they are given: the system store holds an unrelated CA.
    sh("mount", "-t", "tmpfs", "tmpfs", f"{root}/etc/ssl/certs")
    decoy = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=unrelated system CA", "-keyout", "/dev/null"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    (root / "etc" / "ssl" / "certs" / "ca-certificates.crt").write_bytes(decoy)
    os.chroot(root)
    os.chdir("/")
    sh("ip", "link", "set", "lo", "up")
    if layout.redirect_ingress:
        # What the Ingress does for external names: 443 reaches the registry's port.
        sh("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "127.0.0.1", "--dport", str(INGRESS_PORT),
           "-j", "REDIRECT", "--to-ports", str(layout.port))  # fmt: skip
    Path(INSIDE, state.relative_to(workspace), "ready").write_text("ready")
    signal.pause()


if __name__ == "__main__":
    _hold(sys.argv[1])
