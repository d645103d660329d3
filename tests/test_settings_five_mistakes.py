"""Five mistakes at once, in one stack file: the program and `make lint`'s check each report all five, no secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.settings import SettingsError, parse_settings
from components.settings.source import plain_leaves
from harness.doubles import run_program

PROJECT_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "Plain-Text-Passw0rd"
# A plain-text password, a typo for a key, two replicas on the default ReadWriteOnce claim (whose size is
# wrong too), and a hostname with '_'.
FIVE_MISTAKES = {
    "image-registry:hostnames": ["image_registry.example.com"],
    "image-registry:replica": 2,
    "image-registry:replicas": 2,
    "image-registry:storage": {"size": "20GB"},
    "image-registry:users": [{"name": "ci", "password": PASSWORD}],
}
KEYS = ("hostnames[0]", "replica", "replicas", "storage.size", "users[0].password")


def engine_config(config: dict[str, Any]) -> dict[str, str]:
    """The config as the CLI hands it to the program: every value as text, objects and lists as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def key_of(line: str) -> str:
    return line.split("image-registry:", maxsplit=1)[1].split(":", maxsplit=1)[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": FIVE_MISTAKES}))
    return tmp_path


def test_parse_settings_reports_the_five() -> None:
    raw = {key.removeprefix("image-registry:"): text for key, text in engine_config(FIVE_MISTAKES).items()}
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, plain_leaves=plain_leaves(FIVE_MISTAKES))
    problems = caught.value.problems
    assert sorted(key_of(problem) for problem in problems) == sorted(KEYS), problems
    assert not any(PASSWORD in problem for problem in problems)


def test_the_program_reports_the_five_before_any_resource(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through load_settings, as `pulumi up` runs it: the engine's config and the stack file beside Pulumi.yaml."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(engine_config(FIVE_MISTAKES)))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "[]")
    with pytest.raises(pulumi.RunError) as caught:
        run_program({}, root_directory=project)
    message = str(caught.value)
    assert message.startswith("invalid stack config (5 problems):"), message
    lines = message.splitlines()[1:]
    assert sorted(key_of(line) for line in lines) == sorted(KEYS), message
    assert PASSWORD not in message


def test_the_schema_check_reports_the_five_each_naming_its_key(project: Path) -> None:
    stack_file = project / "Pulumi.dev.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "components.settings.check", str(stack_file)],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 5, result.stdout
    assert [key_of(line) for line in lines] == list(KEYS), "each names its key, in the file's order"
    assert all(line.startswith(f"{stack_file}: image-registry:") for line in lines)
    assert all("is not allowed; allowed: " in line or "is not a config key" in line for line in lines)
    assert PASSWORD not in result.stdout + result.stderr
    assert "users[0].password: (value hidden) is not allowed; allowed: a secret" in result.stdout
