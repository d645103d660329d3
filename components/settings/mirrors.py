"""Pull-through caches of public registries (`mirrors`): which upstream, fetched from where, with what, for how long.

Each mirror is its own registry instance in proxy mode (Distribution proxies
one upstream per instance), reached through the front under
`/v2/mirror/<upstream>/`, which is also the repository prefix its images have
for clients that name them (`<registryHost>/mirror/docker.io/library/busybox`).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, WithJsonSchema, field_validator, model_validator

from components.settings.access import User
from components.settings.base import ConfigModel
from components.settings.types import (
    SECURE_VALUE_SCHEMA,
    UNIQUE_ITEMS,
    RepositoryPattern,
    once_with_secret_passwords,
    problem,
    unique,
)

# Where the well-known upstreams serve the registry API (Docker Hub's API is not at docker.io).
WELL_KNOWN_REMOTES = {"docker.io": "https://registry-1.docker.io"}
# The repository prefix (and path) of every mirror: a name the stack's own repositories may not start with.
MIRROR_PREFIX = "mirror"
DEFAULT_TTL = "168h"
# A registry host as image references spell it: a DNS name (lowercase), no port (a port cannot be a path
# segment of a repository name), at most 253 characters.
_UPSTREAM = r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
# Go's time.ParseDuration units that make sense for a cache: hours, minutes, seconds; not zero (to
# Distribution, a zero ttl keeps everything forever).
_DURATION = r"^(?=.*[1-9])(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?$"
_HTTPS_URL = r"^https://[a-z0-9.-]+(?::[0-9]{1,5})?/?$"
_PASSWORD_MAX = 4096


def _upstream(name: str) -> str:
    if not re.fullmatch(_UPSTREAM, name):
        raise problem("a registry host as images spell it, such as docker.io or ghcr.io (lowercase, no port)")
    return name


def _duration(text: str) -> str:
    if not re.fullmatch(_DURATION, text):
        raise problem("a positive duration in hours, minutes or seconds, such as 168h or 90m")
    return text


def _https_url(url: str) -> str:
    if not re.fullmatch(_HTTPS_URL, url):
        raise problem("an https:// URL of a registry's API root, such as https://registry-1.docker.io (no path)")
    return url.rstrip("/")


def _upstream_password(password: str) -> str:
    # Not hashed (the cache sends it upstream): no bcrypt limit, but one line of printable text in a YAML file.
    if not password or len(password) > _PASSWORD_MAX or any(ord(char) < 32 or ord(char) == 127 for char in password):
        raise problem(f"a non-empty password or token of printable characters, at most {_PASSWORD_MAX}", show=False)
    return password


# The JSON Schema carries the same rules as patterns, for editors and `make lint`.
Upstream = Annotated[
    str,
    AfterValidator(_upstream),
    Field(description="a registry host such as docker.io", json_schema_extra={"pattern": _UPSTREAM}),
]
Duration = Annotated[
    str,
    AfterValidator(_duration),
    Field(description="a duration such as 168h", json_schema_extra={"pattern": _DURATION}),
]
UpstreamPassword = Annotated[str, AfterValidator(_upstream_password), WithJsonSchema(SECURE_VALUE_SCHEMA)]
RemoteUrl = Annotated[
    str, AfterValidator(_https_url), Field(description="an https:// URL", json_schema_extra={"pattern": _HTTPS_URL})
]


class Mirror(ConfigModel):
    """One upstream registry, cached by a registry instance of its own."""

    upstream: Upstream = Field(
        description="a registry host as images spell it, lowercase, without a port: docker.io, ghcr.io, quay.io, "
        "registry.k8s.io, …; each once, none of the hostnames"
    )
    remote_url: RemoteUrl | None = Field(
        default=None,
        description="an https:// URL of the upstream's API root, without a path; none: https://registry-1.docker.io "
        "for docker.io, else https://<upstream>",
    )
    username: str | None = Field(
        default=None,
        pattern=r"^[^\s:]+$",
        description="a user name at the upstream without ':' or white space, with password; none: anonymous pulls",
    )
    password: UpstreamPassword | None = Field(
        default=None,
        repr=False,
        description="a secret: the upstream password or access token, printable, with username; none: anonymous pulls",
    )
    repositories: tuple[RepositoryPattern, ...] = Field(
        default=("*",),
        min_length=1,
        description="a non-empty list of the upstream's repository names or patterns it may fetch, such as "
        "library/* ('*' is any characters, '/' included); ['*'] (the default) is every one",
        json_schema_extra=UNIQUE_ITEMS,
    )
    ttl: Duration = Field(
        default=DEFAULT_TTL,
        description="a positive duration in hours, minutes or seconds (168h, 90m, 1h30m): how long a fetched "
        "manifest or blob stays in the cache before it is deleted (the next pull fetches it again)",
    )

    @field_validator("repositories")
    @classmethod
    def _patterns_once(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        return unique(patterns, "repositories", "pattern")

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> Mirror:
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise problem(f"username and password together: {missing} is missing", at=f".{missing}", show=False)
        return self

    @property
    def url(self) -> str:
        """Where the cache fetches from."""
        return self.remote_url or WELL_KNOWN_REMOTES.get(self.upstream, f"https://{self.upstream}")

    @property
    def path(self) -> str:
        """The front's path prefix of this mirror, and its repositories' prefix: `mirror/<upstream>`."""
        return f"{MIRROR_PREFIX}/{self.upstream}"


def check_mirrors(mirrors: tuple[Mirror, ...], info: ValidationInfo) -> tuple[Mirror, ...]:
    """Each upstream once, every password a secret."""
    once_with_secret_passwords(mirrors, "mirrors", "upstream", "upstream", info.context)
    return mirrors


def check_not_ours(mirrors: tuple[Mirror, ...], hostnames: tuple[str, ...]) -> tuple[Mirror, ...]:
    """A mirror of the registry itself would fetch from itself."""
    for index, mirror in enumerate(mirrors):
        if mirror.upstream in hostnames:
            raise problem(
                "an upstream other than this registry's own hostnames", at=f"[{index}].upstream", value=mirror.upstream
            )
    return mirrors


def check_mirror_user_free(mirrors: tuple[Mirror, ...], generated: str, users: tuple[str, ...]) -> tuple[Mirror, ...]:
    """With mirrors, the stack generates a user named `generated`: no configured user may have that name."""
    if mirrors and generated in users:
        raise problem(
            f"no mirrors while users[{users.index(generated)}] is named {generated}, the name of the "
            "user the stack generates for the nodes to pull through them: rename that user",
            show=False,
        )
    return mirrors


def mirror_user(name: str) -> User:
    """The account the nodes pull through the mirrors with: pull access to `mirror/*`, nothing else."""
    return User(name=name, access="pull", repositories=(f"{MIRROR_PREFIX}/*",))
