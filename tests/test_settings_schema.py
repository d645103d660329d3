"""The stack-config JSON Schema: generated from the models, current, and what the stack files are checked with."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from components.settings.schema import SCHEMA_FILE, render

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHECK_JSONSCHEMA = PROJECT_DIR / ".venv" / "bin" / "check-jsonschema"
STACK_FILES = sorted(PROJECT_DIR.glob("Pulumi.*.yaml"))


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(SCHEMA_FILE), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_checked_in_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text() == render(), "stale: run `make schema` and commit the result"


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda path: path.name)
def test_every_stack_file_points_editors_at_the_schema_and_validates(stack_file: Path) -> None:
    first_line = stack_file.read_text().splitlines()[0]
    relative = SCHEMA_FILE.relative_to(PROJECT_DIR)
    assert first_line == f"# yaml-language-server: $schema=./{relative}"
    result = check(stack_file)
    assert result.returncode == 0, result.stdout + result.stderr


GOOD = {
    "image-registry:hostnames": ["registry.example.com"],
    "image-registry:createNamespace": "false",
    "image-registry:replicas": "3",
    "image-registry:storage": {"accessMode": "ReadWriteMany", "size": "200Gi", "deleteEnabled": True},
    "image-registry:users": [{"name": "ci", "password": {"secure": "v1:AAAA"}}, {"name": "robot"}],
    "image-registry:ingress": {"controller": "nginx", "className": "internal", "waitForAddress": True},
    "image-registry:tls": {"secure": "v1:a whole key set with --secret"},
    "kubernetes:context": "prod",
}
BAD = [
    pytest.param({"image-registry:users": [{"name": "ci", "password": "plain"}]}, id="plain-password"),
    pytest.param({"image-registry:hostname": ["typo.example.com"]}, id="unknown-key"),
    pytest.param({"image-registry:storage": {"type": "nfs"}}, id="unknown-storage-type"),
    pytest.param({"image-registry:ingress": {"controller": "haproxy"}}, id="unknown-controller"),
    pytest.param({"image-registry:replicas": 0}, id="no-replicas"),
    pytest.param({"image-registry:tls": {"organisation": "x"}}, id="typo-in-object"),
]


def test_a_stack_file_with_every_kind_of_key_validates(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump({"config": GOOD}))
    result = check(path)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("config", BAD)
def test_the_schema_refuses_what_the_program_refuses(tmp_path: Path, config: dict[str, object]) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(yaml.safe_dump({"config": {**GOOD, **config}}))
    assert check(path).returncode != 0
