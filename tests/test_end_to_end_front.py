"""End to end: the front (Caddy 2.10.2, as the stack ships it) holds against anyone without credentials.

Oversized headers are refused (431) and no failure grows the pod's memory; an
unknown user name costs no more CPU than a known user's wrong password; every
request is one JSON log line naming its user and client, and no log holds a
secret; forwarding headers cannot steer the registry's URLs; one API-version
header, no HTTP/3; a bad config file never reaches the running front; the
registry down answers the registry's JSON, not an empty 502.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.workload.front import RELOAD_INTERVAL_SECONDS
from harness.abuse import Target, authorization_header
from harness.doubles import FaithfulMocks, dev_config, run_program
from harness.e2e import REPOSITORY, Registry, running_registry
from harness.images import build_busybox_image
from harness.pod_layout import write_secret_volume
from harness.process_usage import resident_bytes
from harness.program_run import secret_data

KNOWN = {"name": "known", "password": "known-Passw0rd-2026"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    # The first user's password is generated (bcrypt cost 4); "known" supplies one, hashed at bcryptCost (10).
    config = {**dev_config(), "image-registry:users": json.dumps([{"name": "registry"}, KNOWN])}
    mocks = FaithfulMocks()
    run = run_program(config, mocks, secret_keys=["image-registry:users"])
    with running_registry(run, mocks, tmp_path_factory.mktemp("pod")) as registry:
        yield registry


def front_pid(registry: Registry) -> int:
    return registry.sandbox.processes["front"].pid


def pod_memory(registry: Registry) -> int:
    return sum(resident_bytes(process.pid) for process in registry.sandbox.processes.values())


def target(registry: Registry) -> Target:
    return Target(registry.client, registry.ca_file, f"https://{registry.addresses()[0]}/v2/")


def requests(registry: Registry, count: int, header_file: Path, *options: str) -> list[str]:
    return target(registry).statuses(count, header_file, *options)


def authorization(registry: Registry, user: str, password: str) -> Path:
    return authorization_header(registry.workspace, user, password)


def test_oversized_headers_are_refused_and_no_failure_grows_memory(registry: Registry) -> None:
    good = authorization(registry, registry.username, registry.password)
    assert set(requests(registry, 20, good)) == {"200"}
    idle = pod_memory(registry)
    # Each a new 700 kB password: Caddy alone caches every failed check, keyed by hash and password.
    assert target(registry).wrong_credentials(registry.username, 700_000, 200) == ["431"] * 200
    # Over HTTP/2 Go refuses a header list over the limit by closing the connection (CVE-2023-45288).
    assert not {"200", "401"} & set(requests(registry, 20, authorization(registry, registry.username, "x" * 700_000)))
    # Within the header limit, too long for any password: 401 before bcrypt and its cache.
    assert target(registry).wrong_credentials(registry.username, 12_000, 200) == ["401"] * 200
    # Wrong passwords bcrypt can check: the cache keeps at most 1,000 results, a few hundred bytes each.
    assert target(registry).wrong_credentials(registry.username, 72, 1200) == ["401"] * 1200
    grown = pod_memory(registry) - idle
    assert grown <= 32 * MIB, f"the pod grew by {grown / MIB:.1f} MiB"
    assert set(requests(registry, 5, good)) == {"200"}


def test_an_unknown_user_costs_no_more_than_a_wrong_password(registry: Registry) -> None:
    def cost(user: str) -> float:
        return target(registry).cpu_per_guess(front_pid(registry), user, 3)

    known, unknown = cost(KNOWN["name"]), cost("nobody-at-all")
    # Caddy alone would check an unknown name against a cost-14 dummy hash: over a second each.
    assert unknown <= known, f"unknown user {unknown:.3f} s against a known user's wrong password {known:.3f} s"
    assert known >= 0.03, "a check at bcrypt cost 10 costs something: the measure works"


def access_lines(registry: Registry) -> list[dict[str, Any]]:
    lines = [
        json.loads(line) for line in registry.sandbox.log("front").read_text().splitlines() if line.startswith("{")
    ]
    return [line for line in lines if line.get("logger") == "http.log.access.registry"]


def test_every_request_is_one_line_naming_who_from_where(registry: Registry) -> None:
    address = registry.addresses()[0]
    busybox = build_busybox_image(registry.workspace / "busybox")
    before = len(access_lines(registry))
    assert registry.push(registry.workspace / "busybox", address) == (0, "")
    assert registry.inspect_digest(address) == (0, busybox)
    forged = ("-H", "X-Forwarded-For: 6.6.6.6", "-H", "X-Real-Ip: 6.6.6.6", "-H", "Forwarded: for=6.6.6.6")
    assert registry.curl(f"https://{address}/v2/_catalog", "-u", f"{registry.username}:wrong", *forged)[1] == "401"
    assert registry.curl(f"https://{address}/v2/_catalog", "-u", "intruder:guess")[1] == "401"
    lines = access_lines(registry)[before:]
    for line in lines:
        assert line["level"] == "info"
        assert line["msg"] == "handled request"
        assert {"ts", "duration", "status", "size", "bytes_read", "user_id", "claimed_user", "client"} <= line.keys()
        assert {"method", "uri", "client_ip", "remote_ip", "host"} <= line["request"].keys()
        assert "headers" not in line["request"]
        assert "resp_headers" not in line
        assert line["client"] == "127.0.0.1", "a client's forwarding headers say nothing"
    manifest_put = [
        line for line in lines if line["request"]["method"] == "PUT" and "/manifests/" in line["request"]["uri"]
    ]
    assert manifest_put
    assert {line["user_id"] for line in manifest_put} == {registry.username}
    refused = [line for line in lines if line["status"] == 401]
    # skopeo first asks without credentials (401, no user); then the two guesses: the user they name, or none.
    assert [line["claimed_user"] for line in refused[-2:]] == [registry.username, ""]
    assert {line["claimed_user"] for line in refused[:-2]} == {""}
    assert all(line["user_id"] == "" for line in refused)
    uploads = [line["request"]["uri"] for line in lines if "/blobs/uploads/" in line["request"]["uri"]]
    assert uploads
    assert not [uri for uri in uploads if "_state=" in uri], "the upload token stays out of the log"
    # The registry's own log (its errors: a missing tag here) says where the request came from: the client,
    # as the front saw it.
    missing = f"https://{address}/v2/{REPOSITORY}/manifests/missing"
    assert registry.curl(missing, "-u", registry.credentials())[1] == "404"
    logged(registry, "http.request.remoteaddr=127.0.0.1")
    assert "6.6.6.6" not in registry.sandbox.registry_log.read_text()


def logged(registry: Registry, text: str) -> str:
    """The registry's log once it holds `text`: it writes a request's line after its answer."""
    deadline = time.monotonic() + 10
    while text not in (log := registry.sandbox.registry_log.read_text()):
        assert time.monotonic() < deadline, f"the registry never logged {text!r}"
        time.sleep(0.1)
    return log


def test_forwarding_headers_cannot_steer_upload_urls(registry: Registry) -> None:
    for address in (registry.addresses()[0], registry.addresses()[-1]):
        _, status, answer = registry.curl(
            f"https://{address}/v2/{REPOSITORY}/blobs/uploads/", "-i", "-X", "POST", "-u", registry.credentials(),
            "-H", "Forwarded: proto=http;host=evil.example;for=6.6.6.6", "-H", "X-Forwarded-Host: evil.example",
            "-H", "X-Forwarded-Proto: http", "-H", "X-Forwarded-Port: 1234",
        )  # fmt: skip
        assert status == "202", answer
        location = re.search(r"^location: (\S+)", answer, re.IGNORECASE | re.MULTILINE)
        assert location is not None, answer
        assert location.group(1).startswith(f"https://{address}/v2/{REPOSITORY}/blobs/uploads/"), location.group(1)


def test_one_api_version_header_and_no_http_3(registry: Registry) -> None:
    url = f"https://{registry.addresses()[0]}/v2/"
    for login in (registry.credentials(), "nobody:x", f"{registry.username}:wrong"):
        _, _, answer = registry.curl(url, "-i", "-u", login)
        headers = [line.partition(":")[0].lower() for line in answer.splitlines()]
        assert headers.count("docker-distribution-api-version") == 1, answer
        assert "alt-svc" not in headers
        assert "server" not in headers
        assert "via" not in headers
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        sockets = registry.client.run("cat", table).stdout
        assert ":1388 " not in sockets, "a UDP socket on 5000: HTTP/3 is on"


def test_a_bad_config_file_never_reaches_the_running_front(registry: Registry) -> None:
    address = registry.addresses()[0]
    front = registry.sandbox.processes["front"]
    volume = Path(registry.sandbox.layout.container("front").mount("/etc/caddy/config").source)
    write_secret_volume(volume, {"caddy.json": '{"apps": {"http": '}, 0o440, registry.sandbox.layout.fs_group)
    time.sleep(2.5 * RELOAD_INTERVAL_SECONDS)
    assert registry.curl(f"https://{address}/v2/", "-u", registry.credentials())[1] == "200"
    assert "front: kept the running config" in registry.sandbox.log("front").read_text()
    # The next good file is taken, without a restart.
    config = dev_config()
    config["image-registry:users"] = json.dumps(
        [{"name": "registry"}, KNOWN, {"name": "ci", "password": "ci-Passw0rd-2026"}]
    )
    updated = run_program(config, registry.mocks, secret_keys=["image-registry:users"])
    assert updated.outputs["password"] == registry.password
    registry.layout.update_secret(updated, "front-config")
    deadline = time.monotonic() + 6 * RELOAD_INTERVAL_SECONDS
    while (answer := registry.curl(f"https://{address}/v2/_catalog", "-u", "ci:ci-Passw0rd-2026"))[1] != "200":
        assert time.monotonic() < deadline, answer
        time.sleep(0.5)
    assert registry.sandbox.processes["front"] is front
    assert front.poll() is None


def test_the_registry_down_answers_like_the_registry(registry: Registry) -> None:
    registry.sandbox.processes.pop("registry").terminate()
    _, status, body = registry.curl(f"https://{registry.addresses()[0]}/v2/", "-u", registry.credentials())
    assert status == "503"
    assert json.loads(body)["errors"][0]["code"] == "UNAVAILABLE"
    registry.sandbox.start_registry()
    assert registry.curl(f"https://{registry.addresses()[0]}/v2/", "-u", registry.credentials())[1] == "200"


def cancel_an_upload(registry: Registry) -> None:
    """An upload started and cancelled (DELETE on its location, `_state` and all), as a client gives one up."""
    address = registry.addresses()[0]
    url = f"https://{address}/v2/{REPOSITORY}/blobs/uploads/"
    _, status, answer = registry.curl(url, "-i", "-X", "POST", "-u", registry.credentials())
    assert status == "202", answer
    location = re.search(r"^location: (\S+)", answer, re.IGNORECASE | re.MULTILINE)
    assert location is not None, answer
    assert "_state=" in location.group(1)
    assert registry.curl(location.group(1), "-X", "DELETE", "-u", registry.credentials())[1] == "204"
    assert registry.curl(location.group(1), "-u", registry.credentials())[1] == "404", "the upload is gone"


def test_no_log_holds_a_secret(registry: Registry) -> None:
    """Run last: every container's log so far (pushes, a pull, a cancelled upload), against every password,
    hash and Authorization value used, and every upload's `_state` token."""
    address = registry.addresses()[0]
    assert registry.pulled_digest(address, f"{REPOSITORY}:latest", registry.workspace / "pulled")
    cancel_an_upload(registry)
    accounts = json.loads(
        secret_data(
            next(item for item in registry.run.manifests() if item["metadata"].get("name") == "image-registry-auth")
        )["caddy.json"]
    )
    secrets = [registry.password, KNOWN["password"], "ci-Passw0rd-2026"]
    hashes = re.findall(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", json.dumps(accounts))
    assert len(hashes) >= 3
    encoded = [base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()]
    logs = list(registry.workspace.glob("pod-*.log"))
    assert {log.name for log in logs} >= {"pod-front.log", "pod-registry.log"}
    for log in logs:
        text = log.read_text()
        assert text, log
        for secret in [*secrets, *hashes, *encoded]:
            assert secret not in text, f"{log.name} holds a secret"
        assert "Basic " not in text, log.name
        assert "authorization" not in text.lower(), log.name
        # Whoever has an upload's token may act on it (patch, complete or cancel someone else's upload).
        assert "_state" not in text, f"{log.name} holds an upload's token"
    # What operators need stays: the registry's errors (the missing tag asked for above).
    assert 'level=error msg="response completed with error" err.code="manifest unknown"' in logged(
        registry, "manifest unknown"
    )
