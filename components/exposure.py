"""RegistryExposure: the Service, the NetworkPolicy and the Ingress, with what its controller needs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.ingress_annotations import ingress_annotations, service_annotations
from components.kube import object_metadata, selector_for
from components.settings import REGISTRY_PORT, IngressSettings

CA_KEY = "ca.crt"


@dataclass(frozen=True)
class RegistryExposureArgs:
    namespace: pulumi.Input[str]
    # The namespace's name as configured: annotations name it before it exists.
    namespace_name: str
    name: str
    hostnames: tuple[str, ...]
    ingress: IngressSettings
    tls_secret_name: pulumi.Input[str]
    ca_cert_pem: pulumi.Input[str]
    # The component that owned these objects before they moved here: aliased, so they keep their URNs.
    previous_parent: pulumi.Resource | None = None


class RegistryExposure(pulumi.ComponentResource):
    """How clients reach the registry: a ClusterIP Service, a NetworkPolicy, and the Ingress when enabled."""

    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryExposureArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:RegistryExposure", name, None, opts)
        self._args = args
        ingress = args.ingress
        verify = ingress.enabled and ingress.verify_backend
        ca_secret_name = self._ca_secret().metadata.name if verify else None
        if verify and ingress.controller == "traefik":
            self._servers_transport(ca_secret_name)
        service = k8s.core.v1.Service(
            f"{args.name}-service",
            metadata=self._metadata("", service_annotations(args.namespace_name, args.name, ingress)),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector_for(args.name),
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="https", port=REGISTRY_PORT, target_port="https", protocol="TCP", app_protocol="https"
                    )
                ],
            ),
            opts=self._child(),
        )
        self._network_policy()
        if ingress.enabled:
            self._ingress(service, ca_secret_name)
        self.service_name = service.metadata.name
        self.register_outputs({"serviceName": self.service_name})

    def _child(self) -> pulumi.ResourceOptions:
        previous = self._args.previous_parent
        return pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=previous)] if previous else None)

    def _metadata(
        self, suffix: str | None, annotations: dict[str, pulumi.Input[str]] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return object_metadata(self._args.name, self._args.namespace, suffix, annotations or None)

    def _ca_secret(self) -> k8s.core.v1.Secret:
        """The CA alone, for the ingress controller to verify the pod with (no key leaves the registry)."""
        return k8s.core.v1.Secret(
            f"{self._args.name}-ca",
            metadata=self._metadata("ca"),
            type="Opaque",
            string_data=pulumi.Output.from_input(self._args.ca_cert_pem).apply(lambda pem: {CA_KEY: pem}),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def _servers_transport(self, ca_secret_name: pulumi.Input[str] | None) -> None:
        # Traefik re-encrypts to the pod and verifies it against our CA.
        k8s.apiextensions.CustomResource(
            f"{self._args.name}-servers-transport",
            api_version="traefik.io/v1alpha1",
            kind="ServersTransport",
            metadata=self._metadata(""),
            spec={
                "serverName": f"{self._args.name}.{self._args.namespace_name}.svc",
                # Traefik 2.10 to 3.x all read rootCAsSecrets (3.4 added rootCAs and deprecated it).
                "rootCAsSecrets": [ca_secret_name],
            },
            opts=self._child(),
        )

    def _network_policy(self) -> None:
        # Only the HTTPS port is reachable.
        k8s.networking.v1.NetworkPolicy(
            f"{self._args.name}-network-policy",
            metadata=self._metadata(""),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_for(self._args.name)),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=REGISTRY_PORT, protocol="TCP")]
                    )
                ],
            ),
            opts=self._child(),
        )

    def _ingress(self, service: k8s.core.v1.Service, ca_secret_name: pulumi.Input[str] | None) -> None:
        args = self._args
        backend = k8s.networking.v1.IngressBackendArgs(
            service=k8s.networking.v1.IngressServiceBackendArgs(
                name=service.metadata.name, port=k8s.networking.v1.ServiceBackendPortArgs(number=REGISTRY_PORT)
            )
        )
        k8s.networking.v1.Ingress(
            f"{args.name}-ingress",
            metadata=self._metadata(
                "", ingress_annotations(args.namespace_name, args.name, args.ingress, ca_secret_name)
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=args.ingress.class_name,
                tls=[k8s.networking.v1.IngressTLSArgs(hosts=list(args.hostnames), secret_name=args.tls_secret_name)],
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[k8s.networking.v1.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend)]
                        ),
                    )
                    for host in args.hostnames
                ],
            ),
            opts=self._child(),
        )
