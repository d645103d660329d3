"""`make`'s Pulumi targets as a user meets them: the stack they work on (STACK, else the selected one; never one
they create or select); one line and nothing built when the CLI (or a recent enough one), a context in the
kubeconfig Pulumi reads, a passphrase, the stack or a default StorageClass is missing; `outputs` without a cluster;
`make up`'s notice on the example hostnames; `make renew`.

The CLI's stand-ins answer as its reference and the real CLI (v3.277.0) do (tests/fake_pulumi.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import preview_documents
from tests.fake_pulumi import FakePulumi
from tests.make_sandbox import (
    fake_kubectl,
    install,
    make,
    make_at_a_terminal,
    nothing_built,
    output_lines,
    path_without_pulumi,
    project_copy,
    recording_pulumi,
    storage_class,
)
from tools.example_hostnames import LAB_HOSTNAMES

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


def old_cli(version: str) -> str:
    return (
        f"make: Pulumi CLI {version} is older than v3.226.0, the oldest this project supports:"
        f" upgrade it ({PULUMI_INSTALL})"
    )


def no_stack_selected(target: str) -> str:
    return f"make: no stack selected: pulumi stack init NAME (or pulumi stack select NAME), or make {target} STACK=NAME"


def no_such_stack(target: str, stack: str) -> str:
    return (
        f"make: no stack named {stack} in this project on this backend: pulumi stack init {stack} creates it"
        f" (pulumi stack ls lists the ones there are), or make {target} STACK=NAME with one of them"
    )


def no_default_class(on_stack: str = "") -> str:
    return (
        "make: the cluster has no default StorageClass and storage.storageClass is not set: the data claim would"
        f" stay Pending; set it (pulumi config set{on_stack} --path storage.storageClass NAME; kubectl get"
        " storageclass lists them) or mark one default"
    )


def k3s_context(kubeconfig: Path, distro: Path) -> str:
    return (
        f"make: no Kubernetes context in {kubeconfig}, which Pulumi reads (KUBECONFIG, else ~/.kube/config);"
        f" this node's cluster has its own: export KUBECONFIG={distro} and run make again"
    )


# The targets that run the program or change the cluster; `outputs` only reads the state.
CLUSTER_TARGETS = ("up", "preview", "drift", "renew", "destroy")
# What each target has Pulumi do (its first word after `pulumi`), beside the preflight's questions.
OPERATION = {"up": "up", "preview": "preview", "drift": "preview", "destroy": "destroy", "outputs": "stack"}
PASSPHRASE = {"PULUMI_CONFIG_PASSPHRASE": "for-the-local-backend"}
# A stack of the user's own, as the README's quick start makes it; `dev` is the repository's lab stack.
MINE = {"hostnames": ["registry.corp.internal"], "storage": {"storageClass": "local-path"}}


@pytest.fixture
def tools(tmp_path: Path) -> str:
    return path_without_pulumi(tmp_path)


@pytest.fixture
def recorded(tmp_path: Path, tools: str) -> Path:
    return recording_pulumi(tmp_path, Path(tools))


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text("current-context: lab\n")
    return path


def run(
    target: str, tmp_path: Path, tools: str, *, venv_built: bool = True, **env: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """make TARGET in a copy of the project, with a kubeconfig that has a context and the passphrase."""
    project = project_copy(tmp_path, venv_built=venv_built)
    if venv_built:
        # make renew runs tools/renew.py with the virtualenv's interpreter.
        (project / ".venv" / "bin").mkdir()
        (project / ".venv" / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    settings = {"KUBECONFIG": str(tmp_path / "kubeconfig"), **PASSPHRASE, **env}
    return make(target, tmp_path, tools, project, **settings), project


def never_chose_a_stack(pulumi: FakePulumi, stacks: list[str], selected: str | None) -> None:
    """No stack created, selected or switched: no `pulumi stack init`/`select`; the project's stacks as they were."""
    assert not [call for call in pulumi.calls() if call[:2] in (["stack", "init"], ["stack", "select"])]
    assert pulumi.stacks() == stacks
    assert pulumi.selected() == selected


def operations(pulumi: FakePulumi, target: str) -> list[dict[str, Any]]:
    """The calls that do what the target is for (not the preflight's questions)."""
    word = OPERATION[target]
    return [
        record
        for record in pulumi.records()
        if record["argv"][0] == word and (word != "stack" or record["argv"][1] == "output")
    ]


