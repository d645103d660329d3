"""RegistryStack: the component tree, the output contract, secrets and reproducibility."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import bcrypt

from harness.accounts import front_accounts
from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from harness.engine import is_secret, reveal
from tests.conftest import RunProgram
from tests.front_routes import caddy_config, decide

# ../shared/design.md, "Stack outputs": name -> secret?
OUTPUT_CONTRACT = {
    "registryHost": False,
    "hostnames": False,
    "internalHost": False,
    "namespace": False,
    "serviceName": False,
    "caCertPem": False,
    "username": False,
    "password": True,
    "dockerConfigJson": True,
    # Added with issue 12: the pull-only user's, for pull Secrets and consumers.
    "pullDockerConfigJson": True,
    # Added with pullSecretNamespaces: namespace -> the pull Secret's name there.
    "pullSecrets": False,
    # Added with issue 13: registries.yaml for k3s/RKE2 nodes, no credentials in it.
    "k3sRegistriesYaml": False,
    # Added with issue 19: upstream -> the API root that serves it through the cache (no credentials in it).
    "mirrorEndpoints": False,
}
COMPONENTS = {
    "image-registry:index:RegistryStack",
    "image-registry:index:CertificateAuthority",
    "image-registry:index:ServerCertificate",
    "image-registry:index:ClientCertificate",
    "image-registry:index:RegistryUsers",
    "image-registry:index:RegistryWorkload",
    "image-registry:index:RegistryExposure",
    "image-registry:index:PullSecrets",
}


def test_outputs_are_exactly_the_contract(dev_run: ProgramRun) -> None:
    assert set(dev_run.outputs) == set(OUTPUT_CONTRACT)
    assert dev_run.secret_outputs == {name for name, secret in OUTPUT_CONTRACT.items() if secret}


def test_output_values(dev_run: ProgramRun) -> None:
    outputs = dev_run.outputs
    assert outputs["registryHost"] == "image-registry.8-mega.internal"
    assert outputs["hostnames"] == ["image-registry.8-mega.internal", "image-registry.8-mega.example.com"]
    assert outputs["internalHost"] == "image-registry.kube-infra.svc.cluster.local:5000"
    assert outputs["namespace"] == "kube-infra"
    assert outputs["serviceName"] == "image-registry"
    assert outputs["username"] == "registry"
    assert outputs["caCertPem"].startswith("-----BEGIN CERTIFICATE-----")


def test_mirror_endpoints_are_each_upstreams_api_root_through_the_first_hostname(
    dev_run: ProgramRun, run_with: RunProgram
) -> None:
    assert dev_run.outputs["mirrorEndpoints"] == {}
    # With or without the DaemonSet: a node configured by hand names the same endpoints.
    for node_trust in (None, {"enabled": True}):
        run = run_with(mirrors=[{"upstream": "docker.io"}, {"upstream": "registry.k8s.io"}], nodeTrust=node_trust)
        assert run.outputs["mirrorEndpoints"] == {
            "docker.io": "https://image-registry.8-mega.internal/v2/mirror/docker.io",
            "registry.k8s.io": "https://image-registry.8-mega.internal/v2/mirror/registry.k8s.io",
        }
        assert "mirrorEndpoints" not in run.secret_outputs


def test_docker_config_json_logs_in_everywhere(dev_run: ProgramRun) -> None:
    auths = json.loads(dev_run.outputs["dockerConfigJson"])["auths"]
    assert set(auths) == {
        "image-registry.8-mega.internal",
        "image-registry.8-mega.example.com",
        "image-registry.kube-infra.svc.cluster.local:5000",
    }
    expected = f"registry:{dev_run.outputs['password']}".encode()
    for entry in auths.values():
        assert base64.b64decode(entry["auth"]) == expected


def test_pull_docker_config_json_is_the_pull_only_users(dev_run: ProgramRun, run_with: RunProgram) -> None:
    auths = json.loads(dev_run.outputs["pullDockerConfigJson"])["auths"]
    assert set(auths) == set(json.loads(dev_run.outputs["dockerConfigJson"])["auths"])
    (login,) = {base64.b64decode(entry["auth"]).decode() for entry in auths.values()}
    user, password = login.split(":", 1)
    assert user == "image-registry-pull"
    assert password != dev_run.outputs["password"]
    assert bcrypt.checkpw(password.encode(), front_accounts(dev_run)[user].encode())
    assert decide(caddy_config(dev_run), user, "PUT", "/v2/utils/busybox/manifests/latest") == 403
    # A pull user of the config's own is used instead of a generated one.
    configured = run_with(users=[{"name": "ci"}, {"name": "nodes", "access": "pull"}])
    entries = json.loads(configured.outputs["pullDockerConfigJson"])["auths"].values()
    assert {entry["username"] for entry in entries} == {"nodes"}
    assert "image-registry-pull" not in front_accounts(configured)


def test_every_resource_sits_in_the_component_tree(dev_run: ProgramRun) -> None:
    by_urn = {item.urn: item for item in dev_run.registrations}
    assert {item.type for item in dev_run.registrations if not item.custom} == COMPONENTS
    (root,) = [item for item in dev_run.registrations if item.type == "image-registry:index:RegistryStack"]
    assert root.parent.endswith("pulumi:pulumi:Stack::image-registry-dev")
    for item in dev_run.registrations:
        if item.custom:
            assert by_urn[item.parent].type in COMPONENTS - {"image-registry:index:RegistryStack"}, item.name
        elif item is not root:
            assert by_urn[item.parent] is root, item.name


def _strings(value: Any, inside_secret: bool = False) -> Iterator[tuple[str, bool]]:
    if is_secret(value):
        yield from _strings(reveal(value), True)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, inside_secret)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, inside_secret)
    elif isinstance(value, str):
        yield value, inside_secret


def assert_no_secret_value_unmarked(run: ProgramRun, extra_secrets: set[str]) -> set[str]:
    """No secret atom in a plain input or output; the atoms: what the providers mark secret (the bcrypt
    hashes too), what the stack exports as secret, and `extra_secrets`."""
    secrets = {
        text
        for item in run.registrations
        if not item.type.startswith("kubernetes:")
        for text, secret in _strings(item.outputs)
        if secret
    }
    secrets |= {str(run.outputs[name]) for name in run.secret_outputs} | extra_secrets
    for item in run.registrations:
        for text, secret in _strings(item.inputs):
            if not secret:
                # A boolean: pytest would show a part of the secret.
                leaked = any(len(value) >= 16 and value in text for value in secrets)
                assert not leaked, f"{item.type} {item.name} has a secret value in a plain input"
    for name, value in run.outputs.items():
        if name not in run.secret_outputs:
            assert not any(len(secret) >= 16 and secret in json.dumps(value) for secret in secrets), name
    return secrets


def test_no_secret_value_appears_unmarked_anywhere(dev_run: ProgramRun) -> None:
    secrets = assert_no_secret_value_unmarked(dev_run, set())
    assert any(text.startswith("$2b$") for text in secrets)
    assert any("PRIVATE KEY" in text for text in secrets)


def test_no_mirror_credential_appears_unmarked_anywhere(run_with: RunProgram) -> None:
    upstream_password = "upstream-Passw0rd-never-unmarked"
    mirrors = [{"upstream": "docker.io", "username": "hub-user", "password": upstream_password}]
    run = run_with(mirrors=mirrors, nodeTrust={"enabled": True}, secret_keys=["image-registry:mirrors"])
    (password,) = [
        reveal(item.outputs["result"])
        for item in run.registrations
        if item.type == "random:index/randomPassword:RandomPassword" and "image-registry-mirror" in item.name
    ]
    # The mirror user's credentials as the nodes' header carries them, base64.
    header = base64.b64encode(f"image-registry-mirror:{password}".encode()).decode()
    secrets = assert_no_secret_value_unmarked(run, {upstream_password, header})
    assert password in secrets


def test_an_unchanged_stack_rerun_changes_nothing() -> None:
    mocks = FaithfulMocks()
    first = run_program(dev_config(), mocks)
    created_first = len(mocks.created)
    second = run_program(dev_config(), mocks)
    assert {item.urn: item.inputs for item in first.registrations} == {
        item.urn: item.inputs for item in second.registrations
    }
    assert len(mocks.created) == created_first, "a resource would be replaced on an unchanged re-run"
    assert first.outputs == second.outputs


def test_an_unchanged_stack_with_mirrors_on_nodes_rerun_changes_nothing() -> None:
    # The nodes' mirror files are a Secret built from the mirror user's password: the same on every run,
    # or each `pulumi up` would replace it and roll the DaemonSet on every node.
    config = dev_config()
    config["image-registry:nodeTrust"] = json.dumps({"enabled": True})
    config["image-registry:mirrors"] = json.dumps([{"upstream": "docker.io"}])
    mocks = FaithfulMocks()
    first = run_program(config, mocks)
    created_first = len(mocks.created)
    second = run_program(config, mocks)
    assert any("node-trust-mirrors" in item.name for item in first.registrations)
    assert {item.urn: item.inputs for item in first.registrations} == {
        item.urn: item.inputs for item in second.registrations
    }
    assert len(mocks.created) == created_first, "a resource would be replaced on an unchanged re-run"


def test_a_supplied_password_rerun_keeps_its_hash() -> None:
    config = dev_config()
    config["image-registry:users"] = json.dumps([{"name": "registry", "password": "Passw0rd-from-config"}])
    mocks = FaithfulMocks()
    first = run_program(config, mocks, secret_keys=["image-registry:users"])
    second = run_program(config, mocks, secret_keys=["image-registry:users"])
    assert front_accounts(first) == front_accounts(second)
    assert first.outputs["password"] == "Passw0rd-from-config"
    assert "password" in first.secret_outputs
