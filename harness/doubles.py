"""Faithful test doubles for Pulumi's engine and the providers the program uses.

`FaithfulMocks` really does what the providers do: the tls resources generate
real keys and sign real certificates, the random resources draw real
randomness (harness/provider_doubles.py), and Kubernetes objects get the provider's
auto-naming (`<name>-<8 hex>`). Dynamic resources run their own provider,
unpickled from the `__provider` input as the engine's dynamic provider host
does. It also keeps state between runs the way Pulumi does: a resource whose
inputs did not change keeps its outputs (for a dynamic resource: whose
provider's diff finds no change); one whose inputs changed gets new ones (a
new key, a new certificate, a new auto-name), as a replacement would.

`run_program` runs `__main__.py` under these mocks and records everything the
program registered, with the secret markers and resource options the engine
would see.
"""

from __future__ import annotations

import base64
import json
import runpy
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dill  # type: ignore[import-untyped]
import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from harness.provider_doubles import CREATORS, SECRET_OUTPUTS, kubernetes_object

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _plain(value: Any, *, hide_secrets: bool) -> Any:
    """The value without secret markers: each secret revealed, or replaced by a marker; whole numbers as int
    (protobuf carries every number as a float; Kubernetes wants integers back)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if rpc.is_rpc_secret(value):
        return "(secret)" if hide_secrets else _plain(rpc.unwrap_rpc_secret(value), hide_secrets=False)
    if isinstance(value, dict):
        return {key: _plain(item, hide_secrets=hide_secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, hide_secrets=hide_secrets) for item in value]
    return value


def unwrap(value: Any) -> Any:
    """The value with every Pulumi secret marker removed."""
    return _plain(value, hide_secrets=False)


def redact(value: Any) -> Any:
    """The value with every secret replaced by a marker: what is left is plain text in state."""
    return _plain(value, hide_secrets=True)


def contains_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_secret(item) for item in value)
    return False


DYNAMIC_PROVIDER_KEY = "__provider"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def _dynamic_provider(inputs: Mapping[str, Any]) -> Any:
    """The provider a dynamic resource carries, loaded the way `python -m pulumi.dynamic` loads it."""
    return dill.loads(base64.b64decode(inputs[DYNAMIC_PROVIDER_KEY]))


def _secret_like_inputs(raw_inputs: Mapping[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """The engine's annotateSecrets for providers that take no secrets (dynamic ones):
    an output is secret when the input of the same name was."""
    return {
        key: rpc.wrap_rpc_secret(value) if contains_secret(raw_inputs.get(key)) else value
        for key, value in outputs.items()
    }


@dataclass
class _Stored:
    inputs: Any
    resource_id: str
    outputs: dict[str, Any]


class FaithfulMocks(pulumi.runtime.Mocks):
    """Provider doubles with state: keep one instance to model re-runs of a stack."""

    def __init__(self, stacks: Mapping[str, ProgramRun] | None = None) -> None:
        self.state: dict[tuple[str, str], _Stored] = {}
        self.created: list[tuple[str, str]] = []
        # What a StackReference reads: other stacks' outputs, by fully qualified stack name.
        self.stacks = dict(stacks or {})

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = unwrap(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            # A read (no `custom` flag): the other stack's outputs, with its secret ones named as such.
            other = self.stacks[inputs["name"]]
            state = {
                "name": inputs["name"],
                "outputs": other.outputs,
                "secretOutputNames": sorted(other.secret_outputs),
            }
            return inputs["name"], state
        if not args.custom:
            return None, {}
        key = (args.typ, args.name)
        stored = self.state.get(key)
        if args.typ.startswith("pulumi-python:dynamic"):
            return self._dynamic(key, args.inputs, inputs, stored)
        if stored is not None and stored.inputs == inputs:
            return stored.resource_id, stored.outputs
        if args.typ in CREATORS:
            outputs = CREATORS[args.typ](inputs)
        elif args.typ.startswith("kubernetes:"):
            outputs = kubernetes_object(args.name, inputs)
        else:
            raise AssertionError(f"no test double for resource type {args.typ}")
        for secret_output in SECRET_OUTPUTS.get(args.typ, ()):
            if secret_output in outputs:
                outputs[secret_output] = rpc.wrap_rpc_secret(outputs[secret_output])
        resource_id = f"{args.name}-id-{secrets.token_hex(4)}"
        self.state[key] = _Stored(inputs, resource_id, outputs)
        self.created.append(key)
        return resource_id, outputs

    def _dynamic(
        self, key: tuple[str, str], raw_inputs: Mapping[str, Any], inputs: dict[str, Any], stored: _Stored | None
    ) -> tuple[str, dict[str, Any]]:
        """Check, then diff against state (no change: state's outputs), else create: the engine's steps."""
        provider, serialized = _dynamic_provider(inputs), inputs[DYNAMIC_PROVIDER_KEY]
        olds = unwrap(stored.outputs) if stored is not None else {}
        checked = {**provider.check(olds, inputs).inputs, DYNAMIC_PROVIDER_KEY: serialized}
        if stored is not None and not provider.diff(stored.resource_id, olds, checked).changes:
            self.state[key] = _Stored(inputs, stored.resource_id, stored.outputs)
            return stored.resource_id, stored.outputs
        result = provider.create(checked)
        outputs = _secret_like_inputs(
            raw_inputs, {**(result.outs or {}), DYNAMIC_PROVIDER_KEY: checked[DYNAMIC_PROVIDER_KEY]}
        )
        self.state[key] = _Stored(inputs, result.id, outputs)
        self.created.append(key)
        return result.id, outputs

    def save(self, path: Path) -> None:
        """The state, for a later run in another process (the way a backend keeps it)."""
        stored = [[typ, name, asdict(item)] for (typ, name), item in self.state.items()]
        path.write_text(json.dumps(stored))

    def load(self, path: Path) -> None:
        for typ, name, item in json.loads(path.read_text()):
            self.state[(typ, name)] = _Stored(**item)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise AssertionError(f"the program must not invoke functions, but called {args.token}")


@dataclass(repr=False)
class Registration:
    """A resource as the engine saw it: inputs keep their secret markers."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool
    delete_before_replace: bool
    replace_on_changes: tuple[str, ...]
    retain_on_delete: bool
    # The URNs this resource answers to besides its own (its earlier places in the tree).
    aliases: tuple[str, ...]
    # What the provider called it (plain in state).
    resource_id: str = ""

    def __repr__(self) -> str:
        return f"Registration({self.type} {self.name})"

    @property
    def plain_inputs(self) -> dict[str, Any]:
        plain: dict[str, Any] = unwrap(self.inputs)
        return plain

    @property
    def plain_outputs(self) -> dict[str, Any]:
        plain: dict[str, Any] = unwrap(self.outputs)
        return plain


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping each registration's options."""

    def __init__(self, mocks: FaithfulMocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        # When the last resource was registered (seconds since the epoch): the end of an evaluation.
        self.last_registered = 0.0

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.last_registered = time.time()
        if request.additionalSecretOutputs:
            response = self._with_secret_outputs(response, request.additionalSecretOutputs)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations[response.urn] = Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=request.custom,
                inputs=rpc.deserialize_properties(request.object),
                outputs=self.resources[response.urn].state,
                protect=request.protect,
                delete_before_replace=request.deleteBeforeReplace,
                replace_on_changes=tuple(request.replaceOnChanges),
                retain_on_delete=request.retainOnDelete,
                aliases=self._aliases(request),
                resource_id=response.id,
            )
        return response

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's URN: the parent's whole chain of types (the stack's own left out) before the type; the
        mock monitor keeps only the parent's last, which tells a component's grandchildren apart wrongly."""
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{_qualified(parent, type_)}::{name}"

    def _aliases(self, request: Any) -> tuple[str, ...]:
        """The URNs the engine matches against state: the resource's own aliases, and one for each of its
        parent's (a child of a renamed or moved component keeps its state as the engine derives it)."""
        own = (*request.aliasURNs, *(_alias_urn(request, alias) for alias in request.aliases))
        parent = self.registrations.get(request.parent)
        inherited = [
            f"{prefix}::{qualified}${request.type}::{request.name}"
            for alias in (parent.aliases if parent else ())
            for prefix, qualified, _ in [alias.rsplit("::", 2)]
        ]
        return (*own, *inherited)

    def _with_secret_outputs(self, response: Any, names: Any) -> Any:
        """What the engine does with `additional_secret_outputs`: those outputs come back secret."""
        registration = self.resources[response.urn]
        state = {
            key: rpc.wrap_rpc_secret(value) if key in names and not rpc.is_rpc_secret(value) else value
            for key, value in registration.state.items()
        }
        self.resources[response.urn] = pulumi_mocks.MockMonitor.ResourceRegistration(
            response.urn, registration.id, state
        )
        response.object.CopyFrom(_sync_await(rpc.serialize_properties(state, {})))
        return response


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


@dataclass(repr=False)
class ProgramRun:
    """What one run of the program registered and exported."""

    registrations: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def __repr__(self) -> str:
        # A failing test prints its arguments: never the passwords, keys and hashes a run holds.
        return f"ProgramRun({len(self.registrations)} resources, outputs {sorted(self.outputs)})"

    def of_type(self, type_token: str) -> list[Registration]:
        return [item for item in self.registrations if item.type == type_token]

    def one(self, type_token: str) -> Registration:
        found = self.of_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
        return found[0]

    def named(self, type_token: str, name: str) -> Registration:
        (found,) = [item for item in self.of_type(type_token) if item.name == name]
        return found

    def kubernetes(self) -> list[Registration]:
        return [item for item in self.registrations if item.type.startswith("kubernetes:")]

    def manifests(self) -> list[dict[str, Any]]:
        """Every Kubernetes object as the provider would send it (names resolved, secrets unwrapped)."""
        result = []
        for item in self.kubernetes():
            _, group_version, kind = item.type.split(":")
            manifest = {key: value for key, value in item.plain_outputs.items() if not key.startswith("__")}
            if item.type == "kubernetes:apiextensions.k8s.io:CustomResource":
                result.append(manifest)
                continue
            api_version = group_version.replace("core/v1", "v1")
            result.append({"apiVersion": api_version, "kind": kind, **manifest})
        return result

    def manifest(self, kind: str) -> dict[str, Any]:
        found = [item for item in self.manifests() if item["kind"] == kind]
        assert len(found) == 1, f"expected one {kind}, found {len(found)}"
        return found[0]


def dev_config() -> dict[str, str]:
    """Pulumi.dev.yaml's settings, as the engine hands them to the program (objects as JSON)."""
    return stack_config("dev")


def stack_config(stack: str) -> dict[str, str]:
    """Pulumi.<stack>.yaml's settings, as the engine hands them to the program (objects as JSON)."""
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    config: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return config


def run_program(
    config: Mapping[str, str],
    mocks: FaithfulMocks | None = None,
    *,
    stack: str = "dev",
    preview: bool = False,
    secret_keys: list[str] | None = None,
    monitor: RecordingMonitor | None = None,
    root_directory: Path = PROJECT_DIR,
    project: str = "image-registry",
    program: Path = PROJECT_DIR / "__main__.py",
) -> ProgramRun:
    """Run `program` once under the mocks, as `pulumi up` would, and wait for it.

    `root_directory` is where the CLI says Pulumi.yaml (and the stack files) are.
    """
    mocks = mocks if mocks is not None else FaithfulMocks()
    monitor = monitor if monitor is not None else RecordingMonitor(mocks)
    ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    # The mock settings leave it unset; the CLI always passes it (--root_directory).
    pulumi.runtime.settings.SETTINGS.root_directory = str(root_directory)
    pulumi.runtime.set_all_config(dict(config), secret_keys or [])

    def main() -> None:
        runpy.run_path(str(program), run_name="__main__")

    _sync_await(run_pulumi_func(main))
    run = ProgramRun(list(monitor.registrations.values()))
    root = ROOT.get()
    for name, value in getattr(root, "outputs", {}).items():
        output = pulumi.Output.from_input(value)
        run.outputs[name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            run.secret_outputs.add(name)
    return run
