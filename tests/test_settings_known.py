"""known(): what a rule between keys may read of a key that failed, and when it must not guess."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationInfo, field_validator

from components.settings.base import ConfigModel
from components.settings.known import RAW_CONFIG, UNKNOWN, Unknown, dependent, known
from components.settings.storage import PvcStorage


class Pair(ConfigModel):
    """Two keys and a rule between them, as Settings has: `total` reads `storage` through known()."""

    storage: PvcStorage = PvcStorage()
    total: int = 1

    @field_validator("total")
    @classmethod
    @dependent
    def _shared(cls, total: int, info: ValidationInfo) -> int:
        if total > 1 and known(cls, info, "storage").single_pod:
            raise ValueError("1 on a claim one node mounts")
        return total


class Backwards(ConfigModel):
    first: int = 1
    second: int = 2

    @field_validator("first")
    @classmethod
    @dependent
    def _reads_second(cls, first: int, info: ValidationInfo) -> int:
        return first + int(known(cls, info, "second"))


def failed_keys(raw: dict[str, object]) -> list[str]:
    try:
        Pair.model_validate_json(json.dumps(raw), context={RAW_CONFIG: raw})
    except ValueError as error:
        return [str(item["loc"][0]) for item in json.loads(error.json())]  # type: ignore[attr-defined]
    return []


@pytest.mark.parametrize(
    ("raw", "failed"),
    [
        pytest.param({"total": 2}, ["total"], id="valid-storage"),
        pytest.param({"storage": {"size": "20GB"}, "total": 2}, ["storage", "total"], id="what-is-known-is-read"),
        pytest.param({"storage": {"accessMode": "Many"}, "total": 2}, ["storage"], id="what-failed-is-not-guessed"),
        pytest.param({"storage": [], "total": 2}, ["storage"], id="no-object-at-all"),
        pytest.param(
            {"storage": {"size": "20GB", "accessMode": "ReadWriteMany"}, "total": 2}, ["storage"], id="shared"
        ),
    ],
)
def test_a_rule_reads_the_stand_in_of_a_key_that_failed(raw: dict[str, object], failed: list[str]) -> None:
    assert failed_keys(raw) == failed


def test_without_the_raw_config_a_key_that_failed_is_unknown() -> None:
    with pytest.raises(ValueError, match="storage") as caught:
        Pair.model_validate_json(json.dumps({"storage": {"size": "20GB"}, "total": 2}))
    assert "total" not in str(caught.value)


def test_a_rule_may_read_only_keys_declared_before_it() -> None:
    """The order of fields is the order of rules: a rule reading a later key is a bug, not a config problem."""
    with pytest.raises(RuntimeError, match="first reads second, which is validated after it"):
        Backwards(first=1)


@pytest.mark.parametrize(
    "use",
    [
        pytest.param(lambda value: value == "ReadWriteMany", id="eq"),
        pytest.param(lambda value: value != "ReadWriteMany", id="ne"),
        pytest.param(bool, id="bool"),
        pytest.param(lambda value: value > 1, id="compare"),
        pytest.param(lambda value: f"{value}", id="format"),
        pytest.param(lambda value: value.name, id="attribute"),
        pytest.param(lambda value: "a" in value, id="contains"),
        pytest.param(lambda value: value in ("a", "b"), id="member"),
        pytest.param(list, id="iterate"),
        pytest.param(lambda value: {value}, id="hash"),
    ],
)
def test_any_use_of_an_unknown_field_stops_the_rule(use: Callable[[Any], object]) -> None:
    with pytest.raises(Unknown):
        use(UNKNOWN)
