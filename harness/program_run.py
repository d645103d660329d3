"""What one run of the program registered and exported, as the engine would see it; secrets and how to read them."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.engine import RegisterRequest, is_secret, reveal


def _plain(value: Any, *, hide_secrets: bool) -> Any:
    """The value without secret markers: each secret revealed, or replaced by a marker; whole numbers as int
    (protobuf carries every number as a float; Kubernetes wants integers back)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if is_secret(value):
        return "(secret)" if hide_secrets else _plain(reveal(value), hide_secrets=False)
    if isinstance(value, dict):
        return {key: _plain(item, hide_secrets=hide_secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, hide_secrets=hide_secrets) for item in value]
    return value


def unwrap(value: Any) -> Any:
    """The value with every Pulumi secret marker removed."""
    return _plain(value, hide_secrets=False)


def redact(value: Any) -> Any:
    """The value with every secret replaced by a marker: what is left is plain text in state."""
    return _plain(value, hide_secrets=True)


def contains_secret(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_secret(item) for item in value)
    return False


@dataclass(frozen=True, repr=False)
class Registration(RegisterRequest):
    """A resource as the engine saw it: inputs keep their secret markers, and `aliases` holds every URN it
    answers to besides its own (its earlier places in the tree, its parent's included)."""

    def __repr__(self) -> str:
        return f"Registration({self.type} {self.name})"

    @property
    def plain_inputs(self) -> dict[str, Any]:
        plain: dict[str, Any] = unwrap(self.inputs)
        return plain

    @property
    def plain_outputs(self) -> dict[str, Any]:
        plain: dict[str, Any] = unwrap(self.outputs)
        return plain


@dataclass(repr=False)
class ProgramRun:
    """What one run of the program registered and exported."""

    registrations: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def __repr__(self) -> str:
        # A failing test prints its arguments: never the passwords, keys and hashes a run holds.
        return f"ProgramRun({len(self.registrations)} resources, outputs {sorted(self.outputs)})"

    def of_type(self, type_token: str) -> list[Registration]:
        return [item for item in self.registrations if item.type == type_token]

    def one(self, type_token: str) -> Registration:
        found = self.of_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
        return found[0]

    def named(self, type_token: str, name: str) -> Registration:
        (found,) = [item for item in self.of_type(type_token) if item.name == name]
        return found

    def kubernetes(self) -> list[Registration]:
        return [item for item in self.registrations if item.type.startswith("kubernetes:")]

    def manifests(self) -> list[dict[str, Any]]:
        """Every Kubernetes object as the provider would send it (names resolved, secrets unwrapped)."""
        result = []
        for item in self.kubernetes():
            _, group_version, kind = item.type.split(":")
            manifest = {key: value for key, value in item.plain_outputs.items() if not key.startswith("__")}
            if item.type == "kubernetes:apiextensions.k8s.io:CustomResource":
                result.append(manifest)
                continue
            api_version = group_version.replace("core/v1", "v1")
            result.append({"apiVersion": api_version, "kind": kind, **manifest})
        return result

    def manifest(self, kind: str) -> dict[str, Any]:
        found = [item for item in self.manifests() if item["kind"] == kind]
        assert len(found) == 1, f"expected one {kind}, found {len(found)}"
        return found[0]


def secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's values as its volumes and `secretKeyRef`s show them: its `data`, decoded (the provider keeps
    a Secret's `stringData` there, base64), and any `stringData` of a manifest not checked yet."""
    decoded = {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}
    return {**decoded, **(secret.get("stringData") or {})}
