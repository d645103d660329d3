"""Fixtures of the real-engine tests (marked `real_engine`): the toolchain's Pulumi CLI, language host and
providers against the toolchain's control plane (kube-apiserver with Pod Security admission, controllers,
scheduler, etcd, kwok's nodes), a fresh file backend for each test, and the dev stack converged once.

They never skip: a toolchain that cannot be built fails them (`harness.toolchain.ToolchainMissingError`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.control_plane import ControlPlane
from harness.pulumi_engine import PROJECT_DIR, Kubectl, PulumiCli, Stack, copy_project
from harness.toolchain import toolchain_bin

# What the dev stack adds to Pulumi.dev.yaml here: node trust, so that the DaemonSet converges too.
DEV_OVERRIDES = {"nodeTrust.enabled": "true"}

Deploy = Callable[..., Stack]


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    kubectl: Kubectl


@pytest.fixture(scope="session")
def toolchain() -> Path:
    return toolchain_bin()


@pytest.fixture(scope="session")
def control_plane(toolchain: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One control plane for the session; each stack deployed on it has a namespace of its own."""
    # A volume for each stack that keeps a claim (destroyed ones keep theirs too: Retain).
    with ControlPlane(tmp_path_factory.mktemp("control-plane"), toolchain, volumes=12) as kubeconfig:
        yield Cluster(kubeconfig, Kubectl(toolchain, kubeconfig))


def deployer(cli: PulumiCli, workspace: Path) -> Deploy:
    def deploy(
        name: str, config: dict[str, str] | None = None, *, source: Path = PROJECT_DIR, up: bool = True
    ) -> Stack:
        """A copy of the project (`source`), its stack `name` (from the stack file when there is one), the
        config set with `pulumi config set --path`, then `pulumi up`."""
        directory = copy_project(source, workspace / f"{source.name}-{name}")
        stack_file = source / f"Pulumi.{name}.yaml"
        if stack_file.exists():
            (directory / stack_file.name).write_text(stack_file.read_text())
        stack = Stack(cli, directory, name).init()
        stack.set_all(config or {})
        if up:
            stack.up()
        return stack

    return deploy


@pytest.fixture
def pulumi_cli(toolchain: Path, control_plane: Cluster, tmp_path: Path) -> PulumiCli:
    """The CLI with a fresh file backend (passphrase secrets) of this test's own."""
    return PulumiCli(toolchain, tmp_path / "pulumi", control_plane.kubeconfig)


@pytest.fixture
def deploy(pulumi_cli: PulumiCli, tmp_path: Path) -> Deploy:
    return deployer(pulumi_cli, tmp_path)


@pytest.fixture(scope="session")
def converged_dev_stack(toolchain: Path, control_plane: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """`pulumi up` of the dev stack (Pulumi.dev.yaml, with node trust on), done once for the session."""
    workspace = tmp_path_factory.mktemp("dev-stack")
    cli = PulumiCli(toolchain, workspace / "pulumi", control_plane.kubeconfig)
    return deployer(cli, workspace)("dev", DEV_OVERRIDES)


def readme_blocks(readme: Path, heading: str) -> list[str]:
    """The fenced ```sh blocks of a README's section (`heading`, a whole line such as "## Quick start", up to the
    next heading of its level or above), each as typed there."""
    lines = readme.read_text().splitlines()
    if heading not in lines:
        raise AssertionError(f"{readme.name} has no section {heading!r}")
    level = len(heading.split(" ", 1)[0])
    blocks: list[str] = []
    block: list[str] | None = None
    for line in lines[lines.index(heading) + 1 :]:
        if block is not None:
            if line.startswith("```"):
                blocks.append("\n".join(block) + "\n")
                block = None
            else:
                block.append(line)
        elif line == "```sh":
            block = []
        elif re.match(rf"#{{1,{level}}} ", line):
            break
    return blocks


def quick_start_pushed_image(readme: Path) -> str:
    """The repository and tag the README's quick start pushes (`docker push $host/<repository>:<tag>`): what
    examples/consumer runs by default."""
    pushed: list[str] = [
        image
        for block in readme_blocks(readme, "## Quick start")
        for image in re.findall(r"docker push \$host/(\S+)", block)
    ]
    assert len(pushed) == 1, f"expected one `docker push $host/…` in the quick start of {readme}, found {pushed}"
    return pushed[0]
