"""End to end: with no `nodeTrust.platform`, the DaemonSet's own script finds each node's runtime and writes
what that runtime reads.

Each node root is laid out as the distribution ships it (the configuration
files only: the script reads nothing else), the rendered command runs as in
test_end_to_end_node_trust.py, and its readiness probe, run in its container,
says whether the node's runtime reads the current CA. Then a containerd on the
k3s layout pulls through its CRI, as the kubelet does, with those files alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.doubles import FaithfulMocks, ProgramRun
from harness.e2e import REPOSITORY, running_registry
from harness.images import build_busybox_image
from harness.pod_sandbox import Sandbox
from tests.node_clients import Containerd, CriClient, require_node_tools
from tests.node_sandbox import CONTAINERD_NODE, Node, node_path, node_trust_run, rancher_node, start_node_trust

K3S_CERTS = "/var/lib/rancher/k3s/agent/etc/containerd/certs.d"
RKE2_CERTS = "/var/lib/rancher/rke2/agent/etc/containerd/certs.d"
CONTAINERD_CERTS = "/etc/containerd/certs.d"
DOCKER_CERTS = "/etc/docker/certs.d"
EVERY_CERTS_DIR = (K3S_CERTS, RKE2_CERTS, CONTAINERD_CERTS, DOCKER_CERTS)


def containerd_2(config_path: str, option: str) -> str:
    """A containerd 2.x config.toml (version 3), with one boolean option of its image service set."""
    return (
        "version = 3\nimports = ['/etc/containerd/config.d/*.toml']\n"
        f"[plugins.'io.containerd.cri.v1.images']\n  {option} = true\n"
        f"[plugins.'io.containerd.cri.v1.images'.registry]\n  config_path = '{config_path}'\n"
    )


@dataclass(frozen=True)
class NodeKind:
    files: dict[str, str]
    # Where each hostname's ca.crt must be, with (True) or without (False) a hosts.toml of ours beside it.
    certs: dict[str, bool]
    # The file (or certs.d, for the first hostname's) the node's runtime reads the CA from; None: nothing
    # here can make it trust the CA.
    trusted: str | None

    def trusted_file(self, host: str) -> str:
        assert self.trusted is not None
        return self.trusted if self.trusted.endswith(".crt") else f"{self.trusted}/{host}/ca.crt"


NODES = {
    "k3s": NodeKind(
        rancher_node("k3s"),
        {K3S_CERTS: False},
        "/etc/rancher/k3s/image-registry/ca.crt",
    ),
    "rke2": NodeKind(
        rancher_node("rke2"),
        {RKE2_CERTS: False},
        "/etc/rancher/rke2/image-registry/ca.crt",
    ),
    "containerd 1.x": NodeKind(CONTAINERD_NODE, {CONTAINERD_CERTS: True, DOCKER_CERTS: False}, CONTAINERD_CERTS),
    # Amazon Linux 2023's EKS nodes (nodeadm's template): a list of directories, and layers discarded once
    # unpacked, which makes containerd 2.x pull locally (it reads the list there).
    "containerd 2.x with a config_path list": NodeKind(
        {"/etc/containerd/config.toml": containerd_2(CONTAINERD_CERTS + ":" + DOCKER_CERTS, "discard_unpacked_layers")},
        {CONTAINERD_CERTS: True, DOCKER_CERTS: True},
        CONTAINERD_CERTS,
    ),
    # The same list where containerd 2.1+ pulls through its transfer service: it reads none of it.
    "containerd 2.x with a config_path list, transfer pulls": NodeKind(
        {"/etc/containerd/config.toml": containerd_2(CONTAINERD_CERTS + ":" + DOCKER_CERTS, "snapshotter")},
        {CONTAINERD_CERTS: True, DOCKER_CERTS: True},
        None,
    ),
    # Docker Engine's own containerd (the containerd.io package's config.toml): its CRI is off.
    "Docker": NodeKind(
        {"/etc/containerd/config.toml": 'disabled_plugins = ["cri"]\n', "/etc/docker/daemon.json": "{}\n"},
        {DOCKER_CERTS: False},
        DOCKER_CERTS,
    ),
    "containerd without config_path": NodeKind(
        {"/etc/containerd/config.toml": 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n'},
        {DOCKER_CERTS: False},
        None,
    ),
}


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return node_trust_run(FaithfulMocks())


def trusted_by_probe(daemon_set: Sandbox) -> bool:
    probe = daemon_set.layout.container().readiness
    assert probe is not None
    return daemon_set.exec_in("node-trust", *probe).returncode == 0


def wait_for_a_pass(daemon_set: Sandbox) -> str:
    """The script's first report of the node (it writes before it reports)."""
    log = daemon_set.log("node-trust")
    deadline = time.monotonic() + 20
    while "node layout" not in (text := log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"the script never reported:\n{text}"
        time.sleep(0.1)
    return text


@pytest.mark.parametrize("kind", NODES)
def test_each_node_gets_what_its_runtime_reads(tmp_path: Path, run: ProgramRun, kind: str) -> None:
    node = NODES[kind]
    hostnames = run.outputs["hostnames"]
    daemon_set = start_node_trust(run, tmp_path, node.files)
    try:
        report = wait_for_a_pass(daemon_set)
        for certs in EVERY_CERTS_DIR:
            for host in hostnames:
                ca, hosts = (
                    node_path(tmp_path, f"{certs}/{host}/ca.crt"),
                    node_path(tmp_path, f"{certs}/{host}/hosts.toml"),
                )
                if certs in node.certs:
                    assert ca.read_text() == run.outputs["caCertPem"], f"{kind}: {certs}/{host}/ca.crt"
                    assert hosts.exists() == node.certs[certs], f"{kind}: {certs}/{host}/hosts.toml"
                else:
                    assert not ca.exists(), f"{kind}: wrote {certs}/{host}/ca.crt, which nothing reads"
                    assert not hosts.exists(), f"{kind}: wrote {certs}/{host}/hosts.toml, which nothing reads"
        status = (tmp_path / "volumes" / "node-trust" / "status" / "trusted").read_text().strip()
        if node.trusted is None:
            assert status == ""
            assert not trusted_by_probe(daemon_set), "a node that cannot trust the CA must not look ready"
            assert "NOT TRUSTED: " in report
            assert report.count("node layout") == 1, "said once, not at every pass"
        else:
            expected = node.trusted_file(hostnames[0])
            assert status == f"/host{expected}", report
            assert node_path(tmp_path, expected).read_text() == run.outputs["caCertPem"]
            assert trusted_by_probe(daemon_set)
            assert "NOT TRUSTED" not in report
    finally:
        daemon_set.close()


def test_containerd_on_k3s_pulls_through_its_cri_with_those_files(tmp_path: Path) -> None:
    require_node_tools()
    mocks = FaithfulMocks()
    run = node_trust_run(mocks)
    with running_registry(run, mocks, tmp_path) as registry:
        host = run.outputs["registryHost"]
        digest = build_busybox_image(tmp_path / "busybox")
        assert registry.push(tmp_path / "busybox", host) == (0, "")
        daemon_set = start_node_trust(run, tmp_path, NODES["k3s"].files)
        try:
            wait_for_a_pass(daemon_set)
            node = Node(registry, trust_dirs=(K3S_CERTS,))
            try:
                cri = CriClient(Containerd(node, hosts_dir=K3S_CERTS))
                outcome = cri.pull(f"{host}/{REPOSITORY}:latest", str(run.outputs["pullDockerConfigJson"]))
                assert outcome.ok, outcome.message
                assert cri.digest(f"{host}/{REPOSITORY}:latest") == digest
            finally:
                node.close()
        finally:
            daemon_set.close()
