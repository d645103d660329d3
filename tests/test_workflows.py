"""The GitHub workflows: tests on every push, previews with the policy pack on pull requests, drift and
certificate renewal on a schedule, each on the stacks the repository names, with the backend its secrets name."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.make_sandbox import make, path_without_pulumi, project_copy, recording_pulumi

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
ZIZMOR = PROJECT_DIR / ".venv" / "bin" / "zizmor"
CHECK_JSONSCHEMA = PROJECT_DIR / ".venv" / "bin" / "check-jsonschema"
# The workflows that run Pulumi, each on every stack the repository names.
PULUMI_WORKFLOWS = ["preview.yml", "drift.yml", "renew.yml"]
# What a step that runs Pulumi gets, each from a repository secret: Pulumi Cloud's token, or another backend and
# the passphrase of its stacks' secrets.
BACKEND_SECRETS = ("PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")


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


@pytest.mark.parametrize("name", PULUMI_WORKFLOWS)
def test_the_stacks_are_the_ones_the_repository_names(name: str) -> None:
    # The stacks are the user's (examples/stacks/ holds no stack): the repository variable STACKS, a JSON list.
    # Unset, the job is skipped before its matrix is read: nothing to do, and no stack that does not exist.
    (job,) = workflow(name)["jobs"].values()
    assert job["strategy"]["matrix"] == {"stack": "${{ fromJSON(vars.STACKS) }}"}
    assert job["if"].endswith("vars.STACKS != ''")
    assert "${{ matrix.stack }}" in job["name"]


def runs_pulumi(step: dict[str, Any]) -> bool:
    """A step that runs the Pulumi CLI: pulumi/actions with a command, `pulumi …`, or make's Pulumi targets."""
    if step.get("uses", "").startswith("pulumi/actions@"):
        return "command" in step["with"]
    return bool(re.search(r"\bpulumi |\bmake (up|preview|drift|renew|outputs|destroy)\b", step.get("run", "")))


@pytest.mark.parametrize("name", PULUMI_WORKFLOWS)
def test_every_step_that_runs_pulumi_gets_the_backend_and_no_other_step_does(name: str) -> None:
    pulumi = [step for step in steps(name) if runs_pulumi(step)]
    assert len(pulumi) == 1
    for step in steps(name):
        env = step.get("env", {})
        backend = {key: env[key] for key in BACKEND_SECRETS if key in env}
        if runs_pulumi(step):
            assert backend == {key: f"${{{{ secrets.{key} }}}}" for key in BACKEND_SECRETS}, step
            assert env["KUBECONFIG"] == "${{ runner.temp }}/kubeconfig"
        else:
            assert backend == {}, step
    # Step by step, not for the whole job: setup-python and pip see none of it.
    (job,) = workflow(name)["jobs"].values()
    assert "env" not in job
    assert "env" not in workflow(name)


def workflow_env(step: dict[str, Any], secrets: dict[str, str], runner_temp: Path) -> dict[str, str]:
    """The step's env as GitHub gives it: a secret that is not set is an empty string."""
    env = {}
    for key, value in step["env"].items():
        given = re.sub(r"\$\{\{ secrets\.(\w+) \}\}", lambda found: secrets.get(found.group(1), ""), value)
        env[key] = given.replace("${{ runner.temp }}", str(runner_temp)).replace("${{ matrix.stack }}", "dev")
    return env


@pytest.mark.parametrize(
    ("secrets", "backend"),
    [
        # Only the token: PULUMI_BACKEND_URL is set but empty, which is Pulumi Cloud (as the CLI takes it).
        pytest.param({"PULUMI_ACCESS_TOKEN": "pul-0123"}, "", id="pulumi-cloud"),
        pytest.param(
            {"PULUMI_BACKEND_URL": "s3://team-state", "PULUMI_CONFIG_PASSPHRASE": "for-the-state"},
            "s3://team-state",
            id="s3",
        ),
    ],
)
def test_make_keeps_the_backend_the_workflow_secrets_name(
    tmp_path: Path, secrets: dict[str, str], backend: str
) -> None:
    # make renew's step, its env as the workflow sets it: make must neither pick its local file backend for an
    # empty PULUMI_BACKEND_URL nor stop for a passphrase. `make outputs` reads the same backend choice.
    (renew,) = [step for step in steps("renew.yml") if runs_pulumi(step)]
    tools = Path(path_without_pulumi(tmp_path))
    record = recording_pulumi(tmp_path, tools)
    project = project_copy(tmp_path, venv_built=True)
    env = workflow_env(renew, secrets, tmp_path)
    (tmp_path / "kubeconfig").write_text("current-context: ci\n")
    result = make("outputs", tmp_path, str(tools), project, **env)
    assert result.returncode == 0, result.stderr
    calls = record.read_text().splitlines()
    assert calls
    assert {call.split(" args=")[0] for call in calls} == {f"backend={backend}"}


def test_the_workflows_run_the_cli_the_tests_run() -> None:
    # The CLI the real-engine tests build (tools/toolchain/pulumi.sh): v3.226.0 or later, which make drift needs.
    built = re.search(r"^pulumi_version=v(\S+)$", (PROJECT_DIR / "tools" / "toolchain" / "pulumi.sh").read_text(), re.M)
    assert built is not None
    for name in PULUMI_WORKFLOWS:
        (pulumi,) = [step for step in steps(name) if step.get("uses", "").startswith("pulumi/actions@")]
        assert pulumi["with"]["pulumi-version"] == built.group(1), name


def test_renewal_runs_every_day_on_every_stack_with_the_least_it_needs() -> None:
    assert set(triggers("renew.yml")) == {"schedule", "workflow_dispatch"}
    (schedule,) = triggers("renew.yml")["schedule"]
    minute, hour, *every_day = schedule["cron"].split()
    # Once a day, at one time: a renewal restarts the pods.
    assert [minute.isdigit(), hour.isdigit(), every_day] == [True, True, ["*", "*", "*"]]
    (job,) = workflow("renew.yml")["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    # make renew decides what may be applied (tools/renew.py); the workflow runs nothing else of Pulumi's.
    (renew,) = [step for step in steps("renew.yml") if "make renew" in step.get("run", "")]
    assert renew["run"] == 'make renew STACK="$STACK"'
    assert renew["env"]["STACK"] == "${{ matrix.stack }}"
    commands = " ".join(step.get("run", "") for step in steps("renew.yml"))
    assert "pulumi " not in commands
    (pulumi,) = [step for step in steps("renew.yml") if step.get("uses", "").startswith("pulumi/actions@")]
    assert "command" not in pulumi["with"]


@pytest.mark.parametrize("name", ["test.yml", "preview.yml", "drift.yml", "renew.yml"])
def test_secrets_come_from_the_repository_and_actions_are_pinned(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for use in re.findall(r"uses: (\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use), use
    for secret in re.findall(r"(PULUMI_\w+|KUBECONFIG_DATA|KUBECONFIG): (.+)", text):
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
