"""The user's door: pinned requirements, and `make up` stopping early with one clear line."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
PULUMI_INSTALL = "https://www.pulumi.com/docs/iac/download-install/"


def test_runtime_requirements_are_pinned() -> None:
    lines = [
        line
        for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    names = {re.split(r"==", line)[0] for line in lines}
    assert names == {"pulumi", "pulumi-kubernetes", "pulumi-tls", "pulumi-random", "bcrypt"}
    assert all(re.fullmatch(r"[a-z-]+==[0-9.]+", line) for line in lines), lines


def make(target: str, tmp_path: Path, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=PROJECT_DIR,
        env={"PATH": path, "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tools_without_pulumi(tmp_path: Path) -> str:
    """A PATH with what make needs but neither pulumi nor kubectl."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "bash", "sh", "grep", "python3", "touch", "env"):
        found = subprocess.run(
            ["bash", "-c", f"command -v {tool}"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


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
    result = make("up", tmp_path, tools_without_pulumi, KUBECONFIG=str(tmp_path / "no-such-kubeconfig"))
    assert result.returncode != 0
    messages = [line for line in result.stderr.splitlines() if line.startswith("make: ") and "***" not in line]
    assert len(messages) == 1, result.stderr
    assert messages[0].startswith("make: no Kubernetes context")
    assert not called.exists()


def test_ci_installs_the_end_to_end_tools_and_runs_make_test() -> None:
    script = (PROJECT_DIR / ".ci" / "run").read_text()
    for package in ("docker-registry", "skopeo", "busybox-static", "iptables"):
        assert package in script
    assert script.rstrip().endswith("make test")
    assert os.access(PROJECT_DIR / ".ci" / "run", os.X_OK)
