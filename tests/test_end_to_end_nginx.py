"""End to end through a real ingress hop: Debian's nginx, configured from the rendered Ingress as ingress-nginx would.

nginx terminates TLS with the Ingress's certificate for every hostname, then
re-encrypts to the pod and verifies it against the CA from `proxy-ssl-secret`
under `proxy-ssl-name`. A 64 MiB image goes through it both ways; the same
push without `proxy-body-size: "0"` meets ingress-nginx's 1m default (413).
(Traefik has no Debian package: its hop stays the sandbox's redirect of 443.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.doubles import FaithfulMocks, dev_config, run_program
from harness.e2e import Registry, running_registry
from harness.images import build_random_image
from harness.pod_layout import objects_by_name
from tests.ingress_nginx import PREFIX, nginx_config

REFERENCE = "ci/large:latest"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    config = dev_config()
    config["image-registry:ingress"] = json.dumps({"controller": "nginx"})
    mocks = FaithfulMocks()
    run = run_program(config, mocks)
    with running_registry(run, mocks, tmp_path_factory.mktemp("nginx-pod"), redirect_ingress=False) as registry:
        yield registry


@pytest.fixture(scope="module")
def large_image(registry: Registry) -> str:
    return build_random_image(registry.workspace / "large", total_mib=64, layer_count=2)


def start_nginx(registry: Registry, ingress: dict[str, object], name: str) -> Path:
    config = nginx_config(
        ingress,
        objects_by_name(registry.run),
        registry.workspace / name,
        registry.sandbox.inside,
        endpoint=f"127.0.0.1:{registry.layout.port}",
    )
    registry.sandbox.start_nginx(config)
    return config


def test_a_large_image_goes_through_the_ingress_both_ways(registry: Registry, large_image: str) -> None:
    config = start_nginx(registry, registry.run.manifest("Ingress"), "nginx")
    assert "proxy_ssl_verify on;" in config.read_text()
    first, second = registry.run.outputs["hostnames"]
    code, error = registry.push(registry.workspace / "large", first, REFERENCE)
    assert code == 0, error
    destination = registry.workspace / "pulled-large"
    code, error = registry.pull(second, destination, REFERENCE)
    assert code == 0, error
    assert json.loads((destination / "index.json").read_text())["manifests"][0]["digest"] == large_image
    access_log = (config.parent / "access.log").read_text()
    assert " 201 " in access_log, "the layers went through nginx"


def test_nginx_refuses_a_backend_it_cannot_verify(registry: Registry) -> None:
    ingress = registry.run.manifest("Ingress")
    annotations = {**ingress["metadata"]["annotations"], f"{PREFIX}proxy-ssl-name": "not-the-registry.example"}
    start_nginx(registry, {**ingress, "metadata": {**ingress["metadata"], "annotations": annotations}}, "nginx-bad")
    code, status, _ = registry.curl(f"https://{registry.run.outputs['registryHost']}/v2/", "-u", registry.credentials())
    assert (code, status) == (0, "502")


def test_without_an_unlimited_body_size_the_push_gets_413(registry: Registry) -> None:
    ingress = registry.run.manifest("Ingress")
    annotations = dict(ingress["metadata"]["annotations"])
    del annotations[f"{PREFIX}proxy-body-size"]
    start_nginx(registry, {**ingress, "metadata": {**ingress["metadata"], "annotations": annotations}}, "nginx-1m")
    # Layers the registry does not hold yet (it would skip uploading those it has).
    build_random_image(registry.workspace / "fresh", total_mib=64, layer_count=2)
    code, error = registry.push(registry.workspace / "fresh", registry.run.outputs["registryHost"], "ci/other:1")
    assert code != 0
    assert "413" in error, error


def test_the_log_names_the_client_the_ingress_controller_saw(registry: Registry) -> None:
    start_nginx(registry, registry.run.manifest("Ingress"), "nginx-client")
    host = registry.run.outputs["registryHost"]
    # The client comes from an address of its own; it also claims another, which nginx replaces.
    code, status, _ = registry.curl(
        f"https://{host}/v2/",
        "-u",
        registry.credentials(),
        "--interface",
        "127.0.0.7",
        "-H",
        "X-Forwarded-For: 6.6.6.6",
    )
    assert (code, status) == (0, "200")
    lines = [
        json.loads(line) for line in registry.sandbox.log("front").read_text().splitlines() if '"uri":"/v2/"' in line
    ]
    last = lines[-1]
    assert last["user_id"] == registry.username
    # The front trusts X-Forwarded-For because nginx showed it the ingress controller's client certificate.
    assert last["client"] == "127.0.0.7"
    assert last["request"]["remote_ip"] == "127.0.0.1", "the hop itself: nginx"
    # The registry's own log gets the same client (the front's X-Forwarded-For): on its errors, a missing tag.
    missing = f"https://{host}/v2/ci/other/manifests/missing"
    assert registry.curl(missing, "-u", registry.credentials(), "--interface", "127.0.0.7")[1] == "404"
    deadline = time.monotonic() + 10
    while "http.request.remoteaddr=127.0.0.7" not in registry.sandbox.registry_log.read_text():
        assert time.monotonic() < deadline, "the registry's log never named the client"
        time.sleep(0.1)
