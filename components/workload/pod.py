"""The registry pod: one hardened container, its settings from the ConfigMap, its files from Secrets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.settings import REGISTRY_PORT
from components.workload.environment import (
    AUTH_DIR,
    DATA_DIR,
    HTTP_SECRET_KEY,
    TLS_DIR,
    RegistrySetting,
)
from components.workload.storage import DATA_VOLUME

# Any uid works once /var/lib/registry is writable to it (fsGroup); above 10000
# it cannot collide with a node's own users.
RUN_AS_USER = 10001


@dataclass(frozen=True)
class PodInputs:
    image: str
    settings: tuple[RegistrySetting, ...]
    config_map_name: pulumi.Input[str]
    tls_secret_name: pulumi.Input[str]
    htpasswd_secret_name: pulumi.Input[str]
    http_secret_name: pulumi.Input[str]
    data_volume: k8s.core.v1.VolumeArgs


def pod_spec(pod: PodInputs) -> k8s.core.v1.PodSpecArgs:
    return k8s.core.v1.PodSpecArgs(
        automount_service_account_token=False,
        # Service links would add variables such as REGISTRY_PORT when a Service
        # is named "registry", and the registry treats REGISTRY_* as settings.
        enable_service_links=False,
        security_context=k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=RUN_AS_USER,
            run_as_group=RUN_AS_USER,
            fs_group=RUN_AS_USER,
            fs_group_change_policy="OnRootMismatch",
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        containers=[_registry_container(pod)],
        volumes=_volumes(pod),
    )


def _environment(pod: PodInputs) -> list[k8s.core.v1.EnvVarArgs]:
    env = [
        k8s.core.v1.EnvVarArgs(
            name=setting.variable,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                config_map_key_ref=k8s.core.v1.ConfigMapKeySelectorArgs(name=pod.config_map_name, key=setting.key)
            ),
        )
        for setting in pod.settings
    ]
    env.append(
        k8s.core.v1.EnvVarArgs(
            name="REGISTRY_HTTP_SECRET",
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=pod.http_secret_name, key=HTTP_SECRET_KEY)
            ),
        )
    )
    return env


def _registry_container(pod: PodInputs) -> k8s.core.v1.ContainerArgs:
    probe = k8s.core.v1.HTTPGetActionArgs(path="/", port="https", scheme="HTTPS")
    return k8s.core.v1.ContainerArgs(
        name="registry",
        image=pod.image,
        image_pull_policy="IfNotPresent",
        ports=[k8s.core.v1.ContainerPortArgs(name="https", container_port=REGISTRY_PORT, protocol="TCP")],
        env=_environment(pod),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name=DATA_VOLUME, mount_path=DATA_DIR),
            k8s.core.v1.VolumeMountArgs(name="tls", mount_path=TLS_DIR, read_only=True),
            # A whole directory, not subPath: updates must reach the file.
            k8s.core.v1.VolumeMountArgs(name="htpasswd", mount_path=AUTH_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ],
        readiness_probe=k8s.core.v1.ProbeArgs(http_get=probe, period_seconds=10, failure_threshold=3),
        liveness_probe=k8s.core.v1.ProbeArgs(
            http_get=probe, initial_delay_seconds=10, period_seconds=20, failure_threshold=3
        ),
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "100m", "memory": "128Mi"},
            limits={"cpu": "1", "memory": "512Mi"},
        ),
        security_context=k8s.core.v1.SecurityContextArgs(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        ),
    )


def _volumes(pod: PodInputs) -> list[k8s.core.v1.VolumeArgs]:
    return [
        pod.data_volume,
        k8s.core.v1.VolumeArgs(
            name="tls",
            secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name=pod.tls_secret_name,
                default_mode=0o440,
                items=[
                    k8s.core.v1.KeyToPathArgs(key="tls.crt", path="tls.crt"),
                    k8s.core.v1.KeyToPathArgs(key="tls.key", path="tls.key"),
                ],
            ),
        ),
        k8s.core.v1.VolumeArgs(
            name="htpasswd",
            secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=pod.htpasswd_secret_name, default_mode=0o440),
        ),
        k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
    ]
