"""Constrained value types of the stack config; each validator says what is allowed when it refuses."""

from __future__ import annotations

import ipaddress
import re
from fractions import Fraction
from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
# One DNS label (RFC 1123): what a namespace's name is.
DNS_LABEL_PATTERN = rf"^{_LABEL}$"
_DNS_NAME_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# The same rule for the JSON Schema (Python's and editors' regex alike): at most 253 characters, not an IPv4
# address (an IPv6 one has ':', which no label has).
DNS_NAME_PATTERN = rf"^(?=.{{1,253}}$)(?!({_OCTET}\.){{3}}{_OCTET}$){_LABEL}(\.{_LABEL})*$"
DNS_NAME_ALLOWED = (
    "a lowercase DNS name, not an IP address: dot-separated labels of a-z, 0-9 and '-', "
    "each 1-63 characters, not starting or ending with '-', 253 characters in all"
)
_BINARY = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL = ("k", "M", "G", "T", "P", "E")
_UNITS = {"m": Fraction(1, 1000)}
_UNITS |= {unit: Fraction(1024) ** (index + 1) for index, unit in enumerate(_BINARY)}
_UNITS |= {unit: Fraction(1000) ** (index + 1) for index, unit in enumerate(_DECIMAL)}
_NUMBER = r"[0-9]+(\.[0-9]+)?"
_SIZE_UNIT = "|".join((*_BINARY, *_DECIMAL))
_QUANTITY_RE = re.compile(rf"^(?P<number>{_NUMBER})(?P<unit>{_SIZE_UNIT}|m)?$")
_NOT_ZERO = r"(?!0*(\.0*)?[a-zA-Z]*$)"
_QUANTITY_PATTERN = rf"^{_NOT_ZERO}{_NUMBER}({_SIZE_UNIT}|m)?$"
# A size: no milli, and a unit or a whole number (only the program refuses 1.3Ki, a fraction of a byte).
BYTE_QUANTITY_PATTERN = rf"^{_NOT_ZERO}({_NUMBER}({_SIZE_UNIT})|[0-9]+)$"
QUANTITY_ALLOWED = "a positive Kubernetes quantity such as 250m or 2 (CPU) or 512Mi (memory)"
BYTES_ALLOWED = (
    "a positive byte quantity such as 20Gi, 500Mi, 1T or 1000000: a whole number of bytes, "
    "units Ki, Mi, Gi, Ti, Pi, Ei or k, M, G, T, P, E"
)
# The JSON Schema of a list whose items must differ (each has a validator calling unique() too).
UNIQUE_ITEMS: JsonDict = {"uniqueItems": True}
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
    raise ValueError(DNS_NAME_ALLOWED)


def _ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError("an IPv4 or IPv6 address") from None


def _amount(text: str) -> Fraction | None:
    """A quantity's exact value (fractions, not floats: 1.1Ki is not a whole number of bytes), or None."""
    match = _QUANTITY_RE.match(text)
    if not match:
        return None
    return Fraction(match.group("number")) * _UNITS.get(match.group("unit") or "", Fraction(1))


def _quantity(text: str) -> str:
    amount = _amount(text)
    if amount is None or amount <= 0:
        raise ValueError(QUANTITY_ALLOWED)
    return text


def _byte_quantity(text: str) -> str:
    amount = _amount(text)
    if amount is not None and amount > 0 and amount.denominator == 1 and not text.endswith("m"):
        return text
    raise ValueError(BYTES_ALLOWED + _bytes_hint(text, amount))


def _bytes_hint(text: str, amount: Fraction | None) -> str:
    """What was probably meant, for the mistakes people make with sizes."""
    stem = text[:-1]
    if text.endswith("B") and _amount(stem) is not None:
        binary = f" or {stem[:-1]}{stem[-1].upper()}i" if stem[-1:] in _DECIMAL else ""
        return f" (write {stem}{binary}: Kubernetes sizes have no B)"
    if amount is not None and text.endswith("m"):
        return " (m is a thousandth: not a size)"
    if amount is not None and amount.denominator != 1:
        return " (not a whole number of bytes)"
    return ""


def quantity_value(text: str) -> float:
    """A valid quantity as a number (to compare requests with limits)."""
    amount = _amount(text)
    assert amount is not None
    return float(amount)


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


# The JSON Schema carries the same rules as patterns (where a regex can say them): editors and `make lint`
# check the stack files with them.
DnsName = Annotated[
    str,
    AfterValidator(_dns_name),
    Field(description=DNS_NAME_ALLOWED, json_schema_extra={"pattern": DNS_NAME_PATTERN}),
]
IpAddress = Annotated[str, AfterValidator(_ip_address), Field(description="an IPv4 or IPv6 address")]
Quantity = Annotated[
    str,
    AfterValidator(_quantity),
    Field(description=QUANTITY_ALLOWED, json_schema_extra={"pattern": _QUANTITY_PATTERN}),
]
ByteQuantity = Annotated[
    str,
    AfterValidator(_byte_quantity),
    Field(description=BYTES_ALLOWED, json_schema_extra={"pattern": BYTE_QUANTITY_PATTERN}),
]
ImageReference = Annotated[str, AfterValidator(_image), Field(description="an image reference pinned by tag or digest")]
RepositoryPattern = Annotated[
    str,
    AfterValidator(_repository_pattern),
    Field(
        description="a repository name or pattern such as team-a/*",
        json_schema_extra={"pattern": _REPOSITORY_PATTERN_RE.pattern, "maxLength": 255},
    ),
]
Password = Annotated[str, AfterValidator(_password), WithJsonSchema(SECURE_VALUE_SCHEMA)]
SecretText = Annotated[str, Field(min_length=1), WithJsonSchema(SECURE_VALUE_SCHEMA)]


def secret_advice(path: str) -> str:
    """What is allowed for a secret leaf found in plain text (the program and the stack-file check say it alike)."""
    return f"a secret, set with `pulumi config set --secret --path '{path}' …` (it is stored in plain text)"


def require_secret(path: str, at: str, context: Any) -> None:
    """Refuse a secret leaf at `path` held in plain text: in the stack file, or under a key Pulumi holds plain."""
    context = context or {}
    top = path.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]
    if path in context.get("plain_leaves", ()) or top not in context.get("secret_keys", ()):
        raise problem(secret_advice(path), at=at, show=False)


def once_with_secret_passwords(items: tuple[Any, ...], key: str, field: str, what: str, context: Any) -> None:
    """Each item of the list at `key` has its own `field` (a `what`), and every password it holds is a secret."""
    unique(tuple(getattr(item, field) for item in items), key, what, f".{to_camel(field)}")
    for index, item in enumerate(items):
        if item.password is not None:
            require_secret(f"{key}[{index}].password", f"[{index}].password", context)


def unique(values: tuple[Any, ...], key: str, what: str = "name", field: str = "") -> tuple[Any, ...]:
    """Refuse a repeated item of the list at `key` (or its `field`), naming where it first appeared."""
    for index, value in enumerate(values):
        first = values.index(value)
        if first != index:
            at = f"[{index}]{field}"
            raise problem(f"each {what} once (the same as {key}[{first}]{field})", at=at, value=value)
    return values
