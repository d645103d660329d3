"""Who may reach the registry pods, and where they may go: the NetworkPolicy's rules."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pulumi_kubernetes as k8s

from components.kube import selector_for
from components.settings import METRICS_PORT, REGISTRY_PORT, S3Storage, Settings

NAMESPACE_LABEL = "kubernetes.io/metadata.name"


def _from_namespaces(names: tuple[str, ...]) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    return [
        k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={NAMESPACE_LABEL: name})
        )
        for name in names
    ]


def _port(number: int, protocol: str = "TCP") -> k8s.networking.v1.NetworkPolicyPortArgs:
    return k8s.networking.v1.NetworkPolicyPortArgs(port=number, protocol=protocol)


def ingress_rules(settings: Settings) -> list[k8s.networking.v1.NetworkPolicyIngressRuleArgs]:
    """The registry port from the ingress controller's namespace and the allowed ones; metrics from their own."""
    registry_clients = (
        *((settings.ingress.controller_namespace,) if settings.ingress.enabled else ()),
        *settings.network_policy.allow_from,
    )
    metrics_clients = settings.metrics.allow_from if settings.metrics.enabled else ()
    # A rule with no peers would admit everyone: a port nobody may reach gets no rule at all.
    return [
        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=_from_namespaces(tuple(dict.fromkeys(clients))), ports=[_port(port)]
        )
        for clients, port in ((registry_clients, REGISTRY_PORT), (metrics_clients, METRICS_PORT))
        if clients
    ]


def egress_rules(settings: Settings) -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgs]:
    """DNS, and the object store when there is one: nothing else."""
    dns = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        to=[
            k8s.networking.v1.NetworkPolicyPeerArgs(
                namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={NAMESPACE_LABEL: "kube-system"}),
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
            )
        ],
        ports=[_port(53, "UDP"), _port(53, "TCP")],
    )
    storage = settings.storage
    if not isinstance(storage, S3Storage):
        return [dns]
    # A policy cannot name a host: the store's port to its address when it is one, else to any address.
    host = urlsplit(storage.region_endpoint or "").hostname or ""
    try:
        cidr = f"{ipaddress.ip_address(host)}/{32 if ':' not in host else 128}"
    except ValueError:
        cidr = "0.0.0.0/0"
    store = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        to=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr))],
        ports=[_port(storage.endpoint_port)],
    )
    return [dns, store]


def network_policy_spec(settings: Settings) -> k8s.networking.v1.NetworkPolicySpecArgs:
    restrict_egress = settings.network_policy.restrict_egress
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_for(settings.name)),
        policy_types=["Ingress", "Egress"] if restrict_egress else ["Ingress"],
        ingress=ingress_rules(settings),
        egress=egress_rules(settings) if restrict_egress else None,
    )
