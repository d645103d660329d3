"""PullSecrets: a dockerconfigjson Secret in each namespace that asks, with credentials the registry accepts."""

from __future__ import annotations

import base64
import json

import bcrypt
import pytest

from components.settings import SettingsError, parse_settings
from harness.accounts import front_accounts
from harness.doubles import ProgramRun, contains_secret
from harness.program_run import secret_data
from tests.conftest import RunProgram


def test_none_by_default(dev_run: ProgramRun) -> None:
    assert dev_run.outputs["pullSecrets"] == {}
    assert not [item for item in dev_run.manifests() if item.get("type") == "kubernetes.io/dockerconfigjson"]


def test_a_pull_secret_in_every_namespace_listed(run_with: RunProgram) -> None:
    run = run_with(pullSecretNamespaces=["ci", "apps"])
    assert run.outputs["pullSecrets"] == {"ci": "image-registry-pull", "apps": "image-registry-pull"}
    pulls = [item for item in run.manifests() if item.get("type") == "kubernetes.io/dockerconfigjson"]
    assert sorted(item["metadata"]["namespace"] for item in pulls) == ["apps", "ci"]
    lines = front_accounts(run)
    for pull in pulls:
        assert pull["metadata"]["name"] == "image-registry-pull"
        document = json.loads(secret_data(pull)[".dockerconfigjson"])
        # The pull-only user's credentials: a pull Secret copied anywhere cannot push.
        assert document == json.loads(run.outputs["pullDockerConfigJson"])
        for auth in document["auths"].values():
            user, password = base64.b64decode(auth["auth"]).decode().split(":", 1)
            assert user == "image-registry-pull"
            assert bcrypt.checkpw(password.encode(), lines[user].encode())
    for registration in run.of_type("kubernetes:core/v1:Secret"):
        if registration.plain_inputs.get("type") == "kubernetes.io/dockerconfigjson":
            assert contains_secret(registration.inputs["stringData"])
            assert registration.delete_before_replace


def test_each_namespace_once() -> None:
    with pytest.raises(SettingsError, match=r"pullSecretNamespaces\[1\]: .* each namespace once"):
        parse_settings({"hostnames": '["r.example.com"]', "pullSecretNamespaces": '["ci", "ci"]'})
