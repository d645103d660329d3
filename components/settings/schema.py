"""The JSON Schema of a stack file (Pulumi.<stack>.yaml), generated from the settings models.

`python -m components.settings.schema` rewrites the checked-in file; a test
fails when it is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from components.settings.models import PROJECT, Settings
from components.settings.types import SECURE_VALUE_SCHEMA

SCHEMA_FILE = Path(__file__).with_name("stack-config.schema.json")
# `pulumi config set replicas 3` stores "3": the top-level scalars may be text.
_AS_TEXT = {
    "integer": {"type": "string", "pattern": "^-?[0-9]+$"},
    "boolean": {"type": "string", "enum": ["true", "false"]},
}


class _Untitled(GenerateJsonSchema):
    """No generated titles: descriptions say what each key allows."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def stack_file_schema() -> dict[str, Any]:
    settings = Settings.model_json_schema(by_alias=True, schema_generator=_Untitled)
    settings["$defs"].pop("Settings", None)
    keys = {}
    for key, schema in settings["properties"].items():
        text = _AS_TEXT.get(schema.get("type", ""))
        # A whole key set with `pulumi config set --secret` is one `secure:` value.
        keys[f"{PROJECT}:{key}"] = {"anyOf": [schema, *([text] if text else []), SECURE_VALUE_SCHEMA]}
    known = "|".join(settings["properties"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{PROJECT} stack file (Pulumi.<stack>.yaml)",
        "description": "Generated from components/settings/models.py by `make schema`: do not edit.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": keys,
                # Keys of other namespaces (kubernetes:context, …) are theirs; ours must be known.
                "patternProperties": {f"^{PROJECT}:(?!({known})$)": False},
            },
        },
        "$defs": settings["$defs"],
    }


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render())
    sys.stdout.write(f"wrote {SCHEMA_FILE}\n")
