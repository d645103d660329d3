"""The registry pod: its front and the registry, hardened, settings from the ConfigMap, secrets only as files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.kube import container_security
from components.settings import METRICS_PORT, REGISTRY_PORT, Settings, Toleration
from components.workload.environment import (
    CONFIG_DIR,
    CONFIG_FILE,
    LOG_FILTER,
    SCRATCH_DIR,
    RegistrySetting,
    registry_environment,
)
from components.workload.front import front_container, front_volumes
from components.workload.front_config import DRAIN_SECONDS, SHUTDOWN_DELAY_SECONDS, UPSTREAM
from components.workload.front_mirrors import mirror_address
from components.workload.mirrors import MIRROR_LEFT_OUT, mirror_name, mirror_overrides, mirror_volumes

# Any uid works once /var/lib/registry is writable to it (fsGroup); above 10000
# it cannot collide with a node's own users.
RUN_AS_USER = 10001
# On termination the front serves on for its shutdown delay, then drains; the registry stays until the
# front has stopped listening, then drains what the front still forwards. Then the kubelet may kill.
TERMINATION_GRACE_SECONDS = SHUTDOWN_DELAY_SECONDS + DRAIN_SECONDS + 10
_FRONT_PORT_HEX = f"{REGISTRY_PORT:04X}"
# The pod's containers share its network: the registry sees the front's listening socket (state 0A) in
# /proc/net/tcp6 (or tcp), and waits for it to close before it takes SIGTERM itself.
WAIT_FOR_THE_FRONT = (
    f"while grep -qE '^ *[0-9]+: [0-9A-F]+:{_FRONT_PORT_HEX} [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6; "
    "do sleep 1; done"
)


@dataclass(frozen=True)
class PodInputs:
    """What the registry's containers are made of (the Deployment's and the garbage collector's)."""

    settings: Settings
    environment: tuple[RegistrySetting, ...]
    config_map_name: pulumi.Input[str]
    config_secret_name: pulumi.Input[str]
    tls_secret_name: pulumi.Input[str]
    front_secret_name: pulumi.Input[str]
    service_account_name: pulumi.Input[str]
    # (volume, mount path): the data claim or emptyDir, the S3 credentials; none with S3 keys from the pod's identity.
    storage_volumes: tuple[tuple[k8s.core.v1.VolumeArgs, str], ...]
    # Each mirror's config-file Secret, in the order of `settings.mirrors` (none for the garbage collector).
    mirror_secret_names: tuple[pulumi.Input[str], ...] = ()


def pod_security() -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=RUN_AS_USER,
        run_as_group=RUN_AS_USER,
        fs_group=RUN_AS_USER,
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def pod_spec(
    pod: PodInputs,
    *,
    containers: list[k8s.core.v1.ContainerArgs],
    volumes: list[k8s.core.v1.VolumeArgs],
    affinity: k8s.core.v1.AffinityArgs | None = None,
    **extra: Any,
) -> k8s.core.v1.PodSpecArgs:
    """The pod of `containers`; the stack's placement unless `affinity` pins it (the garbage collector's)."""
    settings = pod.settings
    return k8s.core.v1.PodSpecArgs(
        service_account_name=pod.service_account_name,
        automount_service_account_token=False,
        # Service links would add variables such as REGISTRY_PORT when a Service
        # is named "registry", and the registry treats REGISTRY_* as settings.
        enable_service_links=False,
        security_context=pod_security(),
        node_selector=settings.node_selector or None,
        tolerations=[_toleration(toleration) for toleration in settings.tolerations] or None,
        # The stack's affinity is a pod spec's, camelCase keys and all: the provider takes it as it is.
        affinity=affinity or cast(k8s.core.v1.AffinityArgs | None, settings.affinity or None),
        priority_class_name=settings.priority_class_name,
        containers=containers,
        volumes=volumes,
        **extra,
    )


def _toleration(toleration: Toleration) -> k8s.core.v1.TolerationArgs:
    return k8s.core.v1.TolerationArgs(
        key=toleration.key,
        operator=toleration.operator,
        value=toleration.value,
        effect=toleration.effect,
        toleration_seconds=toleration.toleration_seconds,
    )


