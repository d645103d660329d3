"""The real Pulumi engine for the tests and the bench: the CLI, language host and providers the toolchain built
(`tools/toolchain/build.sh`), a local file backend with passphrase secrets, and a project copied into a folder
of its own, so that a stack file or a state never lands in the work tree.

Nothing is downloaded: `PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION` makes a missing plugin fail loudly, and the
providers are the toolchain's binaries on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.toolchain import traefik_crds

PROJECT_DIR = Path(__file__).resolve().parent.parent
PASSPHRASE = "real-engine-tests-only"
# What a copy of a project leaves out: virtualenvs (linked instead), caches, stack files and state.
_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".venv-*", "venv", "__pycache__", "*.pyc", ".*_cache", ".pulumi-state", "Pulumi.*.yaml"
)
# Each project's virtualenv, linked into its copy: built by make, read by the language host.
_VIRTUALENVS = (".venv", "policy/venv")


class PulumiCommandError(AssertionError):
    """A pulumi command that failed where the caller expected success: its command line and its output."""


@dataclass(frozen=True)
class Result:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class PulumiCli:
    """The CLI with its own home, a file backend and a kubeconfig; `run` any command with that environment."""

    bin_dir: Path
    home: Path
    kubeconfig: Path | None = None
    # Another file backend (a folder of `home`) and passphrase, with the same PULUMI_HOME: another team's backend.
    state: str = "state"
    passphrase: str = PASSPHRASE

    @property
    def backend(self) -> Path:
        return self.home / self.state

    def environment(self) -> dict[str, str]:
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("PULUMI_", "KUBECONFIG"))}
        environment.update(
            PATH=f"{self.bin_dir}:{environment.get('PATH', '/usr/bin:/bin')}",
            PULUMI_HOME=str(self.home / "home"),
            PULUMI_BACKEND_URL=f"file://{self.backend}",
            PULUMI_CONFIG_PASSPHRASE=self.passphrase,
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_SKIP_CONFIRMATIONS="true",
        )
        if self.kubeconfig is not None:
            environment["KUBECONFIG"] = str(self.kubeconfig)
        return environment

    def run(
        self, command: list[str], cwd: Path, *, check: bool = True, stdin: str | None = None, timeout: float = 900
    ) -> Result:
        self.backend.mkdir(parents=True, exist_ok=True)
        completed = subprocess.run(
            command,
            cwd=cwd,
            env=self.environment(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = Result(command, completed.returncode, completed.stdout, completed.stderr)
        if check and result.returncode != 0:
            raise PulumiCommandError(f"`{' '.join(command)}` exited {result.returncode}:\n{result.output[-6000:]}")
        return result


def copy_project(source: Path, destination: Path) -> Path:
    """The project's files in a folder of their own, its virtualenvs linked (the language host reads them)."""
    shutil.copytree(source, destination, ignore=_NOT_COPIED)
    for virtualenv in _VIRTUALENVS:
        # A project without a virtualenv of its own (the consumer, a probe) runs in the program's: same pins.
        own = source / virtualenv
        linked = own if own.is_dir() else PROJECT_DIR / virtualenv
        if linked.is_dir() and (destination / Path(virtualenv).parent).is_dir():
            (destination / virtualenv).symlink_to(linked)
    return destination


@dataclass
class Stack:
    """One stack of a project copy: pulumi commands with `--stack`, non-interactive."""

    cli: PulumiCli
    directory: Path
    name: str

    def pulumi(self, *arguments: str, check: bool = True, stdin: str | None = None) -> Result:
        command = ["pulumi", *arguments, "--stack", self.name, "--non-interactive"]
        return self.cli.run(command, self.directory, check=check, stdin=stdin)

    def init(self) -> Stack:
        self.cli.run(["pulumi", "stack", "init", self.name, "--non-interactive"], self.directory)
        return self

    def set(self, path: str, value: str) -> None:
        """`pulumi config set --path` of a plain value (a secret one the way the README types it, in the test)."""
        self.pulumi("config", "set", "--plaintext", "--path", path, value)

    def set_all(self, values: dict[str, str]) -> None:
        for path, value in values.items():
            self.set(path, value)

    def up(self, *arguments: str, check: bool = True) -> Result:
        return self.pulumi("up", "--yes", "--skip-preview", *arguments, check=check)

    def preview(self, *arguments: str, check: bool = True) -> Result:
        return self.pulumi("preview", *arguments, check=check)

    def preview_steps(self, *arguments: str) -> list[dict[str, Any]]:
        """The preview's steps (`pulumi preview --json`): op, urn, type, and what changes."""
        document = json.loads(self.preview("--json", *arguments).stdout)
        steps: list[dict[str, Any]] = document.get("steps") or []
        return steps

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        flags = ["--show-secrets"] if show_secrets else []
        document: dict[str, Any] = json.loads(self.pulumi("stack", "output", "--json", *flags).stdout)
        return document

    def export(self) -> str:
        """The stack's state as `pulumi stack export` writes it (secrets as the backend keeps them)."""
        return self.pulumi("stack", "export").stdout

    def resources(self) -> list[dict[str, Any]]:
        resources: list[dict[str, Any]] = json.loads(self.export())["deployment"].get("resources") or []
        return resources


@dataclass(frozen=True)
class Kubectl:
    """kubectl against the control plane, from the toolchain."""

    bin_dir: Path
    kubeconfig: Path

    def run(self, *arguments: str, check: bool = True, stdin: str | None = None) -> Result:
        command = [str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), *arguments]
        completed = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120, check=False)
        result = Result(command, completed.returncode, completed.stdout, completed.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"`kubectl {' '.join(arguments)}` exited {result.returncode}:\n{result.output}")
        return result

    def get(self, *arguments: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.run("get", "-o", "json", *arguments).stdout)
        return document

    def exists(self, *arguments: str) -> bool:
        return self.run("get", "-o", "name", *arguments, check=False).returncode == 0

    def install_ingress_crds(self) -> None:
        """Traefik's CRDs, as k3s installs them: the Ingress's ServersTransport is one of their kinds (a custom
        resource without its CRD fails at preview)."""
        self.run("apply", "--server-side", "-f", str(traefik_crds()))
        # Polled: `kubectl wait` fails at once on a CRD that has no status conditions yet.
        established = '{.status.conditions[?(@.type=="Established")].status}'
        deadline = time.monotonic() + 60
        while self.run("get", "crd/serverstransports.traefik.io", "-o", f"jsonpath={established}").stdout != "True":
            if time.monotonic() > deadline:
                raise AssertionError("Traefik's ServersTransport CRD was not established within 60 s")
            time.sleep(0.2)
