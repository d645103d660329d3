"""The JSON Schema of a stack file (Pulumi.<stack>.yaml), generated from the settings models.

`python -m components.settings.schema` rewrites the checked-in file; a test
fails when it is stale. Editors use it as the stack files are written; `make
lint` checks the stack files with it (check.py). It refuses what the program
refuses where JSON Schema can say it: types, names and patterns (DNS names,
byte quantities, cron schedules, …), unknown keys, duplicated list items, a
plain-text secret, and the rules between keys below. SCHEMA_LIMITS lists what
only the program checks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from components.settings.models import Settings
from components.settings.project import MORE_REPLICAS, OWN_NAMESPACE, PROJECT, RESERVED_NAMESPACES
from components.settings.types import SECURE_VALUE_SCHEMA

SCHEMA_FILE = Path(__file__).with_name("stack-config.schema.json")
# What the program refuses and this schema does not (docs/configuration.md lists them): what is beyond JSON
# Schema, and rules between keys it could say only at a length that would hide the rest.
SCHEMA_LIMITS = (
    "anything inside a secret (`secure:` values are ciphertext): a password's length and characters, "
    "and the rules between keys when one of them is set with `--secret`",
    "resources.requests at most resources.limits (quantities compared as numbers)",
    "a size that is a fraction of a byte through its unit (1.3Ki)",
    "a cron range that runs backwards (5-2)",
    "user names each once, and not the name of the generated pull-only user (`<name>-pull`)",
    "tls.extraDnsNames already in the certificate (hostnames and the Service names, from name and namespace)",
    "tls validity hours against each other (server within the CA, early renewal before expiry)",
    "storage.existingClaim with size, storageClass or retainOnDelete; storage.accessKey without secretKey",
    "maintenance.garbageCollect against storage and readOnly (deletes enabled, a window without pushes)",
    "metrics.serviceMonitor without metrics.enabled; a toleration's key, operator and value together",
    "an image reference pinned by tag or digest; an IP address's form",
    "mirrors: each upstream once, none of the hostnames; username and password together; "
    "no user named `<name>-mirror` (the user the stack generates for the nodes)",
)


class _Untitled(GenerateJsonSchema):
    """No generated titles: descriptions say what each key allows."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def stack_file_schema() -> dict[str, Any]:
    settings = Settings.model_json_schema(by_alias=True, schema_generator=_Untitled)
    settings["$defs"].pop("Settings", None)
    keys = {}
    for key, schema in settings["properties"].items():
        text = _as_text(schema)
        # A whole key set with `pulumi config set --secret` is one `secure:` value.
        keys[f"{PROJECT}:{key}"] = {"anyOf": [schema, *([text] if text else []), SECURE_VALUE_SCHEMA]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{PROJECT} stack file (Pulumi.<stack>.yaml)",
        "description": "Generated from components/settings/models.py by `make schema`: do not edit.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": keys,
                "required": [f"{PROJECT}:{key}" for key in settings.get("required", ())],
                # Keys of other namespaces (kubernetes:context, …) are theirs; ours must be known. (Not a false
                # patternProperties: jsonschema then reports no key, only the value.)
                "propertyNames": {"anyOf": [{"not": {"pattern": f"^{PROJECT}:"}}, {"enum": list(keys)}]},
                "allOf": [_replicas_on_shared_storage(), _namespace_of_its_own()],
            },
        },
        "$defs": settings["$defs"],
    }


def _as_text(schema: dict[str, Any]) -> dict[str, Any] | None:
    """`pulumi config set replicas 3` stores "3": a top-level number or boolean may be text, within the same bounds."""
    if schema.get("type") == "boolean":
        return {"type": "string", "enum": ["true", "false"], "description": "true or false"}
    if schema.get("type") != "integer":
        return None
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        pattern = f"^({'|'.join(str(number) for number in range(high, low - 1, -1))})$"
    else:
        pattern = {0: "^(0|[1-9][0-9]*)$", 1: "^[1-9][0-9]*$"}.get(low if isinstance(low, int) else -1, "^-?[0-9]+$")
    return {"type": "string", "pattern": pattern, "description": schema.get("description", "an integer")}


# Rules between keys: `if` a key holds some value, `then` another must hold some other; the `then`'s
# description is what is allowed for the `if`'s key, where the program reports it too (check.py).
def _replicas_on_shared_storage() -> dict[str, Any]:
    replicas, storage = f"{PROJECT}:replicas", f"{PROJECT}:storage"
    more_than_one = {
        "anyOf": [{"type": "integer", "minimum": 2}, {"type": "string", "pattern": "^([2-9]|[1-9][0-9]+)$"}]
    }
    # What the program knows one pod alone mounts: emptyDir, or a claim (the default) not ReadWriteMany. Not a
    # secret (the schema cannot see into it), nor a storage whose type or accessMode is wrong (refused on its own).
    one_pod = {
        "type": "object",
        "not": {"required": ["secure"]},
        "anyOf": [
            {"required": ["type"], "properties": {"type": {"const": "emptyDir"}}},
            {"properties": {"type": {"const": "pvc"}, "accessMode": {"enum": ["ReadWriteOnce", "ReadWriteOncePod"]}}},
        ],
    }
    return {
        "if": {"required": [replicas], "properties": {replicas: more_than_one}},
        "then": {
            "required": [storage],
            "properties": {storage: {"not": one_pod}},
            "description": f"1 with storage one pod alone mounts (by default a ReadWriteOnce claim); {MORE_REPLICAS}",
        },
    }


def _namespace_of_its_own() -> dict[str, Any]:
    namespace, create = f"{PROJECT}:namespace", f"{PROJECT}:createNamespace"
    return {
        "if": {"required": [namespace], "properties": {namespace: {"enum": list(RESERVED_NAMESPACES)}}},
        "then": {
            "required": [create],
            "properties": {create: {"enum": [False, "false"]}},
            "description": OWN_NAMESPACE,
        },
    }


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render())
    sys.stdout.write(f"wrote {SCHEMA_FILE}\n")
