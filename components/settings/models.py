"""The stack config (`image-registry:` keys) as frozen pydantic models, one per config object.

Pure Python: every rule is checked before a single resource exists. Fields are
snake_case, config keys their camelCase aliases; a description says what a key
allows (error messages and the JSON Schema use it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.settings.types import (
    AnnotationName,
    DnsName,
    ImageReference,
    IpAddress,
    Password,
    Quantity,
    problem,
    unique,
)

PROJECT = "image-registry"
REGISTRY_PORT = 5000
# registry 3.1.1, pinned by the digest of its multi-platform image index.
DEFAULT_IMAGE = "registry:3.1.1@sha256:1be55279f18a2fe1a74edf2664cac61c1bea305b7b4642dab412e7affdcb3e33"
# Namespaces Kubernetes itself owns: never created or labelled by a stack.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
HOURS = "a whole number of hours ≥ {}"


class ConfigModel(BaseModel):
    """A config object: frozen, camelCase keys, unknown keys refused, JSON types only (no "yes" for true)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, alias_generator=to_camel, validate_by_name=True)


class User(ConfigModel):
    name: str = Field(pattern=r"^[^\s:]+$", description="a non-empty user name without ':' or white space")
    # Supplied through secret config; None means "generate one".
    password: Password | None = Field(default=None, repr=False)


class PvcStorage(ConfigModel):
    """A PersistentVolumeClaim the stack creates: the data outlives every pod."""

    type: Literal["pvc"] = "pvc"
    size: Quantity = "20Gi"
    storage_class: DnsName | None = None
    access_mode: Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"] = "ReadWriteOnce"
    delete_enabled: bool = False

    @property
    def single_pod(self) -> bool:
        """One node, so one pod under Recreate, can mount it."""
        return self.access_mode != "ReadWriteMany"


class EmptyDirStorage(ConfigModel):
    """Throwaway storage: every image is lost when the pod goes."""

    type: Literal["emptyDir"]
    size_limit: Quantity | None = None
    delete_enabled: bool = False

    @property
    def single_pod(self) -> bool:
        return True


def _storage_type(value: Any) -> Any:
    return value.get("type", "pvc") if isinstance(value, dict) else getattr(value, "type", None)


Storage = Annotated[
    Annotated[PvcStorage, Tag("pvc")] | Annotated[EmptyDirStorage, Tag("emptyDir")], Discriminator(_storage_type)
]


class IngressSettings(ConfigModel):
    enabled: bool = True
    # Decides the annotations; the class is only the IngressClass's name.
    controller: Literal["traefik", "nginx"] = "traefik"
    class_name: DnsName = Field(default="traefik", description="the name of an IngressClass")
    verify_backend: bool = True
    wait_for_address: bool = False
    annotations: dict[AnnotationName, str] = Field(
        default_factory=dict, description="an object of annotations: [prefix/]name keys, string values"
    )

    @model_validator(mode="before")
    @classmethod
    def _class_and_controller(cls, data: Any) -> Any:
        """`className: nginx` alone means the nginx controller; the class defaults to the controller's name."""
        if isinstance(data, dict):
            data = {"controller": "nginx" if data.get("className") == "nginx" else "traefik", **data}
            data.setdefault("className", data["controller"])
        return data


