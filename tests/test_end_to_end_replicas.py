"""End to end: three replicas of the rendered pod on one shared volume, behind a proxy that balances every request.

Each replica is its own pod: its own mount and network namespaces, port 5000
on its own address (a veth link from the node, as a CNI would give it). Debian's
haproxy stands for the Ingress in front of the Service's endpoints: it
terminates TLS with the Ingress's certificate, re-encrypts to each pod,
verifies it against the CA, and sends each request to the next pod, so one
upload's requests land on different replicas. They can only finish it if
they share the HTTP secret, which is what the stack renders.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from harness.e2e import Registry, certificate_names, require_tools
from harness.images import build_random_image
from harness.pod_layout import PodLayout, objects_by_name, write_secret_volume
from harness.pod_sandbox import Sandbox
from harness.program_run import secret_data

REPLICAS = 3
IMAGE_MIB = 64
SERVICE_NAME = "image-registry.kube-infra.svc"


def haproxy_config(run: ProgramRun, directory: Path, inside: Path, backends: list[str]) -> Path:
    """TLS terminated with the Ingress's certificate, re-encrypted to every pod and verified, per request."""
    ingress_tls = objects_by_name(run)[("Secret", run.manifest("Ingress")["spec"]["tls"][0]["secretName"])]
    (directory / "front.pem").write_text(secret_data(ingress_tls)["tls.crt"] + secret_data(ingress_tls)["tls.key"])
    (directory / "ca.crt").write_text(run.outputs["caCertPem"])
    servers = "\n".join(
        f"    server replica-{index} {address}:5000 ssl verify required ca-file {inside / 'ca.crt'} "
        f"sni str({SERVICE_NAME}) verifyhost {SERVICE_NAME}"
        for index, address in enumerate(backends, 1)
    )
    config = directory / "haproxy.cfg"
    config.write_text(
        f"""global
    maxconn 256
defaults
    mode http
    option http-server-close
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend ingress
    bind 127.0.0.1:443 ssl crt {inside / "front.pem"}
    default_backend replicas
backend replicas
    balance roundrobin
{servers}
"""
    )
    return config


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, list[Sandbox]]]:
    require_tools()
    config = dev_config()
    config["image-registry:replicas"] = str(REPLICAS)
    config["image-registry:storage"] = json.dumps({"accessMode": "ReadWriteMany"})
    mocks = FaithfulMocks()
    run = run_program(config, mocks)
    workspace = tmp_path_factory.mktemp("replicas")
    (workspace / "trust").mkdir()
    (workspace / "trust" / "ca.crt").write_text(run.outputs["caCertPem"])
    node = Sandbox(PodLayout.without_containers(workspace, "node", certificate_names(run)))
    pods: list[Sandbox] = []
    try:
        for index in range(1, REPLICAS + 1):
            layout = PodLayout.from_run(run, workspace, [], pod_name=f"replica-{index}")
            pods.append(Sandbox(layout))
        backends = [node.connect(pod, index) for index, pod in enumerate(pods, 1)]
        for pod in pods:
            pod.start_registry()
        proxy = workspace / "haproxy"
        proxy.mkdir()
        config_file = haproxy_config(run, proxy, Path(node.inside(proxy)), backends)
        node.start_helper("haproxy", ["haproxy", "-f", node.inside(config_file), "-db"], "https://127.0.0.1:443/")
        registry = Registry(run, mocks, pods[0].layout, pods[0], workspace, client_sandbox=node)
        assert registry.curl(f"https://{run.outputs['registryHost']}/")[1] == "200"
        yield registry, pods
    finally:
        for sandbox in [*pods, node]:
            sandbox.close()


def test_replicas_share_one_claim_and_one_http_secret(replicas: tuple[Registry, list[Sandbox]]) -> None:
    _, pods = replicas
    claims = {
        mount.source for pod in pods for mount in pod.layout.container().mounts if mount.target == "/var/lib/registry"
    }
    assert len(claims) == 1
    config_files = {
        (Path(mount.source) / "config.yml").read_text()
        for pod in pods
        for mount in pod.layout.container().mounts
        if mount.target == "/etc/registry/config"
    }
    assert len(config_files) == 1
    assert yaml.safe_load(config_files.pop())["http"]["secret"]


def test_a_large_image_five_times_through_every_replica(replicas: tuple[Registry, list[Sandbox]]) -> None:
    registry, pods = replicas
    push_host, pull_host = registry.run.outputs["hostnames"]
    for attempt in range(5):
        image = registry.workspace / f"image-{attempt}"
        digest = build_random_image(image, total_mib=IMAGE_MIB, layer_count=4)
        code, error = registry.push(image, push_host, f"ci/large:{attempt}")
        assert code == 0, f"push {attempt}: {error}"
        assert (
            registry.pulled_digest(pull_host, f"ci/large:{attempt}", registry.workspace / f"pulled-{attempt}") == digest
        )
    for pod in pods:
        # Every replica took part in the uploads: the requests of one push moved between pods (each pod's
        # front logs every request; its registry, errors only).
        assert "/blobs/uploads/" in pod.log("front").read_text(), pod.layout.pod_name


def test_without_a_shared_http_secret_uploads_that_move_between_pods_fail(
    replicas: tuple[Registry, list[Sandbox]],
) -> None:
    registry, pods = replicas
    for pod in pods:
        pod.stop_registry()
        config = Path(pod.layout.workspace) / "volumes" / pod.layout.pod_name / "config"
        own = yaml.safe_dump({"version": 0.1, "http": {"secret": secrets.token_urlsafe(32)}})
        write_secret_volume(config, {"config.yml": own}, 0o440, pod.layout.fs_group)
        pod.start_registry()
    image = registry.workspace / "image-own-secrets"
    build_random_image(image, total_mib=IMAGE_MIB, layer_count=4)
    code, error = registry.push(image, registry.run.outputs["registryHost"], "ci/large:own-secrets")
    assert code != 0, "the push went through pods that do not share a secret"
    # The client may only see its connection cut (the pod refuses before reading the body); the pods say why.
    refusals = [pod.registry_log.read_text().count("blob upload invalid") for pod in pods]
    assert sum(refusals) > 0, error


def test_only_the_front_is_reachable_from_outside_the_pod(replicas: tuple[Registry, list[Sandbox]]) -> None:
    registry, pods = replicas
    pod_address = "10.244.1.2"  # the first pod's, as `connect` numbers them
    front = registry.client.run("curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", f"https://{pod_address}:5000/")
    assert front.stdout == "200"
    # The registry itself listens on the pod's loopback: from the node (another pod, the Ingress) it is not there.
    around = registry.client.run("curl", "-sS", "--max-time", "5", f"http://{pod_address}:5002/v2/")
    assert around.returncode == 7, around  # curl: could not connect
    # Inside the pod, the containers share that loopback: the front reaches it (and so would a sidecar).
    inside = pods[0].run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:5002/v2/")
    assert inside.stdout == "200"
