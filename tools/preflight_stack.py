"""The stack's part of `make`'s preflight (tools/preflight.sh runs it while make reads the Makefile).

Which stack the Pulumi targets work on: STACK when given, else the one selected for this project on the chosen
backend (what `pulumi stack --show-name` reports). And, for `make up` and `make preview`, whether the cluster can
bind the data claim the stack would create. It only reads: it never creates, selects or changes a stack, and no
Pulumi prompt can reach the user (`--non-interactive`, no stdin: in a terminal, `pulumi stack` with no stack
selected would otherwise offer to create one).

Usage: python3 -m tools.preflight_stack "CHECKS" STACK GOAL KUBECONFIG, CHECKS being some of: stack storage.
When all is there: the stack's fully qualified name on stdout. Else one line on stderr and nothing on stdout.
Only the standard library: nothing is installed yet when it runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

PROJECT = "image-registry"
# Both annotations still count (the beta one on clusters set up long ago).
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


class MissingError(Exception):
    """What is missing, as the one line make prints."""


def pulumi(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pulumi", *arguments, "--non-interactive"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )


def _error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["no error message"])[-1]


def stack_name(stack: str, goal: str) -> str:
    """STACK, or the selected stack, fully qualified (`organization/image-registry/dev` on a self-managed backend):
    what the tools that need a name (`make up`'s notice, `make renew`) pass on, wherever the stack lives."""
    selected = pulumi("stack", "--show-name", "--fully-qualify-stack-names", *(["--stack", stack] if stack else []))
    name = selected.stdout.strip().splitlines()[-1:] if selected.returncode == 0 else []
    if name and name[0]:
        return name[0]
    error = _error_line(selected.stderr)
    if "no stack selected" in error:
        raise MissingError(
            f"no stack selected: pulumi stack init NAME (or pulumi stack select NAME), or make {goal} STACK=NAME"
        )
    if "no stack named" in error:
        raise MissingError(
            f"no stack named {stack} in this project on this backend: pulumi stack init {stack} creates it"
            f" (pulumi stack ls lists the ones there are), or make {goal} STACK=NAME with one of them"
        )
    raise MissingError(f"pulumi cannot tell which stack to use ({error}): fix that and run make again")


def _config_value(entry: dict[str, Any]) -> Any:
    """A value of `pulumi config --json`: objects and lists have `objectValue`; a string (such as an object set
    without --path) is read as JSON when it is."""
    if "objectValue" in entry:
        return entry["objectValue"]
    value = entry.get("value")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def stack_config(name: str) -> dict[str, Any]:
    """The stack's config as `pulumi config --json` gives it, secrets hidden: {key: value}, objects decoded.

    An object with a secret inside comes without its value (`{"secret": true}`): then it is read on its own with
    `pulumi config get KEY --json`, which decrypts it; when even that fails, it is left out (None)."""
    listed = pulumi("config", "--json", "--stack", name)
    if listed.returncode != 0:
        return {}
    try:
        entries: dict[str, Any] = json.loads(listed.stdout)
    except ValueError:
        return {}
    config: dict[str, Any] = {}
    for key, entry in entries.items():
        if not isinstance(entry, dict):
            continue
        if "value" in entry or "objectValue" in entry:
            config[key] = _config_value(entry)
            continue
        read = pulumi("config", "get", key, "--json", "--stack", name)
        try:
            config[key] = _config_value(json.loads(read.stdout)) if read.returncode == 0 else None
        except (ValueError, AttributeError):
            config[key] = None
    return config


def needs_a_default_class(config: dict[str, Any]) -> bool:
    """A claim the stack creates with no class named: storage type pvc (also when `storage` is not set) without
    storage.storageClass and without storage.existingClaim."""
    key = f"{PROJECT}:storage"
    if key in config and not isinstance(config[key], dict):
        return False  # unreadable (a secret that would not decrypt) or not an object: the program says what is wrong
    storage: dict[str, Any] = config.get(key) or {}
    return storage.get("type", "pvc") == "pvc" and not storage.get("storageClass") and not storage.get("existingClaim")


def has_default_class(kubeconfig: str, context: str | None) -> bool | None:
    """Whether the cluster has a default StorageClass; None when kubectl cannot tell (not installed, the cluster not
    reachable, listing StorageClasses forbidden): then nothing is said, and Pulumi reports what it meets."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        # Without kubectl only this check is skipped: the context check reads the kubeconfig itself.
        return None
    command = [kubectl, "get", "storageclass", "-o", "json", "--request-timeout=10s"]
    # The kubeconfig the Pulumi kubernetes provider reads: KUBECONFIG, else ~/.kube/config (as the context check).
    listed = subprocess.run(
        [*command, *(["--context", context] if context else [])],
        env={**os.environ, "KUBECONFIG": kubeconfig},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        return None
    try:
        classes = json.loads(listed.stdout).get("items") or []
    except (ValueError, AttributeError):
        return None
    return any(
        str((item.get("metadata") or {}).get("annotations", {}).get(annotation, "")).lower() == "true"
        for item in classes
        for annotation in DEFAULT_CLASS_ANNOTATIONS
    )


def check_storage(name: str, stack: str, kubeconfig: str) -> None:
    config = stack_config(name)
    if not needs_a_default_class(config):
        return
    # The provider's own settings, when the stack has them: a kubeconfig of its own cannot be checked here.
    if config.get("kubernetes:kubeconfig"):
        return
    context = config.get("kubernetes:context")
    if has_default_class(kubeconfig, str(context) if context else None) is False:
        on_stack = f" --stack {stack}" if stack else ""
        raise MissingError(
            "the cluster has no default StorageClass and storage.storageClass is not set: the data claim would stay"
            f" Pending; set it (pulumi config set{on_stack} --path storage.storageClass NAME; kubectl get storageclass"
            " lists them) or mark one default"
        )


def main(argv: Sequence[str] | None = None) -> int:
    checks, stack, goal, kubeconfig = sys.argv[1:] if argv is None else argv
    try:
        name = stack_name(stack, goal)
        if "storage" in checks.split():
            check_storage(name, stack, kubeconfig)
    except MissingError as missing:
        print(f"make: {missing}", file=sys.stderr)
        return 0
    print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
