"""What a rule may know of another key: its validated value, or what its raw value says when it failed.

pydantic validates the keys in order and hands a field validator only the keys
that passed (`info.data`). A rule between keys (`replicas` against `storage`)
would be skipped whenever the other key failed, and its problem reported only
on the next run. `known()` gives such a rule a stand-in instead: the config
object the raw value describes (its `type` chooses among storage kinds), with
every field that validates on its own and the defaults of those not given;
each field that failed is UNKNOWN. A rule that touches UNKNOWN cannot be
decided: `@dependent` skips it, rather than guess.

The raw config comes in the validation context (`parse_settings` puts it
there); without it a key that failed is simply unknown.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Callable
from typing import Annotated, Any, NoReturn, TypeVar

from pydantic import BaseModel, Discriminator, Tag, TypeAdapter, ValidationError, ValidationInfo
from pydantic.fields import FieldInfo

RAW_CONFIG = "config"
_Value = TypeVar("_Value")


class Unknown(Exception):  # noqa: N818 (not an error: a rule that cannot be decided)
    """A rule read a value that failed validation."""


class _Unknown:
    """A field whose raw value failed: using it in any way raises Unknown (only `is` cannot be caught)."""

    def __getattr__(self, name: str) -> NoReturn:
        raise Unknown

    def __repr__(self) -> str:
        return "UNKNOWN"


def _refuse(*args: object) -> NoReturn:
    raise Unknown


# Comparing, testing, iterating, hashing or printing it: whatever a rule does with it.
for _name in ("eq", "ne", "lt", "le", "gt", "ge", "bool", "hash", "iter", "len", "contains", "str", "format"):
    setattr(_Unknown, f"__{_name}__", _refuse)
UNKNOWN: Any = _Unknown()


def dependent(
    rule: Callable[[Any, _Value, ValidationInfo], _Value],
) -> Callable[[Any, _Value, ValidationInfo], _Value]:
    """A field validator that reads other keys through `known()`: skipped when what it reads is unknown."""

    @functools.wraps(rule)
    def checked(cls: Any, value: _Value, info: ValidationInfo) -> _Value:
        try:
            return rule(cls, value, info)
        except Unknown:
            return value

    return checked


def known(model: type[BaseModel], info: ValidationInfo, name: str) -> Any:
    """The value of field `name` of `model` for the field being validated: validated, or a stand-in."""
    names = list(model.model_fields)
    if names.index(name) >= names.index(str(info.field_name)):
        raise RuntimeError(f"{info.field_name} reads {name}, which is validated after it: declare it before")
    if name in info.data:
        return info.data[name]
    field = model.model_fields[name]
    raw = (info.context or {}).get(RAW_CONFIG, {})
    key = field.alias or name
    if key not in raw:
        raise Unknown
    value = _stand_in(_annotation(field), raw[key], info.context)
    if value is UNKNOWN:
        raise Unknown
    return value


def _stand_in(annotation: Any, value: Any, context: Any) -> Any:
    """`value` validated as `annotation`; else the config object it describes, partly UNKNOWN; else UNKNOWN."""
    try:
        return TypeAdapter(annotation).validate_json(json.dumps(value), strict=True, context=context)
    except ValidationError:
        pass
    model = _model_of(annotation, value)
    if model is None or not isinstance(value, dict):
        return UNKNOWN
    fields = {
        name: _stand_in(_annotation(field), value[field.alias or name], context)
        for name, field in model.model_fields.items()
        if (field.alias or name) in value
    }
    return model.model_construct(**fields)


def _annotation(field: FieldInfo) -> Any:
    """The field's type with its constraints (min_length, ge, …), as a TypeAdapter validates it."""
    return Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation


def _model_of(annotation: Any, value: Any) -> type[BaseModel] | None:
    """The config object `annotation` describes for `value`: the model, `X | None`'s X, or a tagged union's member."""
    if typing.get_origin(annotation) is Annotated:
        inner, *metadata = typing.get_args(annotation)
        choose = next((item.discriminator for item in metadata if isinstance(item, Discriminator)), None)
        if callable(choose) and value is not None:
            return _tagged(inner, choose(value))
        return _model_of(inner, value)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return _model_of(members[0], value) if len(members) == 1 else None


def _tagged(union: Any, tag: Any) -> type[BaseModel] | None:
    for member in typing.get_args(union):
        inner, *metadata = typing.get_args(member)
        if Tag(tag) in metadata:
            return _model_of(inner, None)
    return None
