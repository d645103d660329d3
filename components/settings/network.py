"""How the registry is reached: the Ingress, the NetworkPolicy, the metrics endpoint."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from components.settings.base import ConfigModel, DefaultFollows
from components.settings.types import DNS_LABEL_PATTERN, DnsName

_ANNOTATION = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?"
AnnotationName = Annotated[str, Field(pattern=_ANNOTATION + r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]
NamespaceName = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, description="a namespace name")]
# The IngressClass each controller's chart creates, named after it.
CONTROLLER_CLASSES = {"traefik": "traefik", "nginx": "nginx"}
# Where each controller runs by default: k3s's Traefik, and the ingress-nginx chart's namespace.
CONTROLLER_NAMESPACES = {"traefik": "kube-system", "nginx": "ingress-nginx"}


class IngressSettings(ConfigModel):
    enabled: bool = Field(default=True, description="true or false: whether an Ingress serves the hostnames")
    # Decides the annotations; the class is only the IngressClass's name.
    controller: Literal["traefik", "nginx"] = Field(
        default="traefik", description="traefik or nginx: whose annotations the Ingress carries"
    )
    # Their defaults follow `controller` (the validator below); the fixed ones are traefik's.
    class_name: Annotated[DnsName, DefaultFollows("controller", CONTROLLER_CLASSES)] = Field(
        default="traefik", description="the name of an IngressClass; by default the controller's (traefik or nginx)"
    )
    controller_namespace: Annotated[NamespaceName, DefaultFollows("controller", CONTROLLER_NAMESPACES)] = Field(
        default="kube-system",
        description="the namespace the controller runs in, which the NetworkPolicy lets in; "
        "by default kube-system for traefik, ingress-nginx for nginx",
    )
    verify_backend: bool = Field(
        default=True,
        description="true or false: whether the controller verifies the pod's certificate against the stack's CA",
    )
    wait_for_address: bool = Field(
        default=False, description="true or false: whether `pulumi up` waits for the Ingress's load-balancer address"
    )
    annotations: dict[AnnotationName, str] = Field(
        default_factory=dict, description="an object of annotations: [prefix/]name keys, string values"
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults_follow_the_controller(cls, data: Any) -> Any:
        """`className: nginx` alone means the nginx controller; the class and namespace default to the controller's."""
        if isinstance(data, dict):
            data = {"controller": "nginx" if data.get("className") == "nginx" else "traefik", **data}
            data.setdefault("className", CONTROLLER_CLASSES.get(data["controller"], data["controller"]))
            data.setdefault("controllerNamespace", CONTROLLER_NAMESPACES.get(data["controller"], "kube-system"))
        return data


class NetworkPolicySettings(ConfigModel):
    allow_from: tuple[NamespaceName, ...] = Field(
        default=(), description="namespaces whose pods may reach the registry directly (besides the controller's)"
    )
    restrict_egress: bool = Field(
        default=False, description="true or false: whether the pod may reach only DNS and its S3 store"
    )


class MetricsSettings(ConfigModel):
    enabled: bool = Field(
        default=False,
        description="true or false: whether the registry serves Prometheus metrics (Service port metrics)",
    )
    service_monitor: bool = Field(
        default=False, description="true or false: whether a ServiceMonitor (Prometheus Operator) scrapes them"
    )
    allow_from: tuple[NamespaceName, ...] = Field(
        default=("monitoring",), description="namespaces whose pods may scrape the metrics port"
    )
