"""What each ingress controller reads from annotations to re-encrypt to the pod and carry large layers."""

from __future__ import annotations

import pulumi

from components.settings import IngressSettings

TRAEFIK = "traefik.ingress.kubernetes.io/"
NGINX = "nginx.ingress.kubernetes.io/"
# pulumi-kubernetes otherwise waits (10 minutes) for a load-balancer address
# that many bare-metal controllers never publish.
SKIP_AWAIT = "pulumi.com/skipAwait"


def presents_client_certificate(ingress: IngressSettings) -> bool:
    """Whether the controller shows the pod a client certificate: ingress-nginx's proxy-ssl-secret always can,
    Traefik through the ServersTransport, which it has when it verifies the pod."""
    return ingress.enabled and (ingress.controller == "nginx" or ingress.verify_backend)


def service_annotations(namespace: str, name: str, ingress: IngressSettings) -> dict[str, pulumi.Input[str]]:
    """Traefik reads these from the Service: HTTPS to the pod, through our ServersTransport when verifying."""
    if not ingress.enabled or ingress.controller != "traefik":
        return {}
    annotations: dict[str, pulumi.Input[str]] = {f"{TRAEFIK}service.serversscheme": "https"}
    if ingress.verify_backend:
        annotations[f"{TRAEFIK}service.serverstransport"] = f"{namespace}-{name}@kubernetescrd"
    return annotations


def ingress_annotations(
    namespace: str, name: str, ingress: IngressSettings, client_secret_name: pulumi.Input[str] | None
) -> dict[str, pulumi.Input[str]]:
    if ingress.controller == "traefik":
        annotations = _traefik()
    else:
        annotations = _nginx(namespace, name, ingress.verify_backend, client_secret_name)
    if not ingress.wait_for_address:
        annotations[SKIP_AWAIT] = "true"
    return {**annotations, **ingress.annotations}


def _traefik() -> dict[str, pulumi.Input[str]]:
    return {f"{TRAEFIK}router.entrypoints": "websecure", f"{TRAEFIK}router.tls": "true"}


def _nginx(
    namespace: str, name: str, verify: bool, client_secret_name: pulumi.Input[str] | None
) -> dict[str, pulumi.Input[str]]:
    annotations: dict[str, pulumi.Input[str]] = {
        f"{NGINX}backend-protocol": "HTTPS",
        # Layers are large: no body limit (else 413), stream them, allow slow pushes.
        f"{NGINX}proxy-body-size": "0",
        f"{NGINX}proxy-request-buffering": "off",
        f"{NGINX}proxy-read-timeout": "900",
        f"{NGINX}proxy-send-timeout": "900",
    }
    if client_secret_name is not None:
        # Its key pair is presented to the pod (the front then trusts X-Forwarded-For); its ca.crt verifies the pod.
        annotations[f"{NGINX}proxy-ssl-secret"] = pulumi.Output.concat(namespace, "/", client_secret_name)
    if verify:
        annotations |= {
            f"{NGINX}proxy-ssl-verify": "on",
            # Without it nginx checks the pod's certificate against "upstream_balancer".
            f"{NGINX}proxy-ssl-name": f"{name}.{namespace}.svc",
            f"{NGINX}proxy-ssl-server-name": "on",
        }
    else:
        annotations[f"{NGINX}proxy-ssl-verify"] = "off"
    return annotations
