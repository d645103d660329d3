"""The consumer project under Pulumi's mocks, its StackReference answered by a real run of the registry stack."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from harness.accounts import front_accounts
from harness.doubles import FaithfulMocks, ProgramRun, contains_secret, dev_config, redact, run_program
from harness.program_run import secret_data
from policy.policies import containers_without_limits, unpinned_images
from tests.front_routes import PASSED, caddy_config, decide

CONSUMER_DIR = Path(__file__).resolve().parent.parent
REGISTRY_STACK = "organization/image-registry/dev"


@pytest.fixture(scope="module")
def registry() -> ProgramRun:
    return run_program(dev_config())


@pytest.fixture(scope="module")
def consumer(registry: ProgramRun) -> ProgramRun:
    config = {"image-registry-consumer:registryStack": REGISTRY_STACK, "image-registry-consumer:namespace": "apps"}
    mocks = FaithfulMocks(stacks={REGISTRY_STACK: registry})
    return run_program(
        config,
        mocks,
        root_directory=CONSUMER_DIR,
        project="image-registry-consumer",
        program=CONSUMER_DIR / "__main__.py",
    )


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
        assert decide(config, user, "GET", "/v2/utils/busybox/manifests/latest") == PASSED
        assert decide(config, user, "POST", "/v2/utils/busybox/blobs/uploads/") == 403


def test_the_workload_pulls_from_the_registry_with_the_secret(consumer: ProgramRun, registry: ProgramRun) -> None:
    pod = consumer.manifest("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"{registry.outputs['registryHost']}/utils/busybox:1.36.1"
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
