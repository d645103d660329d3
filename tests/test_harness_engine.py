"""The SDK internals harness/engine.py relies on, pinned: an upgrade that moves one fails here, saying what and where.

Each message names the SDK file to read and the item of harness/engine.py's docstring to adapt.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import inspect
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic
import pytest

from harness import engine
from harness.doubles import FaithfulMocks, ProgramRun, contains_secret, run_program

PROJECT_DIR = Path(__file__).resolve().parent.parent
PULUMI = f"pulumi {importlib.metadata.version('pulumi')}"
ENGINE = PROJECT_DIR / "harness" / "engine.py"

# name -> (the parameters it must start with, whether exactly those: an override must match exactly, item in engine.py)
SIGNATURES = {
    "pulumi.runtime.rpc.is_rpc_secret": (["value"], False, 1),
    "pulumi.runtime.rpc.wrap_rpc_secret": (["value"], False, 1),
    "pulumi.runtime.rpc.unwrap_rpc_secret": (["value"], False, 1),
    "pulumi.runtime.rpc.serialize_properties": (["inputs", "property_deps"], False, 2),
    "pulumi.runtime.rpc.deserialize_properties": (["props_struct"], False, 2),
    "pulumi.runtime.mocks.MockMonitor.__init__": (["self", "mocks"], True, 3),
    "pulumi.runtime.mocks.MockMonitor.RegisterResource": (["self", "request"], True, 3),
    "pulumi.runtime.mocks.MockMonitor.make_urn": (["self", "parent", "type_", "name"], True, 3),
    "pulumi.runtime.mocks.set_mocks": (["mocks", "project", "stack", "preview", "logger", "monitor"], False, 3),
    "pulumi.dynamic.dynamic.serialize_provider": (["provider"], False, 5),
}
# What EngineMonitor reads from a RegisterResourceRequest, and the kind it expects.
REQUEST_KINDS = {
    "type": "string",
    "name": "string",
    "parent": "string",
    "custom": "bool",
    "object": "google.protobuf.Struct",
    "protect": "bool",
    "deleteBeforeReplace": "bool",
    "replaceOnChanges": "repeated string",
    "retainOnDelete": "bool",
    "aliasURNs": "repeated string",
    "aliases": "repeated pulumirpc.Alias",
    "additionalSecretOutputs": "repeated string",
}
PROBE = """
import pulumi

outer = pulumi.ComponentResource("probe:index:Outer", "outer")
inner = pulumi.ComponentResource("probe:index:Inner", "inner", opts=pulumi.ResourceOptions(parent=outer))
options = pulumi.ResourceOptions(
    parent=inner, protect=True, delete_before_replace=True, replace_on_changes=["data"], retain_on_delete=True,
    aliases=[pulumi.Alias(name="old-probe")], additional_secret_outputs=["metadata"],
)
pulumi.CustomResource("kubernetes:core/v1:ConfigMap", "probe", {"data": {"key": pulumi.Output.secret("v")}}, options)
pulumi.export("plain", "value")
pulumi.export("hidden", pulumi.Output.secret("value"))
pulumi.export("root", pulumi.get_root_directory())
"""
PROBE_PARENTS = "probe:index:Outer$probe:index:Inner$kubernetes:core/v1:ConfigMap"


def _changed(what: str, item: int, where: str) -> str:
    return f"{PULUMI}: {what}. harness/engine.py relies on it (item {item} of its docstring); read {where} and adapt."


def _resolve(dotted: str) -> tuple[str, Any]:
    """The longest importable module of a dotted name, and the object the name stands for (None when gone)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            target: Any = importlib.import_module(module)
        except ImportError:
            continue
        for part in parts[cut:]:
            target = getattr(target, part, None)
        return module, target
    return dotted, None


@pytest.mark.parametrize("dotted", SIGNATURES)
def test_each_internal_keeps_its_name_and_parameters(dotted: str) -> None:
    expected, exact, item = SIGNATURES[dotted]
    module, target = _resolve(dotted)
    where = module.replace(".", "/") + ".py"
    assert target is not None, _changed(f"{dotted} is gone", item, where)
    found = list(inspect.signature(target).parameters)
    matches = found == expected if exact else found[: len(expected)] == expected
    assert matches, _changed(f"{dotted} takes {found}, not {expected}", item, where)


def _kind(field: Any) -> str:
    """A protobuf field descriptor's kind: "string", "repeated pulumirpc.Alias"…"""
    scalars = {field.TYPE_STRING: "string", field.TYPE_BOOL: "bool"}
    name = field.message_type.full_name if field.message_type else scalars.get(field.type, str(field.type))
    return f"repeated {name}" if field.label == field.LABEL_REPEATED else name


