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
program registered (a ProgramRun, harness/program_run.py), with the secret
markers and resource options the engine would see. It uses Pulumi's public
testing API; what that cannot do is in harness/engine.py, the only module that
touches the SDK's internals.
"""

from __future__ import annotations

import functools
import json
import runpy
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml

from harness.engine import (
    DYNAMIC_PROVIDER_KEY,
    ROOT_STACK_TYPE,
    EngineMonitor,
    RegisterRequest,
    load_dynamic_provider,
    stack_exports,
    wrap_secret,
)
from harness.program_run import ProgramRun, Registration, contains_secret, redact, unwrap
from harness.provider_doubles import CREATORS, SECRET_OUTPUTS, kubernetes_object

# What tests, bench/ and the examples import from here.
__all__ = [
    "FaithfulMocks",
    "ProgramRun",
    "RecordingMonitor",
    "Registration",
    "contains_secret",
    "dev_config",
    "example_config",
    "redact",
    "run_program",
    "stack_config",
    "unwrap",
]

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Example stack files, copied on purpose (`cp examples/stacks/prod.yaml Pulumi.<stack>.yaml`): no stack picks them up.
EXAMPLE_STACKS = PROJECT_DIR / "examples" / "stacks"


def _secret_like_inputs(raw_inputs: Mapping[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """The engine's annotateSecrets for providers that take no secrets (dynamic ones):
    an output is secret when the input of the same name was."""
    return {
        key: wrap_secret(value) if contains_secret(raw_inputs.get(key)) else value for key, value in outputs.items()
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
                outputs[secret_output] = wrap_secret(outputs[secret_output])
        resource_id = f"{args.name}-id-{secrets.token_hex(4)}"
        self.state[key] = _Stored(inputs, resource_id, outputs)
        self.created.append(key)
        return resource_id, outputs

    def _dynamic(
        self, key: tuple[str, str], raw_inputs: Mapping[str, Any], inputs: dict[str, Any], stored: _Stored | None
    ) -> tuple[str, dict[str, Any]]:
        """Check, then diff against state (no change: state's outputs), else create: the engine's steps."""
        provider, serialized = load_dynamic_provider(inputs), inputs[DYNAMIC_PROVIDER_KEY]
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


class RecordingMonitor(EngineMonitor):
    """The mock monitor, also keeping each registration's options."""

    def __init__(self, mocks: FaithfulMocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        # When the last resource was registered (seconds since the epoch): the end of an evaluation.
        self.last_registered = 0.0

    def registered(self, request: RegisterRequest) -> None:
        self.last_registered = time.time()
        if request.type == ROOT_STACK_TYPE:
            return
        aliases = (*request.aliases, *self._inherited_aliases(request))
        self.registrations[request.urn] = Registration(**{**vars(request), "aliases": aliases})

    def _inherited_aliases(self, request: RegisterRequest) -> list[str]:
        """One alias for each of the parent's: a child of a renamed or moved component keeps its state
        as the engine derives it."""
        parent = self.registrations.get(request.parent)
        return [
            f"{prefix}::{qualified}${request.type}::{request.name}"
            for alias in (parent.aliases if parent else ())
            for prefix, qualified, _ in [alias.rsplit("::", 2)]
        ]


def dev_config() -> dict[str, str]:
    """Pulumi.dev.yaml's settings, as the engine hands them to the program (objects as JSON)."""
    return stack_config("dev")


def stack_config(stack: str) -> dict[str, str]:
    """Pulumi.<stack>.yaml's settings, as the engine hands them to the program (objects as JSON)."""
    return _settings_of(PROJECT_DIR / f"Pulumi.{stack}.yaml")


def example_config(name: str) -> dict[str, str]:
    """examples/stacks/<name>.yaml's settings: an example stack file a user copies to Pulumi.<stack>.yaml."""
    return _settings_of(EXAMPLE_STACKS / f"{name}.yaml")


def _settings_of(stack_file: Path) -> dict[str, str]:
    document = yaml.safe_load(stack_file.read_text())
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
    # Fresh settings and root stack; the CLI always passes --root_directory, which set_mocks leaves as it is.
    pulumi.runtime.reset_options(project=project, stack=stack, root_directory=str(root_directory), preview=preview)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), secret_keys or [])

    def main() -> None:
        runpy.run_path(str(program), run_name="__main__")

    _to_completion(main)
    run = ProgramRun(list(monitor.registrations.values()))
    run.outputs, run.secret_outputs = _read_exports(stack_exports())
    return run


# Public but unannotated: typed here for mypy.
_pulumi_test: Callable[[Callable[[], Awaitable[None] | None]], Callable[[], None]] = pulumi.runtime.test


def _to_completion(function: Callable[[], Awaitable[None] | None]) -> None:
    """Run `function` under the mocks, then wait for what it returns and every resource and output it started."""
    _pulumi_test(function)()


def _read_exports(exports: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Each export's value (None while unknown) and which are secret, read through the public Output API."""
    values: dict[str, Any] = dict.fromkeys(exports)
    secret: set[str] = set()

    async def find_secrets(outputs: Mapping[str, pulumi.Output[Any]]) -> None:
        for name, output in outputs.items():
            if await output.is_secret():
                secret.add(name)

    def read() -> Awaitable[None]:
        outputs = {name: pulumi.Output.from_input(value) for name, value in exports.items()}
        for name, output in outputs.items():
            output.apply(functools.partial(values.__setitem__, name))
        return find_secrets(outputs)

    _to_completion(read)
    return values, secret
