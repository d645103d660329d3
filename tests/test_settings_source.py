"""Where settings come from: the engine's config as the CLI passes it, and the stack file's `secure:` leaves."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.settings import SettingsError, parse_settings
from components.settings.source import plain_leaves
from harness.doubles import ProgramRun, dev_config, run_program

PROJECT_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "Cli-Channel-Passw0rd"


def run_as_the_cli(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, str], secret_keys: list[str], root: Path = PROJECT_DIR
) -> ProgramRun:
    """The Python language host's way: PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS, nothing in-process."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(secret_keys))
    return run_program({}, root_directory=root)


def with_password(password: str = PASSWORD) -> dict[str, str]:
    config = dev_config()
    config["image-registry:users"] = json.dumps([{"name": "registry", "password": password}])
    return config


def test_the_cli_channel_accepts_a_secret_password(monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_as_the_cli(monkeypatch, with_password(), ["image-registry:users"])
    assert run.outputs["password"] == PASSWORD
    assert "password" in run.secret_outputs


def test_the_cli_channel_refuses_a_plain_password_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_as_the_cli(monkeypatch, with_password(), [])
    assert "image-registry:users[0].password: (value hidden)" in str(caught.value)
    assert PASSWORD not in str(caught.value)


MIRROR_PASSWORD = "Upstream-T0ken-Passw0rd"


def with_mirror_password(password: str = MIRROR_PASSWORD) -> dict[str, str]:
    """What `pulumi config set --secret --path 'mirrors[0].password' …` hands the program: the whole key."""
    config = dev_config()
    config["image-registry:mirrors"] = json.dumps([{"upstream": "docker.io", "username": "bot", "password": password}])
    return config


def test_the_cli_channel_accepts_a_secret_mirror_password_and_outputs_it_nowhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = run_as_the_cli(monkeypatch, with_mirror_password(), ["image-registry:mirrors"])
    assert run.outputs["registryHost"] == "image-registry.8-mega.internal"
    assert MIRROR_PASSWORD not in json.dumps(run.outputs, default=str)


def test_the_cli_channel_refuses_a_plain_mirror_password_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_as_the_cli(monkeypatch, with_mirror_password(), [])
    assert "image-registry:mirrors[0].password: (value hidden)" in str(caught.value)
    assert "--path 'mirrors[0].password'" in str(caught.value)
    assert MIRROR_PASSWORD not in str(caught.value)


def test_the_cli_channel_reads_plain_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    config = dev_config()
    config["image-registry:namespace"] = "registry-system"
    run = run_as_the_cli(monkeypatch, config, [])
    assert run.outputs["namespace"] == "registry-system"
    assert run.outputs["hostnames"] == ["image-registry.8-mega.internal", "image-registry.8-mega.example.com"]


def test_the_cli_channel_refuses_unknown_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    config = dev_config()
    config["image-registry:hostname"] = '["typo.example.com"]'
    with pytest.raises(pulumi.RunError, match=r"image-registry:hostname: is not a config key"):
        run_as_the_cli(monkeypatch, config, [])


@pytest.fixture
def stack_file(tmp_path: Path) -> Path:
    """A project directory of its own (the program finds Pulumi.<stack>.yaml beside Pulumi.yaml)."""
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    return tmp_path / "Pulumi.dev.yaml"


def test_one_secret_password_does_not_let_a_plain_one_through(
    stack_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `users` holds one secure leaf, so Pulumi lists the whole key as secret: the file says which leaf is plain.
    stack_file.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "image-registry:hostnames": ["registry.example.com"],
                    "image-registry:users": [
                        {"name": "ci", "password": {"secure": "v1:AAAA"}},
                        {"name": "ops", "password": "plain-Passw0rd"},
                    ],
                }
            }
        )
    )
    config = dev_config()
    config["image-registry:users"] = json.dumps(
        [{"name": "ci", "password": "decrypted-Passw0rd"}, {"name": "ops", "password": "plain-Passw0rd"}]
    )
    with pytest.raises(pulumi.RunError) as caught:
        run_as_the_cli(monkeypatch, config, ["image-registry:users"], root=stack_file.parent)
    message = str(caught.value)
    assert "image-registry:users[1].password: (value hidden)" in message
    assert "users[0]" not in message
    assert "Passw0rd" not in message