def _fields(message: str) -> dict[str, str]:
    descriptor = _resolve(f"pulumi.runtime.proto.{message}")[1].DESCRIPTOR
    return {field.name: _kind(field) for field in descriptor.fields}


@pytest.mark.parametrize(("field", "kind"), REQUEST_KINDS.items())
def test_register_resource_requests_carry_the_fields_read(field: str, kind: str) -> None:
    found = _fields("resource_pb2.RegisterResourceRequest").get(field, "absent")
    assert found == kind, _changed(
        f"RegisterResourceRequest.{field} is {found}, not {kind}", 3, "pulumi/runtime/proto/resource_pb2.pyi"
    )


def test_the_engine_reads_no_request_field_it_does_not_declare() -> None:
    read = {
        node.attr
        for node in ast.walk(ast.parse(ENGINE.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "request"
    }
    assert read == set(engine.REQUEST_FIELDS) == set(REQUEST_KINDS)


def test_aliases_and_responses_keep_their_shape() -> None:
    where = "pulumi/runtime/proto/alias_pb2.pyi and resource_pb2.pyi"
    alias = _fields("alias_pb2.Alias")
    assert alias == {"urn": "string", "spec": "pulumirpc.Alias.Spec"}, _changed(f"Alias is {alias}", 3, where)
    spec = _fields("alias_pb2.Alias.Spec")
    wanted = {"name", "type", "stack", "project", "parentUrn", "noParent"}
    assert wanted <= set(spec), _changed(f"Alias.Spec has {sorted(spec)}", 3, where)
    response = _fields("resource_pb2.RegisterResourceResponse")
    assert {"urn", "id", "object"} <= set(response), _changed(f"the response has {sorted(response)}", 3, where)


def test_the_mock_monitor_keeps_its_registrations_as_overridden() -> None:
    _, monitor = _resolve("pulumi.runtime.mocks.MockMonitor")
    where = "pulumi/runtime/mocks.py"
    fields = getattr(monitor.ResourceRegistration, "_fields", None)
    assert fields == ("urn", "id", "state"), _changed(f"MockMonitor.ResourceRegistration is {fields}", 3, where)
    assert "resources" in monitor.__annotations__, _changed("MockMonitor keeps no `resources`", 3, where)
    assert issubclass(engine.EngineMonitor, monitor)


def test_a_secret_is_the_engines_marker() -> None:
    marker = {engine.SIG_KEY: engine.SECRET_SIG, "value": "s"}
    where = "pulumi/runtime/rpc.py (is_rpc_secret)"
    assert engine.wrap_secret("s") == marker, _changed(f"a secret is {engine.wrap_secret('s')}", 1, where)
    assert engine.is_secret(marker), _changed("the marker is no longer a secret", 1, where)
    assert engine.reveal(marker) == "s"
    assert engine.wrap_secret(marker) == marker
    assert not engine.is_secret("s")
    assert not engine.is_secret({"value": "s"})


def test_properties_cross_the_wire_with_their_secrets() -> None:
    sent = {"secret": engine.wrap_secret({"key": "s"}), "count": 3, "names": ["a"]}
    received = engine.deserialize(engine.serialize(sent))
    assert received == {**sent, "count": 3.0}, _changed(f"a round trip gives {received}", 2, "pulumi/runtime/rpc.py")


def test_a_dynamic_provider_loads_as_the_sdk_serializes_it() -> None:
    _, dynamic = _resolve("pulumi.dynamic.dynamic")
    where = "pulumi/dynamic/dynamic.py and pulumi/dynamic/__main__.py"
    assert dynamic.PROVIDER_KEY == engine.DYNAMIC_PROVIDER_KEY, _changed(f"the key is {dynamic.PROVIDER_KEY}", 5, where)
    provider = pulumi.dynamic.ResourceProvider()
    loaded = engine.load_dynamic_provider({engine.DYNAMIC_PROVIDER_KEY: dynamic.serialize_provider(provider)})
    assert type(loaded) is pulumi.dynamic.ResourceProvider
    # The host (run as a program, so not imported here) loads it the same way.
    host_spec = importlib.util.find_spec("pulumi.dynamic.__main__")
    assert host_spec is not None, _changed("the provider host is gone", 5, where)
    host = Path(str(host_spec.origin)).read_text()
    for step in ("base64.b64decode", "dill.loads"):
        assert step in host, _changed(f"the provider host no longer calls {step}", 5, where)


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProgramRun, Path]:
    directory = tmp_path_factory.mktemp("probe")
    (directory / "__main__.py").write_text(PROBE)
    run = run_program(
        {}, FaithfulMocks(), stack="probe", project="probe", root_directory=directory, program=directory / "__main__.py"
    )
    return run, directory


def test_every_option_the_program_sets_reaches_the_monitor(probe: tuple[ProgramRun, Path]) -> None:
    registration = probe[0].one("kubernetes:core/v1:ConfigMap")
    options = {
        "protect": registration.protect,
        "delete_before_replace": registration.delete_before_replace,
        "retain_on_delete": registration.retain_on_delete,
        "replace_on_changes": registration.replace_on_changes,
    }
    wanted = {"protect": True, "delete_before_replace": True, "retain_on_delete": True, "replace_on_changes": ("data",)}
    assert options == wanted, _changed(f"the monitor sees {options}", 3, "pulumi/resource.py (register_resource)")
    assert f"urn:pulumi:probe::probe::{PROBE_PARENTS}::old-probe" in registration.aliases
    assert contains_secret(registration.inputs["data"])
    assert engine.is_secret(registration.outputs["metadata"]), "additionalSecretOutputs no longer marks the output"


def test_the_urn_carries_every_parent_type(probe: tuple[ProgramRun, Path]) -> None:
    registration = probe[0].one("kubernetes:core/v1:ConfigMap")
    assert registration.urn == f"urn:pulumi:probe::probe::{PROBE_PARENTS}::probe", _changed(
        f"MockMonitor.RegisterResource no longer asks make_urn: {registration.urn}", 3, "pulumi/runtime/mocks.py"
    )


def test_exports_their_secrecy_and_the_root_directory_are_read(probe: tuple[ProgramRun, Path]) -> None:
    run, directory = probe
    assert run.outputs == {"plain": "value", "hidden": "value", "root": str(directory)}, (
        f"{PULUMI}: the exports read are {run.outputs}. Exports: item 4 of harness/engine.py (pulumi/runtime/stack.py,"
        " Stack.output); the root directory: run_program in harness/doubles.py (set_mocks must keep what"
        " reset_options set, pulumi/runtime/mocks.py)."
    )
    assert run.secret_outputs == {"hidden"}, f"{PULUMI}: Output.is_secret no longer tells (harness/doubles.py)"


def _public() -> dict[str, set[str]]:
    """What each SDK module exports. `pulumi.runtime.rpc` is exported as a module, but its contents are the SDK's
    wire format: items 1 and 2 of harness/engine.py."""
    modules = ("pulumi", "pulumi.runtime", "pulumi.dynamic")
    return {module: set(importlib.import_module(module).__all__) - {"rpc"} for module in modules}


def _bad_imports(tree: ast.AST, public: dict[str, set[str]]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pulumi":
            allowed = public.get(node.module or "", set())
            found += [f"from {node.module} import {alias.name}" for alias in node.names if alias.name not in allowed]
        elif isinstance(node, ast.Import):
            found += [
                alias.name for alias in node.names if alias.name.startswith("pulumi.") and alias.name not in public
            ]
    return found


def _names_the_sdk(tree: ast.AST) -> bool:
    """Whether `pulumi` in this file is the SDK: imported, and no fixture or variable takes the name."""
    nodes = list(ast.walk(tree))
    imported = any(
        isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "pulumi" for alias in node.names)
        for node in nodes
    )
    rebound = any(
        (isinstance(node, ast.arg) and node.arg == "pulumi")
        or (isinstance(node, ast.Name) and node.id == "pulumi" and isinstance(node.ctx, ast.Store))
        for node in nodes
    )
    return imported and not rebound


def _bad_attributes(tree: ast.AST, public: dict[str, set[str]]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and ast.unparse(node).startswith("pulumi."):
            module, _, name = ast.unparse(node).partition("(")[0].rpartition(".")
            private = name.startswith("_") and not name.startswith("__")
            if private or (module in public and name not in public[module]):
                found.append(ast.unparse(node))
    return found


def _violations(path: Path, public: dict[str, set[str]]) -> list[str]:
    """Where a file reaches into the SDK's internals: names its modules do not export, or underscored ones."""
    tree = ast.parse(path.read_text())
    found = _bad_imports(tree, public) + (_bad_attributes(tree, public) if _names_the_sdk(tree) else [])
    return [f"{path.relative_to(PROJECT_DIR)}: {item}" for item in found]


def test_nothing_else_touches_pulumi_internals() -> None:
    exempt = {ENGINE, Path(__file__).resolve()}
    roots = ["harness", "tests", "bench", "examples/consumer/tests"]
    paths = [path for root in roots for path in sorted((PROJECT_DIR / root).rglob("*.py")) if path not in exempt]
    public = _public()
    violations = [item for path in paths for item in _violations(path, public)]
    assert not violations, f"SDK internals outside harness/engine.py (move them there, with why): {violations}"
