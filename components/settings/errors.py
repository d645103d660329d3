"""pydantic's validation errors, said the way this program says them.

`image-registry:<key>: <value> is not allowed; allowed: <what>`, one line per
problem, every problem at once, and never a value that may be secret.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from components.settings.models import Settings
from components.settings.project import PROJECT

HIDDEN = "(value hidden)"
# What is allowed, by error type, where the key has no description of its own.
_BY_TYPE = {"bool_type": "true or false", "int_type": "an integer", "string_type": "a string"}


class SettingsError(ValueError):
    """One or more config values are invalid; the message lists each of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        heading = f"invalid stack config ({len(problems)} problem{'s' if len(problems) > 1 else ''}):"
        super().__init__("\n".join([heading, *(f"  - {item}" for item in problems)]))


def message(key: str, value: Any, allowed: str, *, show: bool = True) -> str:
    shown = json.dumps(value, default=str) if show else HIDDEN
    return f"{PROJECT}:{key}: {shown} is not allowed; allowed: {allowed}"


def problems_of(error: ValidationError, hidden_keys: Collection[str]) -> list[str]:
    """One message per problem; values under `hidden_keys` (top-level keys) are never shown."""
    return [_describe(item, hidden_keys) for item in error.errors(include_url=False) if not _echo(item)]


def _echo(item: ErrorDetails) -> bool:
    """pydantic adds "too short" to a list whose items failed: those items are the problem."""
    value, context = item.get("input"), item.get("ctx") or {}
    return item["type"] == "too_short" and isinstance(value, list) and context.get("actual_length") != len(value)


def _describe(item: ErrorDetails, hidden_keys: Collection[str]) -> str:
    key, described, parent = _locate(item["loc"])
    show = not item["loc"] or item["loc"][0] not in hidden_keys
    value, context, kind = item.get("input"), item.get("ctx") or {}, item["type"]
    if kind == "setting":
        shown = context["value"] if context["value"] is not None else value
        return message(key + context["at"], shown, context["allowed"], show=show and context["show"])
    if kind == "value_error":
        return message(key, value, str(context["error"]), show=show)
    if kind == "union_tag_invalid":
        tags = context["expected_tags"].replace("'", "").split(", ")
        return message(f"{key}.type", context["tag"], " or ".join(tags), show=show)
    if kind == "literal_error":
        return message(key, value, context["expected"].replace("'", ""), show=show)
    if kind == "missing":
        return f"{PROJECT}:{key}: is required; allowed: {described}"
    if kind == "extra_forbidden" and parent is Settings:
        return f"{PROJECT}:{key}: is not a config key of this program; allowed: {', '.join(_keys(Settings))}"
    if kind == "extra_forbidden":
        return message(key, value, f"only the keys {', '.join(_keys(parent))}", show=show)
    return message(key, value, described or _BY_TYPE.get(kind, item["msg"]), show=show)


def _locate(loc: tuple[int | str, ...]) -> tuple[str, str | None, type[BaseModel] | None]:
    """The config key of `loc`, its description, and the config object that holds it."""
    key, described = "", None
    parent: type[BaseModel] | None = None
    models: dict[str, type[BaseModel]] = {"": Settings}
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part in models:  # the tag of a union member: no key of its own
            models = {"": models[part]}
        elif part != "[key]":
            parent = models.get("")
            fields = _keys(parent)
            key = f"{key}.{part}" if key else part
            if part in fields:
                described, models = fields[part].description, _models_in(fields[part].annotation)
            else:
                models = {}
    return key, described, parent


def _keys(model: type[BaseModel] | None) -> dict[str, Any]:
    return {info.alias or name: info for name, info in (model.model_fields.items() if model else ())}


def _models_in(annotation: Any) -> dict[str, type[BaseModel]]:
    """The config objects a value of `annotation` may be: one (key ""), or a union's by their `type`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {"": annotation}
    found = [model for arg in typing.get_args(annotation) for model in _models_in(arg).values()]
    if len(found) == 1:
        return {"": found[0]}
    return {typing.get_args(model.model_fields["type"].annotation)[0]: model for model in found}