@pytest.mark.parametrize("target", [*CLUSTER_TARGETS, "outputs"])
def test_without_the_cli_make_says_so_in_one_line_and_builds_nothing(tmp_path: Path, tools: str, target: str) -> None:
    project = project_copy(tmp_path, venv_built=False)
    result = make(target, tmp_path, tools, project)
    assert result.returncode != 0
    assert output_lines(result) == [MISSING_CLI]
    assert nothing_built(project)


@pytest.mark.parametrize("version", ["v3.100.0", "v3.225.1", "v2.999.999"])
@pytest.mark.parametrize("target", [*CLUSTER_TARGETS, "outputs"])
def test_with_a_cli_older_than_v3_226_make_says_so_in_one_line_and_builds_nothing(
    tmp_path: Path, tools: str, kubeconfig: Path, target: str, version: str
) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"mycluster": MINE}, selected="mycluster", version=version)
    result, project = run(target, tmp_path, tools, venv_built=False)
    assert result.returncode != 0
    assert output_lines(result) == [old_cli(version)]
    assert nothing_built(project)
    assert pulumi.calls() == [["version"]]


@pytest.mark.parametrize("version", ["v3.226.0", "v3.277.0", "v4.0.0"])
def test_a_cli_of_v3_226_or_later_is_recent_enough(tmp_path: Path, tools: str, kubeconfig: Path, version: str) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"mycluster": MINE}, selected="mycluster", version=version)
    result, _ = run("preview", tmp_path, tools)
    assert result.returncode == 0, result.stderr
    assert [record["stack"] for record in operations(pulumi, "preview")] == ["mycluster"]


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


@pytest.fixture
def k3s_node(tmp_path: Path, tools: str) -> Path:
    """A k3s node: its kubeconfig where k3s writes it, none in ~/.kube; k3s's kubectl finds its own."""
    distro = tmp_path / "etc-rancher-k3s" / "k3s.yaml"
    distro.parent.mkdir()
    distro.write_text("current-context: default\n")
    fake_kubectl(Path(tools), {"default": [storage_class("local-path", default=True)]}, distro=distro)
    return distro


@pytest.mark.parametrize("kubectl", [True, False], ids=["k3s-kubectl", "no-kubectl"])
@pytest.mark.parametrize("target", CLUSTER_TARGETS)
def test_on_a_k3s_node_make_says_to_export_its_kubeconfig_which_pulumi_does_not_find(
    tmp_path: Path, tools: str, k3s_node: Path, target: str, kubectl: bool
) -> None:
    # k3s's kubectl has a context (its node's kubeconfig); the Pulumi kubernetes provider reads only
    # KUBECONFIG or ~/.kube/config, and there is neither.
    if not kubectl:
        (Path(tools) / "kubectl").unlink()
    pulumi = FakePulumi(Path(tools), stacks={"mycluster": MINE}, selected="mycluster")
    project = project_copy(tmp_path, venv_built=False)
    result = make(target, tmp_path, tools, project, DISTRO_KUBECONFIGS=str(k3s_node), **PASSPHRASE)
    assert result.returncode != 0
    assert output_lines(result) == [k3s_context(tmp_path / ".kube" / "config", k3s_node)]
    assert nothing_built(project)
    assert pulumi.calls() == []


def test_on_a_k3s_node_make_up_goes_on_once_its_kubeconfig_is_exported(
    tmp_path: Path, tools: str, k3s_node: Path
) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"mycluster": MINE}, selected="mycluster")
    result, _ = run("up", tmp_path, tools, DISTRO_KUBECONFIGS=str(k3s_node), KUBECONFIG=str(k3s_node))
    assert result.returncode == 0, result.stderr
    assert [record["stack"] for record in operations(pulumi, "up")] == ["mycluster"]


def test_unattended_on_the_local_backend_without_a_passphrase_make_says_so_in_one_line(
    tmp_path: Path, tools: str, recorded: Path
) -> None:
    project = project_copy(tmp_path, venv_built=False)
    result = make("up", tmp_path, tools, project, KUBECONFIG=str(tmp_path / "kubeconfig"))
    assert result.returncode != 0
    assert output_lines(result) == [NO_PASSPHRASE]
    assert nothing_built(project)
    assert not recorded.exists()


