"""The consumer project under Pulumi's mocks, its StackReference answered by a real run of the registry stack."""

from __future__ import annotations

import base64
import dataclasses
import gc
import json
from pathlib import Path
from typing import Any

import bcrypt
import pulumi
import pytest
import yaml

from harness.accounts import front_accounts
from harness.doubles import FaithfulMocks, ProgramRun, contains_secret, dev_config, redact, run_program
from harness.program_run import secret_data
from policy.policies import containers_without_limits, unpinned_images
from tests.front_routes import PASSED, caddy_config, decide
from tests.real_engine import quick_start_pushed_image

CONSUMER_DIR = Path(__file__).resolve().parent.parent
REGISTRY_STACK = "organization/image-registry/dev"
PROJECT = "image-registry-consumer"
# The two ways the consumer's one error names when it has neither.
BOTH_WAYS = (
    "pulumi config set registryStack organization/image-registry/<stack>",
    "stack output pullDockerConfigJson --show-secrets | pulumi config set --secret pullDockerConfigJson",
)


@pytest.fixture(scope="module")
def registry() -> ProgramRun:
    return run_program(dev_config())


def run_consumer(
    config: dict[str, str], stacks: dict[str, ProgramRun] | None = None, secret_keys: list[str] | None = None
) -> ProgramRun:
    return run_program(
        {f"{PROJECT}:{key}": value for key, value in config.items()},
        FaithfulMocks(stacks=stacks),
        root_directory=CONSUMER_DIR,
        project=PROJECT,
        program=CONSUMER_DIR / "__main__.py",
        secret_keys=[f"{PROJECT}:{key}" for key in secret_keys or []],
    )


@pytest.fixture(scope="module")
def consumer(registry: ProgramRun) -> ProgramRun:
    return run_consumer({"registryStack": REGISTRY_STACK, "namespace": "apps"}, {REGISTRY_STACK: registry})


def pull_secret(consumer: ProgramRun) -> dict[str, Any]:
    (secret,) = [item for item in consumer.manifests() if item["kind"] == "Secret"]
    return secret


def test_the_pull_secret_is_a_secret_of_the_right_type(consumer: ProgramRun) -> None:
    secret = pull_secret(consumer)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["namespace"] == "apps"
    registration = consumer.one("kubernetes:core/v1:Secret")
    assert contains_secret(registration.inputs["stringData"])


def test_its_credentials_are_ones_the_registry_accepts_for_pulls_only(
    consumer: ProgramRun, registry: ProgramRun
) -> None:
    lines = front_accounts(registry)
    document = json.loads(secret_data(pull_secret(consumer))[".dockerconfigjson"])
    assert set(document["auths"]) == {*registry.outputs["hostnames"], registry.outputs["internalHost"]}
    for auth in document["auths"].values():
        user, password = base64.b64decode(auth["auth"]).decode().split(":", 1)
        assert bcrypt.checkpw(password.encode(), lines[user].encode())
        config = caddy_config(registry)
        assert decide(config, user, "GET", "/v2/ci/busybox/manifests/1.36") == PASSED
        assert decide(config, user, "POST", "/v2/ci/busybox/blobs/uploads/") == 403


