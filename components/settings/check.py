"""`make lint`'s check of the stack files against the stack-config JSON Schema, said as the program says it.

    python -m components.settings.check Pulumi.*.yaml examples/stacks/*.yaml

One line per problem, `<file>: image-registry:<key>: <value> is not allowed;
allowed: <what>`, in errors.py's words; exit status 1 when there is any.
A generic checker (check-jsonschema) echoes the offending value, a plain-text
password included, and names no key for an unknown one; this one hides every
value under `users` and `mirrors` and every secret leaf (password, accessKey,
secretKey), and names each key.

What the schema cannot check, and only `pulumi preview` finds (the full list is
schema.SCHEMA_LIMITS, shown in docs/configuration.md): anything inside a
`secure:` value, so the rules between keys when one is secret; requests against
limits; a size that is a fraction of a byte through its unit (1.3Ki); a cron
range that runs backwards; user names each once; tls.extraDnsNames against the
derived names; the certificate lifetimes against each other; the other rules
between keys inside an object (existingClaim with size, garbage collection
against storage and readOnly, serviceMonitor without metrics); a mirror's
upstream once and not a hostname, its username and password together.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

from components.settings.errors import message
from components.settings.parse import ALWAYS_HIDDEN
from components.settings.project import PROJECT
from components.settings.schema import SCHEMA_FILE
from components.settings.types import SECURE_VALUE_SCHEMA, secret_advice

_PREFIX = f"{PROJECT}:"
_TYPES = {
    "boolean": "true or false",
    "integer": "an integer",
    "string": "a string",
    "array": "a list",
    "object": "an object",
    "null": "nothing",
}


class StackFileChecker:
    """The schema's problems with one stack file's document, as messages."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self.validator = Draft202012Validator(schema)
        self.secret_leaves = frozenset(_secret_leaves(schema["$defs"]))
        self.config: Mapping[str, Any] = {}

    def problems(self, document: Any) -> list[str]:
        config = document.get("config") if isinstance(document, Mapping) else None
        self.config = config if isinstance(config, Mapping) else {}
        lines = dict.fromkeys(line for error in self.validator.iter_errors(document) for line in self._describe(error))
        # In the file's order of keys, as a reader goes through it.
        order = {key.removeprefix(_PREFIX): index for index, key in enumerate(self.config)}
        return sorted(lines, key=lambda line: order.get(_top_key(line), -1))

    def _describe(self, error: ValidationError) -> Iterator[str]:
        schema_path = list(error.absolute_schema_path)
        if "then" in schema_path:
            yield self._rule(schema_path[: schema_path.index("then")])
        elif "propertyNames" in schema_path:
            known = [key.removeprefix(_PREFIX) for key in self.schema["properties"]["config"]["properties"]]
            yield f"{error.instance}: is not a config key of this program; allowed: {', '.join(known)}"
        elif error.validator in ("anyOf", "oneOf"):
            yield from self._alternatives(error)
        else:
            yield from self._leaf(error)

    def _rule(self, rule_path: list[Any]) -> str:
        """A rule between keys failed: reported at its `if` key, as the program does."""
        rule: Any = self.schema
        for part in rule_path:
            rule = rule[part]
        key = rule["if"]["required"][0]
        return self._message(key.removeprefix(_PREFIX), self.config.get(key), rule["then"]["description"])

    def _alternatives(self, error: ValidationError) -> Iterator[str]:
        """Report the branch the value meant (its JSON type, its `type` tag), or say what each branch wants."""
        branches: dict[int, list[ValidationError]] = defaultdict(list)
        for sub in error.context or ():
            branches[int(sub.relative_schema_path[0])].append(sub)
        alternatives: Any = error.validator_value
        schemas = [self._resolve(schema) for schema in alternatives]
        meant = [index for index in branches if self._may_mean(schemas[index], branches[index], error.instance)]
        if len(meant) == 1:
            for sub in branches[meant[0]]:
                yield from self._describe(sub)
            return
        key = _key(error)
        tags = [schema["properties"]["type"]["const"] for schema in schemas if _tag(schema) is not None]
        if tags and len(tags) == len(schemas) and isinstance(error.instance, Mapping):
            yield self._message(f"{key}.type", error.instance.get("type"), " or ".join(tags))
        elif SECURE_VALUE_SCHEMA in schemas and not isinstance(error.instance, (Mapping, list)):
            yield self._message(key, error.instance, secret_advice(key), show=False)
        else:
            wanted = [schema.get("description") or _TYPES.get(schema.get("type", ""), "") for schema in schemas]
            described = _mapping(error.schema).get("description")
            yield self._message(key, error.instance, described or " or ".join(dict.fromkeys(filter(None, wanted))))

    def _may_mean(self, schema: Mapping[str, Any], errors: list[ValidationError], instance: Any) -> bool:
        if schema == SECURE_VALUE_SCHEMA and not (isinstance(instance, Mapping) and "secure" in instance):
            return False
        tag = _tag(schema)
        if tag is not None and _mapping(instance).get("type", schema["properties"]["type"].get("default")) != tag:
            return False
        return not any(sub.validator == "type" and not sub.relative_path for sub in errors)

    def _leaf(self, error: ValidationError) -> Iterator[str]:
        key, schema = _key(error), error.schema if isinstance(error.schema, Mapping) else {}
        value: Any = error.instance
        rule: Any = error.validator_value
        described = schema.get("description")
        if error.validator == "required":
            for name in rule:
                if name not in _mapping(value):
                    # A config key is named in full (image-registry:hostnames); a key inside one, from its parent.
                    where = name if key == "config" else f"{_PREFIX}{key}.{name}"
                    wanted = _description(self._resolve(schema.get("properties", {}).get(name, {})))
                    yield f"{where}: is required; allowed: {wanted or 'a value'}"
        elif error.validator == "additionalProperties":
            allowed = ", ".join(schema.get("properties", {}))
            for name in sorted(set(_mapping(value)) - set(schema.get("properties", {}))):
                yield self._message(f"{key}.{name}", value[name], f"only the keys {allowed}")
        elif error.validator == "uniqueItems":
            first, index = _duplicate(value)
            yield self._message(f"{key}[{index}]", value[index], f"each item once (the same as {key}[{first}])")
        elif error.validator in ("enum", "const"):
            options = rule if error.validator == "enum" else [rule]
            yield self._message(key, value, described or _either(options))
        elif error.validator == "type":
            yield self._message(key, value, described or _TYPES.get(str(rule), "another type"))
        else:
            yield self._message(key, value, described or f"a value within the schema's {error.validator}")

    def _message(self, key: str, value: Any, allowed: str, *, show: bool = True) -> str:
        top = key.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]
        show = show and top not in ALWAYS_HIDDEN and not self._holds_secret(value)
        return message(key, value, allowed, show=show)

    def _holds_secret(self, value: Any) -> bool:
        if isinstance(value, Mapping):
            return "secure" in value or any(
                key in self.secret_leaves or self._holds_secret(item) for key, item in value.items()
            )
        return isinstance(value, list) and any(self._holds_secret(item) for item in value)

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """A branch's own schema: the `$defs` entry it refers to (the only references the generator writes)."""
        reference = schema.get("$ref", "")
        return self.schema["$defs"][reference.rsplit("/", 1)[1]] if reference else schema


