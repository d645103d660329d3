"""Raw stack config (text per key, as the engine hands it over) -> Settings, or every problem at once."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

from components.settings.errors import SettingsError, problems_of
from components.settings.known import RAW_CONFIG
from components.settings.models import Settings

# Keys whose values are plain text (the engine hands every value over as text).
TEXT_KEYS = frozenset(info.alias or name for name, info in Settings.model_fields.items() if info.annotation is str)
# Values under these keys may be passwords (a misspelt `password:` key, a password of the wrong type): never
# echoed, even when not secret.
ALWAYS_HIDDEN = frozenset({"users", "mirrors"})


def parse_settings(
    raw: Mapping[str, str | None],
    secret_keys: Collection[str] = (),
    plain_leaves: Collection[str] = (),
) -> Settings:
    """Validated Settings from `raw` (config key without namespace -> text).

    `secret_keys` are the keys Pulumi holds as secrets; `plain_leaves` the paths
    (`users[1].password`) that the stack file holds in plain text, not `secure:`.
    Raises SettingsError listing every problem.
    """
    data = {key: _decode(key, text) for key, text in raw.items() if text is not None}
    # The raw config too: rules between keys read what a key that failed still says (known.py).
    context = {"secret_keys": frozenset(secret_keys), "plain_leaves": frozenset(plain_leaves), RAW_CONFIG: data}
    try:
        return Settings.model_validate_json(json.dumps(data), context=context)
    except ValidationError as error:
        raise SettingsError(problems_of(error, ALWAYS_HIDDEN | set(secret_keys))) from None


def _decode(key: str, text: str) -> Any:
    """Objects, lists, numbers and booleans arrive as JSON text, strings as themselves; other text stays text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return text if key in TEXT_KEYS and not isinstance(value, str) else value
