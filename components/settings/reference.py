"""docs/configuration.md, generated from the settings models as the JSON Schema is (`make schema`).

`python -m components.settings.reference` rewrites it; a test fails when it
is stale. Every key, nested ones too: its type and default from the field,
what it allows from the description the error messages use, what it is for
from a top-level key's title; secrets marked, with the command that sets
them. Nothing in it is written by hand but the few lines of introduction.
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, WithJsonSchema
from pydantic.fields import FieldInfo

from components.settings.base import DefaultFollows
from components.settings.models import Settings
from components.settings.project import PROJECT
from components.settings.schema import SCHEMA_FILE, SCHEMA_LIMITS
from components.settings.types import SECURE_VALUE_SCHEMA

REFERENCE_FILE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
_SCALARS = {bool: "boolean", int: "integer", str: "string"}
_INTRO = f"""\
# Configuration reference

<!-- Generated from components/settings/ by `make schema` (python -m components.settings.reference): \
do not edit. A test fails when it is stale. -->

A stack's settings are the keys under `{PROJECT}:` in `Pulumi.<stack>.yaml`. Set a key by its name, a
nested value by its path:

```sh
pulumi config set replicas 3
pulumi config set --path 'hostnames[0]' registry.example.com
pulumi config set --path 'storage.size' 100Gi
```

A wrong value stops `pulumi preview` and `pulumi up` before anything is created, with one line per
problem: the key, the value (hidden for secrets and under `users`) and what is allowed, in the words
of the **allowed** column below. `make lint` checks the stack files against the JSON Schema
(`{SCHEMA_FILE.relative_to(REFERENCE_FILE.parents[1])}`, which editors read too) and reports the same way;
a few rules only the program checks: [what the schema cannot check](#what-the-schema-cannot-check).
"""


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    allowed: str
    secret: bool = False


def render() -> str:
    sections = [_INTRO, _secrets(), _glance()]
    sections += [_section(name, field) for name, field in Settings.model_fields.items()]
    sections.append(_limits())
    return "\n".join(sections)


def _secrets() -> str:
    leaves = [row.key for _, field in Settings.model_fields.items() for row in _rows(field) if row.secret]
    commands = "\n".join(f"pulumi config set --secret --path '{_example_path(key)}' '…'" for key in leaves)
    return (
        "Secrets, marked **secret** below, are taken only as secrets (`--secret`), never in plain text:\n\n"
        f"```sh\n{commands}\n```\n"
    )


def _glance() -> str:
    lines = ["## Keys at a glance", "", "| key | what it is for |", "| --- | --- |"]
    for name, field in Settings.model_fields.items():
        key = field.alias or name
        lines.append(f"| [`{key}`](#{key.lower()}) | {_cell(field.title or '')} |")
    return "\n".join(lines) + "\n"


def _section(name: str, field: FieldInfo) -> str:
    key = field.alias or name
    lines = [f"## {key}", "", f"{field.title}.", ""]
    rows = list(_rows(field))
    # A union's keys differ by `type`: a table for each.
    variants = _union_members(_strip_optional(field.annotation))
    lines += _table(rows[:1] if variants else rows)
    for model in variants:
        tag = model.model_fields["type"]
        default = " (the default)" if not tag.is_required() else ""
        lines += ["", f"With `type: {typing.get_args(tag.annotation)[0]}`{default}: {_doc(model)}", ""]
        lines += _table(list(_model_rows(model, key)))
    return "\n".join(lines) + "\n"


def _table(rows: list[Row]) -> list[str]:
    lines = ["| key | type | default | allowed |", "| --- | --- | --- | --- |"]
    for row in rows:
        kind = f"{row.type}, **secret**" if row.secret else row.type
        lines.append(f"| `{row.key}` | {kind} | {row.default} | {_cell(row.allowed)} |")
    return lines


def _rows(field: FieldInfo, key: str = "") -> Iterator[Row]:
    """The field's own row, then one for each key inside it (objects, lists of objects, a union's members)."""
    key = key or str(field.alias)
    annotation = _strip_optional(field.annotation)
    yield Row(key, _type(annotation), _default(field), _allowed(field, annotation), _secret(annotation))
    item = _list_item(annotation)
    for model in _union_members(annotation) or ([item or annotation] if _is_model(item or annotation) else []):
        yield from _model_rows(model, f"{key}[i]" if item else key)


def _model_rows(model: type[BaseModel], prefix: str) -> Iterator[Row]:
    for name, field in model.model_fields.items():
        yield from _rows(field, f"{prefix}.{field.alias or name}")


def _type(annotation: Any) -> str:
    if _union_members(annotation) or _is_model(annotation):
        return "object"
    item = _list_item(annotation)
    if item is not None:
        return f"list of {_type(item)}s"
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "string"
    if origin is dict or annotation is dict:
        return "object"
    if origin is typing.Annotated:
        return _type(typing.get_args(annotation)[0])
    return _SCALARS.get(annotation, "object")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    follows = next((item for item in field.metadata if isinstance(item, DefaultFollows)), None)
    if follows is not None:
        # Not one value: the one that goes with the other key's.
        choices = ", ".join(f"{value} → `{default}`" for value, default in follows.defaults.items())
        return f"the {follows.key}'s: {choices}"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return "its keys' defaults, below"
    dumped = TypeAdapter(Any).dump_python(value, mode="json", by_alias=True, exclude_defaults=True)
    text = dumped if isinstance(dumped, str) else json.dumps(dumped, ensure_ascii=False)
    return f"`{text}`"


def _allowed(field: FieldInfo, annotation: Any) -> str:
    described = field.description or _described(annotation)
    if typing.get_origin(annotation) is Literal and not described:
        return " or ".join(typing.get_args(annotation))
    return described or ("true or false" if annotation is bool else "")


def _described(annotation: Any) -> str:
    """The description a constrained type carries (DnsName, ByteQuantity, …)."""
    schema = TypeAdapter(annotation).json_schema() if not _is_model(annotation) else {}
    return str(schema.get("description", ""))


def _secret(annotation: Any) -> bool:
    metadata = typing.get_args(annotation)[1:] if typing.get_origin(annotation) is typing.Annotated else ()
    return any(isinstance(item, WithJsonSchema) and item.json_schema == SECURE_VALUE_SCHEMA for item in metadata)


def _strip_optional(annotation: Any) -> Any:
    members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(members) == 1:
        return members[0]
    return annotation


def _union_members(annotation: Any) -> list[type[BaseModel]]:
    """The config objects of a tagged union (storage), in order; [] for anything else."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    members = [typing.get_args(arg)[0] if typing.get_args(arg) else arg for arg in typing.get_args(annotation)]
    return members if len(members) > 1 and all(_is_model(member) for member in members) else []


