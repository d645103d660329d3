"""docs/configuration.md: generated from the settings models, current, and complete."""

from __future__ import annotations

import typing
from collections.abc import Iterator

from pydantic import BaseModel

from components.settings import IngressSettings, Settings
from components.settings.reference import REFERENCE_FILE, render
from components.settings.schema import SCHEMA_LIMITS

DOC = REFERENCE_FILE.read_text()


def test_the_checked_in_reference_is_current() -> None:
    assert render() == DOC, "stale: run `make schema` and commit docs/configuration.md"


def models_in(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from models_in(argument)


def every_key(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str | None]]:
    """Each config key of the models, found on its own (not the generator's way), with its description."""
    for name, field in model.model_fields.items():
        origin = typing.get_origin(field.annotation)
        key = f"{prefix}{field.alias or name}"
        yield key, field.description
        inner = f"{key}[i]." if origin is tuple else f"{key}."
        for nested in models_in(field.annotation):
            yield from every_key(nested, inner)


def row(key: str) -> str:
    found = [line for line in DOC.splitlines() if line.startswith(f"| `{key}` |")]
    assert found, f"no row for {key}"
    return found[0]


def test_every_key_has_a_row_with_type_default_and_what_it_allows() -> None:
    keys = dict(every_key(Settings))
    assert len(keys) > 70
    for key in keys:
        cells = [cell.strip() for cell in row(key).split(" | ")]
        assert len(cells) == 4, row(key)
        assert all(cells), row(key)


def test_what_a_key_allows_is_the_description_the_errors_use() -> None:
    for key, description in every_key(Settings):
        if description:
            words = description.split("`")[0].replace("*", "\\*").replace("|", "\\|")[:40]
            assert words in row(key), key


def test_types_and_defaults() -> None:
    assert row("replicas") == "| `replicas` | integer | `1` | an integer ≥ 1 |"
    assert "| list of strings | required |" in row("hostnames")
    assert "| boolean | `true` |" in row("createNamespace")
    assert '| list of objects | `[{"name": "registry"}]` |' in row("users")
    assert "| string | `20Gi` | a positive byte quantity such as 20Gi" in row("storage.size")


def test_defaults_that_follow_the_controller_are_each_controllers() -> None:
    # What the program sets, controller by controller: an nginx stack's class is not traefik's.
    controllers = typing.get_args(IngressSettings.model_fields["controller"].annotation)
    assert controllers == ("traefik", "nginx")
    for controller in controllers:
        ingress = IngressSettings.model_validate({"controller": controller})
        assert f"{controller} → `{ingress.class_name}`" in row("ingress.className")
        assert f"{controller} → `{ingress.controller_namespace}`" in row("ingress.controllerNamespace")
    assert row("ingress.controllerNamespace").count("→") == len(controllers)


def test_secret_leaves_are_marked_with_the_command_that_sets_them() -> None:
    secret = [line for line in DOC.splitlines() if "**secret**" in line and line.startswith("| `")]
    keys = ["storage.accessKey", "storage.secretKey", "users[i].password", "mirrors[i].password"]
    assert [line.split("`")[1] for line in secret] == keys
    for path in ("storage.accessKey", "storage.secretKey", "users[0].password", "mirrors[0].password"):
        assert f"pulumi config set --secret --path '{path}' '…'" in DOC


def test_every_top_level_key_has_a_section_saying_what_it_is_for() -> None:
    for name, field in Settings.model_fields.items():
        assert field.title, name
        assert f"\n## {field.alias}\n\n{field.title}.\n" in DOC


def test_it_says_what_the_schema_cannot_check() -> None:
    section = DOC.split("## What the schema cannot check", 1)[1]
    assert len(SCHEMA_LIMITS) > 5
    for limit in SCHEMA_LIMITS:
        assert limit.split("(")[0].split("`")[0].strip()[:30] in section


def test_the_mirrors_rows_say_what_each_key_allows() -> None:
    assert "| list of objects | `[]` |" in row("mirrors")
    assert "| string | required | a registry host as images spell it, lowercase, without a port" in row(
        "mirrors[i].upstream"
    )
    assert "https://registry-1.docker.io for docker.io, else https://\\<upstream\\>" in row("mirrors[i].remoteUrl")
    assert "without a path" in row("mirrors[i].remoteUrl")
    assert "| string, **secret** | none |" in row("mirrors[i].password")
    assert "with username" in row("mirrors[i].password")
    assert "with password" in row("mirrors[i].username")
    assert '| list of strings | `["*"]` |' in row("mirrors[i].repositories")
    assert "| string | `168h` | a positive duration" in row("mirrors[i].ttl")
    assert "no user named `<name>-mirror`" in DOC.split("## What the schema cannot check", 1)[1]
