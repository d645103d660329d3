"""Who may use the registry and how clients trust it: users, and the certificates' settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from components.settings.base import ConfigModel
from components.settings.types import (
    UNIQUE_ITEMS,
    DnsName,
    IpAddress,
    Password,
    RepositoryPattern,
    once_with_secret_passwords,
    problem,
    unique,
)

HOURS = "a whole number of hours ≥ {}"
# What each role may do; every role reads (`pull`), `admin` may also delete (when the storage allows deletes).
Access = Literal["pull", "push", "admin"]
EVERY_REPOSITORY = "*"


class User(ConfigModel):
    name: str = Field(pattern=r"^[^\s:]+$", description="a non-empty user name without ':' or white space")
    # Supplied through secret config; None means "generate one".
    password: Password | None = Field(
        default=None,
        repr=False,
        description="a secret of at most 72 bytes, printable; none: one is generated",
    )
    access: Access = Field(
        default="push",
        description="pull (read only), push (read and write) or admin (push, and delete when storage.deleteEnabled)",
    )
    repositories: tuple[RepositoryPattern, ...] = Field(
        default=(EVERY_REPOSITORY,),
        min_length=1,
        description="a non-empty list of repository names or patterns, '*' matching any characters "
        "('/' included): e.g. team-a/* or utils/busybox; ['*'] (the default) is every repository",
        json_schema_extra=UNIQUE_ITEMS,
    )

    @field_validator("repositories")
    @classmethod
    def _patterns_once(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        return unique(patterns, "repositories", "pattern")

    @property
    def every_repository(self) -> bool:
        """Whether the user's patterns cover every repository (and so the catalog may be listed)."""
        return EVERY_REPOSITORY in self.repositories


def check_users(users: tuple[User, ...], info: ValidationInfo) -> tuple[User, ...]:
    """Each user named once, every password a secret."""
    once_with_secret_passwords(users, "users", "name", "user name", info.context)
    return users


def check_pull_user_name_free(users: tuple[User, ...], generated: str) -> tuple[User, ...]:
    """No user takes the name of the pull-only user the stack generates (when it generates one)."""
    if any(user.access == "pull" for user in users):
        return users
    for index, user in enumerate(users):
        if user.name == generated:
            raise problem(
                f"a name other than {generated}, which the stack gives its generated pull-only user "
                "(or give this user access: pull to have it serve as the pull-only user)",
                at=f"[{index}].name",
                show=False,
            )
    return users


class TlsSettings(ConfigModel):
    ca_validity_hours: int = Field(default=10 * 365 * 24, ge=1, description=HOURS.format(1))
    server_validity_hours: int = Field(default=365 * 24, ge=1, description=HOURS.format(1))
    early_renewal_hours: int = Field(default=30 * 24, ge=0, description=HOURS.format(0))
    organization: str = Field(
        default="infra-services", pattern=r"\S", max_length=64, description="a non-empty string of ≤ 64 characters"
    )
    extra_dns_names: tuple[DnsName, ...] = Field(
        default=(),
        description="a list of DNS names the certificate names too (besides the hostnames and the Service's)",
        json_schema_extra=UNIQUE_ITEMS,
    )
    extra_ip_addresses: tuple[IpAddress, ...] = Field(
        default=(), description="a list of IP addresses the certificate names too", json_schema_extra=UNIQUE_ITEMS
    )
    # A rotation is three runs: trust a new generation, sign with it, stop trusting the old one
    # (docs/operations.md, "Rotating the CA").
    ca_generation: int = Field(
        default=1, ge=1, description="a whole number ≥ 1: the generation of the CA that signs the certificates"
    )
    trusted_ca_generations: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        default=(),
        description="a list of CA generations (whole numbers ≥ 1) that nodes and clients trust, tls.caGeneration "
        "among them; empty (the default): tls.caGeneration alone",
        json_schema_extra=UNIQUE_ITEMS,
    )

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

    @field_validator("trusted_ca_generations")
    @classmethod
    def _signer_trusted(cls, generations: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        unique(generations, "tls.trustedCaGenerations", "generation")
        signer = info.data.get("ca_generation")
        if generations and signer is not None and signer not in generations:
            raise ValueError(f"must include tls.caGeneration ({signer}): nodes must trust the CA that signs")
        return generations

    @property
    def ca_generations(self) -> tuple[int, ...]:
        """Every CA generation the stack keeps and its clients trust, oldest first."""
        return tuple(sorted(self.trusted_ca_generations or (self.ca_generation,)))

    @field_validator("extra_dns_names", "extra_ip_addresses")
    @classmethod
    def _each_once(cls, values: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return unique(values, f"tls.{to_camel(str(info.field_name))}", "value")


class NodeTrustSettings(ConfigModel):
    enabled: bool = Field(default=False, description="true or false: whether the DaemonSet runs")
    # None: each node's DaemonSet pod finds its runtime (k3s, RKE2, containerd's config_path, Docker).
    platform: Literal["containerd", "k3s", "rke2"] | None = Field(
        default=None,
        description="none (the default: each node's runtime is detected), or containerd, k3s or rke2 to write "
        "only that layout on every node",
    )
