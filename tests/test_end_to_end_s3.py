"""End to end on object storage: the rendered registry against an S3-compatible store that checks credentials.

moto's server runs as the store in a network of its own, linked to the pod as
an external endpoint would be; it enforces authentication, so the keys the
stack renders (into a Secret file the AWS SDK reads, never the environment)
are really used. The registry (the pinned 3.1.1) runs with the pod's
environment only, as in a pod (Debian's 2.8 S3 driver even panics when
AWS_CA_BUNDLE is set, as it is on the build machines).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from harness.e2e import Registry, require_tools, running_registry
from harness.images import build_random_image
from harness.pod_layout import PodLayout
from harness.pod_roots import INSIDE
from harness.pod_sandbox import CLIENT_PATH, Sandbox

BUCKET = "registry"
STORE_ADDRESS = "10.244.1.2"  # the store's end of its link to the pod
STORE_SCRIPT = str(Path(__file__).with_name("s3_store.py"))
MOTO_SERVER = str(Path(sys.executable).with_name("moto_server"))


def render(mocks: FaithfulMocks, keys: dict[str, str]) -> ProgramRun:
    config = dev_config()
    storage = {"type": "s3", "bucket": BUCKET, "regionEndpoint": f"http://{STORE_ADDRESS}:9000", **keys}
    config["image-registry:storage"] = json.dumps(storage)
    return run_program(config, mocks, secret_keys=["image-registry:storage"])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, dict[str, str]]]:
    require_tools()
    workspace = tmp_path_factory.mktemp("s3")
    sandbox = Sandbox(PodLayout.without_containers(workspace, "store"))
    try:
        environment = {"PATH": CLIENT_PATH, "HOME": f"{INSIDE}/home"}
        sandbox.start_helper(
            "moto", [MOTO_SERVER, "-H", "0.0.0.0", "-p", "9000"], "http://127.0.0.1:9000/", environment
        )
        setup = sandbox.run(sys.executable, STORE_SCRIPT, "setup", "http://127.0.0.1:9000", BUCKET)
        assert setup.returncode == 0, setup.stderr
        yield sandbox, json.loads(setup.stdout)
    finally:
        sandbox.close()


@pytest.fixture(scope="module")
def registry(store: tuple[Sandbox, dict[str, str]]) -> Iterator[Registry]:
    sandbox, keys = store
    mocks = FaithfulMocks()

    def link(pod: Sandbox) -> None:
        assert pod.connect(sandbox, 1) == STORE_ADDRESS

    with running_registry(render(mocks, keys), mocks, Path(sandbox.workspace), on_new_pod=link) as registry:
        yield registry


def objects(store: tuple[Sandbox, dict[str, str]]) -> list[str]:
    sandbox, keys = store
    listing = sandbox.run(
        sys.executable, STORE_SCRIPT, "keys", "http://127.0.0.1:9000", BUCKET, keys["accessKey"], keys["secretKey"]
    )
    assert listing.returncode == 0, listing.stderr
    names: list[str] = json.loads(listing.stdout)
    return names


def test_the_keys_reach_the_registry_as_a_file_only(registry: Registry, store: tuple[Sandbox, dict[str, str]]) -> None:
    _, keys = store
    assert not any(keys["secretKey"] in value for value in registry.layout.container().env.values())
    credentials = next(mount for mount in registry.layout.container().mounts if mount.target == "/etc/registry/s3")
    assert keys["secretKey"] in (Path(credentials.source) / "credentials").read_text()


def test_push_and_pull_with_the_blobs_in_the_bucket(registry: Registry, store: tuple[Sandbox, dict[str, str]]) -> None:
    push_host, pull_host = registry.run.outputs["hostnames"]
    image = registry.workspace / "image"
    digest = build_random_image(image, total_mib=16, layer_count=2)
    code, error = registry.push(image, push_host, "ci/app:1")
    assert code == 0, error
    assert registry.pulled_digest(pull_host, "ci/app:1", registry.workspace / "pulled") == digest
    stored = objects(store)
    for blob in (image / "blobs" / "sha256").iterdir():
        assert f"docker/registry/v2/blobs/sha256/{blob.name[:2]}/{blob.name}/data" in stored


def test_nothing_is_lost_when_the_registry_is_killed_mid_push(registry: Registry) -> None:
    registry.check_nothing_is_lost_when_killed_mid_push()


def test_wrong_credentials_give_a_clear_error_at_once(registry: Registry) -> None:
    registry.restart_pod(render(registry.mocks, {"accessKey": "AKIAWRONGWRONGWRONG0", "secretKey": "not-the-key"}))
    image = registry.workspace / "refused"
    build_random_image(image, total_mib=1, layer_count=1)
    started = time.monotonic()
    code, error = registry.push(image, registry.run.outputs["registryHost"], "ci/refused:1")
    elapsed = time.monotonic() - started
    assert code != 0
    assert elapsed < 30, f"the push hung for {elapsed:.0f} s"
    assert "500" in error or "unknown" in error.lower(), error
    assert "InvalidAccessKeyId" in registry.sandbox.registry_log.read_text()
