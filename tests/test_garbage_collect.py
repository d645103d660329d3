"""The garbage collector's CronJob: the registry's own command, storage, settings and hardening."""

from __future__ import annotations

from typing import Any

from harness.doubles import ProgramRun
from tests.conftest import RunProgram

COLLECT = {"readOnly": True, "garbageCollect": {"schedule": "30 3 * * 0", "deleteUntagged": True}}


def job_pod(run: ProgramRun) -> dict[str, Any]:
    spec: dict[str, Any] = run.manifest("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def registry_pod(run: ProgramRun) -> dict[str, Any]:
    spec: dict[str, Any] = run.manifest("Deployment")["spec"]["template"]["spec"]
    return spec


def test_no_collector_unless_asked(dev_run: ProgramRun) -> None:
    assert "CronJob" not in {item["kind"] for item in dev_run.manifests()}


def test_the_collector_runs_the_registrys_command_on_its_storage(run_with: RunProgram) -> None:
    run = run_with(storage={"accessMode": "ReadWriteMany", "deleteEnabled": True}, maintenance=COLLECT)
    cron = run.manifest("CronJob")["spec"]
    assert (cron["schedule"], cron["concurrencyPolicy"]) == ("30 3 * * 0", "Forbid")
    (container,) = job_pod(run)["containers"]
    # The registry's own container, without its front: the collector needs no TLS and no users.
    server = next(item for item in registry_pod(run)["containers"] if item["name"] == "registry")
    assert container["args"] == ["garbage-collect", "--delete-untagged", server["args"][0]]
    # The registry's settings, but the log level: the collector names each blob it deletes at `info`.
    level = {"name": "REGISTRY_LOG_LEVEL", "value": "info"}
    assert [item for item in container["env"] if item != level] == [
        item for item in server["env"] if item["name"] != "REGISTRY_LOG_LEVEL"
    ]
    assert level in container["env"]
    assert container["volumeMounts"] == server["volumeMounts"]
    serving_volumes = {volume["name"]: volume for volume in registry_pod(run)["volumes"]}
    assert job_pod(run)["volumes"] == [serving_volumes[mount["name"]] for mount in server["volumeMounts"]]
    for key in ("securityContext", "serviceAccountName", "automountServiceAccountToken"):
        assert job_pod(run)[key] == registry_pod(run)[key], key
    assert container["securityContext"] == server["securityContext"]
    assert job_pod(run)["restartPolicy"] == "Never"
    assert "readinessProbe" not in container
    assert "affinity" not in job_pod(run), "shared storage mounts anywhere"


def test_on_a_single_node_claim_the_collector_runs_beside_the_registry(run_with: RunProgram) -> None:
    maintenance = {**COLLECT, "readOnly": False, "allowOnlineGc": True}
    run = run_with(storage={"deleteEnabled": True}, maintenance=maintenance)
    (term,) = job_pod(run)["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    labels = run.manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert term["labelSelector"]["matchLabels"].items() <= labels.items()
    job_labels = run.manifest("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert not term["labelSelector"]["matchLabels"].items() <= job_labels.items(), "it must not select itself"