def registry_container(
    pod: PodInputs, name: str = "registry", args: list[str] | None = None
) -> k8s.core.v1.ContainerArgs:
    """The registry serving (default), or another of its commands (`args`) on the same settings and files."""
    if args is None:
        ports = [k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT, protocol="TCP")]
        metrics = ports if pod.settings.metrics.enabled else None
        return serving_registry(pod, name, UPSTREAM, registry_environment(pod, {}), ports=metrics)
    # Another command: the image's entrypoint on `args`, logging what it does at `info` (the garbage collector:
    # each blob it deletes); no request reaches it, so no token.
    return _registry_image(pod, name, args=args, env=registry_environment(pod, {"REGISTRY_LOG_LEVEL": "info"}))


def serving_registry(
    pod: PodInputs,
    name: str,
    address: str,
    env: list[k8s.core.v1.EnvVarArgs],
    *,
    volumes: tuple[str, str] = ("config", "tmp"),
    ports: list[k8s.core.v1.ContainerPortArgs] | None = None,
) -> k8s.core.v1.ContainerArgs:
    """`registry serve <config>` on `address` (as both images' entrypoint does with a *.yml argument), its log
    filtered (LOG_FILTER): the stack's registry, or a mirror's (mirrors.py)."""
    # It listens on the pod's loopback, where the kubelet cannot reach: the probes run inside it.
    answers = k8s.core.v1.ExecActionArgs(command=["wget", "-q", "-O", "/dev/null", f"http://{address}/"])
    return _registry_image(
        pod,
        name,
        command=["/bin/sh", "-c", LOG_FILTER, "registry"],
        args=[CONFIG_FILE],
        env=env,
        volumes=volumes,
        ports=ports,
        readiness_probe=k8s.core.v1.ProbeArgs(exec_=answers, period_seconds=10, failure_threshold=3),
        liveness_probe=k8s.core.v1.ProbeArgs(
            exec_=answers, initial_delay_seconds=10, period_seconds=20, failure_threshold=3
        ),
        lifecycle=k8s.core.v1.LifecycleArgs(
            pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                exec_=k8s.core.v1.ExecActionArgs(command=["/bin/sh", "-c", WAIT_FOR_THE_FRONT])
            )
        ),
    )


def _registry_image(
    pod: PodInputs,
    name: str,
    *,
    args: list[str],
    env: list[k8s.core.v1.EnvVarArgs],
    volumes: tuple[str, str] = ("config", "tmp"),
    **serving: Any,
) -> k8s.core.v1.ContainerArgs:
    """A container of the registry's image on the stack's storage, its config file and scratch volumes."""
    config, scratch = volumes
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=pod.settings.image,
        image_pull_policy="IfNotPresent",
        args=args,
        env=env,
        volume_mounts=[
            *(k8s.core.v1.VolumeMountArgs(name=volume.name, mount_path=path) for volume, path in pod.storage_volumes),
            k8s.core.v1.VolumeMountArgs(name=config, mount_path=CONFIG_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name=scratch, mount_path=SCRATCH_DIR),
        ],
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests=dict(pod.settings.resources.requests), limits=dict(pod.settings.resources.limits)
        ),
        security_context=container_security(),
        **serving,
    )


def mirror_containers(pod: PodInputs) -> list[k8s.core.v1.ContainerArgs]:
    """One serving registry per mirror, each on its own listener, prefix, config file and scratch directory."""
    return [
        serving_registry(
            pod,
            mirror_name(index),
            mirror_address(index),
            registry_environment(pod, mirror_overrides(pod.settings, index, mirror), MIRROR_LEFT_OUT),
            volumes=(f"{mirror_name(index)}-config", f"{mirror_name(index)}-tmp"),
        )
        for index, mirror in enumerate(pod.settings.mirrors)
    ]


def registry_volumes(pod: PodInputs) -> list[k8s.core.v1.VolumeArgs]:
    """What the registry's own containers mount: its storage, its config file, a scratch directory."""
    config = k8s.core.v1.SecretVolumeSourceArgs(secret_name=pod.config_secret_name, default_mode=0o440)
    return [
        *(volume for volume, _ in pod.storage_volumes),
        k8s.core.v1.VolumeArgs(name="config", secret=config),
        k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
    ]


def serving_pod(pod: PodInputs, **extra: Any) -> k8s.core.v1.PodSpecArgs:
    """The registry behind its front: TLS and authentication in one container, the registry in another, and
    one more per mirror (mirrors.py)."""
    return pod_spec(
        pod,
        containers=[front_container(pod.settings), registry_container(pod), *mirror_containers(pod)],
        volumes=[
            *registry_volumes(pod),
            *front_volumes(pod.front_secret_name, pod.tls_secret_name),
            *mirror_volumes(pod),
        ],
        termination_grace_period_seconds=TERMINATION_GRACE_SECONDS,
        **extra,
    )