@pytest.mark.parametrize("target", ["up", "preview"])
def test_make_up_and_preview_work_on_the_stack_the_user_selected(
    tmp_path: Path, tools: str, kubeconfig: Path, target: str
) -> None:
    # The README's quick start: pulumi stack init mycluster, pulumi config set …, make up.
    pulumi = FakePulumi(Path(tools), stacks={"dev": {}, "mycluster": MINE}, selected="mycluster")
    result, _ = run(target, tmp_path, tools)
    assert result.returncode == 0, result.stderr
    (operation,) = operations(pulumi, target)
    assert operation["stack"] == "mycluster"
    # The selected stack is Pulumi's own choice: make names none.
    assert "--stack" not in operation["argv"]
    assert all(record["stack"] in ("mycluster", None) for record in pulumi.records())
    never_chose_a_stack(pulumi, ["dev", "mycluster"], "mycluster")


@pytest.mark.parametrize("target", [*CLUSTER_TARGETS, "outputs"])
def test_with_no_stack_selected_make_says_so_in_one_line_creates_none_and_builds_nothing(
    tmp_path: Path, tools: str, kubeconfig: Path, target: str
) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"dev": {}}, selected=None)
    result, project = run(target, tmp_path, tools, venv_built=False)
    assert result.returncode != 0
    assert output_lines(result) == [no_stack_selected(target)]
    assert nothing_built(project)
    never_chose_a_stack(pulumi, ["dev"], None)
    assert all(record["stack"] is None for record in pulumi.records())


def test_in_a_terminal_with_no_stack_selected_pulumi_never_prompts_for_one(
    tmp_path: Path, tools: str, kubeconfig: Path
) -> None:
    # In a terminal, `pulumi stack` with no stack selected offers to create one (and waits for an answer).
    pulumi = FakePulumi(Path(tools), stacks={"dev": {}}, selected=None)
    project = project_copy(tmp_path, venv_built=False)
    terminal, other_end = os.openpty()
    try:
        result = make_at_a_terminal(terminal, "up", tmp_path, tools, project, KUBECONFIG=str(kubeconfig))
    finally:
        os.close(terminal)
        os.close(other_end)
    assert output_lines(result) == [no_stack_selected("up")]
    assert not [record for record in pulumi.records() if record.get("prompted")]
    never_chose_a_stack(pulumi, ["dev"], None)


@pytest.mark.parametrize("target", [*CLUSTER_TARGETS, "outputs"])
def test_a_stack_that_does_not_exist_is_one_line_and_is_not_created(
    tmp_path: Path, tools: str, kubeconfig: Path, target: str
) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"dev": {}, "mycluster": MINE}, selected="mycluster")
    result, project = run(target, tmp_path, tools, venv_built=False, STACK="mycluser")
    assert result.returncode != 0
    assert output_lines(result) == [no_such_stack(target, "mycluser")]
    assert nothing_built(project)
    never_chose_a_stack(pulumi, ["dev", "mycluster"], "mycluster")


@pytest.mark.parametrize("target", ["up", "preview", "drift", "destroy", "outputs"])
def test_stack_given_works_on_that_stack_and_leaves_the_selection_alone(
    tmp_path: Path, tools: str, kubeconfig: Path, target: str
) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"prod": MINE, "mycluster": MINE}, selected="mycluster")
    result, _ = run(target, tmp_path, tools, STACK="prod")
    assert result.returncode == 0, result.stderr
    (operation,) = operations(pulumi, target)
    assert operation["stack"] == "prod"
    assert operation["argv"][operation["argv"].index("--stack") + 1] == "prod"
    never_chose_a_stack(pulumi, ["mycluster", "prod"], "mycluster")


def test_outputs_reads_the_state_without_a_cluster_or_a_virtualenv(tmp_path: Path, tools: str) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"mycluster": MINE}, selected="mycluster")
    project = project_copy(tmp_path, venv_built=False)
    result = make("outputs", tmp_path, tools, project, KUBECONFIG="/nonexistent", **PASSPHRASE)
    assert result.returncode == 0, result.stderr
    ((stack, argv),) = [(record["stack"], record["argv"]) for record in operations(pulumi, "outputs")]
    assert (stack, argv) == ("mycluster", ["stack", "output", "--json"])
    assert nothing_built(project)


# Where the blobs live, and whether the claim the stack creates needs the cluster's default StorageClass.
STORAGE = [
    pytest.param(None, True, id="unset"),
    pytest.param({"size": "50Gi"}, True, id="pvc-by-default"),
    pytest.param({"type": "pvc", "accessMode": "ReadWriteOncePod"}, True, id="pvc"),
    pytest.param({"type": "pvc", "size": {"secure": "50Gi"}}, True, id="pvc-with-a-secret-inside"),
    pytest.param({"storageClass": "local-path"}, False, id="storage-class"),
    pytest.param({"existingClaim": "registry-data"}, False, id="existing-claim"),
    pytest.param({"type": "emptyDir"}, False, id="empty-dir"),
    pytest.param(
        {"type": "s3", "bucket": "images", "accessKey": {"secure": "AKIA0"}, "secretKey": {"secure": "s3cr3t"}},
        False,
        id="s3",
    ),
]


