"""`make`'s Pulumi targets as a user meets them: one line and nothing built when the CLI, a context or a
passphrase is missing; `outputs` without a cluster; `make up`'s notice on the example hostnames; `make renew`.

The CLI's stand-ins answer as its reference says it does (`pulumi config get --json`, `pulumi preview --json`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests import preview_documents
from tests.fake_pulumi import FakePulumi
from tests.make_sandbox import (
    install,
    make,
    nothing_built,
    output_lines,
    path_without_pulumi,
    project_copy,
    recording_pulumi,
)

PULUMI_INSTALL = "https://www.pulumi.com/docs/iac/download-install/"

MISSING_CLI = f"make: the Pulumi CLI is missing: install it ({PULUMI_INSTALL}) and run make again"
NO_CONTEXT = (
    "make: no Kubernetes context: point KUBECONFIG at your cluster's kubeconfig"
    " (or kubectl config use-context NAME) and run make again"
)
NO_PASSPHRASE = (
    "make: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE:"
    " the local backend encrypts the stack's secrets with it"
)
# The targets that run the program or change the cluster; `outputs` only reads the state.
CLUSTER_TARGETS = ("up", "preview", "drift", "renew", "destroy")


@pytest.fixture
def tools(tmp_path: Path) -> str:
    return path_without_pulumi(tmp_path)


@pytest.fixture
def recorded(tmp_path: Path, tools: str) -> Path:
    return recording_pulumi(tmp_path, Path(tools))


@pytest.mark.parametrize("target", [*CLUSTER_TARGETS, "outputs"])
def test_without_the_cli_make_says_so_in_one_line_and_builds_nothing(tmp_path: Path, tools: str, target: str) -> None:
    project = project_copy(tmp_path, venv_built=False)
    result = make(target, tmp_path, tools, project)
    assert result.returncode != 0
    assert output_lines(result) == [MISSING_CLI]
    assert nothing_built(project)


@pytest.mark.parametrize(
    "kubectl", [None, "echo 'error: current-context is not set' >&2; exit 1"], ids=["no-kubectl", "kubectl"]
)
@pytest.mark.parametrize("target", CLUSTER_TARGETS)
def test_without_a_context_make_says_so_in_one_line_and_builds_nothing(
    tmp_path: Path, tools: str, target: str, kubectl: str | None
) -> None:
    called = tmp_path / "pulumi-was-called"
    install(Path(tools), "pulumi", f"touch {called}")
    if kubectl:
        install(Path(tools), "kubectl", kubectl)
    (tmp_path / "kubeconfig").write_text("")
    project = project_copy(tmp_path, venv_built=False)
    result = make(target, tmp_path, tools, project, KUBECONFIG=str(tmp_path / "kubeconfig"))
    assert result.returncode != 0
    assert output_lines(result) == [NO_CONTEXT]
    assert nothing_built(project)
    assert not called.exists()


def test_unattended_on_the_local_backend_without_a_passphrase_make_says_so_in_one_line(
    tmp_path: Path, tools: str, recorded: Path
) -> None:
    project = project_copy(tmp_path, venv_built=False)
    result = make("up", tmp_path, tools, project, KUBECONFIG=str(tmp_path / "kubeconfig"))
    assert result.returncode != 0
    assert output_lines(result) == [NO_PASSPHRASE]
    assert nothing_built(project)
    assert not recorded.exists()


def test_outputs_reads_the_state_without_a_cluster_or_a_virtualenv(tmp_path: Path, tools: str, recorded: Path) -> None:
    project = project_copy(tmp_path, venv_built=False)
    passphrase = {"PULUMI_CONFIG_PASSPHRASE": "for-the-local-backend"}
    result = make("outputs", tmp_path, tools, project, KUBECONFIG="/nonexistent", **passphrase)
    assert result.returncode == 0, result.stderr
    assert [call.split(" args=")[1] for call in recorded.read_text().splitlines()] == [
        "stack output --json --stack dev"
    ]
    assert nothing_built(project)


def answering_pulumi(bin_dir: Path, record: Path, hostnames: list[str]) -> None:
    """A `pulumi` whose stack has these hostnames (`pulumi config get --json` prints value, objectValue, secret)."""
    document = json.dumps({"value": json.dumps(hostnames), "objectValue": hostnames, "secret": False})
    answer = f"case \"$*\" in 'config get hostnames'*) echo '{document}';; esac"
    install(bin_dir, "pulumi", f'echo "$*" >> {record}\n{answer}')


@pytest.mark.parametrize(
    ("hostnames", "examples"),
    [
        pytest.param(["image-registry.8-mega.local", "image-registry.8-mega.io"], True, id="lab"),
        pytest.param(["registry.example.com", "registry.corp.internal"], True, id="example-com"),
        pytest.param(["registry.corp.internal"], False, id="yours"),
    ],
)
def test_make_up_says_when_the_stack_serves_the_example_hostnames_and_goes_on(
    tmp_path: Path, tools: str, hostnames: list[str], examples: bool
) -> None:
    record = tmp_path / "pulumi-calls"
    answering_pulumi(Path(tools), record, hostnames)
    (tmp_path / "kubeconfig").write_text("current-context: lab\n")
    project = project_copy(tmp_path, venv_built=True)
    env = {"KUBECONFIG": str(tmp_path / "kubeconfig"), "PULUMI_CONFIG_PASSPHRASE": "for-the-local-backend"}
    result = make("up", tmp_path, tools, project, **env)
    assert result.returncode == 0, result.stderr
    notice = [line for line in result.stderr.splitlines() if line.startswith("make: ")]
    if examples:
        assert len(notice) == 2
        assert hostnames[0] in notice[0]
        assert "registry.corp.internal" not in notice[0]
        assert "pulumi config set --stack dev --path 'hostnames[0]' registry.example.com" in notice[1]
    else:
        assert notice == []
    # A notice only: pulumi up (which shows the hosts and asks) runs either way.
    assert record.read_text().splitlines()[-1] == "up --stack dev"


def test_make_renew_previews_then_applies_the_renewal_with_the_policy_pack(tmp_path: Path, tools: str) -> None:
    pulumi = FakePulumi(Path(tools))
    renewing = preview_documents.preview(*preview_documents.server_renewal_steps())
    pulumi.answer(full=renewing, targeted=renewing)
    (tmp_path / "kubeconfig").write_text("current-context: lab\n")
    project = project_copy(tmp_path, venv_built=True)
    (project / ".venv" / "bin").mkdir()
    (project / ".venv" / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    env = {"KUBECONFIG": str(tmp_path / "kubeconfig"), "PULUMI_ACCESS_TOKEN": "pul-0123", "STACK": "prod"}
    result = make("renew", tmp_path, tools, project, **env)
    assert result.returncode == 0, result.stderr
    targets = f"--target '{preview_documents.SERVER_CERT}' --target-dependents"
    assert pulumi.command_lines() == [
        "pulumi preview --stack prod --refresh --json --non-interactive",
        f"pulumi preview --stack prod --json --non-interactive {targets}",
        f"pulumi up --stack prod --yes --non-interactive --diff --policy-pack policy {targets}",
    ]
