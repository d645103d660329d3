"""The policy pack: each policy's validation with passing and failing resources, and on what the program renders."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from harness.doubles import ProgramRun, dev_config, example_config, run_program
from policy.policies import POLICIES, node_credentials_misplaced, users_who_can_write
from tests.conftest import RunProgram

OPTIONS = PolicyResourceOptions(
    protect=False,
    ignore_changes=[],
    delete_before_replace=None,
    aliases=[],
    custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
    additional_secret_outputs=[],
)
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SECRET_TYPE = "kubernetes:core/v1:Secret"
IMAGE = "registry:3.1.1@sha256:" + "1" * 64


def policy(name: str) -> Any:
    return next(item for item in POLICIES if item.name == name)


def violations_of_resource(name: str, resource_type: str, props: dict[str, Any], stack: str = "dev") -> list[str]:
    found: list[str] = []
    urn = f"urn:pulumi:{stack}::image-registry::{resource_type}::registry"
    args = ResourceValidationArgs(resource_type, props, urn, "registry", OPTIONS, None)
    policy(name).validate(args, lambda message, urn=None: found.append(message))
    return found


def violations_of_stack(name: str, resources: list[tuple[str, dict[str, Any]]]) -> list[str]:
    found: list[str] = []
    policy_resources = [
        PolicyResource(kind, props, f"urn:pulumi:dev::image-registry::{kind}::r{index}", f"r{index}", OPTIONS, None,
                       None, [], {})
        for index, (kind, props) in enumerate(resources)
    ]  # fmt: skip
    policy(name).validate(StackValidationArgs(policy_resources), lambda message, urn=None: found.append(message))
    return found


def deployment(
    *, image: str = IMAGE, data: dict[str, Any] | None = None, replicas: int = 1, **resources: Any
) -> dict[str, Any]:
    container = {
        "name": "registry",
        "image": image,
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/registry"}],
        "resources": resources or {"limits": {"cpu": "1", "memory": "512Mi"}},
    }
    volume = {"name": "data", **(data or {"persistentVolumeClaim": {"claimName": "image-registry-data"}})}
    pod = {"containers": [container], "volumes": [volume]}
    return {"metadata": {"name": "image-registry"}, "spec": {"replicas": replicas, "template": {"spec": pod}}}


def claim(mode: str) -> tuple[str, dict[str, Any]]:
    return "kubernetes:core/v1:PersistentVolumeClaim", {
        "metadata": {"name": "image-registry-data"},
        "spec": {"accessModes": [mode]},
    }


def test_every_policy_is_mandatory_in_the_pack() -> None:
    assert {item.name for item in POLICIES} == {
        "registry-images-pinned",
        "prod-registry-storage-survives",
        "containers-have-limits",
        "replicas-on-shared-storage",
        "ingress-hosts-in-certificate",
        "pull-secrets-cannot-push",
        "upstream-credentials-in-files",
        "node-credentials-pull-only-in-secrets",
    }
    assert all(isinstance(item, ResourceValidationPolicy | StackValidationPolicy) for item in POLICIES)


@pytest.mark.parametrize(
    ("image", "violations"),
    [
        pytest.param(IMAGE, [], id="digest"),
        pytest.param("registry:3.1.1", [], id="tag"),
        pytest.param("mirror.example.com:5000/library/registry:2.8.3", [], id="port-and-tag"),
        pytest.param("registry:latest", ["image registry:latest is not pinned: use a tag or a digest"], id="latest"),
        pytest.param("registry", ["image registry is not pinned: use a tag or a digest"], id="no-tag"),
        pytest.param(
            "mirror.example.com:5000/registry",
            ["image mirror.example.com:5000/registry is not pinned: use a tag or a digest"],
            id="port-is-not-a-tag",
        ),
    ],
)
def test_registry_images_pinned(image: str, violations: list[str]) -> None:
    assert violations_of_resource("registry-images-pinned", DEPLOYMENT, deployment(image=image)) == violations


def test_prod_registry_storage_survives() -> None:
    throwaway = deployment(data={"emptyDir": {}})
    expected = ["stack prod-eu keeps registry data on emptyDir volume data: every image is lost with the pod"]
    assert violations_of_resource("prod-registry-storage-survives", DEPLOYMENT, throwaway, "prod-eu") == expected
    assert violations_of_resource("prod-registry-storage-survives", DEPLOYMENT, throwaway, "dev") == []
    assert violations_of_resource("prod-registry-storage-survives", DEPLOYMENT, deployment(), "prod") == []


def test_containers_have_limits() -> None:
    assert violations_of_resource("containers-have-limits", DEPLOYMENT, deployment()) == []
    no_memory = deployment(limits={"cpu": "1"})
    assert violations_of_resource("containers-have-limits", DEPLOYMENT, no_memory) == [
        "container registry has no memory limit"
    ]
    no_limits = deployment(requests={"cpu": "1"})
    assert violations_of_resource("containers-have-limits", DEPLOYMENT, no_limits) == [
        "container registry has no memory limit"
    ]


def test_replicas_on_shared_storage() -> None:
    message = "image-registry: volume data is mounted by more than one replica but only one node can mount it"
    one_node = [(DEPLOYMENT, deployment(replicas=3)), claim("ReadWriteOnce")]
    assert [item.split(" (")[0] for item in violations_of_stack("replicas-on-shared-storage", one_node)] == [message]
    throwaway = [(DEPLOYMENT, deployment(replicas=2, data={"emptyDir": {}}))]
    assert len(violations_of_stack("replicas-on-shared-storage", throwaway)) == 1
    assert (
        violations_of_stack(
            "replicas-on-shared-storage", [(DEPLOYMENT, deployment(replicas=3)), claim("ReadWriteMany")]
        )
        == []
    )
    assert violations_of_stack("replicas-on-shared-storage", [(DEPLOYMENT, deployment()), claim("ReadWriteOnce")]) == []


def test_ingress_hosts_in_certificate() -> None:
    ingress = (
        "kubernetes:networking.k8s.io/v1:Ingress",
        {"spec": {"rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]}},
    )
    request = ("tls:index/certRequest:CertRequest", {"dnsNames": ["a.example.com", "image-registry"]})
    assert violations_of_stack("ingress-hosts-in-certificate", [ingress, request]) == [
        "Ingress host b.example.com is not a name of the server certificate"
    ]
    complete = ("tls:index/certRequest:CertRequest", {"dnsNames": ["a.example.com", "b.example.com"]})
    assert violations_of_stack("ingress-hosts-in-certificate", [ingress, complete]) == []


def all_violations(run: ProgramRun, stack: str) -> list[str]:
    """Every policy over every resource the program registered, as the engine would run them."""
    found: list[str] = []
    resources = [(item.type, item.plain_outputs) for item in run.registrations if item.custom]
    for item in POLICIES:
        if isinstance(item, StackValidationPolicy):
            found += violations_of_stack(item.name, resources)
        else:
            found += [
                message
                for kind, props in resources
                for message in violations_of_resource(item.name, kind, props, stack)
            ]
    return found


def test_the_rendered_stacks_pass(run_with: RunProgram) -> None:
    assert all_violations(run_with(), "prod") == []
    production = {"replicas": 3, "storage": {"accessMode": "ReadWriteMany"}, "nodeTrust": {"enabled": True}}
    assert all_violations(run_with(**production), "prod") == []


def test_the_rendered_throwaway_stack_fails_in_prod(run_with: RunProgram) -> None:
    run = run_with(storage={"type": "emptyDir"})
    assert all_violations(run, "dev") == []
    assert all_violations(run, "prod") == [
        "stack prod keeps registry data on emptyDir volume data: every image is lost with the pod"
    ]


def test_the_example_stacks_pass_their_own_previews() -> None:
    for stack, config in (("dev", dev_config()), ("prod", example_config("prod"))):
        assert all_violations(run_program(config, stack=stack), stack) == [], stack


def test_pull_secrets_cannot_push(run_with: RunProgram) -> None:
    users = [{"name": "ci"}, {"name": "ops", "access": "admin"}, {"name": "nodes", "access": "pull"}]
    run = run_with(users=users, pullSecretNamespaces=["apps", "ci"])
    resources = [(item.type, item.plain_outputs) for item in run.registrations if item.custom]
    assert violations_of_stack("pull-secrets-cannot-push", resources) == []
    pushing = json.dumps({"auths": {"r.example.com": {"username": "ci", "password": "x", "auth": "Y2k6eA=="}}})
    deleting = json.dumps({"auths": {"r.example.com": {"auth": base64.b64encode(b"ops:x").decode()}}})
    for bad, user in ((pushing, "ci"), (deleting, "ops")):
        altered = [
            (kind, {**props, "stringData": {".dockerconfigjson": bad}})
            if props.get("type") == "kubernetes.io/dockerconfigjson" and props["metadata"]["namespace"] == "apps"
            else (kind, props)
            for kind, props in resources
        ]
        assert violations_of_stack("pull-secrets-cannot-push", altered) == [
            f"pull Secret apps/image-registry-pull carries the user {user}, who can push: "
            "pull Secrets carry the pull-only user (pullDockerConfigJson)"
        ]


def test_a_user_without_rules_counts_as_one_who_can_push() -> None:
    config = {"apps": {"http": {"servers": {"registry": {"routes": [
        {"handle": [{"handler": "authentication", "providers": {"http_basic": {"accounts": [
            {"username": "ruled"}, {"username": "\\{unruled\\}"}]}}}]},
        {"match": [{"vars": {"{http.auth.user.id}": ["ruled"]}}],
         "handle": [{"handler": "subroute", "routes": [{"match": [{"method": ["GET"]}]}]}]},
    ]}}}}}  # fmt: skip
    assert users_who_can_write(config) == {"{unruled}"}


def test_the_pack_sees_secrets_as_the_provider_checked_them(dev_run: ProgramRun) -> None:
    """pulumi-kubernetes moves a Secret's stringData into data (base64): what the engine keeps and the pack reads
    (shown by the real-engine policy test); the doubles do the same."""
    secrets = [item.plain_outputs for item in dev_run.registrations if item.type == SECRET_TYPE]
    assert secrets
    for secret in secrets:
        assert "stringData" not in secret
        assert base64.b64decode(next(iter(secret["data"].values())))


def test_a_mirror_container_needs_a_limit_too() -> None:
    props = deployment()
    pod = props["spec"]["template"]["spec"]
    pod["containers"].append({"name": "mirror-0", "image": IMAGE, "resources": {"requests": {"memory": "64Mi"}}})
    assert violations_of_resource("containers-have-limits", DEPLOYMENT, props) == [
        "container mirror-0 has no memory limit"
    ]


@pytest.mark.parametrize(
    ("variable", "violations"),
    [
        pytest.param({"name": "REGISTRY_PROXY_PASSWORD", "value": "Plain-T0ken"}, 1, id="literal-password"),
        pytest.param(
            {"name": "REGISTRY_PROXY_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "hub", "key": "password"}}},
            1,
            id="password-from-a-secret",
        ),
        pytest.param({"name": "REGISTRY_PROXY_USERNAME", "value": "bot"}, 1, id="username"),
        pytest.param({"name": "REGISTRY_PROXY_REMOTEURL", "value": "https://registry-1.docker.io"}, 0, id="url"),
        pytest.param({"name": "REGISTRY_HTTP_ADDR", "value": "127.0.0.1:5100"}, 0, id="other"),
    ],
)
def test_upstream_credentials_in_files(variable: dict[str, Any], violations: int) -> None:
    props = deployment()
    pod = props["spec"]["template"]["spec"]
    pod["containers"].append({"name": "mirror-0", "image": IMAGE, "env": [variable]})
    found = violations_of_resource("upstream-credentials-in-files", DEPLOYMENT, props)
    expected = f"mirror-0: {variable['name']} sets upstream credentials in the environment: they belong in the mirror's"
    assert [line.startswith(expected) for line in found] == [True] * violations
    assert not any("Plain-T0ken" in line for line in found)


def hosts_toml(user: str) -> str:
    token = base64.b64encode(f"{user}:Node-Passw0rd".encode()).decode()
    return (
        'server = "https://registry-1.docker.io"\n\n[host."https://r.example.com/v2/mirror/docker.io"]\n'
        f'  capabilities = ["pull", "resolve"]\n  [host."https://r.example.com/v2/mirror/docker.io".header]\n'
        f'    Authorization = "Basic {token}"\n'
    )


def test_node_credentials_of_the_rendered_stack_are_pull_only_in_a_secret(run_with: RunProgram) -> None:
    run = run_with(mirrors=[{"upstream": "docker.io"}, {"upstream": "ghcr.io"}], nodeTrust={"enabled": True})
    resources = [(item.type, item.plain_outputs) for item in run.registrations if item.custom]
    carrying = [
        (kind, props)
        for kind, props in resources
        if kind == SECRET_TYPE and any(b"Authorization" in base64.b64decode(v) for v in props["data"].values())
    ]
    assert carrying, "the node-trust Secret carries the mirror user's header"
    assert violations_of_stack("node-credentials-pull-only-in-secrets", resources) == []
    # The same files in a ConfigMap: readable by whoever reads ConfigMaps.
    _, props = carrying[0]
    where = f"{props['metadata']['namespace']}/{props['metadata']['name']}"
    plain = {key: base64.b64decode(value).decode() for key, value in props["data"].items()}
    moved = [*resources, ("kubernetes:core/v1:ConfigMap", {"metadata": props["metadata"], "data": plain})]
    assert violations_of_stack("node-credentials-pull-only-in-secrets", moved) == [
        f"ConfigMap {where} holds an Authorization header: node credentials belong in a Secret"
    ]
    # A header for a user who can push (`registry`, the dev stack's push user) on every node.
    pushing = {key: base64.b64encode(hosts_toml("registry").encode()).decode() for key in props["data"]}
    altered = [(k, {**p, "data": pushing}) if p is props else (k, p) for k, p in resources]
    assert violations_of_stack("node-credentials-pull-only-in-secrets", altered) == [
        f"Secret {where} gives the nodes the user registry, who can push"
    ]


def test_node_credentials_are_read_from_string_data_and_plain_config_maps() -> None:
    secret = (SECRET_TYPE, {"metadata": {"namespace": "n", "name": "s"}, "stringData": {"h": hosts_toml("x")}})
    config_map = ("kubernetes:core/v1:ConfigMap", {"metadata": {"namespace": "n", "name": "c"}, "data": {"h": "x"}})
    assert node_credentials_misplaced([secret, config_map]) == []
    leaking = (
        "kubernetes:core/v1:ConfigMap",
        {"metadata": {"namespace": "n", "name": "c"}, "data": {"h": hosts_toml("x")}},
    )
    assert node_credentials_misplaced([secret, leaking]) == [
        "ConfigMap n/c holds an Authorization header: node credentials belong in a Secret"
    ]
    # A front whose only account has no rules of its own: it can push.
    accounts = {"handler": "authentication", "providers": {"http_basic": {"accounts": [{"username": "x"}]}}}
    front = {"apps": {"http": {"servers": {"registry": {"routes": [{"handle": [accounts]}]}}}}}
    auth = (
        SECRET_TYPE,
        {"metadata": {"namespace": "n", "name": "auth"}, "stringData": {"caddy.json": json.dumps(front)}},
    )
    assert node_credentials_misplaced([secret, auth]) == ["Secret n/s gives the nodes the user x, who can push"]


def test_the_rendered_stack_with_mirrors_passes_and_reports_its_storage_once(run_with: RunProgram) -> None:
    mirrors = [{"upstream": "docker.io"}, {"upstream": "quay.io"}]
    assert all_violations(run_with(mirrors=mirrors, nodeTrust={"enabled": True}), "prod") == []
    # Three containers mount the throwaway volume: one violation.
    assert all_violations(run_with(mirrors=mirrors, storage={"type": "emptyDir"}), "prod") == [
        "stack prod keeps registry data on emptyDir volume data: every image is lost with the pod"
    ]
