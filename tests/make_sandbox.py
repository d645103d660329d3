"""The Makefile run as a user runs it, in a copy of the project, with stand-ins for the Pulumi CLI and kubectl."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent


def make(
    target: str, tmp_path: Path, path: str, project: Path = PROJECT_DIR, **env: str
) -> subprocess.CompletedProcess[str]:
    # Unattended, as in CI: no terminal to ask on.
    return _make(target, tmp_path, path, project, stdin=subprocess.DEVNULL, env=env)


def make_at_a_terminal(
    terminal: int, target: str, tmp_path: Path, path: str, project: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """make with a terminal (a pty's file descriptor) on its stdin, as a user types it."""
    return _make(target, tmp_path, path, project, stdin=terminal, env=env)


def _make(
    target: str, tmp_path: Path, path: str, project: Path, *, stdin: int, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=project,
        # No k3s or RKE2 kubeconfig of this machine's (/etc/rancher/…) unless a test lays one out.
        env={"PATH": path, "HOME": str(tmp_path), "DISTRO_KUBECONFIGS": "", **env},
        stdin=stdin,
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
    """A `pulumi` that records the backend it was given and its arguments, and a kubeconfig with a context.

    It answers what make asks before it builds anything as the CLI (v3.277.0) does with the stack `dev` selected:
    `pulumi version`, `pulumi stack --show-name --fully-qualify-stack-names` (tests/fake_pulumi.py is the whole
    stand-in)."""
    record = tmp_path / "pulumi-calls"
    answers = (
        "case \"$*\" in version) echo v3.277.0;; 'stack --show-name'*) echo organization/image-registry/dev;; esac"
    )
    install(bin_dir, "pulumi", f'echo "backend=${{PULUMI_BACKEND_URL:-}} args=$*" >> {record}\n{answers}')
    (tmp_path / "kubeconfig").write_text("current-context: lab\n")
    return record


_KUBECTL = """#!{python}
# kubectl as the preflight meets it: `config current-context` and `get storageclass -o json`, from the
# kubeconfig that KUBECONFIG names (a list), else ~/.kube/config; with distro set, as k3s's own kubectl, which
# takes its node's kubeconfig when KUBECONFIG is empty.
import json, os, re, sys
from pathlib import Path
here, distro = Path({here!r}), {distro!r}
argv = sys.argv[1:]
with (here / "kubectl-calls").open("a") as calls:
    calls.write(json.dumps({{"argv": argv, "KUBECONFIG": os.environ.get("KUBECONFIG")}}) + "\\n")
kubeconfig = os.environ.get("KUBECONFIG", "")
if not kubeconfig and distro and Path(distro).exists():
    kubeconfig = distro
paths = kubeconfig.split(":") if kubeconfig else [str(Path.home() / ".kube" / "config")]
contexts = [
    found.group(1)
    for path in paths
    if Path(path).is_file()
    for found in [re.search(r'^current-context: *"?([^" \\n]+)', Path(path).read_text(), re.M)]
    if found
]
context = argv[argv.index("--context") + 1] if "--context" in argv else (contexts or [None])[0]
if argv[:2] == ["config", "current-context"] and context:
    print(context)
elif argv[:2] == ["config", "current-context"]:
    print("error: current-context is not set", file=sys.stderr)
    sys.exit(1)
elif argv[:2] == ["get", "storageclass"] and context:
    classes = json.loads((here / "storageclasses.json").read_text()).get(context, [])
    print(json.dumps({{"apiVersion": "v1", "items": classes, "kind": "List", "metadata": {{"resourceVersion": ""}}}}))
elif argv[:2] == ["get", "storageclass"]:
    print("The connection to the server localhost:8080 was refused - did you specify the right host or port?",
          file=sys.stderr)
    sys.exit(1)
else:
    print(f"error: unknown command {{argv}}", file=sys.stderr)
    sys.exit(1)
"""


def storage_class(name: str, *, default: bool = False, beta: bool = False) -> dict[str, Any]:
    """A StorageClass as `kubectl get storageclass -o json` lists it; default: the annotation that makes it the
    cluster's default (the beta one, with beta)."""
    annotation = f"storageclass{'.beta' if beta else ''}.kubernetes.io/is-default-class"
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": {annotation: "true"} if default else {}},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def fake_kubectl(
    bin_dir: Path, storage_classes: Mapping[str, Sequence[dict[str, Any]]], *, distro: Path | None = None
) -> Path:
    """A `kubectl` whose clusters (by context name) have these StorageClasses; its calls go to the returned file,
    one JSON object a line: the arguments and the KUBECONFIG it was given."""
    (bin_dir / "storageclasses.json").write_text(json.dumps(storage_classes))
    tool = bin_dir / "kubectl"
    tool.write_text(_KUBECTL.format(python=sys.executable, here=str(bin_dir), distro=str(distro) if distro else ""))
    tool.chmod(0o755)
    return bin_dir / "kubectl-calls"
