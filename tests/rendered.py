"""The rendered serving pod, read the way the tests need it: containers, environment, volumes, mounts."""

from __future__ import annotations

from typing import Any

from harness.doubles import ProgramRun
from harness.pod_layout import container_environment, objects_by_name


def containers(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """The serving pod's containers by name: the front first, then the registry, then a cache per mirror."""
    listed = run.manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    assert [item["name"] for item in listed][:2] == ["front", "registry"]
    assert all(item["name"].startswith("mirror-") for item in listed[2:])
    return {item["name"]: item for item in listed}


def container(run: ProgramRun, name: str = "registry") -> dict[str, Any]:
    return containers(run)[name]


def environment(run: ProgramRun) -> dict[str, str]:
    return container_environment(container(run), objects_by_name(run))


def volumes(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {volume["name"]: volume for volume in run.manifest("Deployment")["spec"]["template"]["spec"]["volumes"]}


def mounts(run: ProgramRun, name: str = "registry") -> dict[str, dict[str, Any]]:
    return {mount["mountPath"]: mount for mount in container(run, name)["volumeMounts"]}


def secret_named(run: ProgramRun, name: str) -> dict[str, Any]:
    return next(item for item in run.manifests() if item["kind"] == "Secret" and item["metadata"]["name"] == name)
