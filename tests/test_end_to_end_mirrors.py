"""End to end: a pull-through cache of Docker Hub in the rendered pod, before an upstream double.

The upstream is a second registry 3.1.1 under Docker Hub's API name
(`registry-1.docker.io`, the mirror's default remote URL), with a CA of its own
that the pod trusts as the real image trusts Docker Hub's, requiring
credentials (the mirror's `username`/`password`), holding
`library/busybox:1.36`. Through the real front (Caddy 2.10.2) and the mirror
container (Distribution 3.1.1 in proxy mode), with skopeo and curl trusting
only the stack's CA.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from harness.e2e import Registry
from harness.images import build_busybox_image
from harness.upstream import Upstream, pod_with_upstreams

HUB = "registry-1.docker.io"
UPSTREAM_LOGIN = "hub-robot:hub-T0ken-for-the-mirror"
MIRRORS = [
    {
        "upstream": "docker.io",
        "username": UPSTREAM_LOGIN.split(":", maxsplit=1)[0],
        "password": UPSTREAM_LOGIN.split(":")[1],
        "repositories": ["library/*"],
    },
    # Anonymous, every repository, its default remote URL (https://ghcr.io).
    {"upstream": "ghcr.io"},
]
USERS = [
    {"name": "ci", "password": "ci-Passw0rd-2026"},
    {"name": "team-a-ci", "repositories": ["team-a/*"], "password": "team-a-Passw0rd-2026"},
]
CI, TEAM_A = "ci:ci-Passw0rd-2026", "team-a-ci:team-a-Passw0rd-2026"
MIRROR_USER = "image-registry-mirror"
BUSYBOX = "mirror/docker.io/library/busybox"
GHCR_TOOL = "mirror/ghcr.io/org/tool"


@contextmanager
def running_with_upstream(
    run: ProgramRun, mocks: FaithfulMocks, workspace: Path
) -> Iterator[tuple[Registry, Upstream]]:
    """The rendered pod and, in its network, the upstream doubles: Docker Hub's holding library/busybox:1.36
    (yielded), ghcr.io's holding org/tool:v1."""
    upstream = Upstream(HUB, workspace / "upstream", credentials=UPSTREAM_LOGIN)
    ghcr = Upstream("ghcr.io", workspace / "upstream-ghcr", address="127.0.0.3")
    holding = [(upstream, "library/busybox:1.36"), (ghcr, "org/tool:v1")]
    with pod_with_upstreams(run, mocks, workspace, workspace / "busybox", holding) as registry:
        yield registry, upstream


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Upstream, str]]:
    config = {**dev_config(), "image-registry:users": json.dumps(USERS), "image-registry:mirrors": json.dumps(MIRRORS)}
    mocks = FaithfulMocks()
    run = run_program(config, mocks, secret_keys=["image-registry:users", "image-registry:mirrors"])
    workspace = tmp_path_factory.mktemp("pod")
    digest = build_busybox_image(workspace / "busybox")
    with running_with_upstream(run, mocks, workspace) as (registry, upstream):
        yield registry, upstream, digest


def mirror_login(run: ProgramRun) -> str:
    """The generated mirror user's credentials, as the nodes get them (the random password's result)."""
    password = run.named("random:index/randomPassword:RandomPassword", f"image-registry-users-{MIRROR_USER}-password")
    return f"{MIRROR_USER}:{password.plain_outputs['result']}"


def host(registry: Registry) -> str:
    return str(registry.run.outputs["registryHost"])


def status(registry: Registry, method: str, path: str, login: str | None) -> str:
    options = ["-X", method, "-o", "/dev/null", *(["-u", login] if login else [])]
    code, answer, body = registry.curl(f"https://{host(registry)}{path}", *options)
    assert code == 0, body
    return answer


def test_pulls_through_the_cache_and_the_second_pull_is_served_from_it(
    mirrored: tuple[Registry, Upstream, str],
) -> None:
    registry, upstream, digest = mirrored
    before = upstream.blob_fetches("library/busybox")
    logged = len(registry.sandbox.log("front").read_text().splitlines())
    login = mirror_login(registry.run)
    first = registry.pulled_digest(host(registry), f"{BUSYBOX}:1.36", registry.workspace / "first", login)
    assert first == digest
    fetched = upstream.blob_fetches("library/busybox")
    # The layer and the config, each fetched once from the upstream (with the mirror's credentials: it requires
    # them), and kept under the mirror's own prefix of the claim, apart from the registry's repositories.
    assert fetched - before == 2
    (claim,) = (registry.workspace / "claims").iterdir()
    cached = claim / "mirror" / "docker.io" / "docker" / "registry" / "v2" / "repositories" / "library" / "busybox"
    assert cached.is_dir()
    assert not (claim / "docker" / "registry" / "v2" / "repositories" / "library").exists()
    second = registry.pulled_digest(host(registry), f"{BUSYBOX}:1.36", registry.workspace / "second", login)
    assert second == digest
    assert upstream.blob_fetches("library/busybox") == fetched, "the second pull went to the upstream"
    # The front's access log names the user of each request through the mirror.
    front = registry.sandbox.log("front").read_text().splitlines()[logged:]
    lines = [json.loads(line) for line in front if BUSYBOX in line]
    assert len(lines) >= 6
    assert {line["user_id"] for line in lines} == {MIRROR_USER}


