"""End to end: the manual install's own verification, against the real registry running the rendered pod.

The release the stack pins (Distribution 3.1.1, built from the Go module
proxy) runs with exactly the Deployment's environment, volumes and
securityContext, beside the configuration file the pinned `registry:3.1.1`
image ships; `skopeo`, `curl` and `openssl` trust only the stack's
`caCertPem` and log in with the stack's credentials. External names come in
on 443 (as through the Ingress), the Service name on 5000. The last 2.x
image (`registry:2.8.3`, which the docs say works too) runs Debian's
`docker-registry`, Distribution 2.8.2.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.workload.front import RELOAD_INTERVAL_SECONDS
from harness.doubles import FaithfulMocks, dev_config, run_program
from harness.e2e import NOT_IN_CERTIFICATE, REPOSITORY, Registry, running_registry
from harness.images import build_busybox_image
from harness.registry_release import DEBIAN_BINARY

# The manual install's user (password generated), and an administrator.
USERS = [{"name": "registry"}, {"name": "ops", "access": "admin", "password": "ops-Passw0rd-2026"}]
OPS = "ops:ops-Passw0rd-2026"


def config_with(users: list[dict[str, str]]) -> dict[str, str]:
    return {**dev_config(), "image-registry:users": json.dumps(users)}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    mocks = FaithfulMocks()
    run = run_program(config_with(USERS), mocks, secret_keys=["image-registry:users"])
    with running_registry(run, mocks, tmp_path_factory.mktemp("pod")) as registry:
        yield registry


@pytest.fixture(scope="module")
def busybox(registry: Registry) -> str:
    """The manual install's image, built from Debian's busybox-static; its manifest digest."""
    return build_busybox_image(registry.workspace / "busybox")


def test_push_through_every_certificate_name(registry: Registry, busybox: str) -> None:
    for address in registry.addresses():
        code, error = registry.push(registry.workspace / "busybox", address)
        assert code == 0, f"push to {address}: {error}"


def test_catalog_and_tags_as_in_the_manual_install(registry: Registry) -> None:
    for address in registry.addresses():
        assert registry.catalog(address) == {"repositories": ["utils/busybox"]}
        code, status, body = registry.curl(
            f"https://{address}/v2/utils/busybox/tags/list", "-u", registry.credentials()
        )
        assert (code, status) == (0, "200"), body
        assert json.loads(body) == {"name": "utils/busybox", "tags": ["latest"]}


def test_pull_back_gives_the_same_digest(registry: Registry, busybox: str) -> None:
    for index, address in enumerate(registry.addresses()):
        assert registry.inspect_digest(address) == (0, busybox), address
        destination = registry.workspace / f"pulled-{index}"
        code, error = registry.pull(address, destination)
        assert code == 0, error
        index_json = json.loads((destination / "index.json").read_text())
        assert index_json["manifests"][0]["digest"] == busybox


def test_wrong_password_gets_401(registry: Registry) -> None:
    for address in registry.addresses():
        code, status, body = registry.curl(
            f"https://{address}/v2/_catalog", "-u", registry.credentials("not-the-password")
        )
        assert status == "401", body
        assert "UNAUTHORIZED" in body
    code, error = registry.inspect_digest(registry.addresses()[0], password="not-the-password")
    assert code != 0
    assert "unauthorized" in error


def test_no_credentials_gets_401_but_the_probe_path_answers(registry: Registry) -> None:
    address = registry.addresses()[0]
    _, status, answer = registry.curl(f"https://{address}/v2/", "-i")
    assert status == "401"
    # What clients read on the 401: the Basic challenge and the API version, as the registry sends them.
    headers = {line.partition(":")[0].lower(): line.partition(":")[2].strip() for line in answer.splitlines()}
    assert headers["www-authenticate"] == 'Basic realm="image-registry"'
    assert headers["docker-distribution-api-version"] == "registry/2.0"
    assert json.loads(answer.splitlines()[-1])["errors"][0]["code"] == "UNAUTHORIZED"
    assert registry.curl(f"https://{address}/")[1] == "200"


def test_a_client_without_the_ca_fails_verification(registry: Registry) -> None:
    for address in registry.addresses():
        code, digest_or_error = registry.inspect_digest(address, trust=False)
        assert code != 0
        assert "certificate signed by unknown authority" in digest_or_error
        code, _, body = registry.curl(f"https://{address}/v2/", "--no-ca", "-u", registry.credentials())
        assert code == 60, body


def test_a_name_not_in_the_certificate_fails_hostname_verification(registry: Registry) -> None:
    code, error = registry.inspect_digest(NOT_IN_CERTIFICATE)
    assert code != 0
    assert f"not {NOT_IN_CERTIFICATE}" in error
    code, _, body = registry.curl(f"https://{NOT_IN_CERTIFICATE}/v2/", "-u", registry.credentials())
    assert code == 60
    assert "no alternative certificate subject name matches" in body


def s_client(registry: Registry, *protocol: str) -> tuple[int, str]:
    """OpenSSL at security level 0: a client that really offers the old protocols and ciphers."""
    result = registry.sandbox.run(
        "openssl", "s_client", "-connect", f"127.0.0.1:{registry.layout.port}", *protocol,
        "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", registry.ca_file, "-brief",
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def test_tls_older_than_1_2_is_refused_for_its_version(registry: Registry) -> None:
    code, output = s_client(registry, "-tls1_2")
    assert code == 0, output
    assert "Protocol version: TLSv1.2" in output
    for old in ("-tls1", "-tls1_1"):
        code, output = s_client(registry, old)
        assert code != 0
        # Refused because of the version (not for want of a shared cipher). The front's Caddy knows only
        # TLS 1.2 and 1.3, whatever its config says: this checks the pod's behaviour, and test_front
        # checks that the config asks for it too (no mutation of the config can turn this red).
        assert "alert protocol version" in output, output


def test_deleting_a_manifest_is_refused(registry: Registry, busybox: str) -> None:
    address = registry.addresses()[0]
    url = f"https://{address}/v2/{REPOSITORY}/manifests/{busybox}"
    # A push user may not delete: the front refuses.
    _, status, body = registry.curl(url, "-X", "DELETE", "-u", registry.credentials())
    assert status == "403", body
    assert "DENIED" in body
    # An admin may, but deletes are off: the registry refuses (its image's own config file turns them on).
    _, status, body = registry.curl(url, "-X", "DELETE", "-u", OPS)
    assert status == "405", body
    assert "UNSUPPORTED" in body
    assert registry.inspect_digest(address) == (0, busybox)


def test_no_debug_listener(registry: Registry) -> None:
    # The image's own config file opens one on :5001 (pprof and metrics, no authentication).
    for scheme in ("http", "https"):
        code, _, body = registry.curl(f"{scheme}://127.0.0.1:5001/debug/vars", "-k")
        assert code == 7, f"something answers on :5001: {body}"
    code, status, _ = registry.curl(f"https://127.0.0.1:{registry.layout.port}/", "-k")
    assert (code, status) == (0, "200")


def test_a_new_user_works_without_a_restart(registry: Registry) -> None:
    users = [*USERS, {"name": "ci", "password": "ci-Passw0rd-2026"}]
    updated = run_program(config_with(users), registry.mocks, secret_keys=["image-registry:users"])
    assert updated.outputs["password"] == registry.password
    processes = dict(registry.sandbox.processes)
    address = registry.addresses()[0]
    assert registry.curl(f"https://{address}/v2/_catalog", "-u", "ci:ci-Passw0rd-2026")[1] == "401"
    registry.layout.update_secret(updated, "front-config")
    # The front offers each new version of its config file to the running Caddy (every few seconds).
    deadline = time.monotonic() + 4 * RELOAD_INTERVAL_SECONDS
    while (answer := registry.curl(f"https://{address}/v2/_catalog", "-u", "ci:ci-Passw0rd-2026"))[1] != "200":
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    assert registry.curl(f"https://{address}/v2/_catalog", "-u", registry.credentials())[1] == "200"
    assert registry.sandbox.processes == processes
    assert all(process.poll() is None for process in processes.values())


def test_images_survive_a_new_pod_on_the_claim(registry: Registry, busybox: str) -> None:
    registry.restart_pod()
    for address in registry.addresses():
        assert registry.catalog(address) == {"repositories": ["utils/busybox"]}
        assert registry.inspect_digest(address) == (0, busybox)


def test_deletes_work_when_the_stack_turns_them_on(tmp_path: Path) -> None:
    config = config_with([{"name": "registry", "access": "admin"}])
    config["image-registry:storage"] = json.dumps({"deleteEnabled": True})
    mocks = FaithfulMocks()
    with running_registry(run_program(config, mocks), mocks, tmp_path) as registry:
        digest = build_busybox_image(tmp_path / "busybox")
        address = registry.addresses()[0]
        assert registry.push(tmp_path / "busybox", address)[0] == 0
        url = f"https://{address}/v2/{REPOSITORY}/manifests/{digest}"
        _, status, body = registry.curl(url, "-X", "DELETE", "-u", registry.credentials())
        assert status == "202", body
        assert registry.curl(url, "-u", registry.credentials())[1] == "404"


def test_the_last_2_x_image_works_too(tmp_path: Path) -> None:
    """`image: registry:2.8.3`: Distribution 2.8 (Debian's 2.8.2) with the same environment, files and
    securityContext serves the manual install's checks."""
    config = config_with(USERS)
    config["image-registry:image"] = "registry:2.8.3"
    mocks = FaithfulMocks()
    run = run_program(config, mocks, secret_keys=["image-registry:users"])
    with running_registry(run, mocks, tmp_path) as registry:
        registry_process = registry.sandbox.registry
        assert registry_process is not None
        assert os.path.samefile(f"/proc/{registry_process.pid}/exe", DEBIAN_BINARY)
        digest = build_busybox_image(tmp_path / "busybox")
        for index, address in enumerate(registry.addresses()):
            code, error = registry.push(tmp_path / "busybox", address)
            assert code == 0, f"push to {address}: {error}"
            assert registry.catalog(address) == {"repositories": ["utils/busybox"]}
            assert registry.pulled_digest(address, f"{REPOSITORY}:latest", tmp_path / f"pulled-{index}") == digest
        url = f"https://{registry.addresses()[0]}/v2/{REPOSITORY}/manifests/{digest}"
        _, status, body = registry.curl(url, "-X", "DELETE", "-u", OPS)
        assert status == "405", body
        assert registry.curl("http://127.0.0.1:5001/debug/vars")[0] == 7
