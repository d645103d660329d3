"""Where the toolchain's binaries are: `tools/toolchain/build.sh` builds what is missing (once per version, in a
cache outside the work tree) and prints the folder that holds them all; `IMAGE_REGISTRY_TOOLCHAIN_BIN` names one
directly (CI and `make` set it after building)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = PROJECT_DIR / "tools" / "toolchain" / "build.sh"
ENVIRONMENT_VARIABLE = "IMAGE_REGISTRY_TOOLCHAIN_BIN"


class ToolchainMissingError(RuntimeError):
    """The toolchain could not be built: the tests that need it fail (they never skip)."""


@functools.cache
def toolchain_bin(*pieces: str) -> Path:
    """The folder of the built binaries (every piece, or those named), built first when absent; the folder
    `IMAGE_REGISTRY_TOOLCHAIN_BIN` names, when set, holds every piece already."""
    explicit = os.environ.get(ENVIRONMENT_VARIABLE)
    if explicit:
        return Path(explicit)
    built = subprocess.run(["bash", str(BUILD_SCRIPT), *pieces], capture_output=True, text=True, check=False)
    lines = built.stdout.strip().splitlines()
    if built.returncode != 0 or not lines:
        raise ToolchainMissingError(
            f"{BUILD_SCRIPT} {' '.join(pieces)} failed ({built.returncode}):\n{built.stderr[-4000:]}"
        )
    return Path(lines[-1])


def binary(name: str, *pieces: str) -> Path:
    """One binary of the toolchain: an error naming it when the build did not make it."""
    path = toolchain_bin(*pieces) / name
    if not path.exists():
        raise ToolchainMissingError(f"the toolchain has no {name} (in {path.parent})")
    return path


# Traefik's CRDs (ServersTransport among them), from the release's own module: what k3s and the Helm chart install.
TRAEFIK_MODULE = "github.com/traefik/traefik/v3@v3.6.12"
TRAEFIK_CRDS = "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"


@functools.cache
def traefik_crds() -> Path:
    """Traefik's CRD definitions, from the Go module proxy (kept in Go's module cache)."""
    downloaded = subprocess.run(
        ["go", "mod", "download", "-json", TRAEFIK_MODULE],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GOFLAGS": "-mod=mod", "GOWORK": "off"},
    )
    if downloaded.returncode != 0:
        raise ToolchainMissingError(f"go mod download {TRAEFIK_MODULE} failed:\n{downloaded.stdout}{downloaded.stderr}")
    return Path(json.loads(downloaded.stdout)["Dir"]) / TRAEFIK_CRDS
