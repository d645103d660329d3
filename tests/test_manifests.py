"""Manifest gates: every rendered object is valid Kubernetes and passes checkov."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.conftest import RunProgram
from tests.doubles import ProgramRun

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The oldest Kubernetes release still maintained upstream when this was written, and the newest schema shipped.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())
CHECKOV = Path(os.environ.get("CHECKOV", PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"))
# Checks that do not fit, and why. Everything else must pass.
CHECKOV_SKIPS = {
    "CKV_K8S_35": "the registry takes http.secret only from its config file or REGISTRY_HTTP_SECRET; "
    "the variable comes from a Secret (secretKeyRef), never from the ConfigMap",
}
VARIANTS: dict[str, dict[str, object]] = {
    "dev": {},
    "nginx": {"ingress": {"controller": "nginx", "waitForAddress": True}},
    "unverified": {"ingress": {"className": "public", "verifyBackend": False}},
    "throwaway": {"storage": {"type": "emptyDir", "deleteEnabled": True}},
    "shared": {
        "replicas": 3,
        "createNamespace": "false",
        "namespace": "platform",
        "storage": {"accessMode": "ReadWriteMany", "storageClass": "nfs-client"},
    },
}


# Objects of custom resources (Traefik's CRDs) have no schema in kubernetes-validate.
CUSTOM_API_GROUPS = ("traefik.io/",)


@pytest.fixture(scope="module")
def rendered(run_with: RunProgram) -> dict[str, ProgramRun]:
    return {name: run_with(**overrides) for name, overrides in VARIANTS.items()}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_objects_validate_against_the_kubernetes_schema(
    rendered: dict[str, ProgramRun], variant: str, version: str
) -> None:
    for manifest in rendered[variant].manifests():
        if not manifest["apiVersion"].startswith(CUSTOM_API_GROUPS):
            kubernetes_validate.validate(manifest, version, strict=True)


def test_checkov_finds_nothing(rendered: dict[str, ProgramRun], tmp_path: Path) -> None:
    assert CHECKOV.exists(), f"checkov is missing at {CHECKOV}: run `make test` (it installs it) or set CHECKOV"
    for variant, run in rendered.items():
        folder = tmp_path / variant
        folder.mkdir()
        for index, manifest in enumerate(run.manifests()):
            (folder / f"{index:02d}-{manifest['kind']}.yaml").write_text(yaml.safe_dump(manifest))
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(tmp_path), "--framework", "kubernetes", "--output", "json",
         "--compact", "--quiet", "--skip-download", "--skip-check", ",".join(CHECKOV_SKIPS)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{check['check_id']} {check['resource']}" for item in reports for check in item["results"]["failed_checks"]
    ]
    assert failed == []
    assert sum(item["summary"]["passed"] for item in reports) > 50
    assert result.returncode == 0, result.stderr[-2000:]
