"""Documents shaped as `pulumi preview --json` prints them, for the dev stack's resources.

The shape is the CLI's PreviewDigest (pkg/display in pulumi/pulumi): `config`, `steps` (`op`, `urn`,
`provider`, `oldState`/`newState` as in a stack export, `diffReasons`, `replaceReasons`,
`detailedDiff`), `duration` (nanoseconds) and `changeSummary` (a count per op). The root stack's step
is always listed; other resources that stay the same are not (no `--show-sames`). Secret values are
"[secret]"; a value only known after the update is Pulumi's unknown placeholder.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_PREFIX = "urn:pulumi:dev::image-registry::"
_STACK = "image-registry:index:RegistryStack"
STACK_URN = f"{_PREFIX}pulumi:pulumi:Stack::image-registry-dev"
SERVER_CERT = (
    f"{_PREFIX}{_STACK}$image-registry:index:ServerCertificate$tls:index/locallySignedCert:LocallySignedCert"
    "::image-registry-server-cert"
)
CLIENT_CERT = (
    f"{_PREFIX}{_STACK}$image-registry:index:ClientCertificate$tls:index/locallySignedCert:LocallySignedCert"
    "::image-registry-ingress-client-cert"
)
SERVER_CSR = (
    f"{_PREFIX}{_STACK}$image-registry:index:ServerCertificate$tls:index/certRequest:CertRequest"
    "::image-registry-server-csr"
)
_WORKLOAD = f"{_PREFIX}{_STACK}$image-registry:index:RegistryWorkload"
_EXPOSURE = f"{_PREFIX}{_STACK}$image-registry:index:RegistryExposure"
TLS_SECRET = f"{_WORKLOAD}$kubernetes:core/v1:Secret::image-registry-tls"
CONFIG_MAP = f"{_WORKLOAD}$kubernetes:core/v1:ConfigMap::image-registry-config"
DEPLOYMENT = f"{_WORKLOAD}$kubernetes:apps/v1:Deployment::image-registry-deployment"
CLIENT_SECRET = f"{_EXPOSURE}$kubernetes:core/v1:Secret::image-registry-ingress-client"
INGRESS = f"{_EXPOSURE}$kubernetes:networking.k8s.io/v1:Ingress::image-registry-ingress"
SERVERS_TRANSPORT = f"{_EXPOSURE}$kubernetes:traefik.io/v1alpha1:ServersTransport::image-registry-servers-transport"

OLD_TLS_SECRET_NAME = "image-registry-tls-8d5fec0b"
NEW_TLS_SECRET_NAME = "image-registry-tls-1f2e3d4c"


def _type(urn: str) -> str:
    return urn.split("::")[2].rsplit("$", 1)[-1]


def _state(urn: str, inputs: dict[str, Any], outputs: dict[str, Any], resource_id: str | None) -> dict[str, Any]:
    provider = "kubernetes" if _type(urn).startswith("kubernetes:") else "tls"
    state = {
        "urn": urn,
        "custom": True,
        "type": _type(urn),
        "inputs": inputs,
        "outputs": outputs,
        "provider": f"{_PREFIX}pulumi:providers:{provider}::default::9f1c2b3a-0000-4000-8000-000000000000",
        "propertyDependencies": {key: [] for key in inputs},
    }
    if resource_id is not None:
        state["id"] = resource_id
    return state


def step(
    op: str,
    urn: str,
    old_inputs: dict[str, Any],
    new_inputs: dict[str, Any] | None = None,
    *,
    old_outputs: dict[str, Any] | None = None,
    diff_reasons: list[str] | None = None,
    replace_reasons: list[str] | None = None,
    detailed_diff: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One step; `detailed_diff` maps a property path to its kind ("update", "update-replace", …)."""
    new = copy.deepcopy(old_inputs) if new_inputs is None else new_inputs
    found: dict[str, Any] = {
        "op": op,
        "urn": urn,
        "provider": _state(urn, {}, {}, None)["provider"],
        "oldState": _state(urn, old_inputs, old_outputs or {}, "id-of-" + urn.rsplit("::", 1)[-1]),
        "newState": _state(urn, new, {}, None if op == "replace" else "id-of-" + urn.rsplit("::", 1)[-1]),
        "detailedDiff": None
        if detailed_diff is None
        else {path: {"kind": kind, "inputDiff": False} for path, kind in detailed_diff.items()},
    }
    if diff_reasons:
        found["diffReasons"] = diff_reasons
    if replace_reasons:
        found["replaceReasons"] = replace_reasons
    return found


def preview(*steps: dict[str, Any], sames: int = 40) -> dict[str, Any]:
    """A digest of the steps, after the root stack's own (same) step."""
    root = {"op": "same", "urn": STACK_URN, "oldState": None, "newState": None, "detailedDiff": None}
    counts = Counter(found["op"] for found in steps if found["op"] != "refresh")
    return {
        "config": {"image-registry:namespace": "kube-infra", "image-registry:users": "[secret]"},
        "steps": [root, *steps],
        "duration": 4_812_000_000,
        "changeSummary": {"same": sames, **counts},
    }


