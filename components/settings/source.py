"""Where the settings come from: the engine's config and the stack's own file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.settings.errors import SettingsError
from components.settings.models import Settings
from components.settings.parse import parse_settings
from components.settings.project import PROJECT

_PREFIX = f"{PROJECT}:"
KNOWN_KEYS = tuple(info.alias or name for name, info in Settings.model_fields.items())


def load_settings() -> Settings:
    """Validated settings, or one clean failure listing every problem, before any resource exists."""
    raw = engine_config()
    secret_keys = {key for key in raw if _is_secret(f"{_PREFIX}{key}")}
    plain = plain_leaves(stack_file_config())
    try:
        return parse_settings(raw, secret_keys=secret_keys, plain_leaves=plain)
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None


def engine_config() -> dict[str, str | None]:
    """This project's config (key without namespace -> text) as the engine hands it to the program."""
    # The CLI passes every key in PULUMI_CONFIG; unknown keys must be seen to be refused.
    passed = [key.removeprefix(_PREFIX) for key in pulumi.runtime.get_config_env() if key.startswith(_PREFIX)]
    keys = dict.fromkeys((*KNOWN_KEYS, *passed))
    return {key: value for key in keys if (value := pulumi.runtime.get_config(f"{_PREFIX}{key}")) is not None}


def _is_secret(full_key: str) -> bool:
    # In-process (Automation API, mocks) or through PULUMI_CONFIG_SECRET_KEYS (the CLI).
    return pulumi.runtime.is_config_secret(full_key) or full_key in pulumi.runtime.get_config_secret_keys_env()


def stack_file_config() -> Mapping[str, Any]:
    """The `config:` of Pulumi.<stack>.yaml, where the CLI keeps it; empty when there is no such file."""
    root = Path(pulumi.get_root_directory() or Path.cwd())
    project = _read_yaml(root / "Pulumi.yaml")
    folder = root / str(project.get("stackConfigDir") or ".")
    stack_file = _read_yaml(folder / f"Pulumi.{pulumi.get_stack()}.yaml")
    config = stack_file.get("config")
    return config if isinstance(config, Mapping) else {}


def plain_leaves(config: Mapping[str, Any]) -> frozenset[str]:
    """The paths (`users[1].password`) of every value the stack file holds in plain text rather than `secure:`."""
    return frozenset(
        path
        for key, value in config.items()
        if isinstance(key, str) and key.startswith(_PREFIX)
        for path in _plain_paths(key.removeprefix(_PREFIX), value)
    )


def _plain_paths(path: str, value: Any) -> Iterator[str]:
    if isinstance(value, Mapping) and set(value) == {"secure"}:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _plain_paths(f"{path}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _plain_paths(f"{path}[{index}]", item)
    elif value is not None:
        yield path


def _read_yaml(path: Path) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return {}
    return document if isinstance(document, Mapping) else {}
