"""The README's quick start as a user types it, then examples/consumer as its README says: on the registry's backend
(a StackReference) and on another backend with another passphrase (the outputs copied into its config).

The commands are the READMEs' own ```sh blocks, read at run time: a README that drifts from what works fails here.
Only placeholders are filled in: `<this repository>` (the work tree as it would be committed, as a git repository),
`<a password>`, and the consumer's `<registry backend URL>` and `<registry passphrase file>`. Each block runs through
bash, stopping at the first line that fails as a user would (-e, pipefail), with what the README's Tests section
gives a user: the toolchain's CLI, language host, providers and kubectl on PATH, KUBECONFIG, and
PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true; plus a file backend (PULUMI_BACKEND_URL, which make passes on)
and its PULUMI_CONFIG_PASSPHRASE (harness.pulumi_engine.PulumiCli's environment, whose PULUMI_SKIP_CONFIRMATIONS
answers the "yes" of `pulumi up`, `destroy` and `stack rm`). The virtualenvs come from PyPI, as on a user's
machine: make builds the registry's and the policy pack's, the consumer README's own block the consumer's.

The quick start keeps the defaults, which claim cluster-wide names (the namespaces kube-infra,
image-registry-node-trust and the consumer's apps) that the session's dev stack and consumer test hold on the
shared control plane: it runs on a control plane of its own, a user's cluster with no registry on it yet.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.control_plane import ControlPlane
from harness.pulumi_engine import PROJECT_DIR, Kubectl, PulumiCli, Result, Stack
from tests.real_engine import Cluster, quick_start_pushed_image, readme_blocks

pytestmark = pytest.mark.real_engine

README = PROJECT_DIR / "README.md"
CONSUMER_README = PROJECT_DIR / "examples" / "consumer" / "README.md"
QUICK_START = "## Quick start"
VIRTUALENV = "## Its virtualenv"
SAME_BACKEND = "## On the registry's backend: a StackReference"
OTHER_BACKEND = "## On another backend: the outputs copied into its config"
REMOVAL = "## Removing it"
ALICE_PASSWORD = "quick-start-alice-7f3e"
# The consumer's own backend, for the second way: another folder, another passphrase, the same user (PULUMI_HOME).
OTHER_STATE, OTHER_PASSPHRASE = "other-team-state", "the-other-teams-passphrase"
PLACEHOLDER = re.compile(r"<[A-Za-z][^<>]*>")
# Two venvs from PyPI, a preview with the policy pack, then pulumi up: generous, on two shared cores.
BLOCK_TIMEOUT = 2400


@dataclasses.dataclass(frozen=True)
class QuickStart:
    cli: PulumiCli  # the registry's backend and passphrase, as the block ran with them
    clone: Path
    stack: Stack
    output: str = dataclasses.field(repr=False)  # everything the block printed (also in quick-start.log)


@pytest.fixture(scope="module")
def cluster(toolchain: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of the user's own (one volume for the data claim, a default StorageClass)."""
    with ControlPlane(tmp_path_factory.mktemp("quick-start-cluster"), toolchain, volumes=2) as kubeconfig:
        yield Cluster(kubeconfig, Kubectl(toolchain, kubeconfig))


