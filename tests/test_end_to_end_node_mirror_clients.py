"""End to end: every client of a node pulls upstream images through the stack's caches.

One world: the rendered pod before two upstream doubles (harness/upstream.py):
Docker Hub's (`registry-1.docker.io`, requiring the mirror's credentials,
holding `library/busybox:1.36`) and ghcr.io's (anonymous, holding
`org/tool:v1`); one node (tests/node_sandbox.py) trusting the stack's CA only
through the node-trust DaemonSet's files, which cannot reach either upstream.
containerd's CRI pulls with no credentials (`hosts.toml`'s header and
`override_path`); a second containerd (its own root and state, on the same
node: the harness links one node per pod) shows the cache fetched each blob
once; Docker logs in and names the image under `<registryHost>/mirror/…`
(its `registry-mirrors` takes a root URL only, which is the registry's own
namespace: not used); Podman maps `docker.io` to that location in a
registries.conf, trusting the CA through `/etc/docker/certs.d` alone.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from harness.e2e import Registry
from harness.images import build_busybox_image
from harness.upstream import Upstream, pod_with_upstreams
from tests.node_clients import Containerd, CriClient, DockerClient, PodmanClient, require_node_tools
from tests.node_sandbox import Node, node_path, start_node_trust, wait_for

HUB = "registry-1.docker.io"
UPSTREAM_LOGIN = "hub-robot:hub-T0ken-never-on-a-node"
MIRRORS = [
    {
        "upstream": "docker.io",
        "username": UPSTREAM_LOGIN.split(":", 1)[0],
        "password": UPSTREAM_LOGIN.split(":", 1)[1],
        "repositories": ["library/*"],
    },
    {"upstream": "ghcr.io"},
]
MIRROR_USER = "image-registry-mirror"
# Pulumi.dev.yaml's one user: push access, every repository ('*'), mirror/* included.
PUSH_USER = "registry"
BUSYBOX = "docker.io/library/busybox:1.36"
TOOL = "ghcr.io/org/tool:v1"
CERTS = "/etc/containerd/certs.d"


# No repr of its own: pytest prints a failing test's arguments, and the run holds the passwords.
@dataclass(repr=False)
class World:
    registry: Registry
    hub: Upstream
    ghcr: Upstream
    node: Node
    containerd: Containerd
    # The digest both upstreams hold (one image under two names).
    digest: str

    def __repr__(self) -> str:
        return "World()"

    @property
    def host(self) -> str:
        return str(self.registry.run.outputs["registryHost"])

    def front_lines(self) -> int:
        return len(self.registry.sandbox.log("front").read_text().splitlines())

    def front_requests(self, after: int, path: str) -> list[tuple[str, int, str]]:
        """(method, status, user) of the front's access-log entries under `path` after the first `after` lines."""
        lines = self.registry.sandbox.log("front").read_text().splitlines()[after:]
        entries = [json.loads(line) for line in lines if path in line]
        return [(entry["request"]["method"], entry["status"], entry["user_id"]) for entry in entries]

    def blobs_served(self, after: int, repository: str) -> set[str]:
        """The digests of the blobs of `repository` the front served (GET, 200) after the first `after` lines."""
        lines = self.registry.sandbox.log("front").read_text().splitlines()[after:]
        entries = [json.loads(line) for line in lines if f"/v2/{repository}/blobs/" in line]
        gets = [entry for entry in entries if entry["request"]["method"] == "GET" and entry["status"] == 200]
        # containerd adds `?ns=<upstream>` to a mirror's requests.
        return {entry["request"]["uri"].rsplit("/", 1)[1].split("?")[0] for entry in gets}