def test_the_upstream_refuses_without_credentials(mirrored: tuple[Registry, Upstream, str]) -> None:
    registry, _, _ = mirrored
    url = f"https://{HUB}/v2/library/busybox/manifests/1.36"
    result = registry.sandbox.run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url)
    assert result.stdout == "401", result.stderr


def test_refusals(mirrored: tuple[Registry, Upstream, str]) -> None:
    registry, upstream, _ = mirrored
    manifest = f"/v2/{BUSYBOX}/manifests/1.36"
    assert status(registry, "GET", manifest, None) == "401"
    assert status(registry, "GET", manifest, TEAM_A) == "403"
    for method, path in (("PUT", manifest), ("POST", f"/v2/{BUSYBOX}/blobs/uploads/")):
        assert status(registry, method, path, CI) == "403", method
        assert status(registry, method, path, mirror_login(registry.run)) == "403", method
    asked = upstream.requests_for("bitnami/redis")
    assert (
        status(registry, "GET", "/v2/mirror/docker.io/bitnami/redis/manifests/7", mirror_login(registry.run)) == "403"
    )
    assert status(registry, "GET", "/v2/mirror/docker.io/bitnami/redis/manifests/7", CI) == "403"
    assert upstream.requests_for("bitnami/redis") == asked == 0


def test_a_push_user_with_every_repository_pulls_through_the_mirror(mirrored: tuple[Registry, Upstream, str]) -> None:
    registry, _, digest = mirrored
    assert registry.pulled_digest(host(registry), f"{BUSYBOX}:1.36", registry.workspace / "by-ci", CI) == digest


def test_each_mirror_fetches_from_its_own_upstream(mirrored: tuple[Registry, Upstream, str]) -> None:
    registry, upstream, digest = mirrored
    pulled = registry.pulled_digest(
        host(registry), f"{GHCR_TOOL}:v1", registry.workspace / "tool", mirror_login(registry.run)
    )
    assert pulled == digest
    assert upstream.requests_for("org/tool") == 0
    # Not at Docker Hub's mirror, whose patterns (library/*) do not cover it.
    path = "/v2/mirror/docker.io/org/tool/manifests/v1"
    assert status(registry, "GET", path, mirror_login(registry.run)) == "403"


def test_the_upstream_credentials_are_in_no_log_of_the_pod(mirrored: tuple[Registry, Upstream, str]) -> None:
    registry, _, _ = mirrored
    _, password = UPSTREAM_LOGIN.split(":")
    header = base64.b64encode(UPSTREAM_LOGIN.encode()).decode()
    logs = [registry.sandbox.log(container.name) for container in registry.layout.containers]
    assert len(logs) == 4
    for log in logs:
        text = log.read_text()
        assert password not in text, log.name
        assert header not in text, log.name


def test_with_the_upstream_stopped_a_cached_image_still_pulls(mirrored: tuple[Registry, Upstream, str]) -> None:
    """Distribution 3.1.1: a tag is asked of the upstream first and, when that fails, answered from the cache;
    a manifest by digest and the blobs come from the cache without asking."""
    registry, _, digest = mirrored
    login = mirror_login(registry.run)
    registry.pulled_digest(host(registry), f"{BUSYBOX}:1.36", registry.workspace / "warm", login)
    registry.sandbox.stop_helpers()
    assert registry.sandbox.run("curl", "-s", f"https://{HUB}/").returncode != 0, "the upstream still answers"
    by_tag = registry.pulled_digest(host(registry), f"{BUSYBOX}:1.36", registry.workspace / "offline-tag", login)
    by_digest = registry.pulled_digest(
        host(registry), f"{BUSYBOX}@{digest}", registry.workspace / "offline-digest", login
    )
    assert by_tag == by_digest == digest


def test_a_new_pod_serves_the_cache_from_the_claim_with_the_upstream_stopped(
    mirrored: tuple[Registry, Upstream, str],
) -> None:
    registry, upstream, digest = mirrored
    if upstream.log.exists() and registry.sandbox.helpers:
        registry.sandbox.stop_helpers()
    registry.restart_pod()
    login = mirror_login(registry.run)
    by_tag = registry.pulled_digest(host(registry), f"{BUSYBOX}:1.36", registry.workspace / "new-pod-tag", login)
    by_digest = registry.pulled_digest(
        host(registry), f"{BUSYBOX}@{digest}", registry.workspace / "new-pod-digest", login
    )
    assert by_tag == by_digest == digest
