"""What every config object shares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


@dataclass(frozen=True)
class DefaultFollows:
    """On a key whose default is not one value but follows another key of the same object (the model's validator
    sets it): `defaults` maps each value of `key` to this key's default. docs/configuration.md says so."""

    key: str
    defaults: Mapping[str, str]


class ConfigModel(BaseModel):
    """A config object: frozen, camelCase keys, unknown keys refused, JSON types only (no "yes" for true)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, alias_generator=to_camel, validate_by_name=True)
