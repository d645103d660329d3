"""Stack settings: the `image-registry:` config keys, parsed and validated.

Pure Python (no Pulumi import), so every rule is testable on its own and every
error is raised before a single resource is registered.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

PROJECT = "image-registry"
REGISTRY_PORT = 5000

DEFAULT_NAMESPACE = "kube-infra"
DEFAULT_NAME = "image-registry"
DEFAULT_REPLICAS = 1
DEFAULT_USER = "registry"
# registry 3.1.1, pinned by the digest of its multi-platform image index.
DEFAULT_IMAGE = "registry:3.1.1@sha256:1be55279f18a2fe1a74edf2664cac61c1bea305b7b4642dab412e7affdcb3e33"
DEFAULT_BCRYPT_COST = 10
DEFAULT_STORAGE_SIZE = "20Gi"
DEFAULT_ACCESS_MODE = "ReadWriteOnce"
DEFAULT_INGRESS_CLASS = "traefik"
DEFAULT_CA_VALIDITY_HOURS = 10 * 365 * 24
DEFAULT_SERVER_VALIDITY_HOURS = 365 * 24
DEFAULT_EARLY_RENEWAL_HOURS = 30 * 24
DEFAULT_ORGANIZATION = "infra-services"

INGRESS_CLASSES = ("traefik", "nginx")
STORAGE_TYPES = ("pvc", "emptyDir")
ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany")
# Modes a single node (so a single pod under Recreate) can mount.
SINGLE_POD_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod")
# The registry verifies the bcrypt hash on every request with no cache
# (distribution issue 3017): above 14 each request costs seconds.
BCRYPT_COST_RANGE = (4, 14)
# bcrypt ignores everything past 72 bytes; the library refuses such input.
BCRYPT_MAX_PASSWORD_BYTES = 72

KEYS = (
    "namespace",
    "name",
    "hostnames",
    "replicas",
    "users",
    "storage",
    "ingress",
    "tls",
    "image",
    "bcryptCost",
)

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_LABEL_RE = re.compile(rf"^{_DNS_LABEL}$")
_RFC1035_LABEL_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_NAME_RE = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_QUANTITY_RE = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_IMAGE_RE = re.compile(
    r"^(?P<repository>[a-zA-Z0-9][a-zA-Z0-9.-]*(:[0-9]+)?/)?"
    r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_USER_NAME_RE = re.compile(r"^[^\s:]+$")
_ANNOTATION_KEY_RE = re.compile(rf"^({_DNS_LABEL}(\.{_DNS_LABEL})*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?$")


class SettingsError(ValueError):
    """One or more config values are invalid; the message lists each of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        heading = f"invalid stack config ({len(problems)} problem{'s' if len(problems) > 1 else ''}):"
        super().__init__("\n".join([heading, *(f"  - {problem}" for problem in problems)]))


@dataclass(frozen=True)
class User:
    name: str
    # Supplied through secret config; None means "generate one".
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PvcStorage:
    size: str = DEFAULT_STORAGE_SIZE
    access_mode: str = DEFAULT_ACCESS_MODE
    storage_class: str | None = None

    @property
    def single_pod(self) -> bool:
        return self.access_mode in SINGLE_POD_ACCESS_MODES


@dataclass(frozen=True)
class EmptyDirStorage:
    size_limit: str | None = None

    single_pod = True


Storage = PvcStorage | EmptyDirStorage


