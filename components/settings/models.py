"""The stack config (`image-registry:` keys) as one frozen pydantic model, its objects in sibling modules.

Pure Python: every rule is checked before a single resource exists. Fields are
snake_case, config keys their camelCase aliases; a description says what a key
allows (error messages and the JSON Schema use it). Fields are declared in the
order their rules read each other.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from components.settings.access import NodeTrustSettings, TlsSettings, User, check_pull_user_name_free, check_users
from components.settings.base import ConfigModel
from components.settings.known import dependent, known
from components.settings.maintenance import MaintenanceSettings, check_collection_safe
from components.settings.mirrors import Mirror, check_mirror_user_free, check_mirrors, check_not_ours, mirror_user
from components.settings.network import IngressSettings, MetricsSettings, NamespaceName, NetworkPolicySettings
from components.settings.project import (
    DEFAULT_FRONT_IMAGE,
    DEFAULT_IMAGE,
    MORE_REPLICAS,
    OWN_NAMESPACE,
    REGISTRY_PORT,
    RESERVED_NAMESPACES,
    generated_mirror_user_name,
    generated_pull_user_name,
    service_dns_names,
)
from components.settings.scheduling import LabelKey, Resources, Toleration, affinity
from components.settings.storage import PvcStorage, S3Storage, Storage
from components.settings.types import (
    DNS_LABEL_PATTERN,
    UNIQUE_ITEMS,
    DnsName,
    ImageReference,
    problem,
    require_secret,
    unique,
)


class Settings(ConfigModel):
    """The whole stack config. A field's title says what the key is for; its description what it allows."""

    create_namespace: bool = Field(
        default=True,
        title="Create the namespace (labelled restricted, kept on destroy), or use an existing one untouched",
        description="true or false",
    )
    namespace: str = Field(
        default="kube-infra",
        pattern=DNS_LABEL_PATTERN,
        title="The namespace the registry runs in",
        description="a DNS label: 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
    )
    # The Service is named after it, and Service names are RFC 1035 labels.
    name: str = Field(
        default="image-registry",
        pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$",
        title="Base name of the Deployment, Service and Secrets; the Service's DNS names derive from it",
        description="a DNS label of at most 63 characters: a-z, 0-9 and '-', starting with a letter",
    )
    hostnames: tuple[DnsName, ...] = Field(
        min_length=1,
        title="External names: the Ingress's rules and the certificate's names, each resolving from every node "
        "(nodes pull through them) to the ingress controller, so not `*.local` (mDNS); the first is `registryHost`",
        description="a non-empty list of external DNS names, "
        "e.g. `pulumi config set --path 'hostnames[0]' registry.example.com`",
        json_schema_extra=UNIQUE_ITEMS,
    )
    storage: Storage = Field(
        default_factory=PvcStorage,
        title="Where the images live: a claim, a throwaway emptyDir, or an S3 bucket",
        description="an object {type: pvc | emptyDir | s3, …}",
    )
    replicas: int = Field(
        default=1,
        ge=1,
        title="Registry pods; more than 1 only on storage every pod mounts",
        description="an integer ≥ 1",
    )
    users: tuple[User, ...] = Field(
        default=(User(name="registry"),),
        min_length=1,
        title="Accounts: a password each (secret, or generated), a role and the repositories it may use",
        description="a non-empty list of {name, password, access, repositories} objects",
    )
    ingress: IngressSettings = Field(
        default_factory=IngressSettings,
        title="The Ingress: controller, class, backend verification",
        description="an object {enabled, controller, …}",
    )
    tls: TlsSettings = Field(
        default_factory=TlsSettings,
        title="The stack's CA and the server certificate: lifetimes, renewal, extra names",
        description="an object {caValidityHours, …}",
    )
    image: ImageReference = Field(default=DEFAULT_IMAGE, title="The registry's image (registry:2.8.3 works too)")
    front_image: ImageReference = Field(
        default=DEFAULT_FRONT_IMAGE, title="The front's image: TLS and authentication in the registry's pod (Caddy)"
    )
    # Paid once per credential by the front (it caches the check), and by anyone who steals the hashes.
    bcrypt_cost: int = Field(
        default=10,
        ge=4,
        le=14,
        title="bcrypt cost of the hashes of supplied passwords (generated ones use 4)",
        description="an integer from 4 to 14: the bcrypt cost of supplied passwords",
    )
    metrics: MetricsSettings = Field(
        default_factory=MetricsSettings, title="Prometheus metrics", description="an object {enabled, …}"
    )
    maintenance: MaintenanceSettings = Field(
        default_factory=MaintenanceSettings,
        title="Read-only mode and scheduled garbage collection",
        description="an object {readOnly, …}",
    )
    network_policy: NetworkPolicySettings = Field(
        default_factory=NetworkPolicySettings,
        title="Who may reach the pod besides the ingress controller, and whether its egress is cut down",
        description="an object {allowFrom, restrictEgress}",
    )
    resources: Resources = Field(
        default_factory=Resources,
        title="The registry container's requests and limits",
        description="an object {requests, limits}",
    )
    node_selector: dict[LabelKey, str] = Field(
        default_factory=dict, title="Nodes the pod may run on", description="an object of node labels"
    )
    tolerations: tuple[Toleration, ...] = Field(
        default=(), title="Taints the pod tolerates", description="a list of tolerations, as in a pod spec"
    )
    affinity: dict[str, Any] = Field(
        default_factory=dict, title="The pod's affinity", description="an object as a pod spec's affinity"
    )
    priority_class_name: DnsName | None = Field(default=None, title="The pod's PriorityClass")
    node_trust: NodeTrustSettings = Field(
        default_factory=NodeTrustSettings,
        title="A DaemonSet that makes every node's container runtime trust the CA for the hostnames",
        description="an object {enabled, platform}",
    )
    mirrors: tuple[Mirror, ...] = Field(
        default=(),
        title="Pull-through caches of public registries under `/v2/mirror/<upstream>/`, for the mirror user "
        "(`<name>-mirror`) and users whose repositories cover `mirror/…`; with nodeTrust, nodes pull through them",
        description="a list of {upstream, remoteUrl, username, password, repositories, ttl}, each upstream once; "
        "empty (the default): no cache",
    )
    pull_secret_namespaces: tuple[NamespaceName, ...] = Field(
        default=(),
        title="Namespaces that get a pull Secret (the pull-only user's credentials)",
        description="namespaces that get a kubernetes.io/dockerconfigjson Secret to pull with",
        json_schema_extra=UNIQUE_ITEMS,
    )

    # Rules between keys read the other key through known(): when it failed, its raw value still says enough.
    @field_validator("namespace")
    @classmethod
    @dependent
    def _not_a_system_namespace(cls, namespace: str, info: ValidationInfo) -> str:
        if namespace in RESERVED_NAMESPACES and known(cls, info, "create_namespace"):
            raise ValueError(OWN_NAMESPACE)
        return namespace

    @field_validator("hostnames")
    @classmethod
    def _hostnames_once(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return unique(names, "hostnames")

    @field_validator("storage")
    @classmethod
    def _storage_keys_secret(cls, storage: Any, info: ValidationInfo) -> Any:
        if isinstance(storage, S3Storage) and storage.access_key is not None:
            require_secret("storage.accessKey", ".accessKey", info.context)
            require_secret("storage.secretKey", ".secretKey", info.context)
        return storage

    @field_validator("replicas")
    @classmethod
    @dependent
    def _storage_every_pod_mounts(cls, replicas: int, info: ValidationInfo) -> int:
        if replicas == 1:
            return replicas
        storage = known(cls, info, "storage")
        if storage.single_pod:
            what = (
                f"storage.accessMode {storage.access_mode}"
                if isinstance(storage, PvcStorage)
                else "storage.type emptyDir (each pod would keep its own images)"
            )
            raise ValueError(f"1 with {what}; {MORE_REPLICAS}")
        return replicas

    @field_validator("users")
    @classmethod
    def _users_named_once_passwords_secret(cls, users: tuple[User, ...], info: ValidationInfo) -> tuple[User, ...]:
        return check_users(users, info)

    @field_validator("users")
    @classmethod
    @dependent
    def _generated_name_free(cls, users: tuple[User, ...], info: ValidationInfo) -> tuple[User, ...]:
        return check_pull_user_name_free(users, generated_pull_user_name(known(cls, info, "name")))

    @field_validator("tls")
    @classmethod
    @dependent
    def _extra_names_not_derived(cls, tls: TlsSettings, info: ValidationInfo) -> TlsSettings:
        name, namespace = known(cls, info, "name"), known(cls, info, "namespace")
        derived = (*known(cls, info, "hostnames"), *service_dns_names(name, namespace))
        for index, extra in enumerate(tls.extra_dns_names):
            if extra in derived:
                raise problem(
                    "names not already in the certificate (hostnames and the Service names are added for you)",
                    at=f".extraDnsNames[{index}]",
                    value=extra,
                )
        return tls

    @field_validator("metrics")
    @classmethod
    def _monitor_what_is_enabled(cls, metrics: MetricsSettings) -> MetricsSettings:
        if metrics.service_monitor and not metrics.enabled:
            raise problem("true only with metrics.enabled: true", at=".serviceMonitor", value=True)
        return metrics

    @field_validator("maintenance")
    @classmethod
    @dependent
    def _collect_only_what_is_safe(cls, maintenance: MaintenanceSettings, info: ValidationInfo) -> MaintenanceSettings:
        return check_collection_safe(maintenance, known(cls, info, "storage"))

    @field_validator("mirrors")
    @classmethod
    def _mirrors_once_passwords_secret(cls, mirrors: tuple[Mirror, ...], info: ValidationInfo) -> tuple[Mirror, ...]:
        return check_mirrors(mirrors, info)

    @field_validator("mirrors")
    @classmethod
    @dependent
    def _mirrors_of_other_registries(cls, mirrors: tuple[Mirror, ...], info: ValidationInfo) -> tuple[Mirror, ...]:
        return check_not_ours(mirrors, tuple(known(cls, info, "hostnames")))

    @field_validator("mirrors")
    @classmethod
    @dependent
    def _mirror_user_name_free(cls, mirrors: tuple[Mirror, ...], info: ValidationInfo) -> tuple[Mirror, ...]:
        generated = generated_mirror_user_name(known(cls, info, "name"))
        return check_mirror_user_free(mirrors, generated, tuple(user.name for user in known(cls, info, "users")))

    @field_validator("pull_secret_namespaces")
    @classmethod
    def _namespaces_once(cls, namespaces: tuple[str, ...]) -> tuple[str, ...]:
        return unique(namespaces, "pullSecretNamespaces", "namespace")

    @field_validator("affinity")
    @classmethod
    def _affinity_kinds(cls, value: dict[str, Any]) -> dict[str, Any]:
        return affinity(value)

    @property
    def pull_user(self) -> User:
        """Who pull Secrets and consumers use: the config's first `pull` user, or one the stack generates."""
        configured = next((user for user in self.users if user.access == "pull"), None)
        return configured or User(name=generated_pull_user_name(self.name), access="pull")

    @property
    def mirror_user(self) -> User | None:
        """Who the nodes pull through the mirrors as: pull access to `mirror/*` and nothing else; none without
        mirrors."""
        return mirror_user(generated_mirror_user_name(self.name)) if self.mirrors else None

    @property
    def registry_users(self) -> tuple[User, ...]:
        """Every account the front knows: the config's users, then the generated pull-only user if there is one,
        then the mirror user if there are mirrors."""
        pull_user = self.pull_user
        users = self.users if pull_user in self.users else (*self.users, pull_user)
        return users if self.mirror_user is None else (*users, self.mirror_user)

    @property
    def service_dns_names(self) -> tuple[str, ...]:
        return service_dns_names(self.name, self.namespace)

    @property
    def certificate_dns_names(self) -> tuple[str, ...]:
        """Every external hostname, every Service name and the extras, each once."""
        return tuple(dict.fromkeys((*self.hostnames, *self.service_dns_names, *self.tls.extra_dns_names)))

    @property
    def internal_host(self) -> str:
        return f"{self.service_dns_names[-1]}:{REGISTRY_PORT}"
