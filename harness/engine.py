"""The one place the harness reaches past Pulumi's public API, and why.

The program runs through the public testing API (harness/doubles.py):
`reset_options` (fresh settings; the root directory the CLI passes as
--root_directory, which `set_mocks` keeps), `set_mocks`, `set_all_config`,
`pulumi.runtime.test` (runs a function to completion) and `Output.apply` /
`Output.is_secret`. Nothing public
does what follows, so it is kept here. tests/test_harness_engine.py pins each
use against the installed SDK and fails, naming what changed, when an upgrade
moves one.

1. Secret markers: `pulumi.runtime.rpc.is_rpc_secret`, `wrap_rpc_secret`,
   `unwrap_rpc_secret` (`rpc` is exported as a module, but its contents are the
   SDK's undocumented wire format). A secret as the engine sees it, `{SIG_KEY: SECRET_SIG,
   "value": ...}`, is what `Mocks.new_resource` receives in its inputs and
   must return for a secret output; no public API builds or reads one.
   Breaks: unwrap/redact/contains_secret and every secret output of the doubles.
2. Property serialization: `rpc.serialize_properties` / `deserialize_properties`,
   between the protobuf Struct of a gRPC request or response and Python values
   (run on a private asyncio loop, where the SDK would use `_sync_await`).
   Breaks: Registration.inputs, and additional secret outputs.
3. `pulumi.runtime.mocks.MockMonitor`: `set_mocks(monitor=...)` takes one, but
   the class is not exported. `EngineMonitor` overrides its `RegisterResource`
   to read the options `Mocks` never see (the request fields in
   REQUEST_FIELDS), to mark `additionalSecretOutputs` secret as the engine does
   (its `resources` map and `ResourceRegistration`), and `make_urn` to qualify a
   type by its parents' whole chain, as the engine does (the mock keeps only the
   parent's last type). Breaks: Registration's options, aliases and URNs.
4. Stack exports: `pulumi.export` stores on the root Stack's `outputs` dict.
   Under mocks the Stack registers its outputs before the program runs, so no
   monitor call carries them, and nothing public reads them back.
   Breaks: ProgramRun.outputs and secret_outputs.
5. Dynamic providers: the `__provider` input is base64 of dill, as
   `pulumi.dynamic` serializes it and its provider host (`python -m
   pulumi.dynamic`) loads it; no public loader. Breaks: dynamic resources.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dill  # type: ignore[import-untyped]
import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
DYNAMIC_PROVIDER_KEY = "__provider"
# The engine's wire format for a secret (the same in every language SDK).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
# What EngineMonitor reads from a RegisterResourceRequest.
REQUEST_FIELDS = (
    "type",
    "name",
    "parent",
    "custom",
    "object",
    "protect",
    "deleteBeforeReplace",
    "replaceOnChanges",
    "retainOnDelete",
    "aliasURNs",
    "aliases",
    "additionalSecretOutputs",
)


def is_secret(value: Any) -> bool:
    """Whether the value is a secret marker."""
    return bool(rpc.is_rpc_secret(value))


def wrap_secret(value: Any) -> Any:
    """The value as a secret (a secret stays as it is)."""
    return rpc.wrap_rpc_secret(value)


def reveal(value: Any) -> Any:
    """The value inside a secret marker (anything else as it is)."""
    return rpc.unwrap_rpc_secret(value)


def serialize(properties: Mapping[str, Any]) -> Any:
    """Plain values as the protobuf Struct the engine exchanges."""
    # A loop of our own: the monitor runs in the SDK's executor threads, where no loop is running.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(properties), {}))
    finally:
        loop.close()


def deserialize(struct: Any) -> dict[str, Any]:
    """A Struct as Python values, secret markers kept."""
    properties: dict[str, Any] = rpc.deserialize_properties(struct)
    return properties


def load_dynamic_provider(inputs: Mapping[str, Any]) -> Any:
    """The provider a dynamic resource carries, loaded as `python -m pulumi.dynamic` loads it."""
    return dill.loads(base64.b64decode(inputs[DYNAMIC_PROVIDER_KEY]))


def stack_exports() -> dict[str, Any]:
    """What the program passed to `pulumi.export`, as it passed it (outputs unresolved)."""
    exports = getattr(pulumi.runtime.get_root_resource(), "outputs", None)
    if not isinstance(exports, dict):
        raise RuntimeError("the root Stack keeps no `outputs` dict: see item 4 in harness/engine.py")
    return dict(exports)


@dataclass(frozen=True)
class RegisterRequest:
    """One RegisterResource call as the engine sees it: inputs and outputs keep their secret markers."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    resource_id: str
    protect: bool
    delete_before_replace: bool
    replace_on_changes: tuple[str, ...]
    retain_on_delete: bool
    # The resource's own aliases, as URNs.
    aliases: tuple[str, ...]


class EngineMonitor(MockMonitor):
    """The mock monitor with the engine's URNs and secret outputs; `registered` sees every registration."""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.additionalSecretOutputs:
            self._mark_secret(response, set(request.additionalSecretOutputs))
        self.registered(self._view(request, response))
        return response

    def registered(self, request: RegisterRequest) -> None:
        """Called after each registration (the stack's too): subclasses record what they need."""

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's URN: the parent's whole chain of types (the stack's left out) before the type."""
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{_qualified(parent, type_)}::{name}"

    def _mark_secret(self, response: Any, names: set[str]) -> None:
        """What the engine does with `additional_secret_outputs`: those outputs come back secret."""
        registration = self.resources[response.urn]
        state = {key: wrap_secret(value) if key in names else value for key, value in registration.state.items()}
        self.resources[response.urn] = MockMonitor.ResourceRegistration(response.urn, registration.id, state)
        response.object.CopyFrom(serialize(state))

    def _view(self, request: Any, response: Any) -> RegisterRequest:
        registration = self.resources.get(response.urn)
        return RegisterRequest(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=request.custom,
            # The stack's own registration carries nothing (and the mock keeps no state for it).
            inputs=deserialize(request.object) if registration is not None else {},
            outputs=registration.state if registration is not None else {},
            resource_id=response.id,
            protect=request.protect,
            delete_before_replace=request.deleteBeforeReplace,
            replace_on_changes=tuple(request.replaceOnChanges),
            retain_on_delete=request.retainOnDelete,
            aliases=(*request.aliasURNs, *(_alias_urn(request, alias) for alias in request.aliases)),
        )


def _alias_urn(request: Any, alias: Any) -> str:
    """The URN an alias stands for, as the engine computes it from a spec (an empty parent is the same parent)."""
    if alias.WhichOneof("alias") == "urn":
        return str(alias.urn)
    spec = alias.spec
    stack, project = spec.stack or pulumi.get_stack(), spec.project or pulumi.get_project()
    kind, name = spec.type or request.type, spec.name or request.name
    parent = "" if spec.noParent else (spec.parentUrn or request.parent)
    return f"urn:pulumi:{stack}::{project}::{_qualified(parent, kind)}::{name}"


def _qualified(parent: str, type_: str) -> str:
    """A type qualified by its parents' (the stack resource, every resource's root, does not count)."""
    parent_types = parent.split("::")[2] if parent else ROOT_STACK_TYPE
    return type_ if parent_types == ROOT_STACK_TYPE else f"{parent_types}${type_}"
