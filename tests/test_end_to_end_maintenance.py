"""End to end: nothing lost when the registry is killed mid-push, garbage collection, read-only mode, metrics.

Each test renders the stack for what it needs and runs the pod in its own
sandbox on a claim directory; settings changes are new pods on the same claim,
as a rollout would make them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from harness.e2e import Registry, running_registry
from harness.images import build_random_image
from harness.pod_layout import PodLayout
from harness.pod_sandbox import Sandbox

DELETES_ON = {"deleteEnabled": True}
# The stack's user may delete (a push user may not): the garbage collector then has something to free.
ADMIN = [{"name": "registry", "access": "admin"}]


def render(mocks: FaithfulMocks, **keys: Any) -> ProgramRun:
    config = dev_config()
    config.update({f"image-registry:{key}": json.dumps(value) for key, value in {"users": ADMIN, **keys}.items()})
    return run_program(config, mocks)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    mocks = FaithfulMocks()
    with running_registry(render(mocks, storage=DELETES_ON), mocks, tmp_path) as registry:
        yield registry


def test_nothing_is_lost_when_the_registry_is_killed_mid_push(registry: Registry) -> None:
    registry.check_nothing_is_lost_when_killed_mid_push()


def blob_files(registry: Registry, layout: Path) -> list[Path]:
    """Where the filesystem driver keeps each blob of the image in `layout`."""
    (claim,) = (Path(registry.workspace) / "claims").iterdir()
    blobs = [path.name for path in (layout / "blobs" / "sha256").iterdir()]
    return [claim / "docker/registry/v2/blobs/sha256" / digest[:2] / digest / "data" for digest in blobs]


def test_garbage_collection_frees_what_was_deleted_and_keeps_the_rest(registry: Registry) -> None:
    host = registry.run.outputs["registryHost"]
    kept = build_random_image(registry.workspace / "kept", total_mib=2, layer_count=2)
    dropped = build_random_image(registry.workspace / "dropped", total_mib=2, layer_count=2)
    assert registry.push(registry.workspace / "kept", host, "ci/app:kept")[0] == 0
    assert registry.push(registry.workspace / "dropped", host, "ci/app:dropped")[0] == 0
    _, status, body = registry.curl(
        f"https://{host}/v2/ci/app/manifests/{dropped}", "-X", "DELETE", "-u", registry.credentials()
    )
    assert status == "202", body
    assert all(path.exists() for path in blob_files(registry, registry.workspace / "dropped"))

    maintenance = {"readOnly": True, "garbageCollect": {"schedule": "30 3 * * 0"}}
    window = render(registry.mocks, storage=DELETES_ON, maintenance=maintenance)
    registry.restart_pod(window)
    collector = Sandbox(PodLayout.from_run(window, registry.workspace, [], kind="CronJob", pod_name="collector"))
    try:
        result = collector.run_container()
    finally:
        collector.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Deleting blob" in result.stdout + result.stderr
    assert not any(path.exists() for path in blob_files(registry, registry.workspace / "dropped"))
    assert all(path.exists() for path in blob_files(registry, registry.workspace / "kept"))
    assert registry.pulled_digest(host, "ci/app:kept", registry.workspace / "pulled-kept") == kept


def test_read_only_refuses_pushes_and_serves_pulls(registry: Registry) -> None:
    host = registry.run.outputs["registryHost"]
    existing = build_random_image(registry.workspace / "existing", total_mib=2, layer_count=1)
    assert registry.push(registry.workspace / "existing", host, "ci/app:1")[0] == 0
    registry.restart_pod(render(registry.mocks, storage=DELETES_ON, maintenance={"readOnly": True}))
    build_random_image(registry.workspace / "new", total_mib=2, layer_count=1)
    code, error = registry.push(registry.workspace / "new", host, "ci/app:2")
    assert code != 0
    assert "405" in error or "method not allowed" in error.lower(), error
    assert registry.pulled_digest(host, "ci/app:1", registry.workspace / "pulled") == existing


def counter(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
    )


def test_metrics_answer_prometheus_text_with_the_registrys_counters(tmp_path: Path) -> None:
    mocks = FaithfulMocks()
    with running_registry(render(mocks, metrics={"enabled": True}), mocks, tmp_path) as registry:
        host = registry.run.outputs["registryHost"]
        build_random_image(tmp_path / "image", total_mib=1, layer_count=1)
        assert registry.push(tmp_path / "image", host, "ci/app:1")[0] == 0
        # Plain HTTP on its own port, inside the cluster only (the NetworkPolicy admits metrics.allowFrom).
        code, status, text = registry.curl("http://127.0.0.1:5001/metrics")
        assert (code, status) == (0, "200")
        assert counter(text, "registry_http_requests_total", handler="manifest", method="put", code="201") >= 1
        assert counter(text, "registry_storage_action_seconds_count", driver="filesystem") > 0
