"""RegistryWorkload: the namespace, the registry's settings and Secrets, its storage, Deployment and maintenance."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.kube import labels_for, object_metadata, selector_for, tls_secret_data
from components.settings import Settings
from components.workload.environment import CONFIG_KEY, registry_settings, secret_config_file
from components.workload.front import CONFIG_KEY as FRONT_CONFIG_KEY
from components.workload.front_config import front_config
from components.workload.garbage_collect import garbage_collector
from components.workload.mirrors import mirror_config_data, mirror_name
from components.workload.pod import PodInputs, serving_pod
from components.workload.storage import storage_volumes, strategy


@dataclass(frozen=True)
class RegistryWorkloadArgs:
    settings: Settings
    tls_cert_pem: pulumi.Input[str]
    tls_private_key_pem: pulumi.Input[str]
    ca_cert_pem: pulumi.Input[str]
    # (user, bcrypt hash) pairs.
    accounts: pulumi.Input[list[tuple[str, str]]]


class RegistryWorkload(pulumi.ComponentResource):
    """Namespace (when the stack owns it), ServiceAccount, ConfigMap, Secrets, storage, Deployment, PDB, CronJob."""

    namespace: pulumi.Output[str]
    tls_secret_name: pulumi.Output[str]
    deployment: k8s.apps.v1.Deployment

    def __init__(self, name: str, args: RegistryWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-registry:index:RegistryWorkload", name, None, opts)
        settings = args.settings
        self.namespace = self._namespace(name, settings)
        environment = registry_settings(settings)
        # Auto-named and replaced on change, like the TLS Secret: new settings roll the pods.
        config_map = k8s.core.v1.ConfigMap(
            f"{settings.name}-config",
            metadata=object_metadata(settings.name, self.namespace),
            data={setting.key: setting.value for setting in environment},
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["data"]),
        )
        tls_secret = self._rolling_secret(
            settings.name,
            "tls",
            tls_secret_data(args.tls_cert_pem, args.tls_private_key_pem, args.ca_cert_pem),
            secret_type="kubernetes.io/tls",
        )
        # Every replica must share it, or uploads that move between pods fail.
        http_secret = random.RandomBytes(
            f"{settings.name}-http-secret", length=32, opts=pulumi.ResourceOptions(parent=self)
        ).base64
        config_secret = self._rolling_secret(
            settings.name, "registry", http_secret.apply(lambda value: {CONFIG_KEY: secret_config_file(value)})
        )
        pod = PodInputs(
            settings=settings,
            environment=environment,
            config_map_name=config_map.metadata.name,
            config_secret_name=config_secret.metadata.name,
            tls_secret_name=tls_secret.metadata.name,
            front_secret_name=self._front_secret(settings, args.accounts).metadata.name,
            service_account_name=self._service_account(settings.name).metadata.name,
            storage_volumes=storage_volumes(settings.storage, settings.name, self.namespace, self),
            # Auto-named like the registry's: a new upstream, credential or TTL rolls the pods.
            mirror_secret_names=tuple(
                self._rolling_secret(settings.name, mirror_name(index), mirror_config_data(mirror)).metadata.name
                for index, mirror in enumerate(settings.mirrors)
            ),
        )
        self.deployment = self._deployment(pod)
        if settings.replicas > 1:
            self._disruption_budget(settings.name)
        if settings.maintenance.garbage_collect is not None:
            garbage_collector(pod, settings.maintenance.garbage_collect, self.namespace, self)
        self.tls_secret_name = tls_secret.metadata.name
        self.register_outputs({"namespace": self.namespace, "tlsSecretName": self.tls_secret_name})

    def _namespace(self, name: str, settings: Settings) -> pulumi.Output[str]:
        if not settings.create_namespace:
            # Shared with other services: used as it is, never created, labelled or deleted.
            return pulumi.Output.from_input(settings.namespace)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=settings.namespace,
                labels={
                    **labels_for(settings.name),
                    # The registry pod meets the restricted Pod Security Standard; keep it so.
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            ),
            # Other services may be put there later: `pulumi destroy` leaves the namespace.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        return namespace.metadata.name

    def _rolling_secret(
        self, name: str, suffix: str, data: pulumi.Input[dict[str, str]], secret_type: str = "Opaque"
    ) -> k8s.core.v1.Secret:
        # Auto-named and replaced on change: new contents get a new object name, which changes
        # the pod template and rolls the pods (the registry reads these files only when it starts).
        return k8s.core.v1.Secret(
            f"{name}-{suffix}",
            metadata=object_metadata(name, self.namespace),
            type=secret_type,
            string_data=pulumi.Output.secret(data),
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["data", "stringData"]),
        )

    def _front_secret(self, settings: Settings, accounts: pulumi.Input[list[tuple[str, str]]]) -> k8s.core.v1.Secret:
        # Fixed name: a change replaces the Secret under the same name, so the pod template stays
        # as it is; the kubelet refreshes the mounted file and the front reloads it (front.py).
        # Adding a user, changing a password or a role needs no restart.
        name, users, mirrors = settings.name, settings.registry_users, settings.mirrors
        return k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=object_metadata(name, self.namespace, "auth"),
            type="Opaque",
            string_data=pulumi.Output.secret(accounts).apply(
                lambda pairs: {FRONT_CONFIG_KEY: front_config(users, pairs, realm=name, mirrors=mirrors)}
            ),
            # Same name: the old one must go first (creating an existing object fails).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def _service_account(self, name: str) -> k8s.core.v1.ServiceAccount:
        # Its own identity (for IRSA or EKS Pod Identity with S3); it never needs the API.
        return k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=object_metadata(name, self.namespace, ""),
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _deployment(self, pod: PodInputs) -> k8s.apps.v1.Deployment:
        settings = pod.settings
        spread = None
        if settings.replicas > 1:
            spread = [
                k8s.core.v1.TopologySpreadConstraintArgs(
                    max_skew=1,
                    topology_key="kubernetes.io/hostname",
                    when_unsatisfiable="ScheduleAnyway",
                    label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_for(settings.name)),
                )
            ]
        return k8s.apps.v1.Deployment(
            f"{settings.name}-deployment",
            metadata=object_metadata(settings.name, self.namespace, ""),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=settings.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_for(settings.name)),
                strategy=strategy(settings.storage),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels_for(settings.name)),
                    spec=serving_pod(pod, topology_spread_constraints=spread),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _disruption_budget(self, name: str) -> None:
        # Node drains take the pods one at a time: the others keep serving.
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata=object_metadata(name, self.namespace, ""),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_for(name))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