def _list_item(annotation: Any) -> Any:
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is tuple else None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _doc(model: type[BaseModel]) -> str:
    return (model.__doc__ or "").strip().splitlines()[0]


def _example_path(key: str) -> str:
    return key.replace("[i]", "[0]")


def _cell(text: str) -> str:
    """Markdown-safe table cell: outside `code`, escape what tables and emphasis would take."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(part if part.startswith("`") else re.sub(r"([|*_<>])", r"\\\1", part) for part in parts)


def _limits() -> str:
    items = "\n".join(f"- {_cell(limit)}" for limit in SCHEMA_LIMITS)
    return (
        "## What the schema cannot check\n\n"
        "The JSON Schema refuses wrong types, names and patterns, unknown keys, repeated list items, a secret in "
        "plain text, more than one replica on storage one pod alone mounts, and a Kubernetes namespace the stack "
        "would create. It does not check the rules below (a secret is ciphertext to it; numbers with units, the order "
        "of a range and most rules between keys are beyond it): `pulumi preview` refuses them, before anything is "
        "created.\n\n"
        f"{items}\n"
    )


if __name__ == "__main__":
    REFERENCE_FILE.parent.mkdir(exist_ok=True)
    REFERENCE_FILE.write_text(render())
    sys.stdout.write(f"wrote {REFERENCE_FILE}\n")