def a_stack_with(storage: dict[str, Any] | None) -> dict[str, Any]:
    return {"hostnames": ["registry.corp.internal"], **({"storage": storage} if storage is not None else {})}


@pytest.mark.usefixtures("kubeconfig")
@pytest.mark.parametrize(("storage", "needs_a_default"), STORAGE)
@pytest.mark.parametrize("target", ["up", "preview"])
def test_on_a_cluster_without_a_default_storage_class_make_says_so_when_the_claim_needs_one(
    tmp_path: Path, tools: str, target: str, storage: dict[str, Any] | None, needs_a_default: bool
) -> None:
    # A new EKS cluster (1.30+): a StorageClass, none the default.
    kubectl = fake_kubectl(Path(tools), {"lab": [storage_class("gp2"), storage_class("local-path")]})
    pulumi = FakePulumi(Path(tools), stacks={"mycluster": a_stack_with(storage)}, selected="mycluster")
    result, project = run(target, tmp_path, tools, venv_built=not needs_a_default)
    if needs_a_default:
        assert result.returncode != 0
        assert output_lines(result) == [no_default_class()]
        assert nothing_built(project)
        assert operations(pulumi, target) == []
    else:
        assert result.returncode == 0, result.stderr
        assert len(operations(pulumi, target)) == 1
    # Asked of the kubeconfig Pulumi reads.
    listings = [json.loads(line) for line in kubectl.read_text().splitlines()]
    assert {call["KUBECONFIG"] for call in listings} == {str(tmp_path / "kubeconfig")}


@pytest.mark.parametrize("beta", [False, True], ids=["default", "beta-default"])
def test_a_default_storage_class_is_enough(tmp_path: Path, tools: str, kubeconfig: Path, beta: bool) -> None:
    classes = [storage_class("gp2"), storage_class("local-path", default=True, beta=beta)]
    fake_kubectl(Path(tools), {"lab": classes})
    pulumi = FakePulumi(Path(tools), stacks={"mycluster": a_stack_with(None)}, selected="mycluster")
    result, _ = run("up", tmp_path, tools)
    assert result.returncode == 0, result.stderr
    assert [record["stack"] for record in operations(pulumi, "up")] == ["mycluster"]


def test_the_storage_class_check_asks_the_cluster_of_the_kubeconfig_pulumi_reads(
    tmp_path: Path, tools: str, k3s_node: Path
) -> None:
    # ~/.kube/config names the cluster Pulumi will deploy to; k3s's kubectl, with KUBECONFIG unset, would ask
    # its node's cluster instead (which has a default class).
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("current-context: lab\n")
    fake_kubectl(Path(tools), {"lab": [], "default": [storage_class("local-path", default=True)]}, distro=k3s_node)
    FakePulumi(Path(tools), stacks={"mycluster": a_stack_with(None)}, selected="mycluster")
    project = project_copy(tmp_path, venv_built=False)
    result = make("up", tmp_path, tools, project, DISTRO_KUBECONFIGS=str(k3s_node), **PASSPHRASE)
    assert output_lines(result) == [no_default_class()]
    assert nothing_built(project)


def test_the_storage_class_message_names_the_stack_given(tmp_path: Path, tools: str, kubeconfig: Path) -> None:
    fake_kubectl(Path(tools), {"lab": []})
    FakePulumi(Path(tools), stacks={"prod": a_stack_with(None), "mycluster": MINE}, selected="mycluster")
    result, _ = run("up", tmp_path, tools, venv_built=False, STACK="prod")
    assert output_lines(result) == [no_default_class(" --stack prod")]


def test_the_storage_class_check_asks_the_context_the_stack_configures(
    tmp_path: Path, tools: str, kubeconfig: Path
) -> None:
    # kubernetes:context: the provider's cluster, not the kubeconfig's current one.
    fake_kubectl(Path(tools), {"lab": [], "prod-cluster": [storage_class("gp3", default=True)]})
    stack = {**a_stack_with(None), "kubernetes:context": "prod-cluster"}
    pulumi = FakePulumi(Path(tools), stacks={"mycluster": stack}, selected="mycluster")
    result, _ = run("up", tmp_path, tools)
    assert result.returncode == 0, result.stderr
    assert len(operations(pulumi, "up")) == 1


