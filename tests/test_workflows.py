"""The GitHub workflows: tests on every push, previews with the policy pack on pull requests, drift and
certificate renewal on a schedule."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
ZIZMOR = PROJECT_DIR / ".venv" / "bin" / "zizmor"
CHECK_JSONSCHEMA = PROJECT_DIR / ".venv" / "bin" / "check-jsonschema"


def workflow(name: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return document


def steps(name: str) -> list[dict[str, Any]]:
    (job,) = workflow(name)["jobs"].values()
    found: list[dict[str, Any]] = job["steps"]
    return found


def triggers(name: str) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    found: dict[str, Any] = workflow(name)[True]
    return found


def audit(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ZIZMOR), "--offline", "--min-severity", "medium", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_tests_run_on_every_push_and_pull_request() -> None:
    assert set(triggers("test.yml")) == {"push", "pull_request"}
    assert any(step.get("run", "").endswith("make test") for step in steps("test.yml"))


def test_previews_every_stack_with_the_policy_pack_and_comment_on_the_pull_request() -> None:
    assert set(triggers("preview.yml")) == {"pull_request"}
    (job,) = workflow("preview.yml")["jobs"].values()
    assert sorted(job["strategy"]["matrix"]["stack"]) == stacks()
    (pulumi,) = [step for step in steps("preview.yml") if step.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["comment-on-pr"] is True
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_drift_fails_when_a_refresh_finds_changes() -> None:
    assert "schedule" in triggers("drift.yml")
    commands = " ".join(step.get("run", "") for step in steps("drift.yml"))
    assert "pulumi preview" in commands
    assert "--refresh" in commands
    assert "--expect-no-changes" in commands


def stacks() -> list[str]:
    return sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in PROJECT_DIR.glob("Pulumi.*.yaml"))


def test_renewal_runs_every_day_on_every_stack_with_the_least_it_needs() -> None:
    assert set(triggers("renew.yml")) == {"schedule", "workflow_dispatch"}
    (schedule,) = triggers("renew.yml")["schedule"]
    minute, hour, *every_day = schedule["cron"].split()
    # Once a day, at one time: a renewal restarts the pods.
    assert [minute.isdigit(), hour.isdigit(), every_day] == [True, True, ["*", "*", "*"]]
    (job,) = workflow("renew.yml")["jobs"].values()
    assert sorted(job["strategy"]["matrix"]["stack"]) == stacks()
    assert job["permissions"] == {"contents": "read"}
    # make renew decides what may be applied (tools/renew.py); the workflow runs nothing else of Pulumi's.
    (renew,) = [step for step in steps("renew.yml") if "make renew" in step.get("run", "")]
    assert renew["run"] == 'make renew STACK="$STACK"'
    assert renew["env"]["STACK"] == "${{ matrix.stack }}"
    assert renew["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    commands = " ".join(step.get("run", "") for step in steps("renew.yml"))
    assert "pulumi " not in commands
    (pulumi,) = [step for step in steps("renew.yml") if step.get("uses", "").startswith("pulumi/actions@")]
    assert "command" not in pulumi["with"]


@pytest.mark.parametrize("name", ["test.yml", "preview.yml", "drift.yml", "renew.yml"])
def test_secrets_come_from_the_repository_and_actions_are_pinned(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for use in re.findall(r"uses: (\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use), use
    for secret in re.findall(r"(PULUMI_ACCESS_TOKEN|KUBECONFIG_DATA|KUBECONFIG): (.+)", text):
        assert secret[1].startswith("${{ secrets.") or secret[1].startswith("${{ runner.temp }}"), secret
    assert workflow(name)["permissions"] == {}


def test_the_gates_pass_and_can_fail(tmp_path: Path) -> None:
    assert audit(*WORKFLOWS.glob("*.yml")).returncode == 0
    schema = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS.glob("*.yml"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout
    careless = (
        (WORKFLOWS / "test.yml")
        .read_text()
        .replace("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "actions/checkout@v7")
    )
    (tmp_path / "test.yml").write_text(careless)
    result = audit(tmp_path / "test.yml")
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout + result.stderr
