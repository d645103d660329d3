"""Manifest gates: every rendered object is valid Kubernetes (custom resources included) and passes checkov."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from harness.doubles import ProgramRun
from tests.conftest import RunProgram
from tests.custom_resources import custom_kinds, validate_custom_resource

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The oldest Kubernetes minor this stack supports (the oldest upstream maintained when it was written), and the newest.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())
CHECKOV = Path(os.environ.get("CHECKOV", PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"))
CHECKOV_CONFIG = Path(__file__).with_name("checkov.yaml")
S3_KEYS = {"accessKey": "AKIAEXAMPLEEXAMPLE00", "secretKey": "example-secret-key"}
MIRRORS = [
    {"upstream": "docker.io", "username": "hub-robot", "password": "example-upstream-token"},
    {"upstream": "ghcr.io", "repositories": ["example/*"], "ttl": "24h"},
]
VARIANTS: dict[str, dict[str, object]] = {
    "dev": {},
    "production": {
        "replicas": 3,
        "storage": {
            "accessMode": "ReadWriteMany",
            "storageClass": "nfs-client",
            "size": "500Gi",
            "deleteEnabled": True,
        },
        "ingress": {"controller": "nginx", "waitForAddress": True},
        "metrics": {"enabled": True, "serviceMonitor": True},
        "maintenance": {"readOnly": True, "garbageCollect": {"schedule": "30 3 * * 0", "deleteUntagged": True}},
        "networkPolicy": {"allowFrom": ["ci"], "restrictEgress": True},
        "tolerations": [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}],
        "priorityClassName": "infra-critical",
        "nodeTrust": {"enabled": True},
        "pullSecretNamespaces": ["ci", "apps"],
    },
    "s3": {
        "replicas": 2,
        "storage": {"type": "s3", "bucket": "registry-images", "region": "eu-west-1", **S3_KEYS},
        "networkPolicy": {"restrictEgress": True},
    },
    "s3-existing-secret": {
        "storage": {"type": "s3", "bucket": "images", "credentialsSecret": "registry-s3"},
        "nodeTrust": {"enabled": True, "platform": "k3s"},
    },
    "unverified": {"ingress": {"className": "public", "verifyBackend": False}},
    "mirrors": {
        "mirrors": MIRRORS,
        "nodeTrust": {"enabled": True},
        "networkPolicy": {"restrictEgress": True},
    },
    "throwaway": {"storage": {"type": "emptyDir", "deleteEnabled": True}},
    "shared-namespace": {
        "createNamespace": "false",
        "namespace": "platform",
        "storage": {"existingClaim": "registry-data", "deleteEnabled": True},
        "maintenance": {"allowOnlineGc": True, "garbageCollect": {"schedule": "@weekly"}},
    },
}


@pytest.fixture(scope="module")
def rendered(run_with: RunProgram) -> dict[str, ProgramRun]:
    secret_keys = ["image-registry:storage", "image-registry:mirrors"]
    return {name: run_with(secret_keys=secret_keys, **overrides) for name, overrides in VARIANTS.items()}


def test_the_mirrors_variant_renders_its_caches_and_their_node_files(rendered: dict[str, ProgramRun]) -> None:
    """The gates below see what mirrors add: a container each in the registry's pod, their Secrets, and the
    nodes' hosts.toml Secret."""
    run = rendered["mirrors"]
    containers = [container["name"] for container in pod_specs(run.manifest("Deployment"))[0]["containers"]]
    assert {"mirror-0", "mirror-1"} <= set(containers), containers
    secrets = [manifest["metadata"]["name"] for manifest in run.manifests() if manifest["kind"] == "Secret"]
    assert any("mirror-0" in name for name in secrets), secrets
    assert any("node-trust-mirrors" in name for name in secrets), secrets


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_objects_validate_against_the_kubernetes_schema(
    rendered: dict[str, ProgramRun], variant: str, version: str
) -> None:
    for manifest in rendered[variant].manifests():
        if (manifest["apiVersion"], manifest["kind"]) in custom_kinds():
            validate_custom_resource(manifest, version)
        else:
            kubernetes_validate.validate(manifest, version, strict=True)