def certificate_inputs(common_name: str) -> dict[str, Any]:
    return {
        "allowedUses": ["server_auth", "digital_signature"],
        "caCertPem": "-----BEGIN CERTIFICATE-----\nMIIB…CA…\n-----END CERTIFICATE-----\n",
        "caPrivateKeyPem": "[secret]",
        "certRequestPem": f"-----BEGIN CERTIFICATE REQUEST-----\nMIIB…{common_name}…\n-----END …-----\n",
        "earlyRenewalHours": 720,
        "setSubjectKeyId": True,
        "validityPeriodHours": 8760,
    }


def renewed_certificate(urn: str, *, reasons: tuple[str, ...] = ("readyForRenewal",)) -> dict[str, Any]:
    """A certificate pulumi-tls replaces because it is within earlyRenewalHours of its end (refreshed state)."""
    outputs = {"readyForRenewal": True, "validityEndTime": "2027-01-10T04:41:00Z", "certPem": "-----BEGIN…"}
    return step(
        "replace",
        urn,
        certificate_inputs(urn.rsplit("::", 1)[-1]),
        old_outputs=outputs,
        replace_reasons=list(reasons),
        detailed_diff=dict.fromkeys(reasons, "update-replace"),
    )


def deployment_inputs(tls_secret_name: str, image: str = "registry:3.1.1") -> dict[str, Any]:
    volumes = [
        {"name": "data", "persistentVolumeClaim": {"claimName": "image-registry-data"}},
        {"name": "config", "secret": {"secretName": "image-registry-registry-5a6b7c8d", "defaultMode": 288}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "front", "secret": {"secretName": "image-registry-auth", "defaultMode": 288}},
        {"name": "tls", "secret": {"secretName": tls_secret_name, "defaultMode": 288}},
    ]
    containers = [{"name": "front", "image": "caddy:2.10.2-alpine"}, {"name": "registry", "image": image}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "image-registry", "namespace": "kube-infra"},
        "spec": {"replicas": 1, "template": {"spec": {"containers": containers, "volumes": volumes}}},
    }


def tls_secret_inputs(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"annotations": {"pulumi.com/autonamed": "true"}, "name": name, "namespace": "kube-infra"},
        "stringData": "[secret]",
        "type": "kubernetes.io/tls",
    }


def ingress_inputs(tls_secret_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"annotations": {"pulumi.com/skipAwait": "true"}, "name": "image-registry"},
        "spec": {"tls": [{"hosts": ["image-registry.8-mega.internal"], "secretName": tls_secret_name}]},
    }


def server_renewal_steps(*, image: str = "registry:3.1.1") -> list[dict[str, Any]]:
    """What the server certificate's renewal changes, as the provider accounts for it."""
    return [
        renewed_certificate(SERVER_CERT),
        step(
            "replace",
            TLS_SECRET,
            tls_secret_inputs(OLD_TLS_SECRET_NAME),
            tls_secret_inputs(NEW_TLS_SECRET_NAME),
            replace_reasons=["stringData"],
            detailed_diff={"stringData": "update-replace"},
        ),
        step(
            "update",
            DEPLOYMENT,
            deployment_inputs(OLD_TLS_SECRET_NAME),
            deployment_inputs(UNKNOWN, image=image),
            diff_reasons=["spec"],
            detailed_diff={"spec.template.spec.volumes[4].secret.secretName": "update"},
        ),
        step(
            "update",
            INGRESS,
            ingress_inputs(OLD_TLS_SECRET_NAME),
            ingress_inputs(UNKNOWN),
            diff_reasons=["spec"],
            detailed_diff={"spec.tls[0].secretName": "update"},
        ),
    ]


def client_renewal_steps() -> list[dict[str, Any]]:
    """The ingress controller's client certificate renewed: its Secret (same name) replaced, old one first."""
    secret = tls_secret_inputs("image-registry-ingress-client")
    return [
        renewed_certificate(CLIENT_CERT),
        step("replace", CLIENT_SECRET, secret, replace_reasons=["stringData"], detailed_diff={"stringData": "update"}),
    ]


def config_map_update() -> dict[str, Any]:
    """A change of the stack's settings: nothing to do with a renewal."""
    old = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"REGISTRY_LOG_LEVEL": "info"}}
    new = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"REGISTRY_LOG_LEVEL": "debug"}}
    return step(
        "replace",
        CONFIG_MAP,
        old,
        new,
        replace_reasons=["data"],
        detailed_diff={"data.REGISTRY_LOG_LEVEL": "update-replace"},
    )
