"""The dev stack under the real engine: `pulumi up` converges on a real API server, re-runs change nothing,
drift shows and is undone, and the state keeps every secret encrypted."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import bcrypt
import pytest

from harness.pulumi_engine import Stack
from tests.real_engine import Cluster

pytestmark = pytest.mark.real_engine

# Types whose objects live in the API server: `kubernetes:<group>/<version>:<Kind>`.
KUBERNETES_TYPE = re.compile(r"^kubernetes:(?:(?P<group>[a-z0-9.]+)/)?(?:core/)?(?P<version>v[0-9a-z]+):(?P<kind>\w+)$")


def kubernetes_objects(stack: Stack) -> list[dict[str, Any]]:
    """Every Kubernetes object in the stack's state, as the provider last read it."""
    return [
        resource["outputs"]
        for resource in stack.resources()
        if KUBERNETES_TYPE.match(resource["type"]) and resource.get("outputs", {}).get("metadata")
    ]


def api_reference(manifest: dict[str, Any]) -> list[str]:
    metadata = manifest["metadata"]
    kind = f"{manifest['kind'].lower()}.{manifest['apiVersion'].split('/')[0]}".removesuffix(".v1")
    namespace = ["--namespace", metadata["namespace"]] if metadata.get("namespace") else []
    return [kind, metadata["name"], *namespace]


def test_every_object_of_the_state_is_in_the_api_server(converged_dev_stack: Stack, control_plane: Cluster) -> None:
    objects = kubernetes_objects(converged_dev_stack)
    kinds = {manifest["kind"] for manifest in objects}
    assert {"Namespace", "Deployment", "Service", "Ingress", "PersistentVolumeClaim", "DaemonSet"} <= kinds
    assert {"Secret", "ConfigMap", "NetworkPolicy", "ServersTransport"} <= kinds
    for manifest in objects:
        live = control_plane.kubectl.get(*api_reference(manifest))
        assert live["metadata"]["uid"] == manifest["metadata"]["uid"], manifest["metadata"]["name"]


def test_the_workloads_are_ready_and_the_claim_bound(converged_dev_stack: Stack, control_plane: Cluster) -> None:
    kubectl = control_plane.kubectl
    deployment = kubectl.get("deployment", "image-registry", "-n", "kube-infra")
    assert deployment["status"].get("availableReplicas") == deployment["spec"]["replicas"] == 1
    daemon_set = kubectl.get("daemonset", "image-registry-node-trust", "-n", "image-registry-node-trust")
    # One pod on each node (kwok's two), Ready: the node-trust namespace admits its hostPath volumes.
    assert daemon_set["status"]["desiredNumberScheduled"] == 2
    assert daemon_set["status"]["numberReady"] == daemon_set["status"]["desiredNumberScheduled"]
    claim = kubectl.get("pvc", "image-registry-data", "-n", "kube-infra")
    assert claim["status"]["phase"] == "Bound"
    # Pod Security admission let the pods in under the namespace's `restricted` label.
    namespace = kubectl.get("namespace", "kube-infra")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_an_unchanged_stack_has_nothing_to_do(converged_dev_stack: Stack) -> None:
    assert converged_dev_stack.preview("--expect-no-changes").returncode == 0
    second = converged_dev_stack.up()
    assert "unchanged" in second.stdout
    assert not re.search(r"\b\d+ (to )?(create|update|replace|delete)", second.stdout), second.stdout
    assert converged_dev_stack.pulumi("refresh", "--yes", "--expect-no-changes").returncode == 0


def test_drift_shows_in_a_refreshed_preview_and_up_undoes_it(
    converged_dev_stack: Stack, control_plane: Cluster
) -> None:
    kubectl = control_plane.kubectl
    kubectl.run("scale", "deployment/image-registry", "-n", "kube-infra", "--replicas=3")
    ca_secret = "image-registry-ca"
    kubectl.run(
        "patch", "secret", ca_secret, "-n", "kube-infra", "--type=merge", "-p", '{"data":{"ca.crt":"Zm9yZ2Vk"}}'
    )

    drifted = converged_dev_stack.preview("--refresh", "--expect-no-changes", "--diff", check=False)
    assert drifted.returncode != 0
    assert "replicas" in drifted.stdout
    assert ca_secret in drifted.stdout

    converged_dev_stack.up("--refresh")
    assert kubectl.get("deployment", "image-registry", "-n", "kube-infra")["spec"]["replicas"] == 1
    restored = kubectl.get("secret", ca_secret, "-n", "kube-infra")["data"]["ca.crt"]
    assert base64.b64decode(restored).startswith(b"-----BEGIN CERTIFICATE-----")
    assert converged_dev_stack.preview("--refresh", "--expect-no-changes").returncode == 0


def test_the_state_holds_no_secret_in_plain_text(converged_dev_stack: Stack) -> None:
    state = converged_dev_stack.export()
    outputs = converged_dev_stack.outputs(show_secrets=True)
    password = outputs["password"]
    docker_config = outputs["dockerConfigJson"]
    auth = json.loads(docker_config)["auths"][outputs["registryHost"]]["auth"]
    for secret in (password, auth, docker_config, outputs["pullDockerConfigJson"]):
        assert secret not in state
    assert "PRIVATE KEY" not in state
    assert not re.search(r"\$2[aby]\$\d\d\$", state), "a bcrypt hash in plain text"
    assert json.dumps(password)[1:-1] not in state


def test_outputs_give_clients_what_they_need(converged_dev_stack: Stack, control_plane: Cluster) -> None:
    hidden = converged_dev_stack.outputs()
    assert hidden["password"] == "[secret]"
    assert hidden["dockerConfigJson"] == "[secret]"
    outputs = converged_dev_stack.outputs(show_secrets=True)
    assert outputs["registryHost"] == outputs["hostnames"][0]
    assert outputs["caCertPem"].startswith("-----BEGIN CERTIFICATE-----")
    entry = json.loads(outputs["dockerConfigJson"])["auths"][outputs["registryHost"]]
    assert (entry["username"], entry["password"]) == (outputs["username"], outputs["password"])
    # The front in the cluster checks exactly that password: its config (a Secret) holds the user's hash.
    front_config = front_accounts(control_plane, outputs["namespace"])
    assert bcrypt.checkpw(outputs["password"].encode(), front_config[outputs["username"]].encode())


def front_accounts(cluster: Cluster, namespace: str) -> dict[str, str]:
    """user → bcrypt hash, from the front's config as the API server holds it."""
    secret = cluster.kubectl.get("secret", "image-registry-auth", "-n", namespace)
    document = json.loads(base64.b64decode(secret["data"]["caddy.json"]))
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if {"username", "password"} <= node.keys():
                found[node["username"]] = node["password"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return found
