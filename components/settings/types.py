"""Constrained value types of the stack config; each validator says what is allowed when it refuses."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
# One DNS label (RFC 1123): what a namespace's name is.
DNS_LABEL_PATTERN = rf"^{_LABEL}$"
_DNS_NAME_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_QUANTITY_RE = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_UNITS = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_UNITS |= {f"{unit}i": 1024.0 ** (index + 1) for index, unit in enumerate("KMGTPE")}
_IMAGE_RE = re.compile(
    r"^([a-zA-Z0-9][a-zA-Z0-9.-]*(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
# A repository name (Distribution's grammar: lowercase components joined by '/') where '*' may stand for
# any characters.
_REPOSITORY_PATTERN_RE = re.compile(r"^[a-z0-9*]+([._-]+[a-z0-9*]+)*(/[a-z0-9*]+([._-]+[a-z0-9*]+)*)*$")
# bcrypt ignores everything past 72 bytes; the library refuses such input.
BCRYPT_MAX_PASSWORD_BYTES = 72
# What a secret leaf is in Pulumi.<stack>.yaml: the only form a password may take there.
SECURE_VALUE_SCHEMA = {
    "type": "object",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
    "description": "A secret: set it with `pulumi config set --secret --path …`, never in plain text.",
}


def problem(allowed: str, *, at: str = "", value: Any = None, show: bool = True) -> PydanticCustomError:
    """A rule's failure: `at` extends the key (".name", "[1]"), `value` replaces the value shown."""
    return PydanticCustomError("setting", "{allowed}", {"allowed": allowed, "at": at, "value": value, "show": show})


def _dns_name(name: str) -> str:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise ValueError("a DNS name, not an IP address (put IPs in tls.extraIpAddresses)")
    if len(name) <= 253 and _DNS_NAME_RE.match(name):
        return name
    if _DNS_NAME_RE.match(name.lower()):
        raise ValueError(f"a lowercase DNS name (write {name.lower()!r})")
    raise ValueError(
        "a DNS name: dot-separated labels of a-z, 0-9 and '-', "
        "each 1-63 characters, not starting or ending with '-', 253 characters in all"
    )


def _ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError("an IPv4 or IPv6 address") from None


def _quantity(text: str) -> str:
    match = _QUANTITY_RE.match(text)
    if not match or float(match.group("number")) <= 0:
        raise ValueError("a positive Kubernetes quantity such as 20Gi, 500Mi or 250m")
    return text


def quantity_value(text: str) -> float:
    """A valid quantity as a number (to compare requests with limits)."""
    match = _QUANTITY_RE.match(text)
    assert match is not None
    return float(match.group("number")) * _UNITS.get(match.group("unit") or "", 1.0)


def _image(reference: str) -> str:
    match = _IMAGE_RE.match(reference)
    if not match:
        raise ValueError("an image reference such as registry:3.1.1 or mirror.example.com/library/registry@sha256:…")
    if not match.group("tag") and not match.group("digest"):
        raise ValueError("a pinned tag or digest (no tag means :latest, which changes under you)")
    if match.group("tag") == "latest" and not match.group("digest"):
        raise ValueError("a pinned tag or digest, not :latest")
    return reference


def _repository_pattern(pattern: str) -> str:
    if len(pattern) <= 255 and _REPOSITORY_PATTERN_RE.match(pattern):
        return pattern
    raise ValueError(
        "a repository name or pattern of at most 255 characters: lowercase letters, digits, '.', '_', '-' "
        "between them, components joined by '/', '*' for any characters (e.g. team-a/* or utils/busybox)"
    )


def _password(password: str) -> str:
    size = len(password.encode())
    if not password:
        raise problem("a non-empty string, or no password to have one generated", show=False)
    if size > BCRYPT_MAX_PASSWORD_BYTES:
        raise problem(f"at most {BCRYPT_MAX_PASSWORD_BYTES} bytes, not {size} (bcrypt ignores the rest)", show=False)
    if any(ord(char) < 32 or ord(char) == 127 for char in password):
        raise problem("printable characters only (no newline or control characters)", show=False)
    return password


DnsName = Annotated[str, AfterValidator(_dns_name), Field(description="a DNS name")]
IpAddress = Annotated[str, AfterValidator(_ip_address), Field(description="an IPv4 or IPv6 address")]
Quantity = Annotated[str, AfterValidator(_quantity), Field(description="a Kubernetes quantity such as 20Gi")]
ImageReference = Annotated[str, AfterValidator(_image), Field(description="an image reference pinned by tag or digest")]
RepositoryPattern = Annotated[
    str, AfterValidator(_repository_pattern), Field(description="a repository name or pattern such as team-a/*")
]
Password = Annotated[str, AfterValidator(_password), WithJsonSchema(SECURE_VALUE_SCHEMA)]
SecretText = Annotated[str, Field(min_length=1), WithJsonSchema(SECURE_VALUE_SCHEMA)]


def require_secret(path: str, at: str, context: Any) -> None:
    """Refuse a secret leaf at `path` held in plain text: in the stack file, or under a key Pulumi holds plain."""
    context = context or {}
    top = path.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]
    if path in context.get("plain_leaves", ()) or top not in context.get("secret_keys", ()):
        raise problem(
            f"a secret, set with `pulumi config set --secret --path '{path}' …` (it is stored in plain text)",
            at=at,
            show=False,
        )


def unique(values: tuple[Any, ...], key: str, what: str = "name", field: str = "") -> tuple[Any, ...]:
    """Refuse a repeated item of the list at `key` (or its `field`), naming where it first appeared."""
    for index, value in enumerate(values):
        first = values.index(value)
        if first != index:
            at = f"[{index}]{field}"
            raise problem(f"each {what} once (the same as {key}[{first}]{field})", at=at, value=value)
    return values
