"""A mirror's upstream password set with the real CLI, as the docs type it: what the engine then holds secret.

`pulumi config set --secret --path 'mirrors[0].password' …` writes one `secure:` leaf and makes the whole
`mirrors` key secret (the engine hands the program that key in PULUMI_CONFIG_SECRET_KEYS): the settings
take the config as `pulumi config --json` says the engine holds it, and the stack file as it is written.
No cluster: the toolchain's CLI and a file backend only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import SettingsError, parse_settings
from components.settings.source import plain_leaves
from harness.pulumi_engine import PROJECT_DIR, PulumiCli, Stack

pytestmark = pytest.mark.real_engine

TOKEN = "dckr_pat_Upstream-T0ken-7"


@pytest.fixture
def stack(toolchain: Path, tmp_path: Path) -> Stack:
    directory = tmp_path / "project"
    directory.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", directory / "Pulumi.yaml")
    created = Stack(PulumiCli(bin_dir=toolchain, home=tmp_path / "cli"), directory, "mirrors").init()
    created.set("hostnames[0]", "registry.example.com")
    created.set("mirrors[0].upstream", "docker.io")
    created.set("mirrors[0].username", "bot")
    created.pulumi("config", "set", "--secret", "--path", "mirrors[0].password", TOKEN)
    # A key set after the secret leaf stays in the secret key.
    created.set("mirrors[1].upstream", "ghcr.io")
    return created


def engine_view(stack: Stack) -> tuple[dict[str, str], set[str], frozenset[str]]:
    """The config as the engine hands it to the program (text per key, the secret keys), and the stack file's
    plain leaves."""
    config: dict[str, Any] = json.loads(stack.pulumi("config", "--json", "--show-secrets").stdout)
    ours = {key.removeprefix("image-registry:"): item for key, item in config.items()}
    raw = {key: str(item["value"]) for key, item in ours.items()}
    secret = {key for key, item in ours.items() if item["secret"]}
    stack_file = yaml.safe_load((stack.directory / f"Pulumi.{stack.name}.yaml").read_text())
    return raw, secret, plain_leaves(stack_file["config"])


def test_a_secret_mirror_password_makes_the_whole_key_secret_and_reaches_the_settings(stack: Stack) -> None:
    stack_file = (stack.directory / f"Pulumi.{stack.name}.yaml").read_text()
    assert TOKEN not in stack_file
    assert "secure:" in stack_file
    raw, secret, plain = engine_view(stack)
    assert secret == {"mirrors"}
    assert "mirrors[0].password" not in plain
    settings = parse_settings(raw, secret_keys=secret, plain_leaves=plain)
    assert [(mirror.upstream, mirror.username, mirror.password) for mirror in settings.mirrors] == [
        ("docker.io", "bot", TOKEN),
        ("ghcr.io", None, None),
    ]


def test_a_plain_password_beside_the_secret_one_is_refused_hidden(stack: Stack) -> None:
    stack.set("mirrors[1].username", "bot")
    stack.set("mirrors[1].password", "Plain-T0ken-8")
    raw, secret, plain = engine_view(stack)
    assert secret == {"mirrors"}
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, secret_keys=secret, plain_leaves=plain)
    (problem,) = caught.value.problems
    assert problem.startswith("image-registry:mirrors[1].password: (value hidden) is not allowed; allowed: a secret")
    assert "Plain-T0ken-8" not in problem
    assert TOKEN not in problem