def test_one_secret_mirror_password_does_not_let_a_plain_one_through(
    stack_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the CLI writes it: `pulumi config set --secret --path 'mirrors[0].password'` makes `mirrors` secret.
    mirrors: list[dict[str, Any]] = [
        {"upstream": "docker.io", "username": "bot", "password": {"secure": "v1:AAAA"}},
        {"upstream": "ghcr.io", "username": "bot", "password": "plain-Passw0rd"},
    ]
    stack_file.write_text(yaml.safe_dump({"config": {"image-registry:mirrors": mirrors}}))
    config = dev_config()
    config["image-registry:mirrors"] = json.dumps([{**mirrors[0], "password": "decrypted-Passw0rd"}, mirrors[1]])
    with pytest.raises(pulumi.RunError) as caught:
        run_as_the_cli(monkeypatch, config, ["image-registry:mirrors"], root=stack_file.parent)
    message = str(caught.value)
    assert "image-registry:mirrors[1].password: (value hidden)" in message
    assert "mirrors[0]" not in message
    assert "Passw0rd" not in message


def test_the_stack_file_is_found_through_stack_config_dir(stack_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = yaml.safe_load(stack_file.with_name("Pulumi.yaml").read_text())
    stack_file.with_name("Pulumi.yaml").write_text(yaml.safe_dump({**project, "stackConfigDir": "stacks"}))
    (stack_file.parent / "stacks").mkdir()
    (stack_file.parent / "stacks" / "Pulumi.dev.yaml").write_text(
        yaml.safe_dump({"config": {"image-registry:users": [{"name": "a", "password": "plain-Passw0rd"}]}})
    )
    config = with_password("plain-Passw0rd")
    with pytest.raises(pulumi.RunError, match=r"users\[0\]\.password: \(value hidden\)"):
        run_as_the_cli(monkeypatch, config, ["image-registry:users"], root=stack_file.parent)


@pytest.mark.parametrize(
    ("users", "plain"),
    [
        pytest.param([{"name": "a", "password": {"secure": "v1:x"}}], {"users[0].name"}, id="secure"),
        pytest.param(
            [{"name": "a"}, {"name": "b", "password": "p"}],
            {"users[0].name", "users[1].name", "users[1].password"},
            id="second-plain",
        ),
        pytest.param({"secure": "v1:whole-key"}, set(), id="whole-key-secure"),
        pytest.param([{"name": "a", "password": None}], {"users[0].name"}, id="null-is-no-password"),
        pytest.param(
            [{"name": "a", "password": {"secure": "v1:x", "extra": 1}}],
            {"users[0].name", "users[0].password.secure", "users[0].password.extra"},
            id="not-a-secure-value",
        ),
    ],
)
def test_plain_leaves(users: object, plain: set[str]) -> None:
    config = {"image-registry:users": users, "kubernetes:context": "not ours"}
    assert plain_leaves(config) == plain


def test_plain_leaves_of_mirrors() -> None:
    mirrors = [{"upstream": "docker.io", "username": "bot", "password": {"secure": "v1:x"}}, {"upstream": "ghcr.io"}]
    assert plain_leaves({"image-registry:mirrors": mirrors}) == {
        "mirrors[0].upstream",
        "mirrors[0].username",
        "mirrors[1].upstream",
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("storage", {"sise": "Secret-Value-1"}, id="unknown-key-in-secret-object"),
        pytest.param("storage", {"size": "Secret-Value-1"}, id="bad-value-in-secret-object"),
        pytest.param("tls", {"organization": "Secret-Value-1" * 10}, id="too-long"),
        pytest.param("hostnames", ["Secret-Value-1"], id="secret-list"),
        pytest.param("image", "Secret-Value-1", id="secret-scalar"),
        pytest.param("ingress", "Secret-Value-1", id="secret-not-json"),
    ],
)
def test_no_value_of_a_secret_key_is_ever_echoed(key: str, value: object) -> None:
    raw = {"hostnames": '["registry.example.com"]', key: value if isinstance(value, str) else json.dumps(value)}
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, secret_keys={key})
    assert "Secret-Value-1" not in str(caught.value)
    assert f"image-registry:{key}" in str(caught.value)
    assert "(value hidden)" in str(caught.value)


def test_the_program_uses_only_public_pulumi_apis() -> None:
    """No private SDK internals (such as pulumi.runtime.config._SECRET_KEYS): they change without notice."""
    for path in [PROJECT_DIR / "__main__.py", *(PROJECT_DIR / "components").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                assert not ast.unparse(node).startswith("pulumi"), f"{path.name}: {ast.unparse(node)}"
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi"):
                assert not any(alias.name.startswith("_") for alias in node.names), f"{path.name}: {node.module}"
                assert "runtime.config" not in (node.module or ""), f"{path.name}: {node.module}"
