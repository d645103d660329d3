"""RegistryExposure: the Service, the NetworkPolicy and the Ingress, per controller."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components.kube import OWNED_BY_THE_STACK
from harness.doubles import ProgramRun, contains_secret
from harness.pod_layout import objects_by_name
from harness.program_run import secret_data
from tests.conftest import RunProgram

NGINX = "nginx.ingress.kubernetes.io/"
TRAEFIK = "traefik.ingress.kubernetes.io/"


def tls_secret_name(run: ProgramRun) -> str:
    pod = run.manifest("Deployment")["spec"]["template"]["spec"]
    name: str = next(volume for volume in pod["volumes"] if volume["name"] == "tls")["secret"]["secretName"]
    return name


def secret_named(run: ProgramRun, name: str) -> dict[str, Any]:
    secret: dict[str, Any] = objects_by_name(run)[("Secret", name)]
    return secret


def kinds(run: ProgramRun) -> set[str]:
    return {item["kind"] for item in run.manifests()}


def test_service_selects_the_pods_on_5000(dev_run: ProgramRun) -> None:
    service = dev_run.manifest("Service")
    assert service["metadata"]["name"] == "image-registry"
    assert service["spec"]["type"] == "ClusterIP"
    assert [(port["port"], port["targetPort"]) for port in service["spec"]["ports"]] == [(5000, "https")]
    labels = dev_run.manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    ports = [port for item in dev_run.manifest("Deployment")["spec"]["template"]["spec"]["containers"]
             for port in item.get("ports", [])]  # fmt: skip
    assert [port["containerPort"] for port in ports if port["name"] == "https"] == [5000]


def test_ingress_serves_every_hostname_with_our_certificate(dev_run: ProgramRun) -> None:
    ingress = dev_run.manifest("Ingress")
    hostnames = ["image-registry.8-mega.internal", "image-registry.8-mega.example.com"]
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == hostnames
    assert ingress["spec"]["tls"] == [{"hosts": hostnames, "secretName": tls_secret_name(dev_run)}]
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
    assert secret_data(secret_named(dev_run, ca_secret_name))["ca.crt"] == dev_run.outputs["caCertPem"]
    (client_secret_name,) = transport["spec"]["certificatesSecrets"]
    assert_ingress_client_secret(dev_run, client_secret_name)


def assert_ingress_client_secret(run: ProgramRun, name: str) -> None:
    """A key pair only good for client authentication, from the stack's CA, and the CA to verify the pod."""
    assert name == "image-registry-ingress-client"
    secret = secret_named(run, name)
    assert secret["type"] == "kubernetes.io/tls"
    data = secret_data(secret)
    assert data["ca.crt"] == run.outputs["caCertPem"]
    certificate = x509.load_pem_x509_certificate(data["tls.crt"].encode())
    key = serialization.load_pem_private_key(data["tls.key"].encode(), None)
    assert key.public_key() == certificate.public_key()
    assert list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "image-registry-ingress"
    ca = x509.load_pem_x509_certificate(run.outputs["caCertPem"].encode())
    certificate.verify_directly_issued_by(ca)
    registration = run.named("kubernetes:core/v1:Secret", name)
    assert contains_secret(registration.inputs["stringData"])
    assert registration.delete_before_replace


def test_nginx_reencrypts_verifies_and_allows_large_layers(run_with: RunProgram) -> None:
    run = run_with(ingress={"className": "nginx", "annotations": {"example.com/owner": "platform"}})
    ingress = run.manifest("Ingress")
    annotations = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "backend-protocol"] == "HTTPS"
    namespace, client_secret_name = annotations[prefix + "proxy-ssl-secret"].split("/")
    assert namespace == "kube-infra"
    # nginx presents its tls.crt as a client certificate: the ingress controller's own, never the registry's.
    assert_ingress_client_secret(run, client_secret_name)
    assert all(item["metadata"]["name"] != "image-registry-ca" for item in run.manifests()), "Traefik's alone"
    assert annotations[prefix + "proxy-ssl-verify"] == "on"
    assert annotations[prefix + "proxy-ssl-name"] == "image-registry.kube-infra.svc"
    assert annotations[prefix + "proxy-body-size"] == "0"
    assert annotations["example.com/owner"] == "platform"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert "ServersTransport" not in {item["kind"] for item in run.manifests()}
    # The ingress controller's annotations stay on the Ingress: the Service has only the stack's own.
    assert run.manifest("Service")["metadata"].get("annotations", {}) == OWNED_BY_THE_STACK


