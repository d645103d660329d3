"""End to end: odd requests a client may send, through the real front (Caddy 2.10.2) and registry.

A request that names no host is refused (the registry would answer it with
its own loopback address in upload URLs); no request target gets an upload's
`_state` into the front's log; a request body shorter than its Content-Length
is the client's error (400), not an outage (503); only reads of `/` itself
pass without credentials; the header limits are what the docs say.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest

from components.workload.front_config import UPSTREAM
from harness.e2e import REPOSITORY, Registry

KIB = 1024


def access_lines(registry: Registry) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in registry.sandbox.log("front").read_text().splitlines() if line[:1] == "{"]
    return [line for line in lines if line.get("logger") == "http.log.access.registry"]


def start_upload(registry: Registry) -> str:
    """A new upload's location (path and query, `_state` included)."""
    url = f"https://{registry.addresses()[0]}/v2/{REPOSITORY}/blobs/uploads/"
    _, status, answer = registry.curl(url, "-i", "-X", "POST", "-u", registry.credentials())
    assert status == "202", answer
    location = re.search(r"^location: (\S+)", answer, re.IGNORECASE | re.MULTILINE)
    assert location is not None, answer
    parts = urllib.parse.urlsplit(location.group(1))
    assert "_state=" in parts.query
    return f"{parts.path}?{parts.query}"


@pytest.mark.parametrize(
    "no_host",
    [
        pytest.param(["--http1.1", "-H", "Host;"], id="HTTP/1.1, Host empty"),
        pytest.param(["--http1.0", "--no-alpn", "-H", "Host:"], id="HTTP/1.0, no Host"),
        pytest.param(["--http2", "-H", "Host;"], id="HTTP/2, :authority empty"),
    ],
)
def test_a_request_naming_no_host_never_learns_the_registrys_address(registry: Registry, no_host: list[str]) -> None:
    url = f"https://{registry.addresses()[0]}/v2/{REPOSITORY}/blobs/uploads/"
    _, status, answer = registry.curl(url, "-i", "-X", "POST", "-u", registry.credentials(), *no_host)
    assert UPSTREAM not in answer
    assert status == "400", answer
    assert json.loads(answer.rpartition("\n")[2])["errors"][0]["code"] == "UNSUPPORTED"
    if "--http2" in no_host:
        assert answer.startswith("HTTP/2 "), "the request went over HTTP/2"
    # With a host, the same request is an upload (the refusal is the host's alone).
    assert registry.curl(url, "-X", "POST", "-u", registry.credentials())[1] == "202"


def test_no_request_target_gets_an_upload_token_into_the_log(registry: Registry) -> None:
    location = start_upload(registry)
    path, _, query = location.partition("?")
    token = urllib.parse.parse_qs(query)["_state"][0]
    encoded = urllib.parse.quote(token, safe="")
    before = len(access_lines(registry))
    for target in [
        location,
        # A fragment with a bad escape (no client sends a fragment; Go's server takes it as part of the query).
        f"{location}&y=#%zz",
        # The parameter's name percent-encoded: the registry decodes it as Go does.
        f"{path}?%5Fst%61te={encoded}&y=#%zz",
    ]:
        url = f"https://{registry.addresses()[0]}/"
        _, status, answer = registry.curl(url, "--request-target", target, "-u", registry.credentials())
        assert status == "204", f"the registry took the token in {target}: {answer}"
    lines = access_lines(registry)[before:]
    assert len(lines) == 3
    for line in lines:
        uri = line["request"]["uri"]
        assert uri.startswith(path), uri
        assert token not in uri
        assert encoded not in uri
        assert "state=" not in uri


def test_a_short_body_is_the_clients_error_not_an_outage(registry: Registry) -> None:
    location = start_upload(registry)
    address = registry.addresses()[0]
    short = ["--http2", "-H", "Content-Length: 10", "--data-binary", "abc", "-i"]
    before = len(access_lines(registry))
    # An upload's chunk, and a GET of the open root with a body: HTTP/2, END_STREAM after 3 of 10 bytes.
    for url, options in [
        (f"https://{address}{location}", ["-X", "PATCH", "-u", registry.credentials()]),
        (f"https://{address}/", ["-X", "GET"]),
    ]:
        _, status, answer = registry.curl(url, *short, *options)
        assert answer.startswith("HTTP/2 "), answer
        assert status == "400", answer
        assert json.loads(answer.rpartition("\n")[2])["errors"][0]["code"] == "SIZE_INVALID"
        assert "retry-after" not in answer.lower()
    lines = access_lines(registry)[before:]
    assert [(line["status"], line["level"]) for line in lines] == [(400, "info")] * 2, "no error, no outage"
    # At once: the body, read once, is not sent again for the proxy's 5 s of tries.
    assert all(line["duration"] < 3 for line in lines), [line["duration"] for line in lines]
    # The registry was healthy all along.
    assert registry.curl(f"https://{address}/v2/", "-u", registry.credentials())[1] == "200"


def test_only_reads_of_the_root_itself_pass_without_credentials(registry: Registry) -> None:
    address = registry.addresses()[0]
    for method in ("GET", "HEAD"):
        options = ["-I"] if method == "HEAD" else []
        assert registry.curl(f"https://{address}/", *options)[1] == "200", method
    # Any other method, and paths the path matcher would clean to `/`: credentials first.
    for method, path in [("POST", "/"), ("PUT", "/"), ("DELETE", "/"), ("GET", "//"), ("GET", "/v2/.."),
                         ("GET", "/./"), ("GET", "/%2F")]:  # fmt: skip
        _, status, body = registry.curl(f"https://{address}{path}", "--path-as-is", "-X", method)
        assert status == "401", f"{method} {path}: {status} {body}"
        assert json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("protocol", "accepted", "refused"),
    [
        # Go allows HTTP/1.1 headers 4 KiB beyond the configured 16 KiB.
        pytest.param("--http1.1", 19 * KIB, 21 * KIB, id="HTTP/1.1: about 20 KiB"),
        # HTTP/2's limit is exact (each field counts 32 bytes more), and a header list over it ends the stream.
        pytest.param("--http2", 15 * KIB, 17 * KIB, id="HTTP/2: 16 KiB"),
    ],
)
def test_the_header_limit_is_what_the_docs_say(registry: Registry, protocol: str, accepted: int, refused: int) -> None:
    url = f"https://{registry.addresses()[0]}/"
    header = registry.workspace / f"padding-{protocol.strip('-')}.header"
    for size, expected in [(accepted, {"200"}), (refused, {"431", "000", ""})]:
        header.write_text(f"X-Padding: {'p' * size}\n")
        _, status, answer = registry.curl(url, protocol, "-H", f"@{registry.client.inside(header)}")
        assert status in expected, f"{protocol} with {size} bytes of header: {status} {answer[:200]}"