@pytest.fixture(scope="module")
def quick_start(toolchain: Path, cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> QuickStart:
    workspace = tmp_path_factory.mktemp("quick-start")
    cli = PulumiCli(toolchain, workspace / "pulumi", cluster.kubeconfig)
    repository = committed_work_tree(workspace / "repository")
    block = typed(quick_start_block(), {"<this repository>": str(repository), "<a password>": ALICE_PASSWORD})
    result = run_typed(cli, block, workspace, timeout=BLOCK_TIMEOUT)
    (workspace / "quick-start.log").write_text(result.output)
    clone = workspace / "image-registry"
    assert clone.is_dir(), "the block clones into image-registry"
    return QuickStart(cli, clone, Stack(cli, clone, "mycluster"), result.output)


@pytest.fixture(scope="module")
def consumer(quick_start: QuickStart) -> Path:
    """examples/consumer in the clone, its virtualenv made as its README says."""
    directory = quick_start.clone / "examples" / "consumer"
    run_typed(quick_start.cli, typed(consumer_block(VIRTUALENV), {}), directory)
    return directory


def quick_start_block() -> str:
    """The Quick start's ```sh block that starts with `git clone`."""
    blocks = [block for block in readme_blocks(README, QUICK_START) if block.startswith("git clone ")]
    assert blocks, f"README.md's {QUICK_START!r} has no ```sh block that starts with `git clone`"
    return blocks[0]


def consumer_block(heading: str) -> str:
    (block,) = readme_blocks(CONSUMER_README, heading)
    return block


def typed(block: str, placeholders: dict[str, str]) -> str:
    """`block` with its placeholders filled in, and nothing else changed (comments may keep theirs)."""
    for placeholder, value in placeholders.items():
        assert placeholder in block, f"the block no longer has {placeholder}:\n{block}"
        assert re.fullmatch(r"[\w./:+-]+", value), f"{value!r} would need quoting"
        block = block.replace(placeholder, value)
    unknown = [found for line in block.splitlines() for found in PLACEHOLDER.findall(line.split("#", 1)[0])]
    assert not unknown, f"placeholders this test does not fill in: {unknown}"
    return block


def run_typed(cli: PulumiCli, block: str, cwd: Path, *, timeout: float = 900) -> Result:
    """The block as one bash session (its `cd` carries over), stopping at the first line that fails; -x shows each
    command in the output of a failure."""
    return cli.run(["bash", "-e", "-o", "pipefail", "-x", "-c", block], cwd, timeout=timeout)


def committed_work_tree(destination: Path) -> Path:
    """The work tree as a commit of it would hold it (tracked and new files, ignored ones left out), as a git
    repository to clone: what `<this repository>` stands for."""
    listed = subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = PROJECT_DIR / name
        if source.is_file():  # a tracked file deleted in the work tree is not in the commit
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git = ["git", "-C", str(destination), "-c", "user.name=Quick Start", "-c", "user.email=quick-start@example.com"]
    subprocess.run(["git", "-c", "init.defaultBranch=main", "init", "-q", str(destination)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "the work tree"], check=True)
    return destination


def set_in_block(block: str, path: str) -> str:
    """The value the block sets for a config path (`pulumi config set --path 'PATH' VALUE`)."""
    found = re.search(rf"pulumi config set --path '{re.escape(path)}' (\S+)", block)
    assert found, f"the block sets no {path}"
    return found.group(1)


def test_the_quick_start_as_typed_deploys_the_registry(quick_start: QuickStart, cluster: Cluster) -> None:
    # make works on the stack the block created and selected (no STACK=), and its preview runs the policy pack.
    made = quick_start.output
    assert "Previewing update (mycluster)" in made, made[-3000:]
    assert "Updating (mycluster)" in made, made[-3000:]
    assert re.search(r"Policy Packs run:\n +Name +Version\n +image-registry\|local\|policy +\d", made), made[-3000:]

    block = quick_start_block()
    outputs = quick_start.stack.outputs()
    assert outputs["registryHost"] == set_in_block(block, "hostnames[0]")
    assert outputs["namespace"] == "kube-infra"  # the default: the block sets none
    assert outputs["username"] == set_in_block(block, "users[0].name")
    assert outputs["password"] == outputs["pullDockerConfigJson"] == "[secret]"
    # alice's password is in the stack file only encrypted.
    stack_file = yaml.safe_load((quick_start.clone / "Pulumi.mycluster.yaml").read_text())
    (alice,) = [user for user in stack_file["config"]["image-registry:users"] if user["name"] == "alice"]
    assert set(alice["password"]) == {"secure"}

    kubectl = cluster.kubectl
    deployment = kubectl.get("deployment", "image-registry", "-n", "kube-infra")
    assert deployment["status"].get("readyReplicas") == 1
    assert kubectl.get("pvc", "image-registry-data", "-n", "kube-infra")["status"]["phase"] == "Bound"
    # Node trust, as the block turns it on: a pod on each of the two nodes, Ready.
    daemon_sets = kubectl.get("daemonset", "-A", "-l", "app.kubernetes.io/part-of=image-registry")["items"]
    assert [item["status"].get("numberReady") for item in daemon_sets] == [2]


def consumer_runs(cluster: Cluster, image: str, credentials: str) -> None:
    """The consumer's Deployment available in `apps` with `image`, pulling with a Secret there that holds
    `credentials`."""
    (deployment,) = cluster.kubectl.get("deployment", "-n", "apps")["items"]
    assert deployment["status"].get("availableReplicas") == 1
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == image
    (pull,) = pod["imagePullSecrets"]
    secret = cluster.kubectl.get("secret", pull["name"], "-n", "apps")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert json.loads(base64.b64decode(secret["data"][".dockerconfigjson"])) == json.loads(credentials)


def test_the_consumer_runs_as_its_readme_says_on_either_backend(
    quick_start: QuickStart, consumer: Path, cluster: Cluster
) -> None:
    registry = quick_start.stack.outputs(show_secrets=True)
    image = f"{registry['registryHost']}/{quick_start_pushed_image(README)}"

    # On the registry's backend, with its passphrase: the StackReference.
    run_typed(quick_start.cli, typed(consumer_block(SAME_BACKEND), {}), consumer)
    consumer_runs(cluster, image, registry["pullDockerConfigJson"])
    run_typed(quick_start.cli, typed(consumer_block(REMOVAL), {}), consumer)
    assert not cluster.kubectl.exists("namespace", "apps")
    assert not (consumer / "Pulumi.mycluster.yaml").exists()

    # On another backend, with another passphrase: the outputs copied into the consumer's config.
    other = dataclasses.replace(quick_start.cli, state=OTHER_STATE, passphrase=OTHER_PASSPHRASE)
    passphrase_file = consumer.parent / "registry-passphrase"
    passphrase_file.write_text(quick_start.cli.passphrase)
    passphrase_file.chmod(0o600)
    registry_side = {
        "<registry backend URL>": f"file://{quick_start.cli.backend}",
        "<registry passphrase file>": str(passphrase_file),
    }
    run_typed(other, typed(consumer_block(OTHER_BACKEND), registry_side), consumer)
    consumer_runs(cluster, image, registry["pullDockerConfigJson"])
    state = Stack(other, consumer, "mycluster")
    assert not [item for item in state.resources() if item["type"] == "pulumi:pulumi:StackReference"]
    config = yaml.safe_load((consumer / "Pulumi.mycluster.yaml").read_text())["config"]
    assert set(config["image-registry-consumer:pullDockerConfigJson"]) == {"secure"}
    assert config["image-registry-consumer:registryHost"] == registry["registryHost"]


def test_undecryptable_reference_falls_back_on_config_or_names_both_ways(
    quick_start: QuickStart, consumer: Path
) -> None:
    registry = quick_start.stack.outputs(show_secrets=True)
    pull_auths = json.loads(registry["pullDockerConfigJson"])["auths"].values()
    credentials = [
        registry["password"],
        *(auth[key] for auth in pull_auths for key in ("auth", "password") if key in auth),
    ]
    both_ways = ("pulumi config set registryStack", "pullDockerConfigJson --show-secrets | pulumi config set --secret")

    # The registry's backend, but another passphrase: the engine elides the secret outputs.
    elided = Stack(dataclasses.replace(quick_start.cli, passphrase=OTHER_PASSPHRASE), consumer, "elided").init()
    elided.pulumi("config", "set", "registryStack", "organization/image-registry/mycluster")
    preview = elided.preview(check=False)
    assert preview.returncode != 0
    assert "eliding undecryptable secrets for stack reference 'organization/image-registry/mycluster'" in preview.output
    assert (
        "the registry stack organization/image-registry/mycluster has its pullDockerConfigJson encrypted with"
        " another passphrase or secrets provider than this stack's, so Pulumi elides it here" in preview.output
    )
    # The same stack with the credentials copied into its secret config: they stand in for the elided output.
    elided.pulumi("config", "set", "--secret", "pullDockerConfigJson", stdin=registry["pullDockerConfigJson"])
    assert elided.preview().returncode == 0
    # Another backend, and nothing set.
    unset = Stack(dataclasses.replace(quick_start.cli, state=OTHER_STATE), consumer, "unset").init()
    refused = unset.preview(check=False)
    assert refused.returncode != 0
    assert "no registry to pull from: registryHost and pullDockerConfigJson not set in this stack's config" in (
        refused.output
    )
    for result in (preview, refused):
        assert all(way in result.output for way in both_ways), result.output
        assert not [secret for secret in credentials if secret in result.output]
        assert "Traceback" not in result.output
