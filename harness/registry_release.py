"""The registry binary the sandbox runs for a container's image, and the image's own configuration file.

`registry:3.x` (the stack's pinned image, and anything but 2.x) runs the release the stack pins, 3.1.1, built
from the Go module proxy by `tools/toolchain/build.sh registry` (or found in `IMAGE_REGISTRY_TOOLCHAIN_BIN`);
`registry:2.x` (the last 2.x image is 2.8.3) runs Debian's `docker-registry`, Distribution 2.8.2. Both images
keep the binary at /bin/registry (their /entrypoint.sh runs `registry`), where the sandbox binds it; the
image's configuration file (its CMD) is bound where that image has it. A binary that cannot be found or built
fails the test: none skips.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.settings.project import DEFAULT_IMAGE
from harness.toolchain import binary

# Where both images keep the binary (`COPY registry /bin/registry`).
BINARY_IN_IMAGE = "/bin/registry"
# The release the stack pins: `registry:3.1.1@sha256:…` → "3.1.1".
PINNED_RELEASE = DEFAULT_IMAGE.split("@")[0].rsplit(":", 1)[1]
DEBIAN_BINARY = "/usr/bin/docker-registry"
# The registry:3.x image's /etc/distribution/config.yml, verbatim.
IMAGE_CONFIG = Path(__file__).with_name("registry-image-config.yml")
# The one 3.x setting Debian's 2.8 binary cannot parse (it takes `storage.tag` for a second storage driver).
UNPARSEABLE_BY_2_8 = ("storage", "tag")


@dataclass(frozen=True)
class RegistryRelease:
    """What runs for one registry image: its binary and its configuration file (host paths, bound read-only)."""

    version: str
    binary: str
    config_path: str
    config: str

    def image_files(self) -> dict[str, str]:
        """The image's files the sandbox binds into the container's root: path in the image → host file."""
        return {BINARY_IN_IMAGE: self.binary, self.config_path: self.config}


def image_name(image: str) -> str:
    """An image reference's name without registry, path, tag or digest: `docker.io/library/caddy:2@…` → caddy."""
    return _repository_and_tag(image)[0].rsplit("/", 1)[-1]


def is_registry_image(image: str) -> bool:
    return image_name(image) == "registry"


def release_for(image: str) -> RegistryRelease:
    """The release the sandbox runs for `image`: 2.8.2 for a `registry:2.x` image, else the pinned 3.1.1."""
    tag = _repository_and_tag(image)[1]
    return debian_2_8() if tag.split(".")[0] == "2" else pinned()


@functools.cache
def pinned() -> RegistryRelease:
    """The release the stack pins, from the toolchain: `IMAGE_REGISTRY_TOOLCHAIN_BIN`, else built (or reused)."""
    path = binary("registry", "registry")
    return RegistryRelease(f"v{PINNED_RELEASE}", str(path), "/etc/distribution/config.yml", str(IMAGE_CONFIG))


@functools.cache
def debian_2_8() -> RegistryRelease:
    """Debian's 2.8.2, for a test of the 2.x image. The 2.x image keeps its file in /etc/docker/registry; the
    3.x image's file stands in for it there, without the one setting 2.8 cannot parse (it tunes tag listing)."""
    config = yaml.safe_load(IMAGE_CONFIG.read_text())
    section, key = UNPARSEABLE_BY_2_8
    config[section].pop(key)
    text = yaml.safe_dump(config)
    # Outside the work tree, named by its content: written once, the same file for every test.
    path = (
        Path(tempfile.gettempdir()) / f"image-registry-2.8-config-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yml"
    )
    if not path.exists():
        staging = path.with_suffix(f".{os.getpid()}")
        staging.write_text(text)
        staging.chmod(0o644)
        staging.rename(path)
    return RegistryRelease("2.8.2", DEBIAN_BINARY, "/etc/docker/registry/config.yml", str(path))


def version_of(release: RegistryRelease) -> str:
    """What the binary says it is (`registry --version`: "<argv0> <package> <version>"), its last word."""
    answer = subprocess.run([release.binary, "--version"], capture_output=True, text=True, check=False)
    return answer.stdout.split()[-1] if answer.stdout.split() else answer.stderr.strip()


def _repository_and_tag(image: str) -> tuple[str, str]:
    reference = image.split("@", maxsplit=1)[0]
    repository, _, tag = reference.rpartition(":")
    if "/" in tag or not repository:  # a registry's port, not a tag; or no tag at all
        return reference, "latest"
    return repository, tag
