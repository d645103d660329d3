"""The policy pack as the real CLI enforces it (`pulumi preview --policy-pack policy`): the shipped stack files
pass; objects that break each policy are refused, by name, before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.pulumi_engine import PROJECT_DIR, PulumiCli, Stack, copy_project
from policy.policies import POLICIES
from tests.real_engine import Deploy

pytestmark = pytest.mark.real_engine

POLICY_PACK = str(PROJECT_DIR / "policy")
PROBE = Path(__file__).resolve().parent / "policy_probe"


def test_the_dev_stack_passes_the_policy_pack(deploy: Deploy) -> None:
    stack = deploy("dev", {"namespace": "policy-dev"}, up=False)
    preview = stack.preview("--policy-pack", POLICY_PACK)
    assert "Policies:" in preview.stdout
    assert "mandatory" not in preview.output


def test_a_prod_stack_on_throwaway_storage_is_refused(deploy: Deploy) -> None:
    stack = deploy(
        "prod-lab",
        {"namespace": "policy-prod", "hostnames[0]": "lab.example.com", "storage.type": "emptyDir"},
        up=False,
    )
    preview = stack.preview("--policy-pack", POLICY_PACK, check=False)
    assert preview.returncode != 0
    assert "prod-registry-storage-survives" in preview.output
    assert "every image is lost with the pod" in preview.output
    assert stack.resources() == [], "a refused preview creates nothing"


def test_objects_breaking_every_policy_are_refused_by_name(pulumi_cli: PulumiCli, tmp_path: Path) -> None:
    probe = copy_project(PROBE, tmp_path / "probe")
    stack = Stack(pulumi_cli, probe, "prod-probe").init()
    preview = stack.preview("--policy-pack", POLICY_PACK, check=False)
    assert preview.returncode != 0
    refused = {policy.name for policy in POLICIES if policy.name in preview.output}
    assert refused == {policy.name for policy in POLICIES}
    assert "registry:latest is not pinned" in preview.output
    assert "probe-pull carries the user ci" in preview.output
    assert "scratch: REGISTRY_PROXY_PASSWORD sets upstream credentials in the environment" in preview.output
    assert "ConfigMap default/probe-node-files holds an Authorization header" in preview.output
