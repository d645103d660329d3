"""What every Kubernetes object of the stack shares: labels, selector, metadata, container hardening."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

# The stack owns its objects' fields: a change made beside it (`kubectl scale`, `kubectl edit`) is drift that the
# next `pulumi up` undoes. Without this, server-side apply refuses with a field conflict and the up fails.
OWNED_BY_THE_STACK = {"pulumi.com/patchForce": "true"}


def labels_for(name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "registry",
        "app.kubernetes.io/part-of": "image-registry",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def selector_for(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "registry"}


def object_metadata(
    base_name: str,
    namespace: pulumi.Input[str],
    suffix: str | None = None,
    annotations: Mapping[str, pulumi.Input[str]] | None = None,
) -> k8s.meta.v1.ObjectMetaArgs:
    """A fixed name (`base_name`, or `base_name-suffix`) when a suffix is given; else Pulumi auto-names."""
    name = None if suffix is None else (base_name if suffix == "" else f"{base_name}-{suffix}")
    return k8s.meta.v1.ObjectMetaArgs(
        name=name,
        namespace=namespace,
        labels=labels_for(base_name),
        annotations={**OWNED_BY_THE_STACK, **(annotations or {})},
    )


def container_security(add_capabilities: tuple[str, ...] = ()) -> k8s.core.v1.SecurityContextArgs:
    """Non-root, read-only root, no escalation, every capability dropped but those added."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"], add=list(add_capabilities) or None),
    )


def tls_secret_data(
    cert_pem: pulumi.Input[str], private_key_pem: pulumi.Input[str], ca_cert_pem: pulumi.Input[str]
) -> pulumi.Output[dict[str, str]]:
    """A `kubernetes.io/tls` Secret's data, with the CA beside the key pair (a secret: it holds the key)."""
    data = pulumi.Output.all(cert_pem, private_key_pem, ca_cert_pem).apply(
        lambda pems: {"tls.crt": pems[0], "tls.key": pems[1], "ca.crt": pems[2]}
    )
    return pulumi.Output.secret(data)
