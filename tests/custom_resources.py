"""Strict schemas for the custom resources the stack renders, for the manifest gates.

No package reachable here ships these CRDs' schemas, so these are written from
the CRDs themselves (Traefik v3's traefik.io_serverstransports.yaml,
prometheus-operator v0.93's monitoring.coreos.com_servicemonitors.yaml): every
`spec` field the CRD knows, typed where the stack sets it, and nothing else.
`metadata` and label selectors use the Kubernetes definitions that
kubernetes-validate ships, so they are as strict as for any other object.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

_DEFINITIONS = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1."
_ANY: dict[str, Any] = {}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"

SERVERS_TRANSPORT_SPEC = {
    "serverName": {"type": "string"},
    "rootCAsSecrets": _STRINGS,
    "insecureSkipVerify": {"type": "boolean"},
    **dict.fromkeys(
        ("certificatesSecrets", "cipherSuites", "disableHTTP2", "forwardingTimeouts", "maxIdleConnsPerHost"), _ANY
    ),
    **dict.fromkeys(("maxVersion", "minVersion", "peerCertSANs", "peerCertURI", "rootCAs", "spiffe"), _ANY),
}
SERVICE_MONITOR_ENDPOINT = {
    "port": {"type": "string"},
    "path": {"type": "string"},
    "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
    "interval": {"type": "string", "pattern": _DURATION},
    "scrapeTimeout": {"type": "string", "pattern": _DURATION},
    **dict.fromkeys(
        (
            "authorization", "basicAuth", "bearerTokenFile", "bearerTokenSecret", "enableHttp2", "filterRunning",
            "followRedirects", "honorLabels", "honorTimestamps", "metricRelabelings", "noProxy", "oauth2", "params",
            "proxyConnectHeader", "proxyFromEnvironment", "proxyUrl", "relabelings", "targetPort", "tlsConfig",
            "trackTimestampsStaleness",
        ),
        _ANY,
    ),
}  # fmt: skip
SERVICE_MONITOR_SPEC = {
    "selector": {"$ref": _DEFINITIONS + "LabelSelector"},
    "endpoints": {
        "type": "array",
        "minItems": 1,
        "items": {"type": "object", "properties": SERVICE_MONITOR_ENDPOINT, "additionalProperties": False},
    },
    **dict.fromkeys(
        (
            "attachMetadata", "bodySizeLimit", "convertClassicHistogramsToNHCB", "fallbackScrapeProtocol", "jobLabel",
            "keepDroppedTargets", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit", "namespaceSelector",
            "nativeHistogramBucketLimit", "nativeHistogramMinBucketFactor", "podTargetLabels", "sampleLimit",
            "scrapeClass", "scrapeClassicHistograms", "scrapeNativeHistograms", "scrapeProtocols", "selectorMechanism",
            "serviceDiscoveryRole", "targetLabels", "targetLimit",
        ),
        _ANY,
    ),
}  # fmt: skip
SPECS = {
    ("traefik.io/v1alpha1", "ServersTransport"): (SERVERS_TRANSPORT_SPEC, []),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (SERVICE_MONITOR_SPEC, ["endpoints", "selector"]),
}


def _schema(api_version: str, kind: str) -> dict[str, Any]:
    properties, required = SPECS[(api_version, kind)]
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": {"$ref": _DEFINITIONS + "ObjectMeta"},
            "spec": {"type": "object", "properties": properties, "required": required, "additionalProperties": False},
        },
    }


def validate_custom_resource(manifest: dict[str, Any], kubernetes_version: str) -> None:
    """Raise jsonschema.ValidationError unless `manifest` is a valid object of one of the stack's CRDs."""
    bundled = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    definitions = json.loads((bundled / f"v{kubernetes_version}-local-strict" / "_definitions.json").read_text())
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    validator = jsonschema.Draft202012Validator(_schema(manifest["apiVersion"], manifest["kind"]), registry=registry)
    validator.validate(manifest)


def custom_kinds() -> set[tuple[str, str]]:
    return set(SPECS)
