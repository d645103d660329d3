"""RegistryExposure: the Service, the NetworkPolicy, the Ingress with what its controller needs, the ServiceMonitor."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.client_certificate import ClientCertificate
from components.ingress_annotations import ingress_annotations, service_annotations
from components.kube import object_metadata, selector_for, tls_secret_data
from components.network_policy import network_policy_spec
from components.settings import METRICS_PORT, REGISTRY_PORT, Settings

CA_KEY = "ca.crt"


@dataclass(frozen=True)
class RegistryExposureArgs:
    settings: Settings
    namespace: pulumi.Input[str]
    tls_secret_name: pulumi.Input[str]
    ca_cert_pem: pulumi.Input[str]
    # What the ingress controller presents to the front (which then trusts its X-Forwarded-For).
    ingress_client: ClientCertificate | None = None
    # The component that owned these objects before they moved here: aliased, so they keep their URNs.
    previous_parent: pulumi.Resource | None = None


class RegistryExposure(pulumi.ComponentResource):
    """How clients reach the registry: a ClusterIP Service, a NetworkPolicy, the Ingress and the ServiceMonitor."""

    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryExposureArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:RegistryExposure", name, None, opts)
        self._args = args
        settings = args.settings
        ingress = settings.ingress
        client_secret_name = self._client_secret().metadata.name if args.ingress_client else None
        if ingress.enabled and ingress.verify_backend and ingress.controller == "traefik":
            self._servers_transport(self._ca_secret().metadata.name, client_secret_name)
        service = self._service()
        k8s.networking.v1.NetworkPolicy(
            f"{settings.name}-network-policy",
            metadata=self._metadata(""),
            spec=network_policy_spec(settings),
            opts=self._child(),
        )
        if ingress.enabled:
            self._ingress(service, client_secret_name)
        if settings.metrics.service_monitor:
            self._service_monitor()
        self.service_name = service.metadata.name
        self.register_outputs({"serviceName": self.service_name})

    def _child(self) -> pulumi.ResourceOptions:
        previous = self._args.previous_parent
        return pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=previous)] if previous else None)

    def _metadata(
        self, suffix: str | None, annotations: dict[str, pulumi.Input[str]] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return object_metadata(self._args.settings.name, self._args.namespace, suffix, annotations or None)

    def _service(self) -> k8s.core.v1.Service:
        settings = self._args.settings
        ports = [
            k8s.core.v1.ServicePortArgs(
                name="https", port=REGISTRY_PORT, target_port="https", protocol="TCP", app_protocol="https"
            )
        ]
        if settings.metrics.enabled:
            ports.append(
                k8s.core.v1.ServicePortArgs(
                    name="metrics", port=METRICS_PORT, target_port="metrics", protocol="TCP", app_protocol="http"
                )
            )
        return k8s.core.v1.Service(
            f"{settings.name}-service",
            metadata=self._metadata("", service_annotations(settings.namespace, settings.name, settings.ingress)),
            spec=k8s.core.v1.ServiceSpecArgs(type="ClusterIP", selector=selector_for(settings.name), ports=ports),
            opts=self._child(),
        )

    def _ca_secret(self) -> k8s.core.v1.Secret:
        """The CA alone, for Traefik to verify the pod with (no key leaves the registry)."""
        return k8s.core.v1.Secret(
            f"{self._args.settings.name}-ca",
            metadata=self._metadata("ca"),
            type="Opaque",
            string_data=pulumi.Output.from_input(self._args.ca_cert_pem).apply(lambda pem: {CA_KEY: pem}),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def _client_secret(self) -> k8s.core.v1.Secret:
        """The ingress controller's client certificate and key, and the CA it verifies the pod with."""
        client = self._args.ingress_client
        assert client is not None
        return k8s.core.v1.Secret(
            f"{self._args.settings.name}-ingress-client",
            metadata=self._metadata("ingress-client"),
            type="kubernetes.io/tls",
            string_data=tls_secret_data(client.cert_pem, client.private_key_pem, self._args.ca_cert_pem),
            # Same name (the annotations name it): a renewed certificate replaces it, the old one first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def _servers_transport(self, ca_secret_name: pulumi.Input[str], client_secret: pulumi.Input[str] | None) -> None:
        settings = self._args.settings
        # Traefik re-encrypts to the pod, verifies it against our CA and shows its client certificate.
        k8s.apiextensions.CustomResource(
            f"{settings.name}-servers-transport",
            api_version="traefik.io/v1alpha1",
            kind="ServersTransport",
            metadata=self._metadata(""),
            spec={
                "serverName": f"{settings.name}.{settings.namespace}.svc",
                # Traefik 2.10 to 3.x all read rootCAsSecrets (3.4 added rootCAs and deprecated it).
                "rootCAsSecrets": [ca_secret_name],
                "certificatesSecrets": [client_secret],
            },
            opts=self._child(),
        )

    def _ingress(self, service: k8s.core.v1.Service, client_secret_name: pulumi.Input[str] | None) -> None:
        settings = self._args.settings
        backend = k8s.networking.v1.IngressBackendArgs(
            service=k8s.networking.v1.IngressServiceBackendArgs(
                name=service.metadata.name, port=k8s.networking.v1.ServiceBackendPortArgs(number=REGISTRY_PORT)
            )
        )
        annotations = ingress_annotations(settings.namespace, settings.name, settings.ingress, client_secret_name)
        k8s.networking.v1.Ingress(
            f"{settings.name}-ingress",
            metadata=self._metadata("", annotations),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=settings.ingress.class_name,
                tls=[
                    k8s.networking.v1.IngressTLSArgs(
                        hosts=list(settings.hostnames), secret_name=self._args.tls_secret_name
                    )
                ],
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[k8s.networking.v1.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend)]
                        ),
                    )
                    for host in settings.hostnames
                ],
            ),
            opts=self._child(),
        )

    def _service_monitor(self) -> None:
        name = self._args.settings.name
        # Prometheus Operator scrapes the Service's `metrics` port (plain HTTP, inside the cluster).
        k8s.apiextensions.CustomResource(
            f"{name}-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._metadata(""),
            spec={
                "selector": {"matchLabels": selector_for(name)},
                "endpoints": [{"port": "metrics", "path": "/metrics", "scheme": "http", "interval": "30s"}],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
