"""RegistryWorkload: every Kubernetes object the registry runs on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.settings import REGISTRY_PORT, EmptyDirStorage, IngressSettings, PvcStorage, Storage

TLS_DIR = "/etc/registry/tls"
AUTH_DIR = "/auth"
HTPASSWD_KEY = "htpasswd"
DATA_DIR = "/var/lib/registry"
HTTP_SECRET_KEY = "httpSecret"
# Any uid works once /var/lib/registry is writable to it (fsGroup); above 10000
# it cannot collide with a node's own users.
RUN_AS_USER = 10001

_Metadata = Callable[..., k8s.meta.v1.ObjectMetaArgs]

# (environment variable, ConfigMap key, value): the registry reads only the
# environment, so these override whatever config file the image ships.
REGISTRY_ENVIRONMENT: tuple[tuple[str, str, str], ...] = (
    ("REGISTRY_HTTP_ADDR", "httpAddr", f":{REGISTRY_PORT}"),
    ("REGISTRY_HTTP_TLS_CERTIFICATE", "httpTlsCertificate", f"{TLS_DIR}/tls.crt"),
    ("REGISTRY_HTTP_TLS_KEY", "httpTlsKey", f"{TLS_DIR}/tls.key"),
    ("REGISTRY_HTTP_TLS_MINIMUMTLS", "httpTlsMinimumTls", "tls1.2"),
    ("REGISTRY_AUTH", "authType", "htpasswd"),
    ("REGISTRY_AUTH_HTPASSWD_REALM", "authHtpasswdRealm", "{name}"),
    ("REGISTRY_AUTH_HTPASSWD_PATH", "authHtpasswdPath", f"{AUTH_DIR}/{HTPASSWD_KEY}"),
    ("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "storageFilesystemRootDirectory", DATA_DIR),
    ("REGISTRY_LOG_LEVEL", "logLevel", "info"),
    # registry 3.0.x images try to export traces unless told not to.
    ("OTEL_TRACES_EXPORTER", "otelTracesExporter", "none"),
)


@dataclass(frozen=True)
class RegistryWorkloadArgs:
    namespace: str
    name: str
    image: str
    replicas: int
    hostnames: tuple[str, ...]
    storage: Storage
    ingress: IngressSettings
    tls_cert_pem: pulumi.Input[str]
    tls_private_key_pem: pulumi.Input[str]
    ca_cert_pem: pulumi.Input[str]
    htpasswd: pulumi.Input[str]


def labels_for(name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "registry",
        "app.kubernetes.io/part-of": "image-registry",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def selector_for(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "registry"}


class RegistryWorkload(pulumi.ComponentResource):
    """Namespace, settings, Secrets, storage, Deployment, Service and Ingress."""

    namespace: pulumi.Output[str]
    service_name: pulumi.Output[str]
    deployment: k8s.apps.v1.Deployment

    def __init__(self, name: str, args: RegistryWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:RegistryWorkload", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = labels_for(args.name)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    **labels,
                    # The pod below meets the restricted Pod Security Standard; keep it so.
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            ),
            opts=child,
        )
        ns = namespace.metadata.name

        def metadata(
            suffix: str | None = None, annotations: Mapping[str, pulumi.Input[str]] | None = None
        ) -> k8s.meta.v1.ObjectMetaArgs:
            """Fixed name when a suffix is given; otherwise Pulumi auto-names from the resource name."""
            object_name = None if suffix is None else (args.name if suffix == "" else f"{args.name}-{suffix}")
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=ns, labels=labels, annotations=annotations)

        # Auto-named and replaced on change: a new certificate or new settings
        # get a new object name, which changes the pod template and rolls the
        # pods (the registry loads both only when it starts).
        tls_secret = k8s.core.v1.Secret(
            f"{args.name}-tls",
            metadata=metadata(),
            type="kubernetes.io/tls",
            string_data=pulumi.Output.all(
                args.tls_cert_pem, pulumi.Output.secret(args.tls_private_key_pem), args.ca_cert_pem
            ).apply(lambda pems: {"tls.crt": pems[0], "tls.key": pems[1], "ca.crt": pems[2]}),
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["data", "stringData"]),
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{args.name}-config",
            metadata=metadata(),
            data={key: value.format(name=args.name) for _, key, value in REGISTRY_ENVIRONMENT},
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["data"]),
        )
        # Fixed name: a change replaces the Secret under the same name, so the pod
        # template stays as it is; the kubelet refreshes the mounted file and the
        # registry re-reads it. Adding a user needs no restart.
        htpasswd_secret = k8s.core.v1.Secret(
            f"{args.name}-htpasswd",
            metadata=metadata("htpasswd"),
            type="Opaque",
            string_data=pulumi.Output.secret(args.htpasswd).apply(lambda text: {HTPASSWD_KEY: text}),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        # Every replica must share it, or uploads that move between pods fail.
        http_secret_value: pulumi.Input[str] = random.RandomBytes(
            f"{args.name}-http-secret", length=32, opts=child
        ).base64
        http_secret = k8s.core.v1.Secret(
            f"{args.name}-http-secret",
            metadata=metadata("http-secret"),
            type="Opaque",
            string_data=pulumi.Output.secret(http_secret_value).apply(lambda value: {HTTP_SECRET_KEY: value}),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        data_volume = self._data_volume(args, metadata)
        self.deployment = k8s.apps.v1.Deployment(
            f"{args.name}-deployment",
            metadata=metadata(""),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_for(args.name)),
                strategy=_strategy(args.storage),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=_pod_spec(
                        args,
                        tls_secret=tls_secret,
                        config_map=config_map,
                        htpasswd_secret=htpasswd_secret,
                        http_secret=http_secret,
                        data_volume=data_volume,
                    ),
                ),
            ),
            opts=child,
        )
        traefik = args.ingress.enabled and args.ingress.class_name == "traefik"
        if traefik:
            # Traefik re-encrypts to the pod and verifies it against our CA.
            k8s.apiextensions.CustomResource(
                f"{args.name}-servers-transport",
                api_version="traefik.io/v1alpha1",
                kind="ServersTransport",
                metadata=metadata(""),
                spec={
                    "serverName": f"{args.name}.{args.namespace}.svc",
                    # Traefik v2.10+ and v3 both read rootCAsSecrets (v3 also has rootCAs).
                    "rootCAsSecrets": [tls_secret.metadata.name],
                },
                opts=child,
            )
        service = k8s.core.v1.Service(
            f"{args.name}-service",
            metadata=metadata("", annotations=_traefik_service_annotations(args) if traefik else None),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector_for(args.name),
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="https", port=REGISTRY_PORT, target_port="https", protocol="TCP", app_protocol="https"
                    )
                ],
            ),
            opts=child,
        )
        # Only the HTTPS port is reachable; registry 3.x also opens a debug
        # port (:5001, metrics) that must stay inside the pod.
        k8s.networking.v1.NetworkPolicy(
            f"{args.name}-network-policy",
            metadata=metadata(""),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_for(args.name)),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=REGISTRY_PORT, protocol="TCP")]
                    )
                ],
            ),
            opts=child,
        )
        if args.ingress.enabled:
            k8s.networking.v1.Ingress(
                f"{args.name}-ingress",
                metadata=metadata("", annotations=_ingress_annotations(args, tls_secret)),
                spec=k8s.networking.v1.IngressSpecArgs(
                    ingress_class_name=args.ingress.class_name,
                    tls=[
                        k8s.networking.v1.IngressTLSArgs(
                            hosts=list(args.hostnames), secret_name=tls_secret.metadata.name
                        )
                    ],
                    rules=[
                        k8s.networking.v1.IngressRuleArgs(
                            host=host,
                            http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                                paths=[
                                    k8s.networking.v1.HTTPIngressPathArgs(
                                        path="/",
                                        path_type="Prefix",
                                        backend=k8s.networking.v1.IngressBackendArgs(
                                            service=k8s.networking.v1.IngressServiceBackendArgs(
                                                name=service.metadata.name,
                                                port=k8s.networking.v1.ServiceBackendPortArgs(number=REGISTRY_PORT),
                                            )
                                        ),
                                    )
                                ]
                            ),
                        )
                        for host in args.hostnames
                    ],
                ),
                opts=child,
            )

        self.namespace = ns
        self.service_name = service.metadata.name
        self.register_outputs({"namespace": self.namespace, "serviceName": self.service_name})

    def _data_volume(self, args: RegistryWorkloadArgs, metadata: _Metadata) -> k8s.core.v1.VolumeArgs:
        if isinstance(args.storage, EmptyDirStorage):
            return k8s.core.v1.VolumeArgs(
                name="data", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=args.storage.size_limit)
            )
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{args.name}-data",
            metadata=metadata("data"),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=[args.storage.access_mode],
                storage_class_name=args.storage.storage_class,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": args.storage.size}),
            ),
            # The images live here: replacing or deleting it must be deliberate.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        return k8s.core.v1.VolumeArgs(
            name="data",
            persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=claim.metadata.name),
        )


def _traefik_service_annotations(args: RegistryWorkloadArgs) -> dict[str, pulumi.Input[str]]:
    """Send Traefik to the pod over HTTPS through the ServersTransport of the same name."""
    return {
        "traefik.ingress.kubernetes.io/service.serversscheme": "https",
        "traefik.ingress.kubernetes.io/service.serverstransport": f"{args.namespace}-{args.name}@kubernetescrd",
    }


def _ingress_annotations(args: RegistryWorkloadArgs, tls_secret: k8s.core.v1.Secret) -> dict[str, pulumi.Input[str]]:
    annotations: dict[str, pulumi.Input[str]]
    if args.ingress.class_name == "traefik":
        annotations = {
            "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
            "traefik.ingress.kubernetes.io/router.tls": "true",
        }
    else:
        annotations = {
            "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
            "nginx.ingress.kubernetes.io/proxy-ssl-secret": pulumi.Output.concat(
                tls_secret.metadata.namespace, "/", tls_secret.metadata.name
            ),
            "nginx.ingress.kubernetes.io/proxy-ssl-verify": "on",
            "nginx.ingress.kubernetes.io/proxy-ssl-name": f"{args.name}.{args.namespace}.svc",
            "nginx.ingress.kubernetes.io/proxy-ssl-server-name": "on",
            # Layers are large: no body limit (else 413), stream them, allow slow pushes.
            "nginx.ingress.kubernetes.io/proxy-body-size": "0",
            "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
            "nginx.ingress.kubernetes.io/proxy-read-timeout": "900",
            "nginx.ingress.kubernetes.io/proxy-send-timeout": "900",
        }
    return {**annotations, **dict(args.ingress.annotations)}


def _strategy(storage: Storage) -> k8s.apps.v1.DeploymentStrategyArgs:
    if isinstance(storage, PvcStorage) and storage.single_pod:
        # One node can mount the volume: the old pod must let go before the new one starts.
        return k8s.apps.v1.DeploymentStrategyArgs(type="Recreate")
    return k8s.apps.v1.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
    )


def _pod_spec(
    args: RegistryWorkloadArgs,
    *,
    tls_secret: k8s.core.v1.Secret,
    config_map: k8s.core.v1.ConfigMap,
    htpasswd_secret: k8s.core.v1.Secret,
    http_secret: k8s.core.v1.Secret,
    data_volume: k8s.core.v1.VolumeArgs,
) -> k8s.core.v1.PodSpecArgs:
    env = [
        k8s.core.v1.EnvVarArgs(
            name=variable,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                config_map_key_ref=k8s.core.v1.ConfigMapKeySelectorArgs(name=config_map.metadata.name, key=key)
            ),
        )
        for variable, key, _ in REGISTRY_ENVIRONMENT
    ]
    env.append(
        k8s.core.v1.EnvVarArgs(
            name="REGISTRY_HTTP_SECRET",
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=http_secret.metadata.name, key=HTTP_SECRET_KEY)
            ),
        )
    )
    probe = k8s.core.v1.HTTPGetActionArgs(path="/", port="https", scheme="HTTPS")
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
        containers=[
            k8s.core.v1.ContainerArgs(
                name="registry",
                image=args.image,
                image_pull_policy="IfNotPresent",
                ports=[k8s.core.v1.ContainerPortArgs(name="https", container_port=REGISTRY_PORT, protocol="TCP")],
                env=env,
                volume_mounts=[
                    k8s.core.v1.VolumeMountArgs(name="data", mount_path=DATA_DIR),
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
        ],
        volumes=[
            data_volume,
            k8s.core.v1.VolumeArgs(
                name="tls",
                secret=k8s.core.v1.SecretVolumeSourceArgs(
                    secret_name=tls_secret.metadata.name,
                    default_mode=0o440,
                    items=[
                        k8s.core.v1.KeyToPathArgs(key="tls.crt", path="tls.crt"),
                        k8s.core.v1.KeyToPathArgs(key="tls.key", path="tls.key"),
                    ],
                ),
            ),
            k8s.core.v1.VolumeArgs(
                name="htpasswd",
                secret=k8s.core.v1.SecretVolumeSourceArgs(
                    secret_name=htpasswd_secret.metadata.name, default_mode=0o440
                ),
            ),
            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
        ],
    )
