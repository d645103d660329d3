"""Mirrors under the mock engine: one cache container per upstream in the registry's pod, its config-file
Secret (the `proxy` section; credentials only there), its place on the storage, and the front's routes to it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.accounts import front_accounts
from harness.doubles import ProgramRun, contains_secret
from harness.pod_layout import container_environment, objects_by_name
from harness.program_run import redact, secret_data
from tests.conftest import RunProgram
from tests.front_routes import PASSED, caddy_config, mirror_decision, server

UPSTREAM_PASSWORD = "upstream-T0ken-never-in-env"
MIRRORS = [
    {"upstream": "docker.io", "username": "hub-robot", "password": UPSTREAM_PASSWORD, "repositories": ["library/*"]},
    {"upstream": "ghcr.io", "remoteUrl": "https://ghcr-cache.example.com", "ttl": "12h"},
]
USERS = [
    {"name": "ci", "password": "ci-Passw0rd-2026"},
    {"name": "team-a-ci", "repositories": ["team-a/*"], "password": "team-a-Passw0rd-2026"},
]
MIRROR_USER = "image-registry-mirror"
BUSYBOX = "/v2/mirror/docker.io/library/busybox"
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def mirrored(run_with: RunProgram) -> ProgramRun:
    return run_with(mirrors=MIRRORS, users=USERS, secret_keys=["image-registry:mirrors", "image-registry:users"])


def pod(run: ProgramRun) -> dict[str, Any]:
    spec: dict[str, Any] = run.manifest("Deployment")["spec"]["template"]["spec"]
    return spec


def by_name(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in pod(run)["containers"]}


def mirror_file(run: ProgramRun, index: int) -> dict[str, Any]:
    """The config file the `index`-th mirror container reads (its argument), from the Secret mounted there."""
    container = by_name(run)[f"mirror-{index}"]
    (path,) = container["args"]
    directory, _, key = path.rpartition("/")
    (mount,) = [item for item in container["volumeMounts"] if item["mountPath"] == directory]
    volumes = {volume["name"]: volume for volume in pod(run)["volumes"]}
    name = volumes[mount["name"]]["secret"]["secretName"]
    secret = objects_by_name(run)[("Secret", name)]
    loaded: dict[str, Any] = yaml.safe_load(secret_data(secret)[key])
    return loaded


def test_one_cache_container_per_mirror_made_like_the_registry(mirrored: ProgramRun) -> None:
    containers = by_name(mirrored)
    assert list(containers) == ["front", "registry", "mirror-0", "mirror-1"]
    registry = containers["registry"]
    for name in ("mirror-0", "mirror-1"):
        mirror = containers[name]
        for field in ("image", "command", "securityContext", "resources"):
            assert mirror[field] == registry[field], (name, field)
        assert mirror["args"] == registry["args"]
        assert "ports" not in mirror
    objects = objects_by_name(mirrored)
    environments = [container_environment(containers[f"mirror-{index}"], objects) for index in (0, 1)]
    assert [env["REGISTRY_HTTP_ADDR"] for env in environments] == ["127.0.0.1:5100", "127.0.0.1:5101"]
    assert [env["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"] for env in environments] == [
        "/var/lib/registry/mirror/docker.io",
        "/var/lib/registry/mirror/ghcr.io",
    ]
    for env in environments:
        # The TTL's expiry deletes through the storage, which refuses unless deletes are on.
        assert env["REGISTRY_STORAGE_DELETE_ENABLED"] == "true"
        assert env["REGISTRY_HTTP_DEBUG"] == "{}"
        assert not [variable for variable in env if variable.startswith("REGISTRY_HTTP_DEBUG_")]
        assert env["REGISTRY_LOG_ACCESSLOG_DISABLED"] == "true"


def test_each_mirror_has_its_own_config_and_scratch_and_the_shared_data(mirrored: ProgramRun) -> None:
    containers = by_name(mirrored)
    volumes = {volume["name"]: volume for volume in pod(mirrored)["volumes"]}
    mounts = [{item["mountPath"]: item["name"] for item in containers[name]["volumeMounts"]} for name in containers]
    _, registry, first, second = mounts
    assert first["/var/lib/registry"] == second["/var/lib/registry"] == registry["/var/lib/registry"]
    for key in ("/etc/registry/config", "/tmp"):
        assert len({registry[key], first[key], second[key]}) == 3, key
    assert volumes[first["/tmp"]]["emptyDir"]
    assert volumes[first["/etc/registry/config"]]["secret"]["defaultMode"] == 0o440


def test_the_proxy_section(mirrored: ProgramRun) -> None:
    docker, ghcr = mirror_file(mirrored, 0), mirror_file(mirrored, 1)
    # Credentials from the helper (no `/v2/` asked at start, where an unreachable upstream makes 3.1.1 panic).
    helper = {"command": "/etc/registry/config/credentials", "lifetime": "0s"}
    assert docker["proxy"] == {"remoteurl": "https://registry-1.docker.io", "exec": helper, "ttl": "168h"}
    assert ghcr["proxy"] == {"remoteurl": "https://ghcr-cache.example.com", "exec": helper, "ttl": "12h"}


def helper_answer(run: ProgramRun, index: int, host: str, tmp_path: Path) -> dict[str, str]:
    """What the `index`-th mirror's credential helper answers for `host`, run as the registry runs it."""
    container = by_name(run)[f"mirror-{index}"]
    path = mirror_file(run, index)["proxy"]["exec"]["command"]
    directory, _, key = path.rpartition("/")
    (mount,) = [item for item in container["volumeMounts"] if item["mountPath"] == directory]
    source = {volume["name"]: volume for volume in pod(run)["volumes"]}[mount["name"]]["secret"]
    assert {item["key"]: item.get("mode") for item in source["items"]}[key] == 0o550
    script = tmp_path / key
    script.write_text(secret_data(objects_by_name(run)[("Secret", source["secretName"])])[key])
    script.chmod(0o500)
    result = subprocess.run([str(script), "get"], input=host, capture_output=True, text=True, check=True)
    answer: dict[str, str] = json.loads(result.stdout)
    return answer


