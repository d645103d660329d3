"""End to end: every credential can do only what it is for, through the real front (Caddy 2.10.2), with skopeo.

A pull user pulls and cannot push; a push user cannot delete what an admin
can; a user scoped to `team-a/*` stays there (push, pull, tags, catalog, and
no blob mounted from elsewhere); the pull Secrets' credentials
(`pullDockerConfigJson`) pull and cannot push. Every refusal is the
registry's own 403 `DENIED`, which clients print.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.doubles import FaithfulMocks, dev_config, run_program
from harness.e2e import REPOSITORY, Registry, running_registry
from harness.images import build_busybox_image, build_random_image

USERS = [
    {"name": "ci", "password": "ci-Passw0rd-2026"},
    {"name": "ops", "access": "admin", "password": "ops-Passw0rd-2026"},
    {"name": "team-a-ci", "repositories": ["team-a/*"], "password": "team-a-Passw0rd-2026"},
]
OPS = "ops:ops-Passw0rd-2026"
TEAM_A = "team-a-ci:team-a-Passw0rd-2026"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    config = {**dev_config(), "image-registry:users": json.dumps(USERS)}
    config["image-registry:storage"] = json.dumps({"deleteEnabled": True})
    mocks = FaithfulMocks()
    run = run_program(config, mocks, secret_keys=["image-registry:users"])
    with running_registry(run, mocks, tmp_path_factory.mktemp("pod")) as registry:
        yield registry


@pytest.fixture(scope="module")
def busybox(registry: Registry) -> str:
    digest = build_busybox_image(registry.workspace / "busybox")
    assert registry.push(registry.workspace / "busybox", registry.addresses()[0])[0] == 0
    return digest


def pull_login(registry: Registry) -> str:
    """The credentials of the pull Secrets, from the `pullDockerConfigJson` output."""
    auths = json.loads(registry.run.outputs["pullDockerConfigJson"])["auths"]
    assert set(auths) == set(registry.addresses())
    (login,) = {base64.b64decode(entry["auth"]).decode() for entry in auths.values()}
    return login


def refused(error: str) -> bool:
    """skopeo's words for a 403: DENIED's message, or (a HEAD has no body) the status itself."""
    return "denied" in error.lower() or "403 (forbidden)" in error.lower()


def assert_denied(registry: Registry, method: str, path: str, login: str) -> None:
    code, status, body = registry.curl(f"https://{registry.addresses()[0]}{path}", "-X", method, "-u", login)
    assert (code, status) == (0, "403"), f"{method} {path}: {status}"
    assert json.loads(body)["errors"][0]["code"] == "DENIED"


def test_the_pull_secrets_credentials_pull_and_cannot_push(registry: Registry, busybox: str) -> None:
    login = pull_login(registry)
    assert login.startswith("image-registry-pull:")
    for index, address in enumerate(registry.addresses()):
        assert (
            registry.pulled_digest(address, f"{REPOSITORY}:latest", registry.workspace / f"p{index}", login) == busybox
        )
    code, error = registry.push(registry.workspace / "busybox", registry.addresses()[0], "utils/other:1", login)
    assert code != 0
    assert refused(error), "clients show the registry's refusal"
    assert_denied(registry, "POST", f"/v2/{REPOSITORY}/blobs/uploads/", login)
    assert_denied(registry, "PUT", f"/v2/{REPOSITORY}/manifests/latest", login)
    assert_denied(registry, "DELETE", f"/v2/{REPOSITORY}/manifests/{busybox}", login)


def test_a_push_user_cannot_delete_what_an_admin_can(registry: Registry, busybox: str) -> None:
    address = registry.addresses()[0]
    assert registry.push(registry.workspace / "busybox", address, "scratch/delete-me:1")[0] == 0
    assert_denied(registry, "DELETE", f"/v2/scratch/delete-me/manifests/{busybox}", registry.credentials())
    url = f"https://{address}/v2/scratch/delete-me/manifests/{busybox}"
    _, status, body = registry.curl(url, "-X", "DELETE", "-u", OPS)
    assert status == "202", body
    assert registry.curl(url, "-u", OPS)[1] == "404"
    assert registry.inspect_digest(address) == (0, busybox), "the other repository keeps its image"


def test_a_scoped_user_stays_in_its_repositories(registry: Registry, busybox: str) -> None:
    address = registry.addresses()[0]
    layout = registry.workspace / "busybox"
    assert registry.push(layout, address, "team-a/app:1", TEAM_A) == (0, "")
    assert registry.pulled_digest(address, "team-a/app:1", registry.workspace / "team-a", TEAM_A) == busybox
    code, error = registry.push(layout, address, "team-b/x:1", TEAM_A)
    assert code != 0
    assert refused(error)
    code, error = registry.pull(address, registry.workspace / "outside", f"{REPOSITORY}:latest", TEAM_A)
    assert code != 0
    assert refused(error)
    assert_denied(registry, "GET", f"/v2/{REPOSITORY}/tags/list", TEAM_A)
    assert_denied(registry, "GET", f"/v2/{REPOSITORY}/manifests/latest", TEAM_A)
    # The catalog would name the other repositories: refused, not filtered.
    assert_denied(registry, "GET", "/v2/_catalog", TEAM_A)
    assert "team-b/x" not in json.dumps(registry.catalog(address)), "nothing was pushed there"


def test_no_path_trick_leaves_the_scope(registry: Registry, busybox: str) -> None:
    for path in [
        f"/v2/team-a/app/../../{REPOSITORY}/tags/list",
        f"/v2/team-a/%2e%2e/{REPOSITORY}/tags/list",
        f"/v2/team-a/app/..%2f..%2f{REPOSITORY.replace('/', '%2f')}/tags/list",
        f"/v2/team-a//../{REPOSITORY}/tags/list",
    ]:
        url = f"https://{registry.addresses()[0]}{path}"
        _, status, body = registry.curl(url, "--path-as-is", "-u", TEAM_A)
        assert status != "200", path
        assert "latest" not in body, path


def test_a_scoped_user_cannot_mount_a_blob_it_may_not_read(registry: Registry, busybox: str) -> None:
    layer = json.loads((registry.workspace / "busybox" / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((registry.workspace / "busybox" / "blobs" / "sha256" / layer.split(":")[1]).read_text())
    blob = manifest["layers"][0]["digest"]
    address = registry.addresses()[0]
    mount = f"https://{address}/v2/team-a/stolen/blobs/uploads/?mount={blob}&from={REPOSITORY}"
    # Proof the request would mount: a user of every repository gets the blob at once (201).
    assert (
        registry.curl(mount.replace("team-a/stolen", "ci/mounted"), "-X", "POST", "-u", registry.credentials())[1]
        == "201"
    )
    # The scoped user's becomes a plain upload (202): it must send the blob it claims to have.
    _, status, _ = registry.curl(mount, "-X", "POST", "-u", TEAM_A)
    assert status == "202"
    form = f"https://{address}/v2/team-a/stolen/blobs/uploads/"
    _, status, _ = registry.curl(form, "-X", "POST", "-u", TEAM_A, "--data", f"mount={blob}&from={REPOSITORY}")
    assert status == "202"
    _, status, _ = registry.curl(f"https://{address}/v2/team-a/stolen/blobs/{blob}", "-I", "-u", TEAM_A)
    assert status == "404"


def test_a_large_push_within_scope(registry: Registry) -> None:
    digest = build_random_image(registry.workspace / "large", total_mib=16, layer_count=2)
    address = registry.addresses()[-1]
    assert registry.push(registry.workspace / "large", address, "team-a/large:1", TEAM_A) == (0, "")
    assert registry.pulled_digest(address, "team-a/large:1", registry.workspace / "large-pulled", TEAM_A) == digest


def test_an_admin_has_every_right(registry: Registry, busybox: Path) -> None:
    address = registry.addresses()[0]
    assert registry.push(registry.workspace / "busybox", address, "ops/tool:1", OPS) == (0, "")
    assert registry.curl(f"https://{address}/v2/_catalog", "-u", OPS)[1] == "200"
