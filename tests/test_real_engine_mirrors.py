"""Mirrors under the real engine: a stack with a Docker Hub cache (credentials set as the README types them) and
an anonymous ghcr.io cache, with node trust, converges, passes the policy pack, and shows neither the upstream
password nor the mirror user's anywhere but in Secrets and the encrypted state."""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml

from harness.pulumi_engine import Stack
from tests.real_engine import Cluster, Deploy
from tests.test_real_engine_lifecycle import own_config
from tests.test_real_engine_policy import POLICY_PACK

pytestmark = pytest.mark.real_engine

# A name of its own: the node-trust namespace (`<name>-node-trust`) is cluster-wide.
NAME = "mirrors"
HOST = f"{NAME}.example.com"
UPSTREAM_USER = "hub-robot"
UPSTREAM_PASSWORD = "dckr_pat_upstream-Secret-4711"
ENDPOINTS = {upstream: f"https://{HOST}/v2/mirror/{upstream}" for upstream in ("docker.io", "ghcr.io")}


def configure_mirrors(stack: Stack, *, secret: bool = True) -> None:
    """docker.io with credentials (the password typed as a secret, or forced into plain text: the CLI refuses
    a plain value that looks like a secret without `--plaintext`), ghcr.io anonymous."""
    stack.pulumi("config", "set", "--path", "mirrors[0].upstream", "docker.io")
    stack.pulumi("config", "set", "--path", "mirrors[0].username", UPSTREAM_USER)
    stack.pulumi(
        "config", "set", "--secret" if secret else "--plaintext", "--path", "mirrors[0].password", UPSTREAM_PASSWORD
    )
    stack.pulumi("config", "set", "--path", "mirrors[1].upstream", "ghcr.io")


def mirror_user_credentials(cluster: Cluster) -> tuple[str, str]:
    """The mirror user's name and password, from the Authorization header of the nodes' docker.io hosts.toml
    (the node-trust Secret)."""
    namespace = f"{NAME}-node-trust"
    (secret,) = [
        item
        for item in cluster.kubectl.get("secret", "-n", namespace)["items"]
        if item["metadata"]["name"].startswith(f"{NAME}-node-trust-mirrors")
    ]
    assert set(secret["data"]) == {"docker.io.toml", "ghcr.io.toml"}
    hosts_toml = base64.b64decode(secret["data"]["docker.io.toml"]).decode()
    assert f'[host."{ENDPOINTS["docker.io"]}"]' in hosts_toml
    match = re.search(r'Authorization = "Basic ([A-Za-z0-9+/=]+)"', hosts_toml)
    assert match, "no Authorization header in the docker.io hosts.toml"
    user, _, password = base64.b64decode(match.group(1)).decode().partition(":")
    return user, password


def api_server_texts(cluster: Cluster) -> dict[str, str]:
    """What the API server shows in plain text: every ConfigMap of both namespaces, the Deployment, the
    DaemonSet (their env, args, annotations)."""
    kubectl = cluster.kubectl
    node_namespace = f"{NAME}-node-trust"
    return {
        "configmaps": json.dumps(kubectl.get("configmap", "-n", NAME)),
        "node configmaps": json.dumps(kubectl.get("configmap", "-n", node_namespace)),
        "deployment": json.dumps(kubectl.get("deployment", NAME, "-n", NAME)),
        "daemonset": json.dumps(kubectl.get("daemonset", node_namespace, "-n", node_namespace)),
    }


def test_a_stack_with_mirrors_converges_and_keeps_their_credentials_secret(
    deploy: Deploy, control_plane: Cluster
) -> None:
    stack = deploy(NAME, {**own_config(NAME), "name": NAME, "nodeTrust.enabled": "true"}, up=False)
    configure_mirrors(stack)
    in_stack_file = UPSTREAM_PASSWORD in (stack.directory / f"Pulumi.{NAME}.yaml").read_text()
    assert not in_stack_file, "the upstream password in plain text in the stack file"
    policed = stack.preview("--policy-pack", POLICY_PACK)
    assert "Policies:" in policed.stdout
    assert "mandatory" not in policed.output
    stack.up()

    outputs = stack.outputs()
    assert outputs["mirrorEndpoints"] == ENDPOINTS
    registries = yaml.safe_load(outputs["k3sRegistriesYaml"])
    assert registries["mirrors"] == {upstream: {"endpoint": [endpoint]} for upstream, endpoint in ENDPOINTS.items()}

    kubectl = control_plane.kubectl
    deployment = kubectl.get("deployment", NAME, "-n", NAME)
    containers = [container["name"] for container in deployment["spec"]["template"]["spec"]["containers"]]
    assert {"registry", "mirror-0", "mirror-1"} <= set(containers), containers
    assert deployment["status"].get("availableReplicas") == deployment["spec"]["replicas"] == 1
    daemon_set = kubectl.get("daemonset", f"{NAME}-node-trust", "-n", f"{NAME}-node-trust")
    assert daemon_set["status"]["desiredNumberScheduled"] == 2
    assert daemon_set["status"]["numberReady"] == daemon_set["status"]["desiredNumberScheduled"]

    user, mirror_password = mirror_user_credentials(control_plane)
    assert user == f"{NAME}-mirror"
    assert len(mirror_password) >= 16
    token = base64.b64encode(f"{user}:{mirror_password}".encode()).decode()
    secrets = {"upstream password": UPSTREAM_PASSWORD, "mirror password": mirror_password, "mirror token": token}
    places = {"state": stack.export(), "outputs": json.dumps(outputs), **api_server_texts(control_plane)}
    # Only names in the message: a failure never prints a secret.
    leaks = [
        f"the {name} in the {place}"
        for place, text in places.items()
        for name, secret in secrets.items()
        if secret in text
    ]
    assert leaks == []

    assert stack.preview("--expect-no-changes").returncode == 0


def test_a_mirror_password_set_in_plain_text_is_refused(deploy: Deploy, control_plane: Cluster) -> None:
    name = "mirrors-plain"
    stack = deploy(name, {**own_config(name), "name": name, "nodeTrust.enabled": "true"}, up=False)
    configure_mirrors(stack, secret=False)
    attempt = stack.up(check=False)
    assert attempt.returncode != 0
    assert "image-registry:mirrors[0].password" in attempt.output
    assert "--secret" in attempt.output
    shown = UPSTREAM_PASSWORD in attempt.output
    assert not shown, "the refusal shows the password"
    assert {resource["type"] for resource in stack.resources()} <= {"pulumi:pulumi:Stack"}
    assert not control_plane.kubectl.exists("namespace", name)
