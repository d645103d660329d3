"""NodeTrust: a least-privilege DaemonSet on every node writing the CA where the container runtime reads it."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
import yaml

from harness.doubles import ProgramRun
from harness.pod_layout import objects_by_name
from tests.conftest import RunProgram
from tests.rendered import container as serving_container

ON = {"enabled": True}


def daemon_pod(run: ProgramRun) -> dict[str, Any]:
    spec: dict[str, Any] = run.manifest("DaemonSet")["spec"]["template"]["spec"]
    return spec


def environment(run: ProgramRun) -> dict[str, str]:
    (container,) = daemon_pod(run)["containers"]
    return {item["name"]: item["value"] for item in container["env"]}


def test_off_by_default(dev_run: ProgramRun) -> None:
    assert "DaemonSet" not in {item["kind"] for item in dev_run.manifests()}


def test_every_node_in_a_namespace_of_its_own(run_with: RunProgram) -> None:
    run = run_with(nodeTrust=ON)
    pod = daemon_pod(run)
    assert pod["tolerations"] == [{"operator": "Exists"}]
    namespace = run.manifest("DaemonSet")["metadata"]["namespace"]
    assert namespace != run.outputs["namespace"], "hostPath is refused in the registry's restricted namespace"
    (own,) = [item for item in run.manifests() if item["kind"] == "Namespace" and item["metadata"]["name"] == namespace]
    assert own["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def host_paths(run: ProgramRun) -> dict[str, tuple[str, bool]]:
    """Node directory -> where the DaemonSet's container has it, and whether it may write there."""
    pod = daemon_pod(run)
    (container,) = pod["containers"]
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    return {
        volume["hostPath"]["path"]: (mounts[volume["name"]]["mountPath"], not mounts[volume["name"]].get("readOnly"))
        for volume in pod["volumes"]
        if "hostPath" in volume
    }


def test_least_privilege(run_with: RunProgram) -> None:
    pod = daemon_pod(run_with(nodeTrust=ON))
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["automountServiceAccountToken"] is False
    assert all(volume["hostPath"]["type"] == "DirectoryOrCreate" for volume in pod["volumes"] if "hostPath" in volume)
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["files"]["readOnly"] is True
    registry = serving_container(run_with(), "registry")
    assert container["image"] == registry["image"]


# Each runtime's configuration read-only; only the certificate directories (and k3s's CA beside
# registries.yaml) writable: never the configuration itself.
EVERY_LAYOUT = {
    "/etc/containerd": False,
    "/etc/containerd/certs.d": True,
    "/etc/docker/certs.d": True,
    "/var/lib/rancher/k3s/agent/etc/containerd": False,
    "/var/lib/rancher/k3s/agent/etc/containerd/certs.d": True,
    "/etc/rancher/k3s/image-registry": True,
    "/var/lib/rancher/rke2/agent/etc/containerd": False,
    "/var/lib/rancher/rke2/agent/etc/containerd/certs.d": True,
    "/etc/rancher/rke2/image-registry": True,
}


@pytest.mark.parametrize(
    ("platform", "directories"),
    [
        (None, EVERY_LAYOUT),
        ("containerd", {path: writable for path, writable in EVERY_LAYOUT.items() if "rancher" not in path}),
        ("k3s", {path: writable for path, writable in EVERY_LAYOUT.items() if "/k3s" in path}),
        ("rke2", {path: writable for path, writable in EVERY_LAYOUT.items() if "/rke2" in path}),
    ],
)
def test_it_reads_each_runtimes_configuration_and_writes_only_certificates(
    run_with: RunProgram, platform: str | None, directories: dict[str, bool]
) -> None:
    run = run_with(nodeTrust={"enabled": True, "platform": platform})
    paths = host_paths(run)
    assert {path: writable for path, (_, writable) in paths.items()} == directories
    assert all(inside == f"/host{path}" for path, (inside, _) in paths.items())
    env = environment(run)
    assert env["PLATFORM"] == (platform or "")
    assert sorted(env["WRITABLE_DIRS"].split()) == sorted(path for path, writable in directories.items() if writable)


