"""The real engine's wall time on the dev stack: `pulumi up` from an empty stack, and a `pulumi preview` with
nothing to do, with the toolchain's CLI and providers against its control plane (one per run: a fresh cluster
and a fresh backend, as a first deployment meets them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import Figure
from harness.control_plane import ControlPlane
from harness.pulumi_engine import PROJECT_DIR, PulumiCli, Stack, copy_project
from harness.toolchain import toolchain_bin


@dataclass
class EngineTimes:
    up: Figure = field(default_factory=lambda: Figure("s"))
    preview: Figure = field(default_factory=lambda: Figure("s"))


def _timed(action: Stack, *arguments: str) -> float:
    start = time.monotonic()
    action.pulumi(*arguments)
    return time.monotonic() - start


def measure(runs: int, workspace: Path) -> EngineTimes:
    bin_dir = toolchain_bin()
    times = EngineTimes()
    for run in range(runs):
        directory = workspace / f"engine-{run}"
        with ControlPlane(directory / "control-plane", bin_dir) as kubeconfig:
            project = copy_project(PROJECT_DIR, directory / "project")
            (project / "Pulumi.dev.yaml").write_text((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
            stack = Stack(PulumiCli(bin_dir, directory / "pulumi", kubeconfig), project, "dev").init()
            times.up.add(_timed(stack, "up", "--yes", "--skip-preview"))
            times.preview.add(_timed(stack, "preview", "--expect-no-changes"))
    return times


def engine_table(times: EngineTimes) -> list[str]:
    return [
        "The dev stack (Pulumi.dev.yaml) with the toolchain's Pulumi CLI and providers against its control plane "
        "(kwok's nodes make the pods Ready); wall seconds, a fresh control plane and file backend each run.",
        "",
        "| command | seconds |",
        "| --- | ---: |",
        f"| `pulumi up --yes --skip-preview` from an empty stack | {times.up.text(1)} |",
        f"| `pulumi preview --expect-no-changes`, nothing to do | {times.preview.text(1)} |",
    ]
