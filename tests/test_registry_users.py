"""RegistryUsers: bcrypt hashes that verify, cost by the password's source, each computed once and kept in state."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import bcrypt

from components.registry_stack import docker_config_json
from harness.accounts import front_accounts, htpasswd_file
from harness.doubles import FaithfulMocks, ProgramRun, contains_secret, dev_config, run_program
from tests.conftest import PROJECT_DIR, RunProgram

HASH_TYPE = "pulumi-python:dynamic/image-registry:PasswordHash"
SUPPLIED = [{"name": "ci", "password": "first-Passw0rd"}, {"name": "robot", "password": "second-Passw0rd"}]
# No user of the config may only pull: the stack adds one, with a password of its own.
PULL_USER = "image-registry-pull"


def run_users(users: list[dict[str, str]], mocks: FaithfulMocks, **extra: object) -> ProgramRun:
    config = {**dev_config(), "image-registry:users": json.dumps(users)}
    config |= {f"image-registry:{key}": json.dumps(value) for key, value in extra.items()}
    return run_program(config, mocks, secret_keys=["image-registry:users"])


def hashes_created(mocks: FaithfulMocks) -> list[str]:
    return [name for typ, name in mocks.created if typ == HASH_TYPE]


def test_docker_config_json() -> None:
    document = json.loads(docker_config_json(["a.example.com", "svc.ns.svc.cluster.local:5000"], "ci", "pw"))
    assert set(document["auths"]) == {"a.example.com", "svc.ns.svc.cluster.local:5000"}
    entry = document["auths"]["a.example.com"]
    assert entry == {"username": "ci", "password": "pw", "auth": base64.b64encode(b"ci:pw").decode()}


def test_a_generated_password_is_hashed_at_the_minimum_cost(dev_run: ProgramRun) -> None:
    accounts = front_accounts(dev_run)
    assert list(accounts) == ["registry", PULL_USER]
    password = dev_run.outputs["password"]
    assert len(password) == 32
    assert {hashed[:7] for hashed in accounts.values()} == {"$2b$04$"}
    assert bcrypt.checkpw(password.encode(), accounts["registry"].encode())
    assert not bcrypt.checkpw(password.upper().encode(), accounts["registry"].encode())
    assert not bcrypt.checkpw(password.encode(), accounts[PULL_USER].encode())
    generated = dev_run.named("random:index/randomPassword:RandomPassword", "image-registry-users-registry-password")
    assert generated.plain_outputs["result"] == password


def test_supplied_passwords_are_hashed_at_bcrypt_cost(run_with: RunProgram) -> None:
    run = run_with(users=SUPPLIED, bcryptCost=12, secret_keys=["image-registry:users"])
    accounts = front_accounts(run)
    assert list(accounts) == ["ci", "robot", PULL_USER]
    for user in SUPPLIED:
        assert accounts[user["name"]].startswith("$2b$12$")
        assert bcrypt.checkpw(user["password"].encode(), accounts[user["name"]].encode())
    (generated,) = run.of_type("random:index/randomPassword:RandomPassword")
    assert generated.name == f"image-registry-users-{PULL_USER}-password"
    assert accounts[PULL_USER].startswith("$2b$04$")
    assert run.outputs["username"] == "ci"
    assert run.outputs["password"] == "first-Passw0rd"


def test_mixed_users_each_get_their_own_salt_and_cost() -> None:
    users = [{"name": "ci", "password": "same-Passw0rd"}, {"name": "ops", "password": "same-Passw0rd"}, {"name": "bot"}]
    accounts = front_accounts(run_users(users, FaithfulMocks(), bcryptCost=6))
    assert accounts["ci"] != accounts["ops"]
    assert {accounts["ci"][:7], accounts["ops"][:7]} == {"$2b$06$"}
    assert accounts["bot"].startswith("$2b$04$")


def test_apache_htpasswd_accepts_the_hashes(dev_run: ProgramRun, tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_file(front_accounts(dev_run)))
    password = dev_run.outputs["password"]
    good = subprocess.run(["htpasswd", "-vb", str(path), "registry", password], capture_output=True, check=False)
    bad = subprocess.run(["htpasswd", "-vb", str(path), "registry", "wrong"], capture_output=True, check=False)
    assert good.returncode == 0
    assert bad.returncode != 0


def test_the_hash_and_its_password_are_secret_in_state(dev_run: ProgramRun) -> None:
    for password_hash in dev_run.of_type(HASH_TYPE):
        assert contains_secret(password_hash.inputs["password"])
        assert contains_secret(password_hash.outputs["hash"])
        assert contains_secret(password_hash.outputs["password"])
        assert password_hash.resource_id
        assert password_hash.plain_inputs["password"] not in password_hash.resource_id


def test_an_unchanged_rerun_hashes_nothing_and_keeps_every_hash() -> None:
    users = [{"name": f"user{index}", "password": f"Passw0rd-of-user-{index}"} for index in range(20)]
    mocks = FaithfulMocks()
    first = run_users(users, mocks)
    assert len(hashes_created(mocks)) == 21
    second = run_users(users, mocks)
    assert len(hashes_created(mocks)) == 21, "an unchanged re-run hashed again"
    assert front_accounts(first) == front_accounts(second)


def test_a_new_password_rehashes_that_user_alone_with_a_new_salt() -> None:
    mocks = FaithfulMocks()
    before = front_accounts(run_users(SUPPLIED, mocks))
    changed = [SUPPLIED[0], {"name": "robot", "password": "third-Passw0rd"}]
    after = front_accounts(run_users(changed, mocks))
    assert hashes_created(mocks)[3:] == ["image-registry-users-robot-hash"]
    assert after["ci"] == before["ci"]
    assert bcrypt.checkpw(b"third-Passw0rd", after["robot"].encode())


def test_a_new_cost_rehashes_the_supplied_passwords_only() -> None:
    users = [*SUPPLIED, {"name": "bot"}]
    mocks = FaithfulMocks()
    before = front_accounts(run_users(users, mocks, bcryptCost=5))
    after = front_accounts(run_users(users, mocks, bcryptCost=6))
    assert sorted(hashes_created(mocks)[4:]) == ["image-registry-users-ci-hash", "image-registry-users-robot-hash"]
    assert {after["ci"][:7], after["robot"][:7]} == {"$2b$06$"}
    assert after["bot"] == before["bot"]
    assert after[PULL_USER] == before[PULL_USER]


def test_the_engine_host_loads_the_provider_from_the_project_directory(dev_run: ProgramRun) -> None:
    """What `python -m pulumi.dynamic` does with the state's `__provider`: unpickle it in a fresh
    interpreter started in the project directory, then create."""
    password_hash, _ = dev_run.of_type(HASH_TYPE)
    serialized = password_hash.plain_inputs["__provider"]
    script = (
        "import base64, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "print(type(provider).__module__, provider.create({'password': 'Passw0rd', 'cost': 4}).outs['hash'])\n"
    )
    created = subprocess.run(
        [sys.executable, "-c", script], input=serialized, cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    module, hashed = created.stdout.split()
    assert module == "components.password_hash"
    assert bcrypt.checkpw(b"Passw0rd", hashed.encode())


def test_stacks_made_before_the_rename_keep_the_users_and_their_hashes(dev_run: ProgramRun) -> None:
    # The component was HtpasswdSecret: without its alias, `pulumi up` would replace every password and hash.
    old = "urn:pulumi:dev::image-registry::image-registry:index:RegistryStack$image-registry:index:HtpasswdSecret"
    (users,) = dev_run.of_type("image-registry:index:RegistryUsers")
    assert f"{old}::image-registry-users" in users.aliases
    children = {
        "random:index/randomPassword:RandomPassword": "image-registry-users-registry-password",
        HASH_TYPE: "image-registry-users-registry-hash",
    }
    for type_token, name in children.items():
        registration = dev_run.named(type_token, name)
        assert f"{old}${type_token}::{name}" in registration.aliases, type_token
