"""End to end: a node's containerd pulls `docker.io/library/busybox:1.36` through the stack's cache, with only
the node-trust DaemonSet's files and no pull credentials, as the kubelet pulls a public image.

The rendered pod runs with its mirror container before an upstream double of
Docker Hub (harness/upstream.py: a registry 3.1.1 under `registry-1.docker.io`,
with a CA of its own, requiring the mirror's upstream credentials). The
DaemonSet's own script (busybox) writes the node's certificate directories from
its ConfigMap and its mirrors Secret; a containerd 1.6 on the node (its
`config_path` that directory) answers the CRI `PullImage` call with no auth in
it: the `Authorization` header of `hosts.toml` authenticates the node to the
front, as the mirror user. The node cannot reach the upstream at all, so the
image can only have come through the cache.
"""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from harness.e2e import Registry
from harness.images import build_busybox_image
from harness.pod_layout import objects_by_name
from harness.upstream import Upstream, pod_with_upstreams
from tests.node_clients import Containerd, CriClient, require_node_tools
from tests.node_sandbox import Node, node_path, start_node_trust, wait_for

HUB = "registry-1.docker.io"
UPSTREAM_USER, UPSTREAM_PASSWORD = "hub-robot", "hub-T0ken-never-on-a-node"
MIRRORS = [
    {"upstream": "docker.io", "username": UPSTREAM_USER, "password": UPSTREAM_PASSWORD, "repositories": ["library/*"]}
]
MIRROR_USER = "image-registry-mirror"
IMAGE = "docker.io/library/busybox:1.36"
CERTS = "/etc/containerd/certs.d"


def mirrors_run(mocks: FaithfulMocks) -> ProgramRun:
    config = {
        **dev_config(),
        "image-registry:nodeTrust": json.dumps({"enabled": True}),
        "image-registry:mirrors": json.dumps(MIRRORS),
    }
    return run_program(config, mocks, secret_keys=["image-registry:mirrors"])


@contextmanager
def pod_before_the_upstream(run: ProgramRun, mocks: FaithfulMocks, workspace: Path) -> Iterator[Registry]:
    """The rendered pod and, in its network, the upstream double holding library/busybox:1.36."""
    upstream = Upstream(HUB, workspace / "upstream", credentials=f"{UPSTREAM_USER}:{UPSTREAM_PASSWORD}")
    holding = [(upstream, "library/busybox:1.36")]
    with pod_with_upstreams(run, mocks, workspace, workspace / "busybox", holding) as registry:
        yield registry


def mirror_password(run: ProgramRun) -> str:
    generated = run.named("random:index/randomPassword:RandomPassword", f"image-registry-users-{MIRROR_USER}-password")
    return str(generated.plain_outputs["result"])


def mirror_requests(registry: Registry, after: int) -> list[dict[str, object]]:
    """The front's access-log entries for the busybox mirror path after the first `after` lines: method, path,
    status, user (no credential is in that log)."""
    lines = registry.sandbox.log("front").read_text().splitlines()[after:]
    entries = [json.loads(line) for line in lines if "/v2/mirror/docker.io/library/busybox/" in line]
    return [
        {"method": entry["request"]["method"], "uri": entry["request"]["uri"], "status": entry["status"],
         "user_id": entry["user_id"]}
        for entry in entries
    ]  # fmt: skip


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_containerd_pulls_a_docker_hub_image_through_the_cache_with_no_pull_credentials(tmp_path: Path) -> None:
    require_node_tools()
    mocks = FaithfulMocks()
    run = mirrors_run(mocks)
    digest = build_busybox_image(tmp_path / "busybox")
    with pod_before_the_upstream(run, mocks, tmp_path) as registry:
        daemon_set = start_node_trust(run, tmp_path)
        try:
            hosts_toml = node_path(tmp_path, f"{CERTS}/docker.io/hosts.toml")
            wait_for([hosts_toml, node_path(tmp_path, f"{CERTS}/docker.io/ca.crt")])
            # Root's alone: it carries the mirror user's credentials.
            assert mode(hosts_toml) == 0o600
            assert mode(hosts_toml.parent) == 0o700
            assert "Authorization" in hosts_toml.read_text()
            logged = len(registry.sandbox.log("front").read_text().splitlines())
            node = Node(registry)
            try:
                cri = CriClient(Containerd(node))
                outcome = cri.pull(IMAGE, None)
                # containerd names the last host it tried (the upstream); the front says what the cache answered.
                assert outcome.ok, f"{outcome.message}\nthe front: {mirror_requests(registry, logged)}"
                assert cri.digest(IMAGE) == digest
            finally:
                node.close()
            # Through the cache, as the mirror user: every request of the pull in the front's log with that user.
            pulls = mirror_requests(registry, logged)
            assert pulls, "the node's pull never reached the front's mirror path"
            assert {line["user_id"] for line in pulls} == {MIRROR_USER}
            assert_no_credential_anywhere(run, tmp_path, mirror_password(run))
        finally:
            daemon_set.close()


def assert_no_credential_anywhere(run: ProgramRun, workspace: Path, password: str) -> None:
    """The upstream's and the mirror user's credentials: in no log, no output, not in the DaemonSet's ConfigMap
    or environment (the node's hosts.toml, root-only, is the one place the mirror user's header is)."""
    header = base64.b64encode(f"{MIRROR_USER}:{password}".encode()).decode()
    upstream_header = base64.b64encode(f"{UPSTREAM_USER}:{UPSTREAM_PASSWORD}".encode()).decode()
    credentials = {
        "the upstream's password": UPSTREAM_PASSWORD,
        "the upstream's credentials": upstream_header,
        "the mirror user's password": password,
        "the mirror user's credentials": header,
    }
    (daemon_set,) = [item for item in run.manifests() if item["kind"] == "DaemonSet"]
    pod = daemon_set["spec"]["template"]["spec"]
    (files,) = [volume["configMap"]["name"] for volume in pod["volumes"] if volume["name"] == "files"]
    places = {
        "the outputs": json.dumps(run.outputs),
        "the DaemonSet's ConfigMap": json.dumps(objects_by_name(run)[("ConfigMap", files)]),
        "the DaemonSet's environment": json.dumps(pod["containers"][0]["env"]),
        "the k3s registries.yaml": str(run.outputs["k3sRegistriesYaml"]),
    }
    logs = sorted(workspace.glob("*.log"))
    assert {"pod-front.log", "pod-mirror-0.log", "node-trust-node-trust.log", "node-containerd.log"} <= {
        log.name for log in logs
    }
    places |= {log.name: log.read_text(errors="replace") for log in logs}
    # Names only in a failure: pytest would show a part of the value.
    for where, text in places.items():
        leaked = [what for what, value in credentials.items() if value in text]
        assert not leaked, f"in {where}"
    # The node's own files: the upstream's credentials in none.
    upstream = {"the upstream's password": UPSTREAM_PASSWORD, "the upstream's credentials": upstream_header}
    for path in (workspace / "node").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            leaked = [what for what, value in upstream.items() if value in text]
            assert not leaked, f"on the node, in {path.name}"