def test_ingress_can_be_turned_off(run_with: RunProgram) -> None:
    run = run_with(ingress={"enabled": False})
    assert {"Ingress", "ServersTransport"}.isdisjoint(kinds(run))
    assert run.manifest("Service")["metadata"]["annotations"] == OWNED_BY_THE_STACK


def namespaces_of(rule: dict[str, Any]) -> list[str]:
    return [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in rule["from"]]


def test_network_policy_admits_the_registry_port_from_the_controller_only(dev_run: ProgramRun) -> None:
    policy = dev_run.manifest("NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 5000, "protocol": "TCP"}]
    assert namespaces_of(rule) == ["kube-system"]
    labels = dev_run.manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()


def test_network_policy_namespaces_and_metrics(run_with: RunProgram) -> None:
    run = run_with(
        ingress={"controller": "nginx"},
        networkPolicy={"allowFrom": ["ci", "ingress-nginx"]},
        metrics={"enabled": True, "allowFrom": ["observability"]},
    )
    registry_rule, metrics_rule = run.manifest("NetworkPolicy")["spec"]["ingress"]
    assert namespaces_of(registry_rule) == ["ingress-nginx", "ci"]
    assert (namespaces_of(metrics_rule), metrics_rule["ports"]) == (
        ["observability"],
        [{"port": 5001, "protocol": "TCP"}],
    )


def test_a_port_nobody_may_reach_gets_no_rule(run_with: RunProgram) -> None:
    # An ingress rule without peers would admit every pod of the cluster.
    spec = run_with(ingress={"enabled": False}).manifest("NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert "ingress" not in spec or spec["ingress"] == []


def test_restricted_egress_allows_dns_and_the_object_store(run_with: RunProgram) -> None:
    storage = {"type": "s3", "bucket": "images", "regionEndpoint": "http://10.20.30.40:9000", "forcePathStyle": True}
    spec = run_with(storage=storage, networkPolicy={"restrictEgress": True}).manifest("NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    dns, store = spec["egress"]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert store == {"to": [{"ipBlock": {"cidr": "10.20.30.40/32"}}], "ports": [{"port": 9000, "protocol": "TCP"}]}
    claim_spec = run_with(networkPolicy={"restrictEgress": True}).manifest("NetworkPolicy")["spec"]
    assert len(claim_spec["egress"]) == 1, "a claim needs no network: DNS only"


def test_metrics_port_on_the_service_and_a_service_monitor(run_with: RunProgram) -> None:
    run = run_with(metrics={"enabled": True, "serviceMonitor": True})
    ports = {port["name"]: port for port in run.manifest("Service")["spec"]["ports"]}
    assert ports["metrics"]["port"] == 5001
    monitor = run.manifest("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "scheme": "http", "interval": "30s"}
    ]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= run.manifest("Service")["metadata"]["labels"].items()


def test_no_metrics_port_and_no_monitor_by_default(dev_run: ProgramRun) -> None:
    assert [port["name"] for port in dev_run.manifest("Service")["spec"]["ports"]] == ["https"]
    assert "ServiceMonitor" not in kinds(dev_run)


def test_the_ca_secret_holds_the_ca_alone(dev_run: ProgramRun) -> None:
    (ca_secret_name,) = dev_run.manifest("ServersTransport")["spec"]["rootCAsSecrets"]
    assert secret_data(secret_named(dev_run, ca_secret_name)) == {"ca.crt": dev_run.outputs["caCertPem"]}


def test_traefik_without_backend_verification_needs_no_crd(run_with: RunProgram) -> None:
    run = run_with(ingress={"verifyBackend": False})
    assert "ServersTransport" not in kinds(run)
    service_annotations = run.manifest("Service")["metadata"]["annotations"]
    assert service_annotations == {f"{TRAEFIK}service.serversscheme": "https", **OWNED_BY_THE_STACK}
    secrets = [secret_data(item) for item in run.manifests() if item["kind"] == "Secret"]
    assert {"ca.crt": run.outputs["caCertPem"]} not in secrets
    # Without a ServersTransport, Traefik shows no client certificate: none is made.
    assert not [item for item in run.of_type("tls:index/locallySignedCert:LocallySignedCert") if "ingress" in item.name]


def test_nginx_without_backend_verification(run_with: RunProgram) -> None:
    run = run_with(ingress={"controller": "nginx", "verifyBackend": False})
    annotations = run.manifest("Ingress")["metadata"]["annotations"]
    assert annotations[f"{NGINX}proxy-ssl-verify"] == "off"
    assert annotations[f"{NGINX}backend-protocol"] == "HTTPS"
    # Unverified, the pod still learns who is the ingress controller.
    assert_ingress_client_secret(run, annotations[f"{NGINX}proxy-ssl-secret"].split("/")[1])


@pytest.mark.parametrize(
    ("ingress", "class_name", "controller_prefix"),
    [
        pytest.param({"className": "public"}, "public", TRAEFIK, id="own-class-traefik-annotations"),
        pytest.param({"controller": "nginx", "className": "internal"}, "internal", NGINX, id="own-class-nginx"),
        pytest.param({"controller": "nginx"}, "nginx", NGINX, id="nginx-default-class"),
    ],
)
def test_the_class_names_the_ingress_class_the_controller_picks_the_annotations(
    run_with: RunProgram, ingress: dict[str, str], class_name: str, controller_prefix: str
) -> None:
    ingress_object = run_with(ingress=ingress).manifest("Ingress")
    assert ingress_object["spec"]["ingressClassName"] == class_name
    annotations = ingress_object["metadata"]["annotations"]
    prefixes = {key.split("/")[0] + "/" for key in annotations}
    assert controller_prefix in prefixes
    assert ({NGINX, TRAEFIK} - {controller_prefix}).isdisjoint(prefixes)


def test_pulumi_up_does_not_wait_for_a_load_balancer_address_by_default(dev_run: ProgramRun) -> None:
    assert dev_run.manifest("Ingress")["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


def test_waiting_for_the_address_when_asked(run_with: RunProgram) -> None:
    annotations = run_with(ingress={"waitForAddress": True}).manifest("Ingress")["metadata"]["annotations"]
    assert "pulumi.com/skipAwait" not in annotations


def test_objects_moved_here_keep_their_urns(dev_run: ProgramRun) -> None:
    # They were the RegistryWorkload's children: without an alias, `pulumi up` on an existing
    # stack would create them anew beside the old ones (and fail: the names are taken).
    stack = "urn:pulumi:dev::image-registry::image-registry:index:RegistryStack"
    workload = f"{stack}$image-registry:index:RegistryWorkload"
    moved = {
        "kubernetes:core/v1:Service": "image-registry-service",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": "image-registry-network-policy",
        "kubernetes:networking.k8s.io/v1:Ingress": "image-registry-ingress",
        "kubernetes:traefik.io/v1alpha1:ServersTransport": "image-registry-servers-transport",
    }
    for type_token, name in moved.items():
        registration = dev_run.one(type_token)
        assert "RegistryExposure" in registration.urn
        assert f"{workload}${type_token}::{name}" in registration.aliases, type_token
