"""The stack-config JSON Schema: generated from the models, current, and refusing what the program refuses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from components.settings.check import StackFileChecker
from components.settings.schema import SCHEMA_FILE, render
from components.settings.types import BYTE_QUANTITY_PATTERN, DNS_NAME_PATTERN, ByteQuantity, DnsName

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Examples a user copies to a stack file of their own (examples/stacks/prod.yaml), and the project's stack files.
EXAMPLE_STACKS = sorted((PROJECT_DIR / "examples" / "stacks").glob("*.yaml"))
STACK_FILES = sorted(PROJECT_DIR.glob("Pulumi.*.yaml")) + EXAMPLE_STACKS
CHECKER = StackFileChecker(json.loads(SCHEMA_FILE.read_text()))


def check(path: Path) -> subprocess.CompletedProcess[str]:
    """As `make lint` runs it."""
    command = [sys.executable, "-m", "components.settings.check", str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_DIR)


def test_the_checked_in_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text() == render(), "stale: run `make schema` and commit the result"


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda path: str(path.relative_to(PROJECT_DIR)))
def test_every_stack_file_points_editors_at_the_schema_and_validates(stack_file: Path) -> None:
    first_line = stack_file.read_text().splitlines()[0]
    # Relative to the stack file, as the YAML language server reads it.
    relative = os.path.relpath(SCHEMA_FILE, stack_file.parent)
    prefix = "" if relative.startswith("..") else "./"
    assert first_line == f"# yaml-language-server: $schema={prefix}{relative}"
    result = check(stack_file)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_example_stack_is_copied_on_purpose_and_says_how() -> None:
    # Outside the project's root, so that `pulumi stack init prod` inherits nothing: a user copies it on purpose.
    assert EXAMPLE_STACKS
    readme = (PROJECT_DIR / "README.md").read_text()
    for example in EXAMPLE_STACKS:
        copy = f"cp examples/stacks/{example.name} Pulumi.<stack>.yaml"
        assert copy in example.read_text(), example.name
        assert copy in readme, example.name


GOOD = {
    "image-registry:hostnames": ["registry.example.com"],
    "image-registry:createNamespace": "false",
    "image-registry:replicas": "3",
    "image-registry:storage": {"accessMode": "ReadWriteMany", "size": "200Gi", "deleteEnabled": True},
    "image-registry:users": [{"name": "ci", "password": {"secure": "v1:AAAA"}}, {"name": "robot"}],
    "image-registry:ingress": {"controller": "nginx", "className": "internal", "waitForAddress": True},
    "image-registry:tls": {"secure": "v1:a whole key set with --secret"},
    "image-registry:maintenance": {"readOnly": True, "garbageCollect": {"schedule": "30 3 * * sun"}},
    "kubernetes:context": "prod",
}
BAD = [
    pytest.param({"image-registry:users": [{"name": "ci", "password": "plain"}]}, id="plain-password"),
    pytest.param({"image-registry:hostname": ["typo.example.com"]}, id="unknown-key"),
    pytest.param({"image-registry:storage": {"type": "nfs"}}, id="unknown-storage-type"),
    pytest.param({"image-registry:ingress": {"controller": "haproxy"}}, id="unknown-controller"),
    pytest.param({"image-registry:replicas": 0}, id="no-replicas"),
    pytest.param({"image-registry:replicas": "0"}, id="no-replicas-as-text"),
    pytest.param({"image-registry:tls": {"organisation": "x"}}, id="typo-in-object"),
    pytest.param({"image-registry:storage": {"accessMode": "ReadWriteOnce"}}, id="replicas-on-a-one-node-claim"),
    pytest.param({"image-registry:hostnames": ["image_registry.example.com"]}, id="hostname-not-dns"),
    pytest.param({"image-registry:hostnames": ["a.example.com", "a.example.com"]}, id="hostname-twice"),
    pytest.param({"image-registry:storage": {"accessMode": "ReadWriteMany", "size": "20GB"}}, id="size-unit"),
    pytest.param(
        {"image-registry:namespace": "kube-system", "image-registry:createNamespace": True}, id="system-namespace"
    ),
    pytest.param(
        {"image-registry:maintenance": {"garbageCollect": {"schedule": "0 3 * * 7"}}}, id="cron-day-of-week-7"
    ),
]


def test_a_stack_file_with_every_kind_of_key_validates(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump({"config": GOOD}))
    result = check(path)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("config", BAD)
def test_the_schema_refuses_what_the_program_refuses(config: dict[str, object]) -> None:
    assert len(CHECKER.problems({"config": {**GOOD, **config}})) == 1


def accepts(adapter: TypeAdapter[Any], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


DNS_NAMES = [
    "registry.example.com",
    "a",
    "1.2.3",
    "999.1.1.1",
    "10.1.2.3",
    "0.0.0.0",
    "01.2.3.4",
    "Registry.example.com",
    "image_registry.example.com",
    "-a.example.com",
    "a-.example.com",
    "a..b",
    "a" * 63 + ".com",
    "a" * 64 + ".com",
    ".".join(["a" * 61] * 4) + ".ab",
    ".".join(["a" * 61] * 4) + ".abc",
    "::1",
]


@pytest.mark.parametrize("name", DNS_NAMES)
def test_the_dns_name_pattern_is_the_programs_rule(name: str) -> None:
    assert (re.search(DNS_NAME_PATTERN, name) is not None) == accepts(TypeAdapter(DnsName), name)


SIZES = ["20Gi", "500Mi", "1T", "1000000", "1.5Gi", "20GB", "250m", "0.5", "0", "0Gi", "0.0Ti", "1e9", "Gi", " 1Gi"]


@pytest.mark.parametrize("size", [*SIZES, "1.3Ki"])
def test_the_byte_quantity_pattern_is_the_programs_rule_but_for_fractions_through_a_unit(size: str) -> None:
    schema_accepts = re.search(BYTE_QUANTITY_PATTERN, size) is not None
    assert schema_accepts == (accepts(TypeAdapter(ByteQuantity), size) or size == "1.3Ki")
