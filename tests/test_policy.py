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
from policy.policies import POLICIES, users_who_can_write
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