def test_the_credential_helper_answers_for_the_upstreams_domain_only(mirrored: ProgramRun, tmp_path: Path) -> None:
    hub = {"Username": "hub-robot", "Secret": UPSTREAM_PASSWORD}
    nobody = {"Username": "", "Secret": ""}
    for host in ("registry-1.docker.io", "auth.docker.io", "docker.io", "registry-1.docker.io:443"):
        assert helper_answer(mirrored, 0, host, tmp_path) == hub, host
    for host in ("evil.example", "docker.io.evil.example", "notdocker.io", ""):
        assert helper_answer(mirrored, 0, host, tmp_path) == nobody, host
    # An anonymous mirror's helper: no credentials for anyone.
    assert helper_answer(mirrored, 1, "ghcr-cache.example.com", tmp_path) == nobody


def test_an_upstream_without_a_well_known_api_host_is_fetched_from_its_name(run_with: RunProgram) -> None:
    run = run_with(mirrors=[{"upstream": "quay.io"}])
    assert mirror_file(run, 0)["proxy"]["remoteurl"] == "https://quay.io"


def test_credentials_only_in_the_mirrors_secret(mirrored: ProgramRun) -> None:
    secrets = [
        item
        for item in mirrored.of_type("kubernetes:core/v1:Secret")
        if UPSTREAM_PASSWORD in json.dumps(item.plain_inputs)
    ]
    (secret,) = secrets
    assert secret.name == "image-registry-mirror-0"
    assert contains_secret(secret.inputs["stringData"])
    # Nothing else holds it in plain text: not the environment, not the ConfigMap, not an output.
    assert UPSTREAM_PASSWORD not in json.dumps([redact(item.inputs) for item in mirrored.registrations])
    assert UPSTREAM_PASSWORD not in json.dumps(mirrored.outputs, default=str)
    objects = objects_by_name(mirrored)
    for container in pod(mirrored)["containers"]:
        assert UPSTREAM_PASSWORD not in json.dumps(container_environment(container, objects))


def test_a_mirror_change_rolls_the_pods(mirrored: ProgramRun) -> None:
    secret = mirrored.named("kubernetes:core/v1:Secret", "image-registry-mirror-1")
    # Auto-named (no fixed metadata.name) and replaced on change: the pod template names the new one.
    assert "name" not in (secret.plain_inputs.get("metadata") or {})
    assert set(secret.replace_on_changes) >= {"data", "stringData"}
    volumes = [volume.get("secret", {}).get("secretName") for volume in pod(mirrored)["volumes"]]
    assert secret.plain_outputs["metadata"]["name"] in volumes


def test_on_s3_each_mirror_is_a_prefix_under_the_root(run_with: RunProgram) -> None:
    s3 = {"type": "s3", "bucket": "images", "region": "eu-west-1", "rootDirectory": "/registry"}
    for storage, expected in ((s3, "/registry/mirror/ghcr.io"), ({**s3, "rootDirectory": None}, "/mirror/ghcr.io")):
        run = run_with(storage={key: value for key, value in storage.items() if value is not None}, mirrors=MIRRORS[1:])
        containers = by_name(run)
        env = container_environment(containers["mirror-0"], objects_by_name(run))
        assert env["REGISTRY_STORAGE_S3_ROOTDIRECTORY"] == expected
        assert "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY" not in env


def test_no_mirrors_no_containers_and_no_routes(dev_run: ProgramRun) -> None:
    assert list(by_name(dev_run)) == ["front", "registry"]
    assert "/v2/mirror" not in json.dumps(server(caddy_config(dev_run))["routes"])


