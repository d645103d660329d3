"""End to end: a rollout does not cut what is in flight. The pod is stopped as the kubelet stops it.

Each container's preStop hook runs, then it gets SIGTERM, and SIGKILL when
the pod's grace period ends. The front keeps serving for its shutdown delay
(the Service and Ingress stop sending it requests meanwhile), then lets the
requests in flight finish; the registry takes SIGTERM only once the front
stopped listening, then drains what the front still forwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.workload.front_config import SHUTDOWN_DELAY_SECONDS
from harness.doubles import FaithfulMocks, dev_config, run_program
from harness.e2e import Registry, running_registry
from harness.images import build_random_image


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    mocks = FaithfulMocks()
    with running_registry(run_program(dev_config(), mocks), mocks, tmp_path) as registry:
        yield registry


def stop_in_background(registry: Registry) -> tuple[threading.Thread, dict[str, float]]:
    exited: dict[str, float] = {}
    stopping = threading.Thread(target=lambda: exited.update(registry.sandbox.terminate()))
    stopping.start()
    return stopping, exited


def test_a_push_in_flight_completes_when_the_pod_is_stopped(registry: Registry) -> None:
    address = registry.addresses()[0]
    digest = build_random_image(registry.workspace / "image", total_mib=64, layer_count=4)
    push = registry.start_push(registry.workspace / "image", address, "ci/rolled:1")
    stopping, exited = stop_in_background(registry)
    _, error = push.communicate(timeout=120)
    assert push.returncode == 0, error
    stopping.join(timeout=120)
    assert exited["front"] >= SHUTDOWN_DELAY_SECONDS, "the front served on while the endpoints went away"
    assert exited["registry"] >= exited["front"] - 1, "the registry outlived the front's listener"
    assert exited["registry"] < registry.layout.termination_grace_seconds, "nobody waited for SIGKILL"
    registry.restart_pod()
    assert registry.pulled_digest(address, "ci/rolled:1", registry.workspace / "pulled") == digest


def test_an_upload_in_flight_finishes_during_the_drain(registry: Registry) -> None:
    """One long request (a slow client's layer) still running when the front stops listening."""
    address = registry.addresses()[0]
    blob = os.urandom(12 * 1024 * 1024)
    (registry.workspace / "layer").write_bytes(blob)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    _, status, answer = registry.curl(
        f"https://{address}/v2/ci/slow/blobs/uploads/", "-i", "-X", "POST", "-u", registry.credentials()
    )
    assert status == "202", answer
    location = next(
        line.split(" ", 1)[1].strip() for line in answer.splitlines() if line.lower().startswith("location:")
    )
    # About 8 s at this rate: past the front's shutdown delay, well within the drain.
    upload = registry.client.start(
        "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", registry.ca_file,
        "-u", registry.credentials(), "-X", "PUT", "-H", "Content-Type: application/octet-stream",
        "--data-binary", f"@{registry.client.inside(registry.workspace / 'layer')}", "--limit-rate", "1500K",
        f"{location}&digest={digest}",
    )  # fmt: skip
    stopping, exited = stop_in_background(registry)
    status, error = upload.communicate(timeout=120)
    assert status == "201", error
    stopping.join(timeout=120)
    assert exited["registry"] > SHUTDOWN_DELAY_SECONDS
    registry.restart_pod()
    _, status, answer = registry.curl(
        f"https://{address}/v2/ci/slow/blobs/{digest}", "-I", "-u", registry.credentials()
    )
    assert status == "200"
    assert f"content-length: {len(blob)}" in answer.lower()


def test_the_registry_restarting_alone_is_waited_for(registry: Registry) -> None:
    """A request that arrives while the registry restarts waits for it (briefly) instead of failing."""
    registry.sandbox.kill_registry()
    request = registry.client.start(
        "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", registry.ca_file,
        "-u", registry.credentials(), f"https://{registry.addresses()[0]}/v2/",
    )  # fmt: skip
    time.sleep(1.5)
    assert request.poll() is None, "answered before the registry was back"
    registry.sandbox.start_registry()
    status, error = request.communicate(timeout=30)
    assert status == "200", error
    assert json.loads(registry.curl(f"https://{registry.addresses()[0]}/v2/", "-u", registry.credentials())[2]) == {}