@pytest.mark.parametrize("target", ["drift", "renew", "destroy", "outputs"])
def test_only_up_and_preview_look_for_a_default_storage_class(
    tmp_path: Path, tools: str, kubeconfig: Path, target: str
) -> None:
    kubectl = fake_kubectl(Path(tools), {"lab": []})
    FakePulumi(Path(tools), stacks={"mycluster": a_stack_with(None)}, selected="mycluster")
    run(target, tmp_path, tools)
    listings = [json.loads(line)["argv"] for line in kubectl.read_text().splitlines()] if kubectl.exists() else []
    assert not [argv for argv in listings if argv[:2] == ["get", "storageclass"]]


def test_without_kubectl_the_storage_class_check_is_skipped(tmp_path: Path, tools: str, kubeconfig: Path) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"mycluster": a_stack_with(None)}, selected="mycluster")
    result, _ = run("up", tmp_path, tools)
    assert result.returncode == 0, result.stderr
    assert len(operations(pulumi, "up")) == 1


@pytest.mark.parametrize(
    ("hostnames", "examples"),
    [
        pytest.param(sorted(LAB_HOSTNAMES), True, id="lab"),
        pytest.param(["registry.example.com", "registry.corp.internal"], True, id="example-com"),
        pytest.param(["registry.corp.internal"], False, id="yours"),
    ],
)
def test_make_up_says_when_the_stack_serves_the_example_hostnames_and_goes_on(
    tmp_path: Path, tools: str, kubeconfig: Path, hostnames: list[str], examples: bool
) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"dev": {"hostnames": hostnames}})
    result, _ = run("up", tmp_path, tools, STACK="dev")
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
    assert pulumi.calls()[-1] == ["up", "--stack", "dev"]


def test_make_up_reads_the_hostnames_of_the_selected_stack(tmp_path: Path, tools: str, kubeconfig: Path) -> None:
    lab = sorted(LAB_HOSTNAMES)
    pulumi = FakePulumi(Path(tools), stacks={"dev": {"hostnames": lab}, "mycluster": MINE}, selected="mycluster")
    result, _ = run("up", tmp_path, tools)
    assert result.returncode == 0, result.stderr
    # mycluster serves the user's own names: no notice about dev's lab names.
    assert [line for line in result.stderr.splitlines() if line.startswith("make: ")] == []
    reads = [record for record in pulumi.records() if record["argv"][:3] == ["config", "get", "hostnames"]]
    assert [record["stack"] for record in reads] == ["mycluster"]


def test_make_renew_previews_then_applies_the_renewal_with_the_policy_pack(
    tmp_path: Path, tools: str, kubeconfig: Path
) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"prod": {}})
    renewing = preview_documents.preview(*preview_documents.server_renewal_steps())
    pulumi.answer(full=renewing, targeted=renewing)
    result, _ = run("renew", tmp_path, tools, PULUMI_ACCESS_TOKEN="pul-0123", STACK="prod")
    assert result.returncode == 0, result.stderr
    targets = f"--target '{preview_documents.SERVER_CERT}' --target-dependents"
    assert pulumi.command_lines() == [
        # What make asks before it builds anything: read-only.
        "pulumi version",
        "pulumi stack --show-name --fully-qualify-stack-names --stack prod --non-interactive",
        "pulumi preview --stack prod --refresh --json --non-interactive",
        f"pulumi preview --stack prod --json --non-interactive {targets}",
        f"pulumi up --stack prod --yes --non-interactive --diff --policy-pack policy {targets}",
    ]


def test_make_renew_renews_the_selected_stack(tmp_path: Path, tools: str, kubeconfig: Path) -> None:
    pulumi = FakePulumi(Path(tools), stacks={"dev": {}, "mycluster": MINE}, selected="mycluster")
    result, _ = run("renew", tmp_path, tools)
    assert result.returncode == 0, result.stderr
    assert [record["stack"] for record in pulumi.records() if record["argv"][0] == "preview"] == ["mycluster"]
    never_chose_a_stack(pulumi, ["dev", "mycluster"], "mycluster")


def test_make_help_says_which_stack_and_that_it_never_creates_one(tmp_path: Path, tools: str) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=project_copy(tmp_path, venv_built=False),
        env={"PATH": tools, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "pulumi up on the selected stack (pulumi stack --show-name says which)" in result.stdout
    assert "make never creates or selects a stack" in result.stdout
    assert "select or create" not in result.stdout