def test_ready_only_where_the_runtime_reads_the_current_ca(run_with: RunProgram) -> None:
    (container,) = daemon_pod(run_with(nodeTrust=ON))["containers"]
    probe = ["/bin/sh", "-c", 'cmp -s /config/ca.crt "$(cat /status/trusted)"']
    assert container["readinessProbe"]["exec"]["command"] == probe
    assert container["livenessProbe"]["exec"]["command"] == probe


def test_the_files_it_writes(run_with: RunProgram) -> None:
    run = run_with(nodeTrust=ON)
    volume = next(volume for volume in daemon_pod(run)["volumes"] if volume["name"] == "files")
    data = objects_by_name(run)[("ConfigMap", volume["configMap"]["name"])]["data"]
    assert data["ca.crt"] == run.outputs["caCertPem"]
    assert set(data) == {"ca.crt", *(f"{host}.toml" for host in run.outputs["hostnames"])}
    env = environment(run)
    assert env["TRUST_HOSTS"].split() == run.outputs["hostnames"]
    assert env["STACK_NAME"] == "image-registry"


def test_a_new_ca_rolls_the_daemon_set(run_with: RunProgram) -> None:
    run = run_with(nodeTrust=ON)
    files = next(item for item in run.of_type("kubernetes:core/v1:ConfigMap") if "node-trust" in item.name)
    assert "name" not in files.inputs["metadata"]
    assert "data" in files.replace_on_changes


def test_containerd_trusts_the_ca_on_every_host_it_may_use(run_with: RunProgram) -> None:
    # containerd falls back to the top-level server last, with every capability: a push goes only
    # there and a missing tag (404) falls through to it, so it needs the CA as much as [host] does.
    run = run_with(nodeTrust=ON)
    volume = next(volume for volume in daemon_pod(run)["volumes"] if volume["name"] == "files")
    data = objects_by_name(run)[("ConfigMap", volume["configMap"]["name"])]["data"]
    for host in run.outputs["hostnames"]:
        hosts = tomllib.loads(data[f"{host}.toml"])
        # Relative: containerd reads it beside the hosts.toml, in whichever config_path directory that is.
        ca = "ca.crt"
        assert (hosts["server"], hosts["ca"]) == (f"https://{host}", ca)
        assert "capabilities" not in hosts, "the fallback keeps every capability (push)"
        # containerd 1.6 (and 1.7 before 1.7.32) ignores a hosts.toml without a [host] table.
        assert hosts["host"] == {f"https://{host}": {"capabilities": ["pull", "resolve"], "ca": ca}}


def registries_yaml(run: ProgramRun) -> dict[str, Any]:
    text = run.outputs["k3sRegistriesYaml"]
    assert "k3sRegistriesYaml" not in run.secret_outputs
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@pytest.mark.parametrize(("platform", "written_as"), [(None, "k3s"), ("k3s", "k3s"), ("rke2", "rke2")])
def test_registries_yaml_points_k3s_at_the_ca_the_daemon_set_writes(
    run_with: RunProgram, platform: str | None, written_as: str
) -> None:
    run = run_with(nodeTrust={"enabled": True, "platform": platform})
    certs_dir = f"/var/lib/rancher/{written_as}/agent/etc/containerd/certs.d"
    ca_dir = f"/etc/rancher/{written_as}/image-registry"
    assert host_paths(run)[ca_dir] == (f"/host{ca_dir}", True)
    assert registries_yaml(run) == {
        "configs": {host: {"tls": {"ca_file": f"{ca_dir}/ca.crt"}} for host in run.outputs["hostnames"]}
    }
    # k3s removes <certs.d>/<host> of every host it lists at each start: the CA it names lies elsewhere.
    assert not ca_dir.startswith(certs_dir)
    assert run.outputs["k3sRegistriesYaml"].startswith(f"# /etc/rancher/{written_as}/registries.yaml on every node\n")
    assert run.outputs["password"] not in run.outputs["k3sRegistriesYaml"]


@pytest.mark.parametrize("node_trust", [None, {"enabled": True, "platform": "containerd"}, {"enabled": False}])
def test_no_registries_yaml_without_a_ca_file_on_k3s_nodes(run_with: RunProgram, node_trust: object) -> None:
    # Off, or pinned to plain containerd: no DaemonSet writes a CA where k3s or RKE2 would look.
    assert run_with(nodeTrust=node_trust).outputs["k3sRegistriesYaml"] == ""