def _secret_leaves(definitions: Mapping[str, Any]) -> Iterator[str]:
    """The names of the fields that hold secrets (`password`, …): their schema is, or may be, `secure:`."""
    for definition in definitions.values():
        for name, schema in definition.get("properties", {}).items():
            if SECURE_VALUE_SCHEMA in (schema, *schema.get("anyOf", ())):
                yield name


def _description(schema: Mapping[str, Any]) -> str:
    """What a key allows: its schema's description, or that of the value it takes when not a secret."""
    branches: list[Mapping[str, Any]] = schema.get("anyOf", [{}])
    return str(schema.get("description") or branches[0].get("description", ""))


def _tag(schema: Mapping[str, Any]) -> Any:
    """The `type` a member of a union of config objects stands for (storage: pvc, emptyDir, s3)."""
    return schema.get("properties", {}).get("type", {}).get("const")


def _key(error: ValidationError) -> str:
    """The config key of the error's value, without the project: `users[0].password`."""
    parts = list(error.absolute_path)[1:]
    key = str(parts[0]).removeprefix(_PREFIX) if parts else "config"
    return key + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts[1:])


def _top_key(line: str) -> str:
    """The top-level config key a message is about."""
    key = line.removeprefix(_PREFIX).split(":", maxsplit=1)[0]
    return key.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _either(options: Iterable[Any]) -> str:
    words = [json.dumps(option) if not isinstance(option, str) else option for option in options]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _duplicate(values: list[Any]) -> tuple[int, int]:
    """The first item repeated: where it first was, and where again."""
    seen: list[Any] = []
    for index, value in enumerate(values):
        if value in seen:
            return seen.index(value), index
        seen.append(value)
    return 0, 0


def check_file(path: Path, checker: StackFileChecker) -> list[str]:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        # Not the parser's message: it quotes the line, which may hold a secret.
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return [f"{path}: cannot be read as YAML{where} ({type(error).__name__})"]
    return [f"{path}: {line}" for line in checker.problems(document)]


def main(paths: list[str]) -> int:
    checker = StackFileChecker(json.loads(SCHEMA_FILE.read_text()))
    lines = [line for path in paths for line in check_file(Path(path), checker)]
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
