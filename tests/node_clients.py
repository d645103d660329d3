"""The container clients of a node, from Debian, each as a node runs it: pull, push, and what it holds.

containerd (with its CRI plugin, which the kubelet calls, and `ctr`), Docker
and Podman. Each daemon has its own root, state and socket under the
workspace; each client trusts the registry only through the files the
node-trust DaemonSet wrote (containerd through `config_path` and `hosts.toml`,
`ctr` through `--hosts-dir`, Docker and Podman through `certs.d`). Credentials
are a `.dockerconfigjson` document, the stack's own outputs, handed to each
client its own way. A client's `Outcome` carries what it said, never its
command line (which may hold a password).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grpc

from tests.cri import Credentials, ImageService, error_message
from tests.node_sandbox import Node

# Debian's Docker client: /usr/local/bin may hold another one, newer than Debian's daemon.
DOCKER_CLI = "/usr/bin/docker"
NODE_TOOLS = ("containerd", "ctr", "dockerd", "podman", "runc")
HOSTS_DIR = "/etc/containerd/certs.d"


def require_node_tools() -> None:
    missing = [tool for tool in NODE_TOOLS if shutil.which(tool) is None]
    missing += [] if Path(DOCKER_CLI).exists() else [DOCKER_CLI]
    assert not missing, f"missing {', '.join(missing)}: `make test` installs them (Debian packages)"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    # What the client said (its error, or its output): never its command line.
    message: str


def _outcome(result: subprocess.CompletedProcess[str]) -> Outcome:
    return Outcome(result.returncode == 0, f"{result.stdout.strip()}\n{result.stderr.strip()}".strip())


def registry_host(image: str) -> str:
    return image.split("/", maxsplit=1)[0]


def digest_of(repo_digests: list[str], image: str) -> str | None:
    """The digest of `image`'s repository among an image's `<repository>@<digest>` names (one image, many names)."""
    repository = image.rsplit(":", 1)[0]
    digests = [name.split("@")[1] for name in repo_digests if name.split("@")[0] == repository]
    return digests[0] if digests else None


def login(docker_config: str | None, host: str) -> Credentials | None:
    """The user and password a `.dockerconfigjson` holds for `host` (None: no credentials at all)."""
    if docker_config is None:
        return None
    entry = json.loads(docker_config)["auths"][host]
    return Credentials(entry["username"], entry["password"])


class NodeClient(Protocol):
    name: str

    def pull(self, image: str, docker_config: str | None) -> Outcome: ...

    def digest(self, image: str) -> str | None: ...


class PushingClient(NodeClient, Protocol):
    def push(self, layout: Path, image: str, docker_config: str) -> tuple[Outcome, str | None]: ...


class Containerd:
    """A private containerd on the node: its CRI plugin reads registry hosts from the DaemonSet's directory."""

    def __init__(self, node: Node, hosts_dir: str = HOSTS_DIR, name: str = "containerd") -> None:
        """`name`: its state directory and log's (a second instance on the node, as a second node's, needs one)."""
        self.node = node
        self.state = node.workspace / name
        self.state.mkdir()
        self.socket = self.state / "containerd.sock"
        inside = node.inside(self.state)
        config = self.state / "config.toml"
        # Only the plugins a node's image pulls need; `native` snapshots mount nothing.
        config.write_text(
            f"""version = 2
root = "{inside}/root"
state = "{inside}/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{inside}/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{hosts_dir}"
"""
        )
        self.daemon = node.start_daemon(name, ["containerd", "--config", node.inside(config)], self._serving)

    def _serving(self) -> bool:
        return self.socket.exists() and self.ctr("version").returncode == 0

    def ctr(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.node.run("ctr", "--address", self.node.inside(self.socket), *argv)


class CriClient:
    """The kubelet's way: CRI PullImage with the pod's pull secret, ImageStatus for what it holds (no push)."""

    name = "containerd CRI"

    def __init__(self, containerd: Containerd) -> None:
        self.service = ImageService(str(containerd.socket))

    def pull(self, image: str, docker_config: str | None) -> Outcome:
        if self.service.repo_digests(image):
            self.service.remove_image(image)
        try:
            return Outcome(True, self.service.pull_image(image, login(docker_config, registry_host(image))))
        except grpc.RpcError as error:
            return Outcome(False, error_message(error))

    def digest(self, image: str) -> str | None:
        return digest_of(self.service.repo_digests(image), image)


class CtrClient:
    """`ctr` on containerd's own namespace, registry hosts from `--hosts-dir`."""

    name = "ctr"

    def __init__(self, containerd: Containerd) -> None:
        self.containerd = containerd

    def _transfer(self, verb: str, image: str, docker_config: str | None) -> Outcome:
        credentials = login(docker_config, registry_host(image))
        user = ["--user", f"{credentials.username}:{credentials.password}"] if credentials else []
        extra = ["--snapshotter", "native"] if verb == "pull" else []
        return _outcome(self.containerd.ctr("images", verb, "--hosts-dir", HOSTS_DIR, *extra, *user, image))

    def pull(self, image: str, docker_config: str | None) -> Outcome:
        self.containerd.ctr("images", "rm", image)
        return self._transfer("pull", image, docker_config)

    def push(self, layout: Path, image: str, docker_config: str) -> tuple[Outcome, str | None]:
        archive = layout.with_suffix(".oci.tar")
        with tarfile.open(archive, "w") as tar:
            tar.add(layout, arcname=".")
        name, tag = image.rsplit(":", 1)
        imported = self.containerd.ctr("images", "import", "--no-unpack", "--base-name", name,
                                       self.containerd.node.inside(archive))  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        assert tag == "latest", "ctr names an imported image <base name>:<its OCI ref name>, here latest"
        return self._transfer("push", image, docker_config), self.digest(image)

    def digest(self, image: str) -> str | None:
        listed = self.containerd.ctr("images", "ls", f"name=={image}").stdout.splitlines()[1:]
        return listed[0].split()[2] if listed else None


class DockerClient:
    """A private dockerd (its own data root, exec root, pidfile and socket; no iptables, no bridge)."""

    name = "Docker"

    def __init__(self, node: Node) -> None:
        self.node = node
        self.state = node.workspace / "docker"
        self.state.mkdir()
        self.socket = self.state / "docker.sock"
        inside = node.inside(self.state)
        argv = [
            "dockerd", "--data-root", f"{inside}/data", "--exec-root", f"{inside}/exec",
            "--pidfile", f"{inside}/dockerd.pid", "--host", f"unix://{inside}/docker.sock",
            "--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver=vfs",
        ]  # fmt: skip
        node.start_daemon("dockerd", argv, lambda: self.socket.exists() and self.docker(None, "info").returncode == 0)

    def docker(self, docker_config: str | None, *argv: str) -> subprocess.CompletedProcess[str]:
        """The Docker CLI with `docker_config` as its config.json, as after `docker login`."""
        config = self.state / "config"
        config.mkdir(exist_ok=True)
        (config / "config.json").write_text(docker_config or '{"auths": {}}')
        socket = f"unix://{self.node.inside(self.socket)}"
        return self.node.run(DOCKER_CLI, "--config", self.node.inside(config), "--host", socket, *argv)

    def pull(self, image: str, docker_config: str | None) -> Outcome:
        self.docker(None, "image", "rm", image)
        return _outcome(self.docker(docker_config, "pull", image))

    def push(self, layout: Path, image: str, docker_config: str) -> tuple[Outcome, str | None]:
        archive = layout.with_suffix(".docker.tar")
        converted = subprocess.run(
            ["skopeo", "--policy", str(self.node.workspace / "policy.json"), "copy", "--quiet",
             f"oci:{layout}:latest", f"docker-archive:{archive}:{image}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert converted.returncode == 0, converted.stderr
        loaded = self.docker(None, "load", "--input", self.node.inside(archive))
        assert loaded.returncode == 0, loaded.stderr
        outcome = _outcome(self.docker(docker_config, "push", image))
        reported = re.search(r"digest: (sha256:[0-9a-f]{64})", outcome.message)
        return outcome, reported.group(1) if reported else None

    def digest(self, image: str) -> str | None:
        inspected = self.docker(None, "image", "inspect", "--format", "{{json .RepoDigests}}", image)
        return digest_of(json.loads(inspected.stdout) if inspected.returncode == 0 else [], image)


class PodmanClient:
    """Podman with its own storage (root, run root, vfs) and auth file; no daemon."""

    name = "Podman"

    def __init__(self, node: Node, registries_conf: Path | None = None) -> None:
        """`registries_conf`: a registries.conf of the workspace in place of the node's (its mirrors)."""
        self.node = node
        self.state = node.workspace / "podman"
        self.state.mkdir()
        # The node's own environment is fixed (NODE_ENV): `env` adds the one variable for podman alone.
        conf = f"CONTAINERS_REGISTRIES_CONF={node.inside(registries_conf)}" if registries_conf else None
        self.environment = ["env", conf] if conf else []

    def podman(self, *argv: str) -> subprocess.CompletedProcess[str]:
        inside = self.node.inside(self.state)
        return self.node.run(
            *self.environment, "podman", "--root", f"{inside}/root", "--runroot", f"{inside}/run",
            "--storage-driver", "vfs",
            "--tmpdir", f"{inside}/tmp", "--events-backend", "none", "--cgroup-manager", "cgroupfs", *argv,
        )  # fmt: skip

    def _auth_file(self, docker_config: str | None) -> str:
        auth = self.state / "auth.json"
        auth.write_text(docker_config or '{"auths": {}}')
        return self.node.inside(auth)

    def pull(self, image: str, docker_config: str | None) -> Outcome:
        self.podman("image", "rm", "--force", image)
        return _outcome(self.podman("pull", "--authfile", self._auth_file(docker_config), image))

    def push(self, layout: Path, image: str, docker_config: str) -> tuple[Outcome, str | None]:
        local = f"localhost/{image.split('/', 1)[1]}"
        loaded = self.podman("pull", f"oci:{self.node.inside(layout)}:latest")
        assert loaded.returncode == 0, loaded.stderr
        assert self.podman("tag", loaded.stdout.strip(), local).returncode == 0
        digest_file = self.state / "pushed-digest"
        outcome = _outcome(self.podman(
            "push", "--authfile", self._auth_file(docker_config), "--digestfile", self.node.inside(digest_file),
            local, f"docker://{image}",
        ))  # fmt: skip
        return outcome, digest_file.read_text().strip() if digest_file.exists() else None

    def digest(self, image: str) -> str | None:
        inspected = self.podman("image", "inspect", "--format", "{{.Digest}}", image)
        return inspected.stdout.strip() if inspected.returncode == 0 else None
