"""Stack config through the real CLI: a secret password set as the README types it, and bad config stopped
before anything exists, every problem in one message."""

from __future__ import annotations

import bcrypt
import pytest

from tests.real_engine import Cluster, Deploy
from tests.test_real_engine_stack import front_accounts

pytestmark = pytest.mark.real_engine

ALICE_PASSWORD = "correct horse battery staple 7"


def test_a_secret_password_set_with_the_cli_reaches_the_front(deploy: Deploy, control_plane: Cluster) -> None:
    stack = deploy("secrets", {"namespace": "secrets", "hostnames[0]": "secrets.example.com"}, up=False)
    # As the README types it.
    stack.pulumi("config", "set", "--path", "users[0].name", "ci")
    stack.pulumi("config", "set", "--path", "users[1].name", "alice")
    stack.pulumi("config", "set", "--path", "users[1].access", "admin")
    stack.pulumi("config", "set", "--secret", "--path", "users[1].password", ALICE_PASSWORD)
    stack_file = (stack.directory / "Pulumi.secrets.yaml").read_text()
    assert ALICE_PASSWORD not in stack_file
    assert "secure:" in stack_file
    stack.up()
    assert ALICE_PASSWORD not in stack.export()
    hashed = front_accounts(control_plane, "secrets")["alice"]
    assert bcrypt.checkpw(ALICE_PASSWORD.encode(), hashed.encode())


def test_bad_config_stops_the_cli_before_anything_is_created(deploy: Deploy, control_plane: Cluster) -> None:
    stack = deploy("broken", {"namespace": "broken", "hostnames[0]": "image_registry.example.com"}, up=False)
    stack.pulumi("config", "set", "replicas", "0")
    stack.pulumi("config", "set", "--path", "storage.type", "nfs")
    attempt = stack.up(check=False)
    assert attempt.returncode != 0
    assert "invalid stack config (3 problems)" in attempt.output
    for key in ("image-registry:hostnames[0]", "image-registry:replicas", "image-registry:storage.type"):
        assert key in attempt.output
    created = [resource["type"] for resource in stack.resources()]
    assert set(created) <= {"pulumi:pulumi:Stack"}, created
    assert not control_plane.kubectl.exists("namespace", "broken")
