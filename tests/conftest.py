"""Shared fixtures: runs of the program under the faithful doubles."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Pulumi runs __main__.py from the project directory; its imports expect that.
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from harness.doubles import FaithfulMocks, ProgramRun, dev_config, run_program  # noqa: E402
from harness.e2e import Registry, running_registry  # noqa: E402

RunProgram = Callable[..., ProgramRun]


@pytest.fixture(scope="session")
def dev_mocks() -> FaithfulMocks:
    return FaithfulMocks()


@pytest.fixture(scope="session")
def dev_run(dev_mocks: FaithfulMocks) -> ProgramRun:
    """One `pulumi up` of the dev stack (Pulumi.dev.yaml), shared by read-only tests."""
    return run_program(dev_config(), dev_mocks)


@pytest.fixture(scope="session")
def run_with() -> RunProgram:
    """Run the program on the dev config with some keys replaced (objects given as Python values)."""

    def run(
        mocks: FaithfulMocks | None = None, secret_keys: list[str] | None = None, **overrides: object
    ) -> ProgramRun:
        config = dev_config()
        for key, value in overrides.items():
            full_key = f"image-registry:{key}"
            if value is None:
                config.pop(full_key, None)
            else:
                config[full_key] = value if isinstance(value, str) else json.dumps(value)
        return run_program(config, mocks, secret_keys=secret_keys)

    return run


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The dev stack's pod running in the sandbox, one for each test module that asks (a module may define its
    own `registry` for other settings)."""
    mocks = FaithfulMocks()
    run = run_program(dev_config(), mocks)
    with running_registry(run, mocks, tmp_path_factory.mktemp("pod")) as running:
        yield running


# The real engine (tests marked `real_engine`): the toolchain's Pulumi CLI and providers against its control plane.
from tests.real_engine import control_plane, converged_dev_stack, deploy, pulumi_cli, toolchain  # noqa: E402,F401
