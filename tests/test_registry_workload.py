"""RegistryWorkload: the namespace, the registry's settings, Secrets, storage and Deployment."""

from __future__ import annotations

import posixpath
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.conftest import RunProgram
from tests.doubles import FaithfulMocks, ProgramRun, contains_secret, dev_config, run_program
from tests.pod_sandbox import container_environment, objects_by_name

DEV_KINDS = sorted(
    [
        "ConfigMap",
        "Deployment",
        "Ingress",
        "Namespace",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "Secret",
        "Secret",
        "Secret",
        "Secret",
        "Service",
        "ServersTransport",
    ]
)


def container(run: ProgramRun) -> dict[str, Any]:
    containers = run.manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def environment(run: ProgramRun) -> dict[str, str]:
    return container_environment(container(run), objects_by_name(run))


def volumes(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {volume["name"]: volume for volume in run.manifest("Deployment")["spec"]["template"]["spec"]["volumes"]}


def mounts(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {mount["mountPath"]: mount for mount in container(run)["volumeMounts"]}


def secret_named(run: ProgramRun, name: str) -> dict[str, Any]:
    return next(item for item in run.manifests() if item["kind"] == "Secret" and item["metadata"]["name"] == name)


def test_exactly_these_objects_in_the_namespace(dev_run: ProgramRun) -> None:
    manifests = dev_run.manifests()
    assert sorted(item["kind"] for item in manifests) == DEV_KINDS
    namespace = dev_run.manifest("Namespace")
    assert namespace["metadata"]["name"] == "kube-infra"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for item in manifests:
        if item["kind"] != "Namespace":
            assert item["metadata"]["namespace"] == "kube-infra", item["kind"]


def test_a_created_namespace_is_kept_on_destroy(dev_run: ProgramRun) -> None:
    # Other services may be put there later: `pulumi destroy` must not take them with it.
    assert dev_run.one("kubernetes:core/v1:Namespace").retain_on_delete is True


def test_a_shared_namespace_is_used_untouched(run_with: RunProgram) -> None:
    run = run_with(namespace="platform", createNamespace="false")
    assert run.of_type("kubernetes:core/v1:Namespace") == []
    manifests = run.manifests()
    assert {item["metadata"]["namespace"] for item in manifests} == {"platform"}
    assert run.outputs["namespace"] == "platform"
    assert run.outputs["internalHost"] == "image-registry.platform.svc.cluster.local:5000"


def test_deployment_replicas_and_recreate_on_a_single_node_volume(dev_run: ProgramRun) -> None:
    deployment = dev_run.manifest("Deployment")
    assert deployment["metadata"]["name"] == "image-registry"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container(dev_run)["image"].startswith("registry:3.1.")


def test_settings_come_from_the_config_map_as_in_the_seed(dev_run: ProgramRun) -> None:
    env = environment(dev_run)
    from_config_map = {item["name"] for item in container(dev_run)["env"] if "configMapKeyRef" in item["valueFrom"]}
    config_map_name = dev_run.manifest("ConfigMap")["metadata"]["name"]
    for item in container(dev_run)["env"]:
        if "configMapKeyRef" in item["valueFrom"]:
            assert item["valueFrom"]["configMapKeyRef"]["name"] == config_map_name
    assert {
        "REGISTRY_HTTP_ADDR",
        "REGISTRY_AUTH",
        "REGISTRY_AUTH_HTPASSWD_REALM",
        "REGISTRY_AUTH_HTPASSWD_PATH",
        "REGISTRY_HTTP_TLS_CERTIFICATE",
        "REGISTRY_HTTP_TLS_KEY",
    } <= from_config_map
    assert env["REGISTRY_HTTP_ADDR"] == ":5000"
    assert env["REGISTRY_AUTH"] == "htpasswd"
    assert env["REGISTRY_HTTP_TLS_MINIMUMTLS"] == "tls1.2"
    assert env["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"] == "/var/lib/registry"


def test_the_images_own_defaults_are_overridden(dev_run: ProgramRun) -> None:
    # registry:3.x's config file: deletes on, debug listener on :5001, debug logs, in-memory cache.
    env = environment(dev_run)
    assert env["REGISTRY_STORAGE_DELETE_ENABLED"] == "false"
    assert yaml.safe_load(env["REGISTRY_HTTP_DEBUG"]) == {}
    assert env["REGISTRY_LOG_LEVEL"] == "info"
    assert env["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR"] == "inmemory"
    assert yaml.safe_load(env["REGISTRY_HTTP_HEADERS"]) == {"X-Content-Type-Options": ["nosniff"]}


def test_deletes_only_when_the_stack_asks(run_with: RunProgram) -> None:
    run = run_with(storage={"deleteEnabled": True})
    assert environment(run)["REGISTRY_STORAGE_DELETE_ENABLED"] == "true"


def test_no_per_pod_cache_with_replicas(run_with: RunProgram) -> None:
    run = run_with(replicas=3, storage={"accessMode": "ReadWriteMany"})
    # An empty YAML string: the registry's "no cache" without an "unknown cache type" warning.
    assert yaml.safe_load(environment(run)["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR"]) == ""


def test_tls_secret_holds_the_server_certificate_key_and_ca(dev_run: ProgramRun) -> None:
    tls_mount = mounts(dev_run)[posixpath.dirname(environment(dev_run)["REGISTRY_HTTP_TLS_CERTIFICATE"])]
    assert tls_mount["readOnly"] is True
    secret = secret_named(dev_run, volumes(dev_run)[tls_mount["name"]]["secret"]["secretName"])
    assert secret["type"] == "kubernetes.io/tls"
    data = secret["stringData"]
    certificate = x509.load_pem_x509_certificate(data["tls.crt"].encode())
    key = serialization.load_pem_private_key(data["tls.key"].encode(), None)
    assert key.public_key() == certificate.public_key()
    assert data["ca.crt"] == dev_run.outputs["caCertPem"]
    registration = next(item for item in dev_run.of_type("kubernetes:core/v1:Secret") if item.name.endswith("-tls"))
    assert contains_secret(registration.inputs["stringData"])


def test_htpasswd_is_mounted_as_a_directory_so_updates_reach_the_file(dev_run: ProgramRun) -> None:
    path = environment(dev_run)["REGISTRY_AUTH_HTPASSWD_PATH"]
    mount = mounts(dev_run)[posixpath.dirname(path)]
    assert "subPath" not in mount
    assert mount["readOnly"] is True
    secret = secret_named(dev_run, volumes(dev_run)[mount["name"]]["secret"]["secretName"])
    assert posixpath.basename(path) in secret["stringData"]
    assert all("subPath" not in item for item in container(dev_run)["volumeMounts"])


def test_replicas_share_the_http_secret(dev_run: ProgramRun) -> None:
    env = environment(dev_run)
    assert len(env["REGISTRY_HTTP_SECRET"]) >= 32
    registration = next(
        item for item in dev_run.of_type("kubernetes:core/v1:Secret") if item.name.endswith("-http-secret")
    )
    assert contains_secret(registration.inputs["stringData"])


def test_data_lives_on_a_protected_claim(dev_run: ProgramRun) -> None:
    claim = dev_run.manifest("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    data_mount = mounts(dev_run)["/var/lib/registry"]
    assert volumes(dev_run)[data_mount["name"]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert dev_run.one("kubernetes:core/v1:PersistentVolumeClaim").protect is True


def test_probes_use_https_on_root(dev_run: ProgramRun) -> None:
    for probe in ("readinessProbe", "livenessProbe"):
        assert container(dev_run)[probe]["httpGet"] == {"path": "/", "port": "https", "scheme": "HTTPS"}


def test_pod_is_locked_down(dev_run: ProgramRun) -> None:
    pod = dev_run.manifest("Deployment")["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]
    security = container(dev_run)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_throwaway_storage_only_when_asked(run_with: RunProgram) -> None:
    run = run_with(storage={"type": "emptyDir", "sizeLimit": "2Gi"})
    assert "PersistentVolumeClaim" not in {item["kind"] for item in run.manifests()}
    assert volumes(run)["data"]["emptyDir"] == {"sizeLimit": "2Gi"}


def test_shared_storage_allows_replicas_and_rolling_updates(run_with: RunProgram) -> None:
    run = run_with(replicas=3, storage={"accessMode": "ReadWriteMany", "storageClass": "nfs-client", "size": "200Gi"})
    deployment = run.manifest("Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    claim = run.manifest("PersistentVolumeClaim")
    assert claim["spec"]["storageClassName"] == "nfs-client"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_certificate_and_settings_changes_roll_the_pods_user_changes_do_not() -> None:
    # The registry loads its key pair and settings only at start: their objects
    # are auto-named and replaced on change, so the pod template changes.
    mocks = FaithfulMocks()
    first = run_program(dev_config(), mocks)
    for registration in first.registrations:
        if registration.type in (
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:Secret",
        ) and registration.name.endswith(("-tls", "-config")):
            assert "name" not in registration.inputs["metadata"]
            assert "data" in registration.replace_on_changes
            if registration.type == "kubernetes:core/v1:Secret":
                assert "stringData" in registration.replace_on_changes

    config = dev_config()
    config["image-registry:users"] = '[{"name": "registry"}, {"name": "ci"}]'
    users_changed = run_program(config, mocks)
    assert template(users_changed) == template(first)

    config["image-registry:hostnames"] = (
        '["image-registry.8-mega.local", "image-registry.8-mega.io", "registry.8-mega.io"]'
    )
    certificate_changed = run_program(config, mocks)
    assert volumes(certificate_changed)["tls"]["secret"]["secretName"] != volumes(first)["tls"]["secret"]["secretName"]
    assert template(certificate_changed) != template(first)


def template(run: ProgramRun) -> dict[str, Any]:
    result: dict[str, Any] = run.manifest("Deployment")["spec"]["template"]
    return result