def test_the_mirror_user_is_an_account_of_the_front(mirrored: ProgramRun) -> None:
    accounts = front_accounts(mirrored)
    assert MIRROR_USER in accounts
    generated = mirrored.named(
        "random:index/randomPassword:RandomPassword", f"image-registry-users-{MIRROR_USER}-password"
    )
    assert generated.plain_outputs["result"]


@pytest.mark.parametrize(
    ("user", "method", "path", "expected"),
    [
        (MIRROR_USER, "GET", f"{BUSYBOX}/manifests/1.36", ("127.0.0.1:5100", "/v2/library/busybox/manifests/1.36")),
        (
            MIRROR_USER,
            "HEAD",
            f"{BUSYBOX}/manifests/{DIGEST}",
            ("127.0.0.1:5100", f"/v2/library/busybox/manifests/{DIGEST}"),
        ),
        (MIRROR_USER, "GET", f"{BUSYBOX}/blobs/{DIGEST}", ("127.0.0.1:5100", f"/v2/library/busybox/blobs/{DIGEST}")),
        (MIRROR_USER, "GET", f"{BUSYBOX}/tags/list", ("127.0.0.1:5100", "/v2/library/busybox/tags/list")),
        ("ci", "GET", "/v2/mirror/ghcr.io/org/tool/manifests/v1", ("127.0.0.1:5101", "/v2/org/tool/manifests/v1")),
        # A push into a mirror: refused by the pull user's own rules, and for a push user by the mirror's.
        (MIRROR_USER, "PUT", f"{BUSYBOX}/manifests/1.36", 403),
        ("ci", "PUT", f"{BUSYBOX}/manifests/1.36", 403),
        ("ci", "POST", f"{BUSYBOX}/blobs/uploads/", 403),
        ("ci", "PATCH", f"{BUSYBOX}/blobs/uploads/some-upload", 403),
        ("ci", "DELETE", f"{BUSYBOX}/manifests/{DIGEST}", 403),
        # Outside the mirror's `repositories` (library/*): the upstream is never asked.
        (MIRROR_USER, "GET", "/v2/mirror/docker.io/bitnami/redis/manifests/7", 403),
        ("ci", "GET", "/v2/mirror/docker.io/libraryx/busybox/manifests/1", 403),
        # Not a mirror of this stack, or not a read a mirror serves.
        (MIRROR_USER, "GET", "/v2/mirror/quay.io/org/tool/manifests/v1", 403),
        (MIRROR_USER, "GET", f"{BUSYBOX}/referrers/{DIGEST}", 403),
        ("ci", "GET", "/v2/mirror/_catalog", 403),
        # Users whose patterns do not cover mirror/…, and the mirror user outside mirror/*.
        ("team-a-ci", "GET", f"{BUSYBOX}/manifests/1.36", 403),
        (MIRROR_USER, "GET", "/v2/utils/busybox/manifests/latest", 403),
        # The registry's own repositories still reach the registry.
        ("ci", "GET", "/v2/utils/busybox/manifests/latest", PASSED),
        ("ci", "GET", "/v2/mirrors/busybox/manifests/latest", PASSED),
    ],
)
def test_routes(mirrored: ProgramRun, user: str, method: str, path: str, expected: object) -> None:
    assert mirror_decision(caddy_config(mirrored), user, method, path) == expected


def test_mirror_routes_come_after_authentication_and_the_users_rules(mirrored: ProgramRun) -> None:
    routes = server(caddy_config(mirrored))["routes"]
    text = [json.dumps(route) for route in routes]
    authentication = next(index for index, route in enumerate(text) if '"authentication"' in route)
    users = [index for index, route in enumerate(text) if "http.auth.user.id" in route]
    mirrors = [index for index, route in enumerate(text) if "/v2/mirror" in route]
    assert len(mirrors) == 3
    assert authentication < min(users)
    assert max(users) < min(mirrors)
    # The catch-all refusal last among them, then the registry's proxy.
    assert '"DENIED"' in text[mirrors[-1]].replace("\\", "")
    assert mirrors[-1] == len(routes) - 2
    assert routes[-1]["handle"][0]["upstreams"] == [{"dial": "127.0.0.1:5002"}]


def test_the_registrys_metrics_listener_stays_the_registrys(run_with: RunProgram) -> None:
    run = run_with(metrics={"enabled": True}, mirrors=MIRRORS[1:])
    containers, objects = by_name(run), objects_by_name(run)
    registry = container_environment(containers["registry"], objects)
    mirror = container_environment(containers["mirror-0"], objects)
    assert registry["REGISTRY_HTTP_DEBUG_ADDR"] == ":5001"
    assert not [variable for variable in mirror if variable.startswith("REGISTRY_HTTP_DEBUG_")]
    assert mirror["REGISTRY_HTTP_DEBUG"] == "{}"