@dataclass(frozen=True)
class IngressSettings:
    enabled: bool = True
    class_name: str = DEFAULT_INGRESS_CLASS
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TlsSettings:
    ca_validity_hours: int = DEFAULT_CA_VALIDITY_HOURS
    server_validity_hours: int = DEFAULT_SERVER_VALIDITY_HOURS
    early_renewal_hours: int = DEFAULT_EARLY_RENEWAL_HOURS
    organization: str = DEFAULT_ORGANIZATION
    extra_dns_names: tuple[str, ...] = ()
    extra_ip_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    hostnames: tuple[str, ...]
    namespace: str = DEFAULT_NAMESPACE
    name: str = DEFAULT_NAME
    replicas: int = DEFAULT_REPLICAS
    users: tuple[User, ...] = (User(DEFAULT_USER),)
    storage: Storage = PvcStorage()
    ingress: IngressSettings = IngressSettings()
    tls: TlsSettings = TlsSettings()
    image: str = DEFAULT_IMAGE
    bcrypt_cost: int = DEFAULT_BCRYPT_COST

    @property
    def service_dns_names(self) -> tuple[str, ...]:
        """Every name under which the Service resolves inside the cluster."""
        svc, ns = self.name, self.namespace
        return (svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local")

    @property
    def certificate_dns_names(self) -> tuple[str, ...]:
        """Every external hostname, every Service name and the extras, each once."""
        return tuple(dict.fromkeys((*self.hostnames, *self.service_dns_names, *self.tls.extra_dns_names)))

    @property
    def internal_host(self) -> str:
        return f"{self.service_dns_names[-1]}:{REGISTRY_PORT}"


def _key(path: str) -> str:
    return f"{PROJECT}:{path}"


class _Problems:
    """Collects every problem so one run reports all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, value: Any, allowed: str, *, show_value: bool = True) -> None:
        shown = json.dumps(value) if show_value else "(value hidden)"
        self.items.append(f"{_key(path)}: {shown} is not allowed; allowed: {allowed}")


# What _decode returns for text that is not JSON, once it has said so.
_NOT_JSON = object()


def _decode(raw: str, path: str, problems: _Problems, expected: str, *, show_value: bool = True) -> Any:
    """Config objects and lists reach the program as JSON text."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        hint = f"{expected} (set it in Pulumi.<stack>.yaml or with `pulumi config set --path`)"
        problems.add(path, raw, hint, show_value=show_value)
        return _NOT_JSON


def _string(raw: str | None) -> str | None:
    """Scalars reach the program as plain text (a quoted JSON string is accepted too)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return value if isinstance(value, str) else raw


def _integer(raw: str | None, path: str, problems: _Problems, allowed: str) -> int | None:
    if raw is None:
        return None
    text = raw.strip().strip('"')
    if not re.fullmatch(r"-?[0-9]+", text):
        problems.add(path, raw, allowed)
        return None
    return int(text)


def _check_object(value: Any, path: str, known: tuple[str, ...], problems: _Problems) -> dict[str, Any] | None:
    if value is _NOT_JSON:
        return None
    if not isinstance(value, dict):
        problems.add(path, value, f"an object with keys {', '.join(known)}")
        return None
    for unknown in sorted(set(value) - set(known)):
        problems.add(f"{path}.{unknown}", value[unknown], f"only the keys {', '.join(known)}")
    return value


def _dns_name_problem(name: Any) -> str | None:
    if not isinstance(name, str):
        return "a DNS name as a string"
    if not name:
        return "a non-empty DNS name"
    if name != name.lower():
        return f"a lowercase DNS name (write {name.lower()!r})"
    if len(name) > 253:
        return "a DNS name of at most 253 characters"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return "a DNS name, not an IP address (put IPs in tls.extraIpAddresses)"
    if not _DNS_NAME_RE.match(name):
        return (
            "a DNS name: dot-separated labels of a-z, 0-9 and '-', "
            "each 1-63 characters, not starting or ending with '-'"
        )
    return None


def _dns_names(value: Any, path: str, problems: _Problems, *, required: bool) -> tuple[str, ...]:
    if value is _NOT_JSON:
        return ()
    if not isinstance(value, list) or (required and not value):
        problems.add(path, value, "a non-empty list of DNS names" if required else "a list of DNS names")
        return ()
    names: list[str] = []
    for index, name in enumerate(value):
        problem = _dns_name_problem(name)
        if problem:
            problems.add(f"{path}[{index}]", name, problem)
        elif name in names:
            problems.add(f"{path}[{index}]", name, f"each name once ({name!r} is already {path}[{names.index(name)}])")
        else:
            names.append(name)
    return tuple(names)


def _parse_hostnames(raw: str | None, problems: _Problems) -> tuple[str, ...]:
    if raw is None:
        problems.items.append(
            f"{_key('hostnames')}: is required; allowed: a non-empty list of external DNS names, "
            "e.g. `pulumi config set --path 'hostnames[0]' registry.example.com`"
        )
        return ()
    return _dns_names(_decode(raw, "hostnames", problems, "a list of DNS names"), "hostnames", problems, required=True)


def _parse_users(raw: str | None, problems: _Problems, *, is_secret: bool) -> tuple[User, ...]:
    if raw is None:
        return (User(DEFAULT_USER),)
    # Never echo this key's values: they may hold passwords.
    value = _decode(raw, "users", problems, "a list of {name, password} objects", show_value=False)
    if value is _NOT_JSON:
        return ()
    if not isinstance(value, list) or not value:
        problems.add("users", None, "a non-empty list of {name, password} objects", show_value=False)
        return ()
    users: list[User] = []
    for index, entry in enumerate(value):
        path = f"users[{index}]"
        if not isinstance(entry, dict):
            problems.add(path, None, "an object {name, password}", show_value=False)
            continue
        for unknown in sorted(set(entry) - {"name", "password"}):
            problems.add(f"{path}.{unknown}", None, "only the keys name, password", show_value=False)
        name = entry.get("name")
        password = entry.get("password")
        if not isinstance(name, str) or not _USER_NAME_RE.match(name):
            problems.add(f"{path}.name", name, "a non-empty user name without ':' or white space")
            continue
        if name in (user.name for user in users):
            problems.add(f"{path}.name", name, "each user name once")
            continue
        if password is not None and not _password_ok(password, f"{path}.password", problems):
            continue
        if password is not None and not is_secret:
            problems.items.append(
                f"{_key(path)}.password: (value hidden) is stored in plain text; allowed: a secret, "
                f"set with `pulumi config set --secret --path '{path}.password' …`"
            )
            continue
        users.append(User(name, password))
    return tuple(users)


def _password_ok(password: Any, path: str, problems: _Problems) -> bool:
    if not isinstance(password, str) or not password:
        problems.add(path, None, "a non-empty string, or no password to have one generated", show_value=False)
        return False
    length = len(password.encode())
    if length > BCRYPT_MAX_PASSWORD_BYTES:
        problems.items.append(
            f"{_key(path)}: (value hidden, {length} bytes) is not allowed; "
            f"allowed: at most {BCRYPT_MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest)"
        )
        return False
    if any(ord(char) < 32 or ord(char) == 127 for char in password):
        problems.add(path, None, "printable characters only (no newline or control characters)", show_value=False)
        return False
    return True


def _parse_quantity(value: Any, path: str, problems: _Problems) -> str | None:
    match = _QUANTITY_RE.match(value) if isinstance(value, str) else None
    if not match or float(match.group("number")) <= 0:
        problems.add(path, value, "a positive Kubernetes quantity such as 20Gi or 500Mi")
        return None
    return str(value)


def _parse_storage(raw: str | None, problems: _Problems) -> Storage | None:
    if raw is None:
        return PvcStorage()
    known = ("type", "size", "storageClass", "accessMode", "sizeLimit")
    value = _check_object(_decode(raw, "storage", problems, "an object"), "storage", known, problems)
    if value is None:
        return None
    kind = value.get("type", "pvc")
    if kind == "s3":
        problems.add("storage.type", kind, f"{' or '.join(STORAGE_TYPES)} (object storage is not supported yet)")
        return None
    if kind not in STORAGE_TYPES:
        problems.add("storage.type", kind, " or ".join(STORAGE_TYPES))
        return None
    if kind == "emptyDir":
        for key in ("size", "storageClass", "accessMode"):
            if key in value:
                problems.add(f"storage.{key}", value[key], "nothing with storage.type emptyDir (only sizeLimit)")
        size_limit = value.get("sizeLimit")
        if size_limit is not None:
            size_limit = _parse_quantity(size_limit, "storage.sizeLimit", problems)
        return EmptyDirStorage(size_limit=size_limit)
    if "sizeLimit" in value:
        problems.add("storage.sizeLimit", value["sizeLimit"], "nothing with storage.type pvc (use storage.size)")
    size = _parse_quantity(value.get("size", DEFAULT_STORAGE_SIZE), "storage.size", problems)
    access_mode = value.get("accessMode", DEFAULT_ACCESS_MODE)
    if access_mode not in ACCESS_MODES:
        problems.add("storage.accessMode", access_mode, ", ".join(ACCESS_MODES))
    storage_class = value.get("storageClass")
    if storage_class is not None and (not isinstance(storage_class, str) or _dns_name_problem(storage_class)):
        problems.add("storage.storageClass", storage_class, "the name of a StorageClass (a lowercase DNS name)")
    if size is None or access_mode not in ACCESS_MODES:
        return None
    return PvcStorage(size=size, access_mode=access_mode, storage_class=storage_class)


def _parse_ingress(raw: str | None, problems: _Problems) -> IngressSettings:
    if raw is None:
        return IngressSettings()
    known = ("enabled", "className", "annotations")
    value = _check_object(_decode(raw, "ingress", problems, "an object"), "ingress", known, problems)
    if value is None:
        return IngressSettings()
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.add("ingress.enabled", enabled, "true or false")
    class_name = value.get("className", DEFAULT_INGRESS_CLASS)
    if class_name not in INGRESS_CLASSES:
        problems.add("ingress.className", class_name, " or ".join(INGRESS_CLASSES))
    annotations = value.get("annotations", {})
    pairs: list[tuple[str, str]] = []
    if not isinstance(annotations, dict):
        problems.add("ingress.annotations", annotations, "an object of string annotations")
    else:
        for key, text in sorted(annotations.items()):
            if not _ANNOTATION_KEY_RE.match(key) or not isinstance(text, str):
                problems.add(f"ingress.annotations.{key}", text, "a valid annotation name with a string value")
            else:
                pairs.append((key, text))
    return IngressSettings(enabled=enabled is True, class_name=str(class_name), annotations=tuple(pairs))


def _positive_hours(value: Any, path: str, problems: _Problems, *, minimum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.add(path, value, f"a whole number of hours ≥ {minimum}")
        return None
    return value


def _parse_tls(
    raw: str | None, hostnames: tuple[str, ...], service_names: tuple[str, ...], problems: _Problems
) -> TlsSettings:
    if raw is None:
        return TlsSettings()
    known = (
        "caValidityHours",
        "serverValidityHours",
        "earlyRenewalHours",
        "organization",
        "extraDnsNames",
        "extraIpAddresses",
    )
    value = _check_object(_decode(raw, "tls", problems, "an object"), "tls", known, problems)
    if value is None:
        return TlsSettings()
    defaults = TlsSettings()
    ca_hours = _positive_hours(
        value.get("caValidityHours", defaults.ca_validity_hours), "tls.caValidityHours", problems, minimum=1
    )
    server_hours = _positive_hours(
        value.get("serverValidityHours", defaults.server_validity_hours), "tls.serverValidityHours", problems, minimum=1
    )
    early_hours = _positive_hours(
        value.get("earlyRenewalHours", defaults.early_renewal_hours), "tls.earlyRenewalHours", problems, minimum=0
    )
    if ca_hours and server_hours and server_hours > ca_hours:
        problems.add(
            "tls.serverValidityHours",
            server_hours,
            f"at most tls.caValidityHours ({ca_hours}): a certificate cannot outlive its CA",
        )
    if server_hours and early_hours is not None and early_hours >= server_hours:
        problems.add(
            "tls.earlyRenewalHours",
            early_hours,
            f"fewer than tls.serverValidityHours ({server_hours}), or every run renews",
        )
    organization = value.get("organization", defaults.organization)
    if not isinstance(organization, str) or not organization.strip() or len(organization) > 64:
        problems.add("tls.organization", organization, "a non-empty string of at most 64 characters")
    extra_names = _dns_names(value.get("extraDnsNames", []), "tls.extraDnsNames", problems, required=False)
    derived = (*hostnames, *service_names)
    for index, name in enumerate(extra_names):
        if name in derived:
            problems.add(
                f"tls.extraDnsNames[{index}]",
                name,
                "names not already in the certificate (hostnames and the Service names are added for you)",
            )
    ips = value.get("extraIpAddresses", [])
    addresses: list[str] = []
    if not isinstance(ips, list):
        problems.add("tls.extraIpAddresses", ips, "a list of IP addresses")
    else:
        for index, ip in enumerate(ips):
            try:
                address = str(ipaddress.ip_address(ip))
            except ValueError:
                problems.add(f"tls.extraIpAddresses[{index}]", ip, "an IPv4 or IPv6 address")
                continue
            if address in addresses:
                problems.add(f"tls.extraIpAddresses[{index}]", ip, "each address once")
            else:
                addresses.append(address)
    return TlsSettings(
        ca_validity_hours=ca_hours or defaults.ca_validity_hours,
        server_validity_hours=server_hours or defaults.server_validity_hours,
        early_renewal_hours=early_hours if early_hours is not None else defaults.early_renewal_hours,
        organization=organization if isinstance(organization, str) else defaults.organization,
        extra_dns_names=extra_names,
        extra_ip_addresses=tuple(addresses),
    )


def _parse_image(raw: str | None, problems: _Problems) -> str:
    image = _string(raw)
    if image is None:
        return DEFAULT_IMAGE
    match = _IMAGE_RE.match(image)
    if not match:
        problems.add(
            "image", image, "an image reference such as registry:3.1.1 or mirror.example.com/library/registry@sha256:…"
        )
    elif not match.group("tag") and not match.group("digest"):
        problems.add("image", image, "a pinned tag or digest (no tag means :latest, which changes under you)")
    elif match.group("tag") == "latest" and not match.group("digest"):
        problems.add("image", image, "a pinned tag or digest, not :latest")
    return image


def parse_settings(raw: Mapping[str, str | None], secret_keys: Collection[str] = ()) -> Settings:
    """Turn raw stack config (key without namespace -> text) into Settings.

    `secret_keys` names the keys Pulumi holds encrypted (as in `raw`, without
    namespace). Raises SettingsError listing every problem found.
    """
    problems = _Problems()
    for unknown in sorted(set(raw) - set(KEYS)):
        problems.items.append(f"{_key(unknown)}: is not a config key of this program; allowed: {', '.join(KEYS)}")

    namespace = _string(raw.get("namespace")) or DEFAULT_NAMESPACE
    if not _DNS_LABEL_RE.match(namespace):
        problems.add(
            "namespace", namespace, "a DNS label: 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'"
        )
    name = _string(raw.get("name")) or DEFAULT_NAME
    if not _RFC1035_LABEL_RE.match(name):
        # The Service is named after it, and Service names are RFC 1035 labels.
        problems.add("name", name, "a DNS label of at most 63 characters: a-z, 0-9 and '-', starting with a letter")

    hostnames = _parse_hostnames(raw.get("hostnames"), problems)
    replicas = _integer(raw.get("replicas"), "replicas", problems, "an integer ≥ 1")
    if replicas is not None and replicas < 1:
        problems.add("replicas", replicas, "an integer ≥ 1")
        replicas = None
    users = _parse_users(raw.get("users"), problems, is_secret="users" in secret_keys)
    storage = _parse_storage(raw.get("storage"), problems)
    if storage is not None and replicas is not None and replicas > 1 and storage.single_pod:
        what = (
            f"storage.accessMode {storage.access_mode}"
            if isinstance(storage, PvcStorage)
            else "storage.type emptyDir (each pod would keep its own images)"
        )
        problems.add("replicas", replicas, f"1 with {what}; for more replicas use storage.accessMode ReadWriteMany")
    ingress = _parse_ingress(raw.get("ingress"), problems)
    settings_for_names = Settings(hostnames=hostnames, namespace=namespace, name=name)
    tls = _parse_tls(raw.get("tls"), hostnames, settings_for_names.service_dns_names, problems)
    image = _parse_image(raw.get("image"), problems)
    low, high = BCRYPT_COST_RANGE
    bcrypt_cost = _integer(raw.get("bcryptCost"), "bcryptCost", problems, f"an integer from {low} to {high}")
    if bcrypt_cost is not None and not low <= bcrypt_cost <= high:
        problems.add(
            "bcryptCost", bcrypt_cost, f"an integer from {low} to {high} (the registry pays this cost on every request)"
        )

    if problems.items:
        raise SettingsError(problems.items)
    assert storage is not None
    return Settings(
        hostnames=hostnames,
        namespace=namespace,
        name=name,
        replicas=replicas if replicas is not None else DEFAULT_REPLICAS,
        users=users,
        storage=storage,
        ingress=ingress,
        tls=tls,
        image=image,
        bcrypt_cost=bcrypt_cost if bcrypt_cost is not None else DEFAULT_BCRYPT_COST,
    )


def project_config(all_config: Mapping[str, Any]) -> dict[str, Any]:
    """This project's entries of the engine's config map, without the `image-registry:` prefix."""
    prefix = f"{PROJECT}:"
    return {key.removeprefix(prefix): value for key, value in all_config.items() if key.startswith(prefix)}
