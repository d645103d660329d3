"""Whether `make renew` may apply what a stack's previews show: certificate renewals, and nothing else.

It reads documents of `pulumi preview --json` (the CLI's PreviewDigest): `steps`, each with `op`,
`urn`, `oldState`/`newState` (`type`, `inputs`, `outputs`; secrets as "[secret]"), `diffReasons`,
`replaceReasons` and `detailedDiff`; same resources are left out unless `--show-sames`.

pulumi-tls replaces a LocallySignedCert once it is ready for renewal (within `early_renewal_hours` of
its end): its plan marks `readyForRenewal` as a reason to replace, and a refresh sets it in the state.
What rolls with a renewed certificate is known: the Secrets holding it, and the Deployment, Ingress and
ServersTransport that name those Secrets. A renewal is applied only when everything the full preview
of the stack would change is that: `refusals` lists the rest, and then nothing is applied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

CERTIFICATE = "tls:index/locallySignedCert:LocallySignedCert"
# Ops that change nothing: `refresh` steps are the refresh's reads (the drift they find shows as updates).
UNCHANGED = frozenset({"same", "read", "refresh"})

Path = tuple[str | int, ...]
ANY = "*"  # in a pattern: any key or list index
# What a renewal changes, by resource type: property paths, as prefixes.
RENEWAL_CHANGES: Mapping[str, tuple[Path, ...]] = {
    # A new certificate, nothing else: its inputs (CSR, CA, validity, usages) stay as they were.
    CERTIFICATE: (("readyForRenewal",), ("certPem",), ("validityStartTime",), ("validityEndTime",)),
    # The TLS Secret and the ingress controller's client Secret: new data (the TLS one under a new name).
    "kubernetes:core/v1:Secret": (("stringData",), ("data",), ("metadata", "name")),
    # The pods mount the TLS Secret by name: a new name rolls them.
    "kubernetes:apps/v1:Deployment": (("spec", "template", "spec", "volumes", ANY, "secret", "secretName"),),
    "kubernetes:networking.k8s.io/v1:Ingress": (
        ("spec", "tls", ANY, "secretName"),
        ("metadata", "annotations", "nginx.ingress.kubernetes.io/proxy-ssl-secret"),
    ),
    "kubernetes:traefik.io/v1alpha1:ServersTransport": (("spec", "certificatesSecrets", ANY),),
}
# A change that says nothing about what it changes.
UNSPECIFIED: Path = ("(unspecified)",)


@dataclass(frozen=True)
class Change:
    """One resource a preview changes, and the property paths it changes."""

    urn: str
    type: str
    op: str
    paths: frozenset[Path]
    # A certificate the provider replaces because it is ready for renewal.
    due: bool


def changes(preview: Mapping[str, Any]) -> dict[str, Change]:
    """The resources a preview changes, by URN."""
    found = {}
    for step in preview.get("steps") or ():
        if step.get("op") not in UNCHANGED:
            change = _change(step)
            found[change.urn] = change
    return found


def due_certificates(preview: Mapping[str, Any]) -> list[str]:
    """The URNs of the certificates a preview renews: what `make renew` targets."""
    return sorted(urn for urn, change in changes(preview).items() if change.due)


def refusals(full: Mapping[str, Any], targeted: Mapping[str, Any]) -> list[str]:
    """Why the renewal must not be applied, one line per resource; none when it may.

    `full` is the whole stack's preview, `targeted` the preview of the due certificates and their
    dependents (`--target … --target-dependents`): what `pulumi up` with the same targets would do.
    """
    pending, renewing = changes(full), changes(targeted)
    found = [f"{urn}: {pending[urn].op}, which the renewal does not do" for urn in sorted(pending.keys() - renewing)]
    found += [f"{urn}: {renewing[urn].op} only when targeted" for urn in sorted(renewing.keys() - pending)]
    for urn in sorted(pending.keys() & renewing.keys()):
        found += _not_a_renewal(pending[urn])
    return found


def _not_a_renewal(change: Change) -> list[str]:
    if change.type == CERTIFICATE and not change.due:
        return [f"{change.urn}: {change.op}, and the certificate is not due for renewal"]
    outside = sorted(describe(path) for path in change.paths if not renews(change.type, path))
    return [f"{change.urn}: {change.op} of {', '.join(outside)}"] if outside else []


def _change(step: Mapping[str, Any]) -> Change:
    old, new = step.get("oldState") or {}, step.get("newState") or {}
    urn = str(step["urn"])
    kind = str(new.get("type") or old.get("type") or type_of(urn))
    ready = (old.get("outputs") or {}).get("readyForRenewal") is True
    replacing = step["op"] == "replace"
    due = kind == CERTIFICATE and replacing and (ready or "readyForRenewal" in (step.get("replaceReasons") or ()))
    return Change(urn=urn, type=kind, op=str(step["op"]), paths=frozenset(changed_paths(step)), due=due)


def type_of(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>` -> the resource's type."""
    return urn.split("::")[2].rsplit("$", 1)[-1]


def changed_paths(step: Mapping[str, Any]) -> set[Path]:
    """Every property path the step changes, from each account of it the preview gives.

    The provider's detailed diff names the paths (secret values too); the states' inputs show them
    where it gives none. A reason to update or replace that no path explains counts as the whole key.
    """
    paths = {parse_path(key) for key in step.get("detailedDiff") or {}}
    old, new = ((step.get(state) or {}).get("inputs") for state in ("oldState", "newState"))
    if isinstance(old, dict) and isinstance(new, dict):
        paths |= set(differences(old, new))
    for reason in (*(step.get("diffReasons") or ()), *(step.get("replaceReasons") or ())):
        key = parse_path(reason)
        if not any(path[: len(key)] == key for path in paths):
            paths.add(key)
    return paths or {UNSPECIFIED}


_MISSING = object()


def differences(old: Any, new: Any, at: Path = ()) -> Iterator[Path]:
    """The paths where two JSON values differ (the deepest ones)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            yield from differences(old.get(key, _MISSING), new.get(key, _MISSING), (*at, key))
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else _MISSING
            after = new[index] if index < len(new) else _MISSING
            yield from differences(before, after, (*at, index))
    elif type(old) is not type(new) or old != new:
        yield at


# A property path as Pulumi writes it: `spec.tls[0].secretName`, `metadata.annotations["a.b/c"]`.
_SEGMENT = re.compile(r'\["(?P<quoted>(?:[^"\\]|\\.)*)"\]|\[(?P<index>\d+)\]|\.?(?P<plain>[^.\[\]]+)')


def parse_path(text: str) -> Path:
    segments: list[str | int] = []
    for match in _SEGMENT.finditer(text):
        if match["quoted"] is not None:
            segments.append(json.loads(f'"{match["quoted"]}"'))
        elif match["index"] is not None:
            segments.append(int(match["index"]))
        else:
            segments.append(match["plain"])
    return tuple(segments)


def describe(path: Path) -> str:
    """A path as Pulumi's providers write it (names only: never a value)."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif re.search(r'[."\[\]]', segment):
            text += f"[{json.dumps(segment)}]"
        else:
            text += f".{segment}" if text else segment
    return text


def renews(kind: str, path: Path) -> bool:
    """Whether a renewal changes this property of a resource of this type."""
    return any(
        len(path) >= len(pattern) and all(want in (ANY, got) for want, got in zip(pattern, path, strict=False))
        for pattern in RENEWAL_CHANGES.get(kind, ())
    )
