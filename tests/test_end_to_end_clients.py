"""End to end: every client of a node, trusting the CA only through the node-trust DaemonSet's files.

A node beside the registry's pod (tests/node_sandbox.py) runs Debian's
containerd (pulled from through its CRI plugin, as the kubelet does, and with
`ctr`), Docker and Podman (tests/node_clients.py). The DaemonSet's own script
wrote their trust; the node reaches the pod over a veth link, never through
127.0.0.0/8 (which Docker would not verify). Each client pushes (the CRI has
no push: the kubelet only pulls), pulls, holds the digest the registry has,
and is refused with a wrong password, with no credentials, and says "not
found" (not a certificate error) for a missing tag.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from harness.e2e import REPOSITORY, Registry, running_registry
from harness.images import build_busybox_image
from tests.node_clients import (
    Containerd,
    CriClient,
    CtrClient,
    DockerClient,
    NodeClient,
    PodmanClient,
    PushingClient,
    require_node_tools,
)
from tests.node_sandbox import TRUST_DIRS, Node, node_path, start_node_trust, wait_for

PUSHING = ["ctr", "Docker", "Podman"]
CLIENTS = ["containerd CRI", *PUSHING]
REFUSED = re.compile(r"unauthorized|401|no basic auth credentials", re.IGNORECASE)
NOT_FOUND = re.compile(r"not found|manifest unknown", re.IGNORECASE)
UNTRUSTED = re.compile(r"x509|certificate", re.IGNORECASE)


def pull_config(run: ProgramRun) -> str:
    """What nodes pull with (a pod's pull secret): the pull-only user's credentials."""
    return str(run.outputs["pullDockerConfigJson"])


def push_config(run: ProgramRun) -> str:
    return str(run.outputs["dockerConfigJson"])


def with_wrong_password(docker_config: str) -> str:
    """The same user on every host, with a password that is not theirs."""
    auths = json.loads(docker_config)["auths"]
    for entry in auths.values():
        entry["password"] = "not-the-password"
        entry["auth"] = base64.b64encode(f"{entry['username']}:{entry['password']}".encode()).decode()
    return json.dumps({"auths": auths})


# No repr of its own: pytest prints a failing test's arguments, and the run holds the passwords.
@dataclass(repr=False)
class World:
    registry: Registry
    node: Node
    containerd: Containerd
    clients: dict[str, NodeClient]
    pushing: dict[str, PushingClient]
    # The image skopeo pushed to utils/busybox:latest, and its digest.
    image: str
    digest: str

    def __repr__(self) -> str:
        return f"World({self.image})"

    @property
    def host(self) -> str:
        return str(self.registry.run.outputs["registryHost"])

    def registry_digest(self, image: str) -> str:
        """The digest the registry serves for `image`, as skopeo in the pod's own network reads it."""
        registry = self.registry
        result = registry.client.run(
            "skopeo", "--policy", registry.client.inside(registry.workspace / "policy.json"), "inspect",
            "--cert-dir", registry.trust_dir, "--creds", registry.credentials(), "--format", "{{.Digest}}",
            f"docker://{image}",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_node_tools()
    config = dev_config()
    config["image-registry:nodeTrust"] = json.dumps({"enabled": True})
    mocks = FaithfulMocks()
    run = run_program(config, mocks)
    workspace = tmp_path_factory.mktemp("clients")
    with running_registry(run, mocks, workspace) as registry:
        host = run.outputs["registryHost"]
        digest = build_busybox_image(workspace / "busybox")
        assert registry.push(workspace / "busybox", host) == (0, "")
        daemon_set = start_node_trust(run, workspace)
        try:
            written = [node_path(workspace, path) / name for path in TRUST_DIRS for name in run.outputs["hostnames"]]
            wait_for([path / "ca.crt" for path in written] + [path / "hosts.toml" for path in written[:2]])
            node = Node(registry)
            try:
                containerd = Containerd(node)
                pushing: list[PushingClient] = [CtrClient(containerd), DockerClient(node), PodmanClient(node)]
                clients: list[NodeClient] = [CriClient(containerd), *pushing]
                yield World(
                    registry,
                    node,
                    containerd,
                    {client.name: client for client in clients},
                    {client.name: client for client in pushing},
                    f"{host}/{REPOSITORY}:latest",
                    digest,
                )
            finally:
                node.close()
        finally:
            daemon_set.close()


@pytest.mark.parametrize("name", PUSHING)
def test_push(world: World, name: str) -> None:
    image = f"{world.host}/clients/{name.lower()}:latest"
    outcome, reported = world.pushing[name].push(
        world.registry.workspace / "busybox", image, push_config(world.registry.run)
    )
    assert outcome.ok, outcome.message
    assert reported == world.registry_digest(image)


@pytest.mark.parametrize("name", CLIENTS)
def test_pull(world: World, name: str) -> None:
    outcome = world.clients[name].pull(world.image, pull_config(world.registry.run))
    assert outcome.ok, outcome.message


@pytest.mark.parametrize("name", CLIENTS)
def test_pulled_digest_is_the_pushed_one(world: World, name: str) -> None:
    client = world.clients[name]
    # Never a call with credentials inside an assert: pytest would print its arguments.
    outcome = client.pull(world.image, pull_config(world.registry.run))
    assert outcome.ok, outcome.message
    assert client.digest(world.image) == world.digest == world.registry_digest(world.image)


@pytest.mark.parametrize("name", CLIENTS)
def test_wrong_password_is_refused(world: World, name: str) -> None:
    outcome = world.clients[name].pull(world.image, with_wrong_password(pull_config(world.registry.run)))
    assert not outcome.ok
    assert REFUSED.search(outcome.message), outcome.message
    assert not UNTRUSTED.search(outcome.message), outcome.message


@pytest.mark.parametrize("name", CLIENTS)
def test_no_credentials_are_refused(world: World, name: str) -> None:
    outcome = world.clients[name].pull(world.image, None)
    assert not outcome.ok
    assert REFUSED.search(outcome.message), outcome.message
    assert not UNTRUSTED.search(outcome.message), outcome.message


@pytest.mark.parametrize("name", CLIENTS)
def test_a_missing_tag_is_not_found_not_untrusted(world: World, name: str) -> None:
    outcome = world.clients[name].pull(f"{world.host}/{REPOSITORY}:no-such-tag", pull_config(world.registry.run))
    assert not outcome.ok
    assert NOT_FOUND.search(outcome.message), outcome.message
    assert not UNTRUSTED.search(outcome.message), outcome.message


def test_containerd_takes_the_hosts_toml_as_it_is(world: World) -> None:
    # containerd 1.6 refuses a hosts.toml without a [host] table, logs it, and falls back to the
    # directory's ca.crt: every pull and push would still work, on a file it did not read.
    outcome = world.clients["containerd CRI"].pull(world.image, pull_config(world.registry.run))
    assert outcome.ok, outcome.message
    assert "failed to decode hosts.toml" not in world.containerd.daemon.log.read_text()


@pytest.mark.parametrize("name", CLIENTS)
def test_without_the_daemon_sets_files_the_registry_is_not_trusted(world: World, name: str) -> None:
    # The node's system trust store holds an unrelated CA only, and Docker verifies this registry
    # (not on 127.0.0.0/8): the trust above came from the DaemonSet's files alone.
    with world.node.without_trust():
        outcome = world.clients[name].pull(world.image, pull_config(world.registry.run))
    assert not outcome.ok
    assert UNTRUSTED.search(outcome.message), outcome.message
