"""The pod sandbox restarts pods as the kubelet does: a new pod gets empty emptyDir volumes, claims keep their data.

A container that restarts inside the same pod keeps even its emptyDir; a new
pod (a rollout, an eviction, a node drain) does not. That is why `emptyDir`
storage is throwaway, and why the default is a claim.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.doubles import FaithfulMocks, dev_config, run_program
from harness.e2e import Registry, running_registry
from harness.images import build_busybox_image


def push_busybox(registry: Registry) -> str:
    digest = build_busybox_image(registry.workspace / "busybox")
    code, error = registry.push(registry.workspace / "busybox", registry.run.outputs["registryHost"])
    assert code == 0, error
    return digest


@pytest.mark.parametrize(
    ("storage", "after_a_new_pod"),
    [
        pytest.param({"type": "emptyDir"}, {"repositories": []}, id="emptyDir-starts-empty"),
        pytest.param({"type": "pvc"}, {"repositories": ["utils/busybox"]}, id="claim-keeps-its-data"),
    ],
)
def test_a_new_pod_and_a_restarted_container(tmp_path: Path, storage: dict[str, str], after_a_new_pod: object) -> None:
    config = dev_config()
    config["image-registry:storage"] = json.dumps(storage)
    mocks = FaithfulMocks()
    run = run_program(config, mocks)
    with running_registry(run, mocks, tmp_path) as registry:
        host = run.outputs["registryHost"]
        digest = push_busybox(registry)
        registry.sandbox.stop_registry()
        registry.sandbox.start_registry()
        assert registry.catalog(host) == {"repositories": ["utils/busybox"]}, (
            "a container restart keeps the pod's volumes"
        )
        assert registry.inspect_digest(host) == (0, digest)
        registry.restart_pod()
        assert registry.catalog(host) == after_a_new_pod
