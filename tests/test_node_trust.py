"""NodeTrust: a least-privilege DaemonSet on every node writing the CA where the container runtime reads it."""

from __future__ import annotations

import base64
import json
import tomllib
from typing import Any

import bcrypt
import pytest
import yaml

from components.node_layouts import MIRROR_MARK, SCRIPT
from harness.accounts import front_accounts
from harness.doubles import ProgramRun
from harness.engine import is_secret
from harness.pod_layout import objects_by_name
from harness.program_run import secret_data
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


# Two upstreams, one with credentials of its own (a secret: they must reach no node and no output).
UPSTREAM_PASSWORD = "upstream-Passw0rd-never-on-a-node"
MIRRORS = [
    {"upstream": "docker.io", "username": "hub-user", "password": UPSTREAM_PASSWORD},
    {"upstream": "ghcr.io", "repositories": ["org/*"]},
]
MIRROR_USER = "image-registry-mirror"


def mirrors_run(run_with: RunProgram, platform: str | None = None) -> ProgramRun:
    node_trust = {"enabled": True, "platform": platform}
    return run_with(nodeTrust=node_trust, mirrors=MIRRORS, secret_keys=["image-registry:mirrors"])


def mirror_files(run: ProgramRun) -> tuple[dict[str, Any], dict[str, str]]:
    """The mirrors volume of the DaemonSet, and the files its Secret holds."""
    (volume,) = [volume for volume in daemon_pod(run)["volumes"] if volume["name"] == "mirrors"]
    secret = objects_by_name(run)[("Secret", volume["secret"]["secretName"])]
    return volume, secret_data(secret)


def test_each_mirrors_hosts_toml_pulls_through_the_cache_as_the_mirror_user(run_with: RunProgram) -> None:
    run = mirrors_run(run_with)
    _, files = mirror_files(run)
    assert set(files) == {"docker.io.toml", "ghcr.io.toml"}
    servers = {"docker.io": "https://registry-1.docker.io", "ghcr.io": "https://ghcr.io"}
    for upstream, endpoint in run.outputs["mirrorEndpoints"].items():
        hosts = tomllib.loads(files[f"{upstream}.toml"])
        # The upstream last, as it is (its own TLS, the system's trust), never with our header.
        assert set(hosts) == {"server", "host"}
        assert hosts["server"] == servers[upstream]
        (host,) = hosts["host"].items()
        assert host[0] == endpoint == f"https://{run.outputs['registryHost']}/v2/mirror/{upstream}"
        settings = host[1]
        assert (settings["capabilities"], settings["override_path"], settings["ca"]) == (
            ["pull", "resolve"],
            True,
            "ca.crt",
        )
        scheme, token = settings["header"]["Authorization"].split(" ")
        user, password = base64.b64decode(token).decode().split(":", 1)
        assert (scheme, user) == ("Basic", MIRROR_USER)
        assert bcrypt.checkpw(password.encode(), front_accounts(run)[user].encode()), "a password the front refuses"
        assert not any(UPSTREAM_PASSWORD in text for text in files.values()), "the upstream's password on nodes"
        assert files[f"{upstream}.toml"].startswith(MIRROR_MARK + "\n")


def test_mirror_files_are_secret_and_root_only(run_with: RunProgram) -> None:
    run = mirrors_run(run_with)
    volume, _ = mirror_files(run)
    assert volume["secret"]["defaultMode"] == 0o400
    (container,) = daemon_pod(run)["containers"]
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["mirrors"] == {"name": "mirrors", "mountPath": "/mirrors", "readOnly": True}
    (secret,) = [item for item in run.of_type("kubernetes:core/v1:Secret") if "node-trust-mirrors" in item.name]
    assert is_secret(secret.inputs["stringData"]), "the mirror user's header would be in state in plain text"
    assert "name" not in secret.inputs["metadata"], "auto-named: a new password rolls the DaemonSet"
    # The script writes every file 0600 (umask 077, and chmod over a copy of a 0400 file).
    assert SCRIPT.startswith(
        "set -eu\n# What it writes is root's alone: a mirror's hosts.toml holds a credential.\numask 077\n"
    )
    assert 'chmod 600 "$target"' in SCRIPT


def test_no_credential_in_the_config_map_the_environment_or_the_outputs(run_with: RunProgram) -> None:
    run = mirrors_run(run_with)
    _, files = mirror_files(run)
    headers = [tomllib.loads(text)["host"] for text in files.values()]
    tokens = {value["header"]["Authorization"].split(" ")[1] for host in headers for value in host.values()}
    password = base64.b64decode(next(iter(tokens))).decode().split(":", 1)[1]
    volume = next(volume for volume in daemon_pod(run)["volumes"] if volume["name"] == "files")
    config_map = objects_by_name(run)[("ConfigMap", volume["configMap"]["name"])]
    plain = {
        "ConfigMap": json.dumps(config_map),
        "env": json.dumps(environment(run)),
        "outputs": json.dumps({name: run.outputs[name] for name in run.outputs if name not in run.secret_outputs}),
    }
    for where, text in plain.items():
        # A boolean: pytest would show a part of the credential.
        assert not any(credential in text for credential in (password, *tokens, UPSTREAM_PASSWORD)), where
        assert "Authorization" not in text, where
    assert environment(run)["MIRRORS"] == "docker.io ghcr.io"
    assert environment(run)["MIRRORS_DIR"] == "/mirrors"
    # How the script knows its own files (to remove those of an upstream no longer listed): the files' first line.
    assert {text.splitlines()[0] for text in files.values()} == {environment(run)["MIRROR_MARK"]}


def test_no_mirror_files_without_mirrors(run_with: RunProgram) -> None:
    run = run_with(nodeTrust=ON)
    assert "mirrors" not in {volume["name"] for volume in daemon_pod(run)["volumes"]}
    assert not [item for item in run.of_type("kubernetes:core/v1:Secret") if "node-trust" in item.name]
    assert environment(run)["MIRRORS"] == ""


@pytest.mark.parametrize(("platform", "written_as"), [(None, "k3s"), ("rke2", "rke2")])
def test_registries_yaml_lists_each_mirror_with_its_path_and_no_credential(
    run_with: RunProgram, platform: str | None, written_as: str
) -> None:
    run = mirrors_run(run_with, platform)
    document = registries_yaml(run)
    # k3s turns an endpoint with a path into override_path = true, with the `configs` of its host (the CA).
    assert document["mirrors"] == {
        upstream: {"endpoint": [endpoint]} for upstream, endpoint in run.outputs["mirrorEndpoints"].items()
    }
    assert document["configs"] == {
        host: {"tls": {"ca_file": f"/etc/rancher/{written_as}/image-registry/ca.crt"}}
        for host in run.outputs["hostnames"]
    }
    assert "auth" not in run.outputs["k3sRegistriesYaml"]