def test_the_custom_resource_schemas_are_strict(rendered: dict[str, ProgramRun]) -> None:
    """They refuse what the cluster's CRDs would: a gate that passes anything proves nothing."""
    monitor = rendered["production"].manifest("ServiceMonitor")
    transport = rendered["dev"].manifest("ServersTransport")
    broken = [
        {**monitor, "spec": {**monitor["spec"], "endpoint": monitor["spec"]["endpoints"]}},
        {**monitor, "spec": {**monitor["spec"], "endpoints": [{"port": "metrics", "interval": "30 seconds"}]}},
        {**transport, "spec": {**transport["spec"], "rootCAsSecret": ["x"]}},
        {**transport, "metadata": {**transport["metadata"], "label": {}}},
    ]
    for manifest in broken:
        with pytest.raises(jsonschema.ValidationError):
            validate_custom_resource(manifest, KUBERNETES_VERSIONS[0])


def test_checkov_finds_nothing(rendered: dict[str, ProgramRun], tmp_path: Path) -> None:
    assert CHECKOV.exists(), f"checkov is missing at {CHECKOV}: run `make test` (it installs it) or set CHECKOV"
    for variant, run in rendered.items():
        folder = tmp_path / variant
        folder.mkdir()
        for index, manifest in enumerate(run.manifests()):
            (folder / f"{index:02d}-{manifest['kind']}.yaml").write_text(yaml.safe_dump(manifest))
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(CHECKOV_CONFIG), "--directory", str(tmp_path), "--output", "json",
         "--compact", "--quiet", "--skip-download"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{check['check_id']} {check['resource']}" for item in reports for check in item["results"]["failed_checks"]
    ]
    assert sorted(set(failed)) == []
    assert sum(item["summary"]["passed"] for item in reports) > 100
    assert result.returncode == 0, result.stderr[-2000:]


def pod_specs(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    if manifest["kind"] == "CronJob":
        return [manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    if manifest["kind"] in ("Deployment", "DaemonSet"):
        return [manifest["spec"]["template"]["spec"]]
    return []


def test_only_the_node_trust_daemon_set_runs_as_root(rendered: dict[str, ProgramRun]) -> None:
    """What the checkov skips of root containers leave unchecked, checked here, for every pod of every variant."""
    for variant, run in rendered.items():
        for manifest in run.manifests():
            for spec in pod_specs(manifest):
                security = spec["securityContext"]
                if manifest["kind"] == "DaemonSet":
                    assert security["runAsUser"] == 0
                    continue
                assert security["runAsNonRoot"] is True, f"{variant} {manifest['kind']}"
                assert security["runAsUser"] >= 10000, f"{variant} {manifest['kind']}"


def test_only_the_front_adds_a_capability_and_only_the_one_its_binary_needs(rendered: dict[str, ProgramRun]) -> None:
    """What the checkov skip of added capabilities leaves unchecked, checked here."""
    for variant, run in rendered.items():
        for manifest in run.manifests():
            for spec in pod_specs(manifest):
                for container in spec["containers"]:
                    capabilities = container["securityContext"]["capabilities"]
                    assert capabilities["drop"] == ["ALL"], f"{variant} {container['name']}"
                    added = ["NET_BIND_SERVICE"] if container["name"] == "front" else None
                    assert capabilities.get("add") == added, f"{variant} {manifest['kind']} {container['name']}"


def test_every_checkov_skip_says_why() -> None:
    lines = CHECKOV_CONFIG.read_text().splitlines()
    skips = yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"]
    for check in skips:
        (line,) = [line for line in lines if line.strip().startswith(f"- {check}")]
        _, _, reason = line.partition("#")
        assert len(reason.strip()) > 10, f"{check}: one line of reason"
