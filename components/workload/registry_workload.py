"""RegistryWorkload: the namespace, the registry's settings and Secrets, its storage and its Deployment."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.kube import labels_for, object_metadata, selector_for
from components.settings import EmptyDirStorage, PvcStorage
from components.workload.environment import HTPASSWD_KEY, HTTP_SECRET_KEY, registry_settings
from components.workload.pod import PodInputs, pod_spec
from components.workload.storage import data_volume, strategy


@dataclass(frozen=True)
class RegistryWorkloadArgs:
    namespace: str
    create_namespace: bool
    name: str
    image: str
    replicas: int
    storage: PvcStorage | EmptyDirStorage
    tls_cert_pem: pulumi.Input[str]
    tls_private_key_pem: pulumi.Input[str]
    ca_cert_pem: pulumi.Input[str]
    htpasswd: pulumi.Input[str]


class RegistryWorkload(pulumi.ComponentResource):
    """Namespace (when the stack owns it), ConfigMap, Secrets, storage and the Deployment."""

    namespace: pulumi.Output[str]
    tls_secret_name: pulumi.Output[str]
    deployment: k8s.apps.v1.Deployment

    def __init__(self, name: str, args: RegistryWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:RegistryWorkload", name, None, opts)
        self.namespace = self._namespace(name, args)
        tls_secret = self._tls_secret(args)
        settings = registry_settings(
            realm=args.name, replicas=args.replicas, delete_enabled=args.storage.delete_enabled
        )
        # Auto-named and replaced on change, like the TLS Secret: new settings roll the pods.
        config_map = k8s.core.v1.ConfigMap(
            f"{args.name}-config",
            metadata=object_metadata(args.name, self.namespace),
            data={setting.key: setting.value for setting in settings},
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["data"]),
        )
        # Fixed name: a change replaces the Secret under the same name, so the pod
        # template stays as it is; the kubelet refreshes the mounted file and the
        # registry re-reads it. Adding a user needs no restart.
        htpasswd_secret = self._fixed_secret(args, "htpasswd", HTPASSWD_KEY, args.htpasswd)
        # Every replica must share it, or uploads that move between pods fail.
        http_secret_value = random.RandomBytes(
            f"{args.name}-http-secret", length=32, opts=pulumi.ResourceOptions(parent=self)
        ).base64
        http_secret = self._fixed_secret(args, "http-secret", HTTP_SECRET_KEY, http_secret_value)
        pod = PodInputs(
            image=args.image,
            settings=settings,
            config_map_name=config_map.metadata.name,
            tls_secret_name=tls_secret.metadata.name,
            htpasswd_secret_name=htpasswd_secret.metadata.name,
            http_secret_name=http_secret.metadata.name,
            data_volume=data_volume(args.storage, args.name, self.namespace, self),
        )
        self.deployment = k8s.apps.v1.Deployment(
            f"{args.name}-deployment",
            metadata=object_metadata(args.name, self.namespace, ""),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_for(args.name)),
                strategy=strategy(args.storage),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels_for(args.name)), spec=pod_spec(pod)
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.tls_secret_name = tls_secret.metadata.name
        self.register_outputs({"namespace": self.namespace, "tlsSecretName": self.tls_secret_name})

    def _namespace(self, name: str, args: RegistryWorkloadArgs) -> pulumi.Output[str]:
        if not args.create_namespace:
            # Shared with other services: used as it is, never created, labelled or deleted.
            return pulumi.Output.from_input(args.namespace)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    **labels_for(args.name),
                    # The registry pod meets the restricted Pod Security Standard; keep it so.
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            ),
            # Other services may be put there later: `pulumi destroy` leaves the namespace.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        return namespace.metadata.name

    def _tls_secret(self, args: RegistryWorkloadArgs) -> k8s.core.v1.Secret:
        # Auto-named and replaced on change: a new certificate gets a new object
        # name, which changes the pod template and rolls the pods (the registry
        # loads its key pair only when it starts).
        return k8s.core.v1.Secret(
            f"{args.name}-tls",
            metadata=object_metadata(args.name, self.namespace),
            type="kubernetes.io/tls",
            string_data=pulumi.Output.all(
                args.tls_cert_pem, pulumi.Output.secret(args.tls_private_key_pem), args.ca_cert_pem
            ).apply(lambda pems: {"tls.crt": pems[0], "tls.key": pems[1], "ca.crt": pems[2]}),
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["data", "stringData"]),
        )

    def _fixed_secret(
        self, args: RegistryWorkloadArgs, suffix: str, key: str, value: pulumi.Input[str]
    ) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{args.name}-{suffix}",
            metadata=object_metadata(args.name, self.namespace, suffix),
            type="Opaque",
            string_data=pulumi.Output.secret(value).apply(lambda text: {key: text}),
            # Same name: the old one must go first (creating an existing object fails).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
