"""The image-registry stacks' guard rails, as Pulumi policies (mandatory).

Each check is a plain function over the resource properties the engine hands
policies (camelCase, as in the provider schemas): the tests call them with
passing and failing resources, and with the resources a real run renders.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:CronJob")
REGISTRY = "kubernetes:apps/v1:Deployment"
DATA_DIR = "/var/lib/registry"
SECRET = "kubernetes:core/v1:Secret"
# The front's Caddy config (in the `<name>-auth` Secret) and what its per-user routes match on.
FRONT_CONFIG_KEY = "caddy.json"
USER_ID = "{http.auth.user.id}"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
DOCKER_CONFIG_KEY = ".dockerconfigjson"
_TAG = re.compile(r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")


def stack_of(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::…` -> the stack's name."""
    return urn.removeprefix("urn:pulumi:").split("::", 1)[0]


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = props.get("spec") or {}
    if resource_type == "kubernetes:batch/v1:CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template: Mapping[str, Any] = (spec.get("template") or {}).get("spec") or {}
    return template


def containers(resource_type: str, props: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    spec = pod_spec(resource_type, props)
    yield from spec.get("initContainers") or ()
    yield from spec.get("containers") or ()


def unpinned_images(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Images with neither a digest nor a tag other than `latest` (no tag means latest)."""
    found = []
    for container in containers(resource_type, props):
        image = str(container.get("image") or "")
        tag = _TAG.search(image.rsplit("/", 1)[-1])
        if "@sha256:" not in image and (tag is None or tag.group("tag") == "latest"):
            found.append(image or "(no image)")
    return found


def data_volumes(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The registry's volumes mounted where it keeps its blobs."""
    spec = pod_spec(REGISTRY, props)
    volumes = {volume.get("name"): volume for volume in spec.get("volumes") or ()}
    return [
        volumes[mount.get("name")]
        for container in spec.get("containers") or ()
        for mount in container.get("volumeMounts") or ()
        if mount.get("mountPath") == DATA_DIR and mount.get("name") in volumes
    ]


def throwaway_storage(props: Mapping[str, Any]) -> list[str]:
    """emptyDir volumes where the registry keeps its blobs."""
    return [str(volume.get("name")) for volume in data_volumes(props) if "emptyDir" in volume]


def containers_without_limits(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Containers without a memory limit (a pod without one can take a node's memory)."""
    return [
        str(container.get("name"))
        for container in containers(resource_type, props)
        if not ((container.get("resources") or {}).get("limits") or {}).get("memory")
    ]


def single_node_claims_under_replicas(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Deployments of more than one replica mounting a claim (of this stack) that one node alone can mount."""
    claims = {
        (props.get("metadata") or {}).get("name"): tuple((props.get("spec") or {}).get("accessModes") or ())
        for kind, props in resources
        if kind == "kubernetes:core/v1:PersistentVolumeClaim"
    }
    found = []
    for kind, props in resources:
        if kind != REGISTRY or int((props.get("spec") or {}).get("replicas") or 1) <= 1:
            continue
        for volume in data_volumes(props):
            modes = claims.get((volume.get("persistentVolumeClaim") or {}).get("claimName"))
            if "emptyDir" in volume or (modes is not None and "ReadWriteMany" not in modes):
                found.append(f"{(props.get('metadata') or {}).get('name')}: volume {volume.get('name')}")
    return found


def hosts_outside_the_certificate(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Ingress hosts that no server certificate request of the stack names."""
    names = {
        str(name)
        for kind, props in resources
        if kind == "tls:index/certRequest:CertRequest"
        for name in props.get("dnsNames") or ()
    }
    return [
        str(rule.get("host"))
        for kind, props in resources
        if kind == "kubernetes:networking.k8s.io/v1:Ingress"
        for rule in (props.get("spec") or {}).get("rules") or ()
        if rule.get("host") and rule.get("host") not in names
    ]


def users_who_can_write(front_config: Mapping[str, Any]) -> set[str]:
    """The front's users that some rule lets write (POST, PUT, PATCH, DELETE) or that no rule of their own holds."""
    accounts, ruled, writers = set(), set(), set()
    for server in ((front_config.get("apps") or {}).get("http") or {}).get("servers", {}).values():
        for route in server.get("routes") or ():
            for handler in route.get("handle") or ():
                basic = (handler.get("providers") or {}).get("http_basic") or {}
                accounts |= {_literal(account.get("username", "")) for account in basic.get("accounts") or ()}
            users = {
                _literal(user)
                for match in route.get("match") or ()
                for user in (match.get("vars") or {}).get(USER_ID, ())
            }
            ruled |= users
            if users and _lets_write(route):
                writers |= users
    # A user without rules of its own reaches the registry unchecked.
    return writers | (accounts - ruled)


def _lets_write(route: Mapping[str, Any]) -> bool:
    rules = [rule for handler in route.get("handle") or () for rule in handler.get("routes") or ()]
    return any(WRITES & set(match.get("method") or ()) for rule in rules for match in rule.get("match") or ())


def _literal(text: str) -> str:
    """A name as Caddy reads it: escaped braces are braces."""
    return text.replace("\\{", "{").replace("\\}", "}")


def secret_document(props: Mapping[str, Any], key: str) -> Any:
    """A Secret's JSON value under `key`, from `stringData` or base64 `data`: the engine hands the pack what the
    provider checked, and pulumi-kubernetes moves `stringData` into `data` (None when unknown or not JSON)."""
    text = (props.get("stringData") or {}).get(key)
    encoded = (props.get("data") or {}).get(key)
    try:
        return json.loads(text if text is not None else base64.b64decode(encoded or ""))
    except (ValueError, TypeError):
        return None


def docker_config_users(props: Mapping[str, Any]) -> list[str]:
    """The user names a dockerconfigjson Secret carries (none when its data is not known yet)."""
    document = secret_document(props, DOCKER_CONFIG_KEY)
    auths = document.get("auths") or {} if isinstance(document, dict) else {}
    return sorted({str(entry.get("username") or base64.b64decode(entry.get("auth", "")).decode().split(":")[0])
                   for entry in auths.values()})  # fmt: skip


def pull_secrets_that_can_push(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """dockerconfigjson Secrets of the stack that carry a user the front lets write."""
    resources = list(resources)
    writers: set[str] = set()
    for kind, props in resources:
        config = secret_document(props, FRONT_CONFIG_KEY) if kind == SECRET else None
        if isinstance(config, dict):
            writers |= users_who_can_write(config)
    found = []
    for kind, props in resources:
        if kind == SECRET and props.get("type") == "kubernetes.io/dockerconfigjson":
            metadata = props.get("metadata") or {}
            for user in sorted(set(docker_config_users(props)) & writers):
                found.append(f"{metadata.get('namespace')}/{metadata.get('name')} carries the user {user}")
    return found


def _each(found: Sequence[str], message: str, report: ReportViolation) -> None:
    for item in found:
        report(message.format(item), None)


def _pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in WORKLOADS:
        _each(unpinned_images(args.resource_type, args.props), "image {} is not pinned: use a tag or a digest", report)


def _prod_keeps_its_images(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == REGISTRY and stack_of(args.urn).startswith("prod"):
        stack = stack_of(args.urn)
        message = f"stack {stack} keeps registry data on emptyDir volume {{}}: every image is lost with the pod"
        _each(throwaway_storage(args.props), message, report)


def _limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in WORKLOADS:
        _each(containers_without_limits(args.resource_type, args.props), "container {} has no memory limit", report)


def _shared_storage(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = [(resource.resource_type, resource.props) for resource in args.resources]
    message = "{} is mounted by more than one replica but only one node can mount it (use ReadWriteMany or S3)"
    _each(single_node_claims_under_replicas(resources), message, report)


def _hosts_in_certificate(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = [(resource.resource_type, resource.props) for resource in args.resources]
    _each(hosts_outside_the_certificate(resources), "Ingress host {} is not a name of the server certificate", report)


def _pull_only(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = [(resource.resource_type, resource.props) for resource in args.resources]
    message = "pull Secret {}, who can push: pull Secrets carry the pull-only user (pullDockerConfigJson)"
    _each(pull_secrets_that_can_push(resources), message, report)


POLICIES = [
    ResourceValidationPolicy(
        name="registry-images-pinned",
        description="Workload images are pinned by a tag other than latest, or by a digest.",
        validate=_pinned,
    ),
    ResourceValidationPolicy(
        name="prod-registry-storage-survives",
        description="Stacks whose name starts with prod keep registry data on no emptyDir volume.",
        validate=_prod_keeps_its_images,
    ),
    ResourceValidationPolicy(
        name="containers-have-limits",
        description="Every container has a memory limit.",
        validate=_limits,
    ),
    StackValidationPolicy(
        name="replicas-on-shared-storage",
        description="More than one registry replica only on storage every pod can mount.",
        validate=_shared_storage,
    ),
    StackValidationPolicy(
        name="ingress-hosts-in-certificate",
        description="Every Ingress host of the registry is a name of its server certificate.",
        validate=_hosts_in_certificate,
    ),
    StackValidationPolicy(
        name="pull-secrets-cannot-push",
        description="No pull Secret carries a user whom the registry's front lets push or delete.",
        validate=_pull_only,
    ),
]
