"""A stack's life under the real engine: consumed by another stack, upgraded from the previous release without
a replacement, renewed by `make renew` (and nothing else), destroyed without losing the images."""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.pulumi_engine import PROJECT_DIR, Result, Stack, copy_project
from tests.real_engine import Cluster, Deploy, deployer

pytestmark = pytest.mark.real_engine

# The release before `HtpasswdSecret` became `RegistryUsers` (aliases carry its URNs over).
PREVIOUS_RELEASE = "6c8e51e"
# What must never be replaced by an upgrade: the CA, the server certificate, the claim, the password hashes.
KEPT_TYPES = (
    "tls:index/privateKey:PrivateKey",
    "tls:index/selfSignedCert:SelfSignedCert",
    "tls:index/locallySignedCert:LocallySignedCert",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "pulumi-python:dynamic:Resource",
    "random:index/randomPassword:RandomPassword",
)
REPLACING = {"replace", "create-replacement", "delete-replaced"}
SERVER_CERTIFICATE = "tls:index/locallySignedCert:LocallySignedCert"


def own_config(name: str) -> dict[str, str]:
    """A namespace and hostname of the stack's own, on the session's control plane."""
    return {"namespace": name, "hostnames[0]": f"{name}.example.com"}


def test_the_consumer_reads_the_outputs_through_its_stack_reference(
    converged_dev_stack: Stack, control_plane: Cluster, tmp_path: Path
) -> None:
    consumer = deployer(converged_dev_stack.cli, tmp_path)("dev", source=PROJECT_DIR / "examples" / "consumer")
    assert consumer.outputs()["image"].startswith(converged_dev_stack.outputs()["registryHost"] + "/")
    pull_secret = control_plane.kubectl.get("secret", consumer.outputs()["pullSecret"], "-n", "apps")
    carried = base64.b64decode(pull_secret["data"][".dockerconfigjson"]).decode()
    assert json.loads(carried) == json.loads(converged_dev_stack.outputs(show_secrets=True)["pullDockerConfigJson"])
    (deployment,) = control_plane.kubectl.get("deployment", "-n", "apps")["items"]
    assert deployment["status"]["availableReplicas"] == 1


def previous_release(destination: Path) -> Path:
    destination.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "archive", PREVIOUS_RELEASE], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive.stdout, check=True)
    return destination


def secrets_of(stack: Stack) -> dict[str, Any]:
    outputs = stack.outputs(show_secrets=True)
    return {key: outputs[key] for key in ("password", "dockerConfigJson", "caCertPem")}


def test_an_upgrade_from_the_previous_release_replaces_nothing_kept(deploy: Deploy, tmp_path: Path) -> None:
    old = deploy("upgrade", own_config("upgrade"), source=previous_release(tmp_path / "previous"))
    before = secrets_of(old)
    head = copy_project(PROJECT_DIR, tmp_path / "head")
    shutil.copy(old.directory / "Pulumi.upgrade.yaml", head)
    upgraded = Stack(old.cli, head, "upgrade")

    steps = upgraded.preview_steps()
    replaced = [step["urn"] for step in steps if step["op"] in REPLACING]
    kept = [urn for urn in replaced if urn.split("::")[-2].endswith(KEPT_TYPES)]
    assert kept == [], kept
    deleted = [step["urn"] for step in steps if step["op"] == "delete"]
    assert not [urn for urn in deleted if "PasswordHash" in urn or "HtpasswdSecret" in urn], deleted

    upgraded.up()
    assert secrets_of(upgraded) == before
    assert upgraded.preview("--expect-no-changes").returncode == 0


def make_due(stack: Stack, days_left: int = 10) -> str:
    """Time passes: the server certificate's validity ends within its early-renewal window (30 days)."""
    state = json.loads(stack.export())
    end = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days_left)
    for resource in state["deployment"]["resources"]:
        if resource["type"] == SERVER_CERTIFICATE and "server" in resource["urn"]:
            resource["outputs"]["validityEndTime"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
            urn: str = resource["urn"]
    stack.pulumi("stack", "import", stdin=json.dumps(state))
    return urn


def certificate_of(stack: Stack, urn: str) -> str:
    pem: str = next(item for item in stack.resources() if item["urn"] == urn)["outputs"]["certPem"]
    return pem


def make_renew(stack: Stack) -> Result:
    return stack.cli.run(["make", "renew", f"STACK={stack.name}"], stack.directory, check=False)


def test_make_renew_renews_a_due_certificate_and_refuses_anything_else(deploy: Deploy, control_plane: Cluster) -> None:
    stack = deploy("renewal", own_config("renewal"))
    urn = make_due(stack)
    issued = certificate_of(stack, urn)

    stack.set('ingress.annotations["example.com/owner"]', "platform")
    refused = make_renew(stack)
    # tools/renew.py exits 3; make reports any failed recipe as 2.
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refused: the stack has changes that are not this renewal" in refused.stderr
    assert certificate_of(stack, urn) == issued
    ingress = control_plane.kubectl.get("ingress", "image-registry", "-n", "renewal")
    assert "example.com/owner" not in ingress["metadata"].get("annotations", {})

    stack.pulumi("config", "rm", "--path", "ingress.annotations")
    renewed = make_renew(stack)
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert f"due for renewal: {urn}" in renewed.stdout
    assert certificate_of(stack, urn) != issued
    assert stack.preview("--expect-no-changes").returncode == 0


def test_destroy_keeps_the_images_and_the_ca(deploy: Deploy, control_plane: Cluster) -> None:
    stack = deploy("teardown", own_config("teardown"))
    refused = stack.pulumi("destroy", "--yes", check=False)
    assert refused.returncode != 0
    assert "protected" in refused.output
    assert any(item["type"] == "tls:index/selfSignedCert:SelfSignedCert" for item in stack.resources())

    stack.pulumi("state", "unprotect", "--all", "--yes")
    stack.pulumi("destroy", "--yes")
    kubectl = control_plane.kubectl
    assert kubectl.get("pvc", "image-registry-data", "-n", "teardown")["status"]["phase"] == "Bound"
    assert kubectl.exists("namespace", "teardown")
    assert not kubectl.exists("deployment", "image-registry", "-n", "teardown")
