"""A CA rotation under the real engine, as docs/operations.md types it: three runs of plain configuration, the
stack carrying both CAs meanwhile, nothing replaced before its step, the old CA deleted only once unprotected."""

from __future__ import annotations

import pytest
from cryptography import x509

from harness.pulumi_engine import Stack
from tests.real_engine import Cluster, Deploy
from tests.test_real_engine_lifecycle import REPLACING, SERVER_CERTIFICATE, own_config

pytestmark = pytest.mark.real_engine

CA_TYPES = ("tls:index/privateKey:PrivateKey", "tls:index/selfSignedCert:SelfSignedCert")
# A stack name of its own: the node-trust namespace (`<name>-node-trust`) is cluster-wide.
NAME = "rotation"


def subjects(pem: str) -> list[str]:
    return [certificate.subject.rfc4514_string() for certificate in x509.load_pem_x509_certificates(pem.encode())]


def ca_urns(stack: Stack, generation_name: str) -> list[str]:
    """The key and certificate of the CA `image-registry-ca` (generation 1) or `image-registry-ca-<n>`."""
    return [
        item["urn"]
        for item in stack.resources()
        if item["type"] in CA_TYPES
        and item["urn"].rsplit("::", 1)[1] in (f"{generation_name}-key", f"{generation_name}-cert")
    ]


def server_certificate(stack: Stack) -> str:
    pem: str = next(
        item for item in stack.resources() if item["type"] == SERVER_CERTIFICATE and "server" in item["urn"]
    )["outputs"]["certPem"]
    return pem


def node_bundle(cluster: Cluster) -> str:
    (config_map,) = [
        item
        for item in cluster.kubectl.get("configmap", "-n", f"{NAME}-node-trust")["items"]
        if item["metadata"]["name"].startswith(f"{NAME}-node-trust-files-")
    ]
    bundle: str = config_map["data"]["ca.crt"]
    return bundle


def changed_types(stack: Stack) -> dict[str, set[str]]:
    """The preview's operations, each with the resource types it touches."""
    changes: dict[str, set[str]] = {}
    for step in stack.preview_steps():
        changes.setdefault(step["op"], set()).add(step["urn"].split("::")[-2].rsplit("$", 1)[-1])
    return changes


def test_a_ca_rotation_in_three_runs(deploy: Deploy, control_plane: Cluster) -> None:
    stack = deploy(NAME, {**own_config(NAME), "name": NAME, "nodeTrust.enabled": "true"})
    first = stack.outputs()["caCertPem"]
    issued = server_certificate(stack)

    # 1. A second CA, trusted everywhere; no certificate re-issued, no CA replaced.
    stack.set("tls.trustedCaGenerations[0]", "1")
    stack.set("tls.trustedCaGenerations[1]", "2")
    changes = changed_types(stack)
    assert changes.get("create", set()) >= set(CA_TYPES)
    replaced = set().union(*(changes.get(op, set()) for op in REPLACING))
    assert not replaced & {*CA_TYPES, SERVER_CERTIFICATE}, changes
    stack.up()
    bundle = stack.outputs()["caCertPem"]
    assert bundle.startswith(first)
    assert f"CN={NAME} CA-2 ({NAME})" in subjects(bundle)[1]
    assert node_bundle(control_plane) == bundle
    assert server_certificate(stack) == issued

    # 2. The new CA signs: the server certificate is re-issued by it; both still trusted.
    stack.set("tls.caGeneration", "2")
    stack.up()
    reissued = x509.load_pem_x509_certificate(server_certificate(stack).encode())
    assert reissued.issuer.rfc4514_string() == subjects(bundle)[1]
    assert stack.outputs()["caCertPem"] == bundle
    assert node_bundle(control_plane) == bundle

    # 3. The old CA goes, but only once unprotected on purpose.
    stack.pulumi("config", "rm", "--path", "tls.trustedCaGenerations")
    refused = stack.preview(check=False)
    assert refused.returncode != 0
    assert "protect" in refused.output
    old_ca = ca_urns(stack, "image-registry-ca")
    assert len(old_ca) == 2, old_ca
    stack.pulumi("state", "unprotect", *old_ca, "--yes")
    stack.up()
    assert subjects(stack.outputs()["caCertPem"]) == subjects(bundle)[1:]
    assert node_bundle(control_plane) == stack.outputs()["caCertPem"]
    assert ca_urns(stack, "image-registry-ca") == []
    assert stack.preview("--expect-no-changes").returncode == 0
