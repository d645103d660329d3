"""The image-registry stacks' guard rails, as Pulumi policies (mandatory).

Each check is a plain function over the resource properties the engine hands
policies (camelCase, as in the provider schemas): the tests call them with
passing and failing resources, and with the resources a real run renders.
"""

from __future__ import annotations

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

if __package__:  # imported as the package `policy` (the tests)
    from policy.credentials import node_credentials_misplaced, pull_secrets_that_can_push, users_who_can_write
else:  # the analyzer runs this directory as a script: `from policies import POLICIES`
    from credentials import (  # type: ignore[import-not-found,no-redef]
        node_credentials_misplaced,
        pull_secrets_that_can_push,
        users_who_can_write,
    )

__all__ = ["POLICIES", "node_credentials_misplaced", "pull_secrets_that_can_push", "users_who_can_write"]
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:CronJob")
REGISTRY = "kubernetes:apps/v1:Deployment"
DATA_DIR = "/var/lib/registry"
# Distribution's settings of a proxy's upstream credentials: they belong in the mirror's config file (a Secret).
PROXY_CREDENTIALS = {"REGISTRY_PROXY_USERNAME", "REGISTRY_PROXY_PASSWORD"}
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
    # Each once: the mirrors' containers mount the registry's storage too.
    names = dict.fromkeys(
        mount.get("name")
        for container in spec.get("containers") or ()
        for mount in container.get("volumeMounts") or ()
        if mount.get("mountPath") == DATA_DIR and mount.get("name") in volumes
    )
    return [volumes[name] for name in names]


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


def credentials_in_env(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Containers given a proxy's upstream credentials in their environment (a literal, a Secret or a ConfigMap
    key alike): the environment shows in the pod spec, `kubectl describe` and /proc, a file from a Secret does not."""
    return [
        f"{container.get('name')}: {variable.get('name')}"
        for container in containers(resource_type, props)
        for variable in container.get("env") or ()
        if variable.get("name") in PROXY_CREDENTIALS
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


def _credentials_in_files(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in WORKLOADS:
        message = "{} sets upstream credentials in the environment: they belong in the mirror's config file"
        _each(credentials_in_env(args.resource_type, args.props), message, report)


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


def _node_credentials(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = [(resource.resource_type, resource.props) for resource in args.resources]
    _each(node_credentials_misplaced(resources), "{}", report)


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
    ResourceValidationPolicy(
        name="upstream-credentials-in-files",
        description="No container gets a mirror's upstream credentials in its environment (only from a Secret file).",
        validate=_credentials_in_files,
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
    StackValidationPolicy(
        name="node-credentials-pull-only-in-secrets",
        description="The nodes' registry credentials (hosts.toml headers) are in Secrets, for users who cannot push.",
        validate=_node_credentials,
    ),
]