def mirrors_run(mocks: FaithfulMocks) -> ProgramRun:
    config = {
        **dev_config(),
        "image-registry:nodeTrust": json.dumps({"enabled": True}),
        "image-registry:mirrors": json.dumps(MIRRORS),
    }
    return run_program(config, mocks, secret_keys=["image-registry:mirrors"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_node_tools()
    mocks = FaithfulMocks()
    run = mirrors_run(mocks)
    workspace = tmp_path_factory.mktemp("mirror-clients")
    digest = build_busybox_image(workspace / "busybox")
    hub = Upstream(HUB, workspace / "upstream", credentials=UPSTREAM_LOGIN)
    ghcr = Upstream("ghcr.io", workspace / "upstream-ghcr", address="127.0.0.3")
    holding = [(hub, "library/busybox:1.36"), (ghcr, "org/tool:v1")]
    with pod_with_upstreams(run, mocks, workspace, workspace / "busybox", holding) as registry:
        daemon_set = start_node_trust(run, workspace)
        try:
            written = [f"{CERTS}/{upstream}/hosts.toml" for upstream in ("docker.io", "ghcr.io")]
            host = run.outputs["registryHost"]
            wait_for([node_path(workspace, path) for path in [*written, f"/etc/docker/certs.d/{host}/ca.crt"]])
            node = Node(registry)
            try:
                yield World(registry, hub, ghcr, node, Containerd(node), digest)
            finally:
                node.close()
        finally:
            daemon_set.close()


def image_blobs(layout: Path) -> set[str]:
    """The blob digests (config and layers) of the OCI layout's one image."""
    (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
    manifest = json.loads((layout / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_text())
    return {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}


def test_containerd_pulls_a_ghcr_image_through_the_cache(world: World) -> None:
    logged = world.front_lines()
    cri = CriClient(world.containerd)
    outcome = cri.pull(TOOL, None)
    assert outcome.ok, outcome.message
    assert cri.digest(TOOL) == world.digest
    # The cache asked ghcr.io's double (the node cannot reach it), and the node came as the mirror user.
    assert world.ghcr.blob_fetches("org/tool") > 0
    requests = world.front_requests(logged, "/v2/mirror/ghcr.io/org/tool/")
    assert requests, "the pull never reached the front's mirror path"
    assert {user for _, _, user in requests} == {MIRROR_USER}


def test_two_containerds_pulls_fetch_each_blob_once_upstream(world: World) -> None:
    # Two containerds on the same node, each its own root and state: two nodes' image stores, empty (the
    # world's containerd holds ghcr.io/org/tool:v1, the same blobs: it would fetch none of them).
    stores = [Containerd(world.node, name=f"containerd-node-{index}") for index in (1, 2)]
    blobs = image_blobs(world.registry.workspace / "busybox")
    for containerd in stores:
        cri = CriClient(containerd)
        logged = world.front_lines()
        outcome = cri.pull(BUSYBOX, None)
        assert outcome.ok, outcome.message
        assert cri.digest(BUSYBOX) == world.digest
        # Each store fetched every blob, from the cache.
        assert world.blobs_served(logged, "mirror/docker.io/library/busybox") == blobs
    assert world.hub.blob_fetches("library/busybox") == len(blobs)


def test_docker_logs_in_and_pulls_under_the_mirror_path(world: World) -> None:
    docker = DockerClient(world.node)
    entry = json.loads(str(world.registry.run.outputs["dockerConfigJson"]))["auths"][world.host]
    assert entry["username"] == PUSH_USER
    logged_in = docker.docker(None, "login", "--username", PUSH_USER, "--password", entry["password"], world.host)
    assert logged_in.returncode == 0, logged_in.stderr.strip()
    # What `docker login` wrote (DockerClient hands each call its config.json).
    config = (docker.state / "config" / "config.json").read_text()
    image = f"{world.host}/mirror/{BUSYBOX}"
    logged = world.front_lines()
    outcome = docker.pull(image, config)
    assert outcome.ok, outcome.message
    assert docker.digest(image) == world.digest
    assert {user for _, _, user in world.front_requests(logged, "/v2/mirror/docker.io/library/busybox/")} == {PUSH_USER}


def registries_conf(host: str) -> str:
    """Podman's mirror of docker.io: the stack's cache (its path), Docker Hub itself after it."""
    return (
        '[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n'
        f'[[registry.mirror]]\nlocation = "{host}/mirror/docker.io"\n'
    )


def test_podman_pulls_docker_io_through_a_registries_conf_mirror(world: World) -> None:
    conf = world.registry.workspace / "registries.conf"
    conf.write_text(registries_conf(world.host))
    # Credentials for the registry's host only; the CA from the DaemonSet's /etc/docker/certs.d alone
    # (/etc/containers/certs.d is empty on the node).
    podman = PodmanClient(world.node, registries_conf=conf)
    logged = world.front_lines()
    outcome = podman.pull(BUSYBOX, str(world.registry.run.outputs["dockerConfigJson"]))
    assert outcome.ok, outcome.message
    assert podman.digest(BUSYBOX) == world.digest
    requests = world.front_requests(logged, "/v2/mirror/docker.io/library/busybox/")
    assert requests, "podman never asked the cache"
    assert {user for _, _, user in requests} == {PUSH_USER}
    assert all(status == 200 for method, status, _ in requests if method == "GET")


# The upstream's own address on the node's link (the pod's side): 443 there reaches ghcr.io's double.
UPSTREAM_ON_LINK = "10.244.13.3"


def pod_net(world: World, *argv: str) -> None:
    command = ["nsenter", f"--target={world.registry.sandbox.pid}", "--net", *argv]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{argv[0]}: {result.stderr.strip()}"


def expose_ghcr_to_the_node(world: World) -> None:
    """ghcr.io, as the node reaches the Internet: its name resolves to an address on the link, DNATed in the
    pod's network to the double (127.0.0.3:443, hence route_localnet), and its CA in the node's system trust
    (as a public CA is): only the top-level `server` of hosts.toml, which carries no CA of ours, uses it."""
    link = world.node.pod_address.rsplit(".", 1)[0]
    interface = f"irp{link.rsplit('.', 1)[1]}"
    assert UPSTREAM_ON_LINK.startswith(f"{link}.")
    pod_net(world, "ip", "addr", "add", f"{UPSTREAM_ON_LINK}/24", "dev", interface)
    pod_net(world, "sysctl", "-q", "-w", f"net.ipv4.conf.{interface}.route_localnet=1")
    pod_net(world, "iptables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "-d", UPSTREAM_ON_LINK, "--dport",
            "443", "-j", "DNAT", "--to-destination", f"{world.ghcr.address}:443")  # fmt: skip
    append = 'printf "%s\\n" "$1" >> "$2"'
    world.node.check("/bin/sh", "-c", append, "sh", f"{UPSTREAM_ON_LINK} ghcr.io", "/etc/hosts")
    world.node.check("/bin/sh", "-c", append, "sh", world.ghcr.ca_pem, "/etc/ssl/certs/ca-certificates.crt")


def test_containerd_falls_back_to_the_upstream_while_the_registry_is_down(world: World) -> None:
    expose_ghcr_to_the_node(world)
    # A containerd started now: Go reads the system trust store once per process.
    cri = CriClient(Containerd(world.node, name="containerd-fallback"))
    down = ["OUTPUT", "-p", "tcp", "-d", world.node.pod_address, "-j", "REJECT", "--reject-with", "tcp-reset"]
    world.node.check("iptables", "-I", *down)
    try:
        outcome = cri.pull(TOOL, None)
    finally:
        world.node.check("iptables", "-D", *down)
    assert outcome.ok, outcome.message
    assert cri.digest(TOOL) == world.digest
    # The node itself (its link address, not the pod's cache) asked ghcr.io's double for the manifest.
    node_address = f"{world.node.pod_address.rsplit('.', 1)[0]}.1"
    asked = [line for line in world.ghcr.log.read_text().splitlines() if "/v2/org/tool/manifests/v1" in line]
    assert any(line.startswith(f"{node_address} ") for line in asked), asked[-3:]