class TlsSettings(ConfigModel):
    ca_validity_hours: int = Field(default=10 * 365 * 24, ge=1, description=HOURS.format(1))
    server_validity_hours: int = Field(default=365 * 24, ge=1, description=HOURS.format(1))
    early_renewal_hours: int = Field(default=30 * 24, ge=0, description=HOURS.format(0))
    organization: str = Field(
        default="infra-services", pattern=r"\S", max_length=64, description="a non-empty string of ≤ 64 characters"
    )
    extra_dns_names: tuple[DnsName, ...] = Field(default=(), description="a list of DNS names")
    extra_ip_addresses: tuple[IpAddress, ...] = Field(default=(), description="a list of IP addresses")

    @field_validator("server_validity_hours")
    @classmethod
    def _within_the_ca(cls, hours: int, info: ValidationInfo) -> int:
        ca_hours = info.data.get("ca_validity_hours", hours)
        if hours > ca_hours:
            raise ValueError(f"at most tls.caValidityHours ({ca_hours}): a certificate cannot outlive its CA")
        return hours

    @field_validator("early_renewal_hours")
    @classmethod
    def _before_expiry(cls, hours: int, info: ValidationInfo) -> int:
        server_hours = info.data.get("server_validity_hours", hours + 1)
        if hours >= server_hours:
            raise ValueError(f"fewer than tls.serverValidityHours ({server_hours}), or every run renews")
        return hours

    @field_validator("extra_dns_names", "extra_ip_addresses")
    @classmethod
    def _each_once(cls, values: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return unique(values, f"tls.{to_camel(str(info.field_name))}", "value")


def service_dns_names(name: str, namespace: str) -> tuple[str, ...]:
    """Every name under which the Service resolves inside the cluster."""
    return (name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local")


class Settings(ConfigModel):
    """The whole stack config. Fields are declared in the order their rules read each other."""

    create_namespace: bool = True
    namespace: str = Field(
        default="kube-infra",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="a DNS label: 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
    )
    # The Service is named after it, and Service names are RFC 1035 labels.
    name: str = Field(
        default="image-registry",
        pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="a DNS label of at most 63 characters: a-z, 0-9 and '-', starting with a letter",
    )
    hostnames: tuple[DnsName, ...] = Field(
        min_length=1,
        description="a non-empty list of external DNS names, "
        "e.g. `pulumi config set --path 'hostnames[0]' registry.example.com`",
    )
    storage: Storage = Field(default_factory=PvcStorage, description="an object {type: pvc | emptyDir, …}")
    replicas: int = Field(default=1, ge=1, description="an integer ≥ 1")
    users: tuple[User, ...] = Field(
        default=(User(name="registry"),), min_length=1, description="a non-empty list of {name, password} objects"
    )
    ingress: IngressSettings = Field(default_factory=IngressSettings, description="an object {enabled, controller, …}")
    tls: TlsSettings = Field(default_factory=TlsSettings, description="an object {caValidityHours, …}")
    image: ImageReference = DEFAULT_IMAGE
    # The registry checks the hash on every request, uncached (distribution#3017).
    bcrypt_cost: int = Field(
        default=10, ge=4, le=14, description="an integer from 4 to 14 (the registry pays this cost on every request)"
    )

    @field_validator("namespace")
    @classmethod
    def _not_a_system_namespace(cls, namespace: str, info: ValidationInfo) -> str:
        if info.data.get("create_namespace") and namespace in RESERVED_NAMESPACES:
            raise ValueError(
                f"a namespace of the stack's own, not one of {', '.join(RESERVED_NAMESPACES)} "
                "(or set createNamespace: false to use an existing namespace as it is)"
            )
        return namespace

    @field_validator("hostnames")
    @classmethod
    def _hostnames_once(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return unique(names, "hostnames")

    @field_validator("replicas")
    @classmethod
    def _storage_every_pod_mounts(cls, replicas: int, info: ValidationInfo) -> int:
        storage = info.data.get("storage")
        if replicas > 1 and storage is not None and storage.single_pod:
            what = (
                f"storage.accessMode {storage.access_mode}"
                if isinstance(storage, PvcStorage)
                else "storage.type emptyDir (each pod would keep its own images)"
            )
            raise ValueError(f"1 with {what}; for more replicas use storage.accessMode ReadWriteMany")
        return replicas

    @field_validator("users")
    @classmethod
    def _users_named_once_passwords_secret(cls, users: tuple[User, ...], info: ValidationInfo) -> tuple[User, ...]:
        unique(tuple(user.name for user in users), "users", "user name", ".name")
        context = info.context or {}
        plain = context.get("plain_password_indexes", ())
        users_secret = "users" in context.get("secret_keys", ())
        for index, user in enumerate(users):
            if user.password is not None and (index in plain or not users_secret):
                raise problem(
                    f"a secret, set with `pulumi config set --secret --path 'users[{index}].password' …` "
                    "(it is stored in plain text)",
                    at=f"[{index}].password",
                    show=False,
                )
        return users

    @field_validator("tls")
    @classmethod
    def _extra_names_not_derived(cls, tls: TlsSettings, info: ValidationInfo) -> TlsSettings:
        if not {"hostnames", "name", "namespace"} <= info.data.keys():
            return tls
        derived = (*info.data["hostnames"], *service_dns_names(info.data["name"], info.data["namespace"]))
        for index, name in enumerate(tls.extra_dns_names):
            if name in derived:
                raise problem(
                    "names not already in the certificate (hostnames and the Service names are added for you)",
                    at=f".extraDnsNames[{index}]",
                    value=name,
                )
        return tls

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
