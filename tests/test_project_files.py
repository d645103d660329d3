"""The user's door: pinned requirements, `make up` stopping early with one clear line, the backend it uses."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests import make_sandbox
from tests.make_sandbox import PROJECT_DIR, make, path_without_pulumi, project_copy

PULUMI_INSTALL = "https://www.pulumi.com/docs/iac/download-install/"
# A node's clients in the end-to-end tests (tests/node_clients.py), from Debian.
NODE_PACKAGES = ("containerd", "docker.io", "podman")


def test_runtime_requirements_are_pinned() -> None:
    lines = [
        line
        for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    names = {re.split(r"==", line)[0] for line in lines}
    assert names == {"pulumi", "pulumi-kubernetes", "pulumi-tls", "pulumi-random", "bcrypt", "pydantic", "PyYAML"}
    assert all(re.fullmatch(r"[A-Za-z-]+==[0-9.]+", line) for line in lines), lines


@pytest.fixture
def tools_without_pulumi(tmp_path: Path) -> str:
    return path_without_pulumi(tmp_path)


@pytest.mark.parametrize("target", ["up", "preview"])
def test_missing_pulumi_cli_is_one_line(tmp_path: Path, tools_without_pulumi: str, target: str) -> None:
    result = make(target, tmp_path, tools_without_pulumi)
    assert result.returncode != 0
    messages = [line for line in result.stderr.splitlines() if line.startswith("make: ") and "***" not in line]
    assert messages == [f"make: the Pulumi CLI is missing: install it ({PULUMI_INSTALL}) and run make again"]


def test_missing_kube_context_is_one_line_and_nothing_runs(tmp_path: Path, tools_without_pulumi: str) -> None:
    # A `pulumi` that must never be reached: the Makefile stops before it.
    called = tmp_path / "pulumi-was-called"
    stub = Path(tools_without_pulumi) / "pulumi"
    stub.write_text(f"#!/bin/sh\ntouch {called}\nexit 1\n")
    stub.chmod(0o755)
    project = project_copy(tmp_path, venv_built=True)
    result = make("up", tmp_path, tools_without_pulumi, project, KUBECONFIG=str(tmp_path / "no-such-kubeconfig"))
    assert result.returncode != 0
    messages = [line for line in result.stderr.splitlines() if line.startswith("make: ") and "***" not in line]
    assert len(messages) == 1, result.stderr
    assert messages[0].startswith("make: no Kubernetes context")
    assert not called.exists()


def test_a_missing_cli_is_said_before_the_virtualenv_is_built(tmp_path: Path, tools_without_pulumi: str) -> None:
    project = project_copy(tmp_path, venv_built=False)
    result = make("up", tmp_path, tools_without_pulumi, project)
    assert result.returncode != 0
    assert "the Pulumi CLI is missing" in result.stderr
    assert not (project / ".venv").exists()


@pytest.fixture
def recording_pulumi(tmp_path: Path, tools_without_pulumi: str) -> Path:
    return make_sandbox.recording_pulumi(tmp_path, Path(tools_without_pulumi))


def pulumi_calls(target: str, tmp_path: Path, path: str, record: Path, project: Path, **env: str) -> list[str]:
    passphrase = {"PULUMI_CONFIG_PASSPHRASE": "for-the-local-backend"}
    result = make(target, tmp_path, path, project, KUBECONFIG=str(tmp_path / "kubeconfig"), **passphrase, **env)
    assert result.returncode == 0, result.stderr
    return record.read_text().splitlines()


# What make asks the CLI before it builds anything (tools/preflight.sh): its version, the selected stack and,
# for up and preview, the stack's config (its storage, for the StorageClass check).
PREFLIGHT_QUERIES = ("version", "stack --show-name", "config --json")


def target_calls(calls: list[str]) -> list[str]:
    """The arguments of each call but the preflight's queries."""
    arguments = [call.split(" args=", 1)[1] for call in calls]
    return [argument for argument in arguments if not argument.startswith(PREFLIGHT_QUERIES)]


def backend_used(tmp_path: Path, path: str, record: Path, project: Path, **env: str) -> set[str]:
    calls = pulumi_calls("up", tmp_path, path, record, project, **env)
    assert calls[-1].endswith(" args=up"), "the selected stack, as pulumi itself takes it"
    return {call.split(" ")[0] for call in calls}


