"""RegistryWorkload: the Kubernetes objects, wired the way the registry needs them."""

from __future__ import annotations

import posixpath
from typing import Any

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


def test_service_selects_the_pods_on_5000(dev_run: ProgramRun) -> None:
    service = dev_run.manifest("Service")
    assert service["metadata"]["name"] == "image-registry"
    assert service["spec"]["type"] == "ClusterIP"
    assert [(port["port"], port["targetPort"]) for port in service["spec"]["ports"]] == [(5000, "https")]
    labels = dev_run.manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [port["containerPort"] for port in container(dev_run)["ports"] if port["name"] == "https"] == [5000]


def test_ingress_serves_every_hostname_with_our_certificate(dev_run: ProgramRun) -> None:
    ingress = dev_run.manifest("Ingress")
    hostnames = ["image-registry.8-mega.local", "image-registry.8-mega.io"]
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == hostnames
    tls_secret_name = volumes(dev_run)["tls"]["secret"]["secretName"]
    assert ingress["spec"]["tls"] == [{"hosts": hostnames, "secretName": tls_secret_name}]
    for rule in ingress["spec"]["rules"]:
        (path,) = rule["http"]["paths"]
        assert path["path"] == "/"
        assert path["pathType"] == "Prefix"
        assert path["backend"]["service"] == {"name": "image-registry", "port": {"number": 5000}}


def test_traefik_reencrypts_and_verifies_against_our_ca(dev_run: ProgramRun) -> None:
    annotations = dev_run.manifest("Ingress")["metadata"]["annotations"]
    assert annotations["traefik.ingress.kubernetes.io/router.entrypoints"] == "websecure"
    assert annotations["traefik.ingress.kubernetes.io/router.tls"] == "true"
    service_annotations = dev_run.manifest("Service")["metadata"]["annotations"]
    assert service_annotations["traefik.ingress.kubernetes.io/service.serversscheme"] == "https"
    transport = dev_run.manifest("ServersTransport")
    assert transport["apiVersion"] == "traefik.io/v1alpha1"
    expected = f"{transport['metadata']['namespace']}-{transport['metadata']['name']}@kubernetescrd"
    assert service_annotations["traefik.ingress.kubernetes.io/service.serverstransport"] == expected
    assert transport["spec"]["serverName"] == "image-registry.kube-infra.svc"
    (ca_secret_name,) = transport["spec"]["rootCAsSecrets"]
    assert secret_named(dev_run, ca_secret_name)["stringData"]["ca.crt"] == dev_run.outputs["caCertPem"]


def test_nginx_reencrypts_verifies_and_allows_large_layers(run_with: RunProgram) -> None:
    run = run_with(ingress={"className": "nginx", "annotations": {"example.com/owner": "platform"}})
    ingress = run.manifest("Ingress")
    annotations = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    tls_secret_name = ingress["spec"]["tls"][0]["secretName"]
    assert annotations[prefix + "backend-protocol"] == "HTTPS"
    assert annotations[prefix + "proxy-ssl-secret"] == f"kube-infra/{tls_secret_name}"
    assert annotations[prefix + "proxy-ssl-verify"] == "on"
    assert annotations[prefix + "proxy-ssl-name"] == "image-registry.kube-infra.svc"
    assert annotations[prefix + "proxy-body-size"] == "0"
    assert annotations["example.com/owner"] == "platform"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert "ServersTransport" not in {item["kind"] for item in run.manifests()}
    assert (
        "annotations" not in run.manifest("Service")["metadata"]
        or not run.manifest("Service")["metadata"]["annotations"]
    )


def test_ingress_can_be_turned_off(run_with: RunProgram) -> None:
    kinds = {item["kind"] for item in run_with(ingress={"enabled": False}).manifests()}
    assert "Ingress" not in kinds
    assert "ServersTransport" not in kinds


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


def test_network_policy_admits_only_the_https_port(dev_run: ProgramRun) -> None:
    policy = dev_run.manifest("NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 5000, "protocol": "TCP"}]}]
    labels = dev_run.manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()


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