def test_the_workload_pulls_from_the_registry_with_the_secret(consumer: ProgramRun, registry: ProgramRun) -> None:
    pod = consumer.manifest("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # What the README's quick start pushes, and the project's declared default.
    pushed = quick_start_pushed_image(CONSUMER_DIR.parent.parent / "README.md")
    assert container["image"] == f"{registry.outputs['registryHost']}/{pushed}"
    declared = yaml.safe_load((CONSUMER_DIR / "Pulumi.yaml").read_text())["config"]["image"]["default"]
    assert declared == pushed
    assert pod["imagePullSecrets"] == [{"name": pull_secret(consumer)["metadata"]["name"]}]
    assert consumer.outputs["image"] == container["image"]


def test_no_credential_reaches_a_plain_input_or_output(consumer: ProgramRun, registry: ProgramRun) -> None:
    pull_auth = json.loads(registry.outputs["pullDockerConfigJson"])["auths"][registry.outputs["registryHost"]]
    for password in (str(registry.outputs["password"]), pull_auth["password"]):
        for item in consumer.registrations:
            assert password not in json.dumps(redact(item.inputs), default=str), f"{item.type} {item.name}"
        for name, value in consumer.outputs.items():
            if name not in consumer.secret_outputs:
                assert password not in json.dumps(value), name


def test_the_policy_pack_accepts_the_consumers_workload(consumer: ProgramRun) -> None:
    (deployment,) = consumer.of_type("kubernetes:apps/v1:Deployment")
    assert unpinned_images(deployment.type, deployment.plain_outputs) == []
    assert containers_without_limits(deployment.type, deployment.plain_outputs) == []


def pull_credentials(run: ProgramRun) -> Any:
    return json.loads(secret_data(pull_secret(run))[".dockerconfigjson"])


def credentials_in(registry: ProgramRun) -> list[str]:
    """Every password and `auth` the registry's outputs carry: none may reach an error message."""
    auths = json.loads(registry.outputs["pullDockerConfigJson"])["auths"].values()
    return [
        str(registry.outputs["password"]),
        *(auth[key] for auth in auths for key in ("auth", "password") if key in auth),
    ]


def refusal(
    config: dict[str, str], stacks: dict[str, ProgramRun] | None = None, secret_keys: list[str] | None = None
) -> str:
    """The one error the consumer stops with."""
    with pytest.raises(pulumi.RunError) as refused:
        run_consumer(config, stacks, secret_keys)
    # The outputs that waited on the failed one are dropped now, while the test's log capture holds what asyncio
    # says of them, rather than at exit on the terminal.
    gc.collect()
    return str(refused.value)


def elided(registry: ProgramRun) -> ProgramRun:
    """The registry's stack as a StackReference reads it when it cannot decrypt its secrets: the engine hands
    each secret output over as `{}` ("eliding undecryptable secrets")."""
    outputs = {name: {} if name in registry.secret_outputs else value for name, value in registry.outputs.items()}
    return dataclasses.replace(registry, outputs=outputs)


def test_without_readable_credentials_it_stops_with_one_error_naming_both_ways(registry: ProgramRun) -> None:
    message = refusal({"registryStack": REGISTRY_STACK}, {REGISTRY_STACK: elided(registry)})
    assert message.startswith(f"the registry stack {REGISTRY_STACK} has its pullDockerConfigJson encrypted with")
    assert all(way in message for way in BOTH_WAYS), message
    assert not [secret for secret in credentials_in(registry) if secret in message]

    unset = refusal({})
    assert unset.startswith("no registry to pull from: registryHost and pullDockerConfigJson not set")
    assert all(way in unset for way in BOTH_WAYS), unset


def test_undecryptable_credentials_come_from_its_own_secret_config(registry: ProgramRun) -> None:
    copied = registry.outputs["pullDockerConfigJson"]
    run = run_consumer(
        {"registryStack": REGISTRY_STACK, "pullDockerConfigJson": copied},
        {REGISTRY_STACK: elided(registry)},
        secret_keys=["pullDockerConfigJson"],
    )
    assert pull_credentials(run) == json.loads(copied)
    assert contains_secret(run.one("kubernetes:core/v1:Secret").inputs["stringData"])
    # The host still comes from the reference: it is not a secret.
    assert run.outputs["image"].startswith(f"{registry.outputs['registryHost']}/")


def test_on_another_backend_it_reads_its_config_and_no_stack_reference(registry: ProgramRun) -> None:
    copied = registry.outputs["pullDockerConfigJson"]
    config = {"registryHost": "registry.example.org", "pullDockerConfigJson": copied}
    run = run_consumer(config, secret_keys=["pullDockerConfigJson"])
    assert run.of_type("pulumi:pulumi:StackReference") == []
    assert pull_credentials(run) == json.loads(copied)
    assert contains_secret(run.one("kubernetes:core/v1:Secret").inputs["stringData"])
    assert (
        run.outputs["image"]
        == f"registry.example.org/{quick_start_pushed_image(CONSUMER_DIR.parent.parent / 'README.md')}"
    )


@pytest.mark.parametrize(
    ("value", "secret", "says"),
    [
        ("{}", False, "is in this stack's config in plain text: set it with `pulumi config set --secret"),
        (
            "[secret]",
            True,
            "is not a .dockerconfigjson (JSON with `auths`): copy the registry's output with --show-secrets",
        ),
    ],
    ids=["plain-text", "copied-without-show-secrets"],
)
def test_copied_credentials_must_be_a_secret_and_a_docker_config(value: str, secret: bool, says: str) -> None:
    config = {"registryHost": "registry.example.org", "pullDockerConfigJson": value}
    message = refusal(config, secret_keys=["pullDockerConfigJson"] if secret else [])
    assert f"{PROJECT}:pullDockerConfigJson {says}" in message
