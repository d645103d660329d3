"""End to end: with no `nodeTrust.platform`, the DaemonSet's own script finds each node's runtime and writes
what that runtime reads.

Each node root is laid out as the distribution ships it (the configuration
files only: the script reads nothing else), the rendered command runs as in
test_end_to_end_node_trust.py, and its readiness probe, run in its container,
says whether the node's runtime reads the current CA. Then a containerd on the
k3s layout pulls through its CRI, as the kubelet does, with those files alone.
"""

from __future__ import annotations

import json
import stat
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.node_layouts import INTERVAL_SECONDS, MIRROR_MARK
from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
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


# The first line of the hosts.toml k3s generates (pkg/agent/templates): what k3s removes at each start.
K3S_HOSTS_TOML = '# File generated by k3s. DO NOT EDIT.\nserver = "https://registry-1.docker.io/v2"\n'


@pytest.mark.parametrize("registries_yaml_lists_it", [False, True])
def test_on_k3s_a_mirrors_hosts_toml_only_where_k3s_does_not_own_it(
    tmp_path: Path, registries_yaml_lists_it: bool
) -> None:
    # k3s removes <certs.d>/<host> of every host its registries.yaml lists and writes its own hosts.toml
    # there (cleanContainerdHosts): a node whose registries.yaml lists docker.io has k3s's file, left alone;
    # elsewhere k3s never touches a directory whose hosts.toml it did not write, and ours goes there.
    config = dev_config()
    config["image-registry:nodeTrust"] = json.dumps({"enabled": True})
    config["image-registry:mirrors"] = json.dumps([{"upstream": "docker.io"}])
    run = run_program(config, FaithfulMocks())
    hosts = node_path(tmp_path, f"{K3S_CERTS}/docker.io/hosts.toml")
    if registries_yaml_lists_it:
        hosts.parent.mkdir(parents=True)
        hosts.write_text(K3S_HOSTS_TOML)
    daemon_set = start_node_trust(run, tmp_path, NODES["k3s"].files)
    try:
        report = wait_for_a_pass(daemon_set)
        for other in (CONTAINERD_CERTS, DOCKER_CERTS, RKE2_CERTS):
            assert not node_path(tmp_path, f"{other}/docker.io").exists(), f"{other}: nothing reads it on k3s"
        if registries_yaml_lists_it:
            assert hosts.read_text() == K3S_HOSTS_TOML
            assert not (hosts.parent / "ca.crt").exists()
            assert f"{K3S_CERTS}/docker.io/hosts.toml is k3s's" in report
        else:
            assert tomllib.loads(hosts.read_text())["host"].keys() == set(run.outputs["mirrorEndpoints"].values())
            assert stat.S_IMODE(hosts.stat().st_mode) == 0o600
            assert (hosts.parent / "ca.crt").read_text() == run.outputs["caCertPem"]
            assert "k3s's" not in report
            # Made readable by someone: root's alone again at the next pass.
            hosts.chmod(0o644)
            deadline = time.monotonic() + 3 * INTERVAL_SECONDS
            while stat.S_IMODE(hosts.stat().st_mode) != 0o600:
                assert time.monotonic() < deadline, "the mirror's hosts.toml stayed readable by every user"
                time.sleep(0.2)
    finally:
        daemon_set.close()


def test_a_mirror_no_longer_configured_leaves_the_node(tmp_path: Path) -> None:
    # quay.io's hosts.toml is ours (a mirror since removed from the stack): it goes, and the node pulls from
    # quay.io again. gcr.io's is someone else's: it stays, as does the listed docker.io's.
    config = dev_config()
    config["image-registry:nodeTrust"] = json.dumps({"enabled": True})
    config["image-registry:mirrors"] = json.dumps([{"upstream": "docker.io"}])
    run = run_program(config, FaithfulMocks())
    ours = node_path(tmp_path, f"{CONTAINERD_CERTS}/quay.io/hosts.toml")
    foreign = node_path(tmp_path, f"{CONTAINERD_CERTS}/gcr.io/hosts.toml")
    for path, text in (
        (ours, f'{MIRROR_MARK}\nserver = "https://quay.io"\n'),
        (foreign, 'server = "https://gcr.io"\n'),
    ):
        path.parent.mkdir(parents=True)
        path.write_text(text)
    daemon_set = start_node_trust(run, tmp_path)
    try:
        report = wait_for_a_pass(daemon_set)
        assert not ours.exists(), report
        assert f"removed {CONTAINERD_CERTS}/quay.io/hosts.toml" in report
        assert foreign.read_text() == 'server = "https://gcr.io"\n'
        assert node_path(tmp_path, f"{CONTAINERD_CERTS}/docker.io/hosts.toml").read_text().startswith(MIRROR_MARK)
    finally:
        daemon_set.close()
