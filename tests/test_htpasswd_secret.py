"""HtpasswdSecret: bcrypt entries that verify, and that stay the same across runs."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import bcrypt
import pytest

from components.htpasswd_secret import htpasswd_line
from components.registry_stack import docker_config_json
from tests.conftest import RunProgram
from tests.doubles import ProgramRun, contains_secret


def htpasswd_of(run: ProgramRun) -> str:
    secret = next(item for item in run.of_type("kubernetes:core/v1:Secret") if item.name.endswith("-htpasswd"))
    assert contains_secret(secret.inputs["stringData"])
    text: str = secret.plain_inputs["stringData"]["htpasswd"]
    return text


def entries(text: str) -> dict[str, str]:
    assert text.endswith("\n")
    return dict(line.split(":", 1) for line in text.splitlines())


def test_line_is_bcrypt_and_verifies() -> None:
    line = htpasswd_line("registry", "Passw0rd", bytes(range(16)), 10)
    user, hashed = line.split(":", 1)
    assert user == "registry"
    assert hashed.startswith("$2b$10$")
    assert bcrypt.checkpw(b"Passw0rd", hashed.encode())
    assert not bcrypt.checkpw(b"passw0rd", hashed.encode())


def test_same_salt_same_line_other_salt_other_line() -> None:
    salt = bytes(range(16))
    assert htpasswd_line("u", "p", salt, 4) == htpasswd_line("u", "p", salt, 4)
    assert htpasswd_line("u", "p", salt, 4) != htpasswd_line("u", "p", bytes(16), 4)
    with pytest.raises(ValueError, match="16 bytes"):
        htpasswd_line("u", "p", bytes(15), 4)


def test_apache_htpasswd_accepts_the_line(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_line("registry", "Passw0rd", bytes(range(16)), 5) + "\n")
    good = subprocess.run(["htpasswd", "-vb", str(path), "registry", "Passw0rd"], capture_output=True, check=False)
    bad = subprocess.run(["htpasswd", "-vb", str(path), "registry", "wrong"], capture_output=True, check=False)
    assert good.returncode == 0
    assert bad.returncode != 0


def test_docker_config_json() -> None:
    document = json.loads(docker_config_json(["a.example.com", "svc.ns.svc.cluster.local:5000"], "ci", "pw"))
    assert set(document["auths"]) == {"a.example.com", "svc.ns.svc.cluster.local:5000"}
    entry = document["auths"]["a.example.com"]
    assert entry == {"username": "ci", "password": "pw", "auth": base64.b64encode(b"ci:pw").decode()}


def test_generated_password_verifies(dev_run: ProgramRun) -> None:
    lines = entries(htpasswd_of(dev_run))
    assert list(lines) == ["registry"]
    password = dev_run.outputs["password"]
    assert len(password) == 32
    assert lines["registry"].startswith("$2b$10$")
    assert bcrypt.checkpw(password.encode(), lines["registry"].encode())
    generated = dev_run.one("random:index/randomPassword:RandomPassword")
    assert generated.plain_outputs["result"] == password


def test_supplied_passwords_verify_and_none_is_generated(run_with: RunProgram) -> None:
    users = [{"name": "ci", "password": "first-Passw0rd"}, {"name": "robot", "password": "second-Passw0rd"}]
    run = run_with(users=users, bcryptCost=12, secret_keys=["image-registry:users"])
    lines = entries(htpasswd_of(run))
    assert list(lines) == ["ci", "robot"]
    for user in users:
        assert lines[user["name"]].startswith("$2b$12$")
        assert bcrypt.checkpw(user["password"].encode(), lines[user["name"]].encode())
    assert run.of_type("random:index/randomPassword:RandomPassword") == []
    assert run.outputs["username"] == "ci"
    assert run.outputs["password"] == "first-Passw0rd"


def test_mixed_users_each_get_their_own_salt(run_with: RunProgram) -> None:
    run = run_with(
        secret_keys=["image-registry:users"],
        users=[
            {"name": "ci", "password": "same-Passw0rd"},
            {"name": "ops", "password": "same-Passw0rd"},
            {"name": "bot"},
        ],
    )
    lines = entries(htpasswd_of(run))
    assert lines["ci"] != lines["ops"]
    assert len(run.of_type("random:index/randomBytes:RandomBytes")) == 3 + 1  # a salt per user, the HTTP secret
    assert len(run.of_type("random:index/randomPassword:RandomPassword")) == 1
