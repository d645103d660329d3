"""The Makefile run as a user runs it, in a copy of the project, with stand-ins for the Pulumi CLI and kubectl."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def make(
    target: str, tmp_path: Path, path: str, project: Path = PROJECT_DIR, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=project,
        env={"PATH": path, "HOME": str(tmp_path), **env},
        # Unattended, as in CI: no terminal to ask on.
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def output_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Every line a user sees, stdout and stderr."""
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def path_without_pulumi(tmp_path: Path) -> str:
    """A PATH with what make needs but neither pulumi nor kubectl."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "bash", "sh", "grep", "touch", "env"):
        found = subprocess.run(
            ["bash", "-c", f"command -v {tool}"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found:
            (bin_dir / tool).symlink_to(found)
    # The interpreter itself: a version manager's shim needs what this PATH leaves out.
    (bin_dir / "python3").symlink_to(Path(sys.executable).resolve())
    return str(bin_dir)


def install(bin_dir: Path, name: str, script: str) -> None:
    """A shell script on the PATH, standing in for a tool."""
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)


def project_copy(tmp_path: Path, *, venv_built: bool) -> Path:
    """The files `make up` reads, in a directory of their own."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Makefile", "Pulumi.yaml", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(PROJECT_DIR / name, project / name)
    shutil.copytree(PROJECT_DIR / "tools", project / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "policy").mkdir()
    shutil.copy(PROJECT_DIR / "policy" / "requirements.txt", project / "policy" / "requirements.txt")
    if venv_built:
        for venv in (project / ".venv" / ".runtime", project / "policy" / "venv" / ".installed"):
            venv.parent.mkdir(parents=True)
            venv.touch()
    return project


def nothing_built(project: Path) -> bool:
    return not (project / ".venv").exists() and not (project / "policy" / "venv").exists()


def recording_pulumi(tmp_path: Path, bin_dir: Path) -> Path:
    """A `pulumi` that records the backend it was given and its arguments, and a kubeconfig with a context."""
    record = tmp_path / "pulumi-calls"
    install(bin_dir, "pulumi", f'echo "backend=${{PULUMI_BACKEND_URL:-}} args=$*" >> {record}')
    (tmp_path / "kubeconfig").write_text("current-context: lab\n")
    return record