# With no STACK=, every target acts on the stack the user selected (the stand-in has `dev` selected), never
# creating or selecting one; only the example-hostnames notice names it, by its fully qualified name.
@pytest.mark.parametrize(
    ("target", "commands"),
    [
        pytest.param("up", ["config get hostnames --json --stack organization/image-registry/dev", "up"], id="up"),
        pytest.param("preview", ["preview --diff --policy-pack policy"], id="preview"),
        pytest.param("drift", ["preview --refresh --expect-no-changes --diff"], id="drift"),
        pytest.param("outputs", ["stack output --json"], id="outputs"),
        pytest.param("destroy", ["destroy"], id="destroy"),
    ],
)
def test_the_pulumi_commands_of_each_target(
    tmp_path: Path, tools_without_pulumi: str, recording_pulumi: Path, target: str, commands: list[str]
) -> None:
    project = project_copy(tmp_path, venv_built=True)
    calls = pulumi_calls(target, tmp_path, tools_without_pulumi, recording_pulumi, project)
    assert target_calls(calls) == commands


def test_make_up_uses_the_local_backend_only_when_none_is_chosen(
    tmp_path: Path, tools_without_pulumi: str, recording_pulumi: Path
) -> None:
    project = project_copy(tmp_path, venv_built=True)
    assert backend_used(tmp_path, tools_without_pulumi, recording_pulumi, project) == {f"backend=file://{tmp_path}"}


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param('{"current": "https://api.pulumi.com", "accessTokens": {}}', id="pulumi-login"),
        pytest.param('{"current": "s3://state-bucket"}', id="pulumi-login-s3"),
        pytest.param("\x00encrypted-by-the-os-keyring", id="encrypted-credentials"),
    ],
)
def test_make_up_keeps_the_backend_of_pulumi_login(
    tmp_path: Path, tools_without_pulumi: str, recording_pulumi: Path, credentials: str
) -> None:
    project = project_copy(tmp_path, venv_built=True)
    (tmp_path / ".pulumi").mkdir()
    (tmp_path / ".pulumi" / "credentials.json").write_text(credentials)
    assert backend_used(tmp_path, tools_without_pulumi, recording_pulumi, project) == {"backend="}


def test_make_up_keeps_a_backend_url_from_the_environment_or_the_project(
    tmp_path: Path, tools_without_pulumi: str, recording_pulumi: Path
) -> None:
    project = project_copy(tmp_path, venv_built=True)
    chosen = backend_used(
        tmp_path, tools_without_pulumi, recording_pulumi, project, PULUMI_BACKEND_URL="gs://team-state"
    )
    assert chosen == {"backend=gs://team-state"}
    with (project / "Pulumi.yaml").open("a") as project_file:
        project_file.write("backend:\n  url: s3://project-state\n")
    (project / ".venv" / ".runtime").touch()
    assert backend_used(tmp_path, tools_without_pulumi, recording_pulumi, project) == {
        "backend=gs://team-state",
        "backend=",
    }


def test_make_keeps_pulumi_cloud_when_an_access_token_is_set(
    tmp_path: Path, tools_without_pulumi: str, recording_pulumi: Path
) -> None:
    # As in the workflows: the CLI logs in to Pulumi Cloud with the token; make must not pick a local backend.
    project = project_copy(tmp_path, venv_built=True)
    used = backend_used(tmp_path, tools_without_pulumi, recording_pulumi, project, PULUMI_ACCESS_TOKEN="pul-0123")
    assert used == {"backend="}


def test_the_readme_stands_on_its_own() -> None:
    # A user who clones the repository has nothing outside it.
    readme = (PROJECT_DIR / "README.md").read_text()
    assert "../" not in readme


def test_ci_installs_the_end_to_end_tools_and_runs_make_test() -> None:
    script = (PROJECT_DIR / ".ci" / "run").read_text()
    # make test installs them too: DEBIAN_PACKAGES, continued over lines.
    makefile = re.search(r"^DEBIAN_PACKAGES := ((?:.*\\\n)*.*)$", (PROJECT_DIR / "Makefile").read_text(), re.M)
    assert makefile is not None
    assert set(NODE_PACKAGES) <= set(makefile.group(1).replace("\\\n", " ").split())
    for package in ("docker-registry", "skopeo", "busybox-static", "iptables", "nginx", "haproxy", *NODE_PACKAGES):
        assert package in script
    assert script.rstrip().endswith("make test")
    assert os.access(PROJECT_DIR / ".ci" / "run", os.X_OK)
