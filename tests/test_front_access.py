"""Who may do what at the front: the claimed user read before any bcrypt check, each user's role and repositories."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from components.settings import User, parse_settings
from components.workload.front_access import (
    caddy_literal,
    claim_handlers,
    credentials_pattern,
    repository_pattern,
    user_routes,
)
from tests.conftest import RunProgram
from tests.front_routes import PASSED, caddy_config, decide, server, user_rules

USERS = [
    {"name": "reader", "access": "pull"},
    {"name": "ci", "access": "push"},
    {"name": "ops", "access": "admin"},
    {"name": "team-a-ci", "repositories": ["team-a/*", "utils/busybox"]},
]
DIGEST = "sha256:" + "a" * 64
READS = [
    ("GET", "/v2/"),
    ("GET", "/v2/utils/busybox/manifests/latest"),
    ("HEAD", f"/v2/utils/busybox/manifests/{DIGEST}"),
    ("GET", f"/v2/utils/busybox/blobs/{DIGEST}"),
    ("GET", "/v2/utils/busybox/tags/list"),
    ("GET", f"/v2/utils/busybox/referrers/{DIGEST}"),
]
WRITES = [
    ("POST", "/v2/utils/busybox/blobs/uploads/"),
    ("PATCH", "/v2/utils/busybox/blobs/uploads/0b5e2f4c-7d0a-4c9e-8f0b-3c1d2e4f5a6b"),
    ("PUT", "/v2/utils/busybox/blobs/uploads/0b5e2f4c-7d0a-4c9e-8f0b-3c1d2e4f5a6b"),
    ("GET", "/v2/utils/busybox/blobs/uploads/0b5e2f4c-7d0a-4c9e-8f0b-3c1d2e4f5a6b"),
    ("DELETE", "/v2/utils/busybox/blobs/uploads/0b5e2f4c-7d0a-4c9e-8f0b-3c1d2e4f5a6b"),
    ("PUT", "/v2/utils/busybox/manifests/latest"),
]
DELETES = [("DELETE", f"/v2/utils/busybox/manifests/{DIGEST}"), ("DELETE", f"/v2/utils/busybox/blobs/{DIGEST}")]


@pytest.fixture(scope="module")
def config(run_with: RunProgram) -> dict[str, Any]:
    return caddy_config(run_with(users=USERS, storage={"deleteEnabled": True}))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("user", ["registry", "a", "ab", "abc", "ci-user", "x{y}", "d$1", "üser", "a.b@c"])
def test_the_claim_is_the_user_the_credentials_name_and_no_other(user: str) -> None:
    claims = re.compile(credentials_pattern(user))
    for password in ["", "p", "pa", "pas", "Passw0rd-2026", "ä" * 36, "x" * 72]:
        assert claims.match(basic(user, password)), (user, len(password))
        assert claims.match("bAsIc " + basic(user, password)[6:]), "Go takes any case of the scheme"
    for other in ["registr", f"{user}x", user.upper(), "nobody", user[:-1] or "z"]:
        if other != user:
            assert not claims.match(basic(other, "Passw0rd-2026")), other
    # Credentials longer than bcrypt can hash (72 bytes) belong to no account: refused before any check.
    assert not claims.match(basic(user, "x" * 73))
    assert not claims.match(basic(user, "x" * 700_000))
    # Two Authorization headers reach the matcher joined by ",": Go would read the first, so neither counts.
    assert not claims.match(f"{basic(user, 'a')},{basic('nobody', 'b')}")
    assert not claims.match(f"Basic  {basic(user, 'a')[6:]}")


def test_an_unknown_claim_is_refused_before_authentication(config: dict[str, Any]) -> None:
    routes = server(config)["routes"]
    handlers = [handler["handler"] for route in routes for handler in route["handle"]]
    claim = handlers.index("map")
    (refusal,) = [
        index for index, route in enumerate(routes) if route.get("match") == [{"vars": {"claimed_user": [""]}}]
    ]
    (authentication,) = [
        index for index, route in enumerate(routes) if route["handle"][0]["handler"] == "authentication"
    ]
    assert claim < refusal < authentication
    refused = routes[refusal]["handle"][0]
    assert refused["status_code"] == 401
    assert refused["headers"]["WWW-Authenticate"] == ['Basic realm="image-registry"']
    (mapping,) = [handler for route in routes for handler in route["handle"] if handler["handler"] == "map"][:1]
    users = [item["outputs"][0] for item in mapping["mappings"]]
    # "reader" may only pull: it is the pull-only user, none is generated.
    assert users == ["reader", "ci", "ops", "team-a-ci"]
    assert mapping["defaults"] == [""]


def test_names_reach_caddy_as_written() -> None:
    # Caddy expands placeholders in account names and in matcher values; a regexp template expands "$1".
    assert caddy_literal("{env.HOME}") == "\\{env.HOME\\}"
    config_users = [{"name": "d$1"}, {"name": "{env.HOME}"}]
    settings = parse_settings({"hostnames": '["r.example.com"]', "users": json.dumps(config_users)})
    mapping, _ = claim_handlers(settings.registry_users)
    assert [item["outputs"] for item in mapping["mappings"]][:2] == [["d$$1"], ["{env.HOME}"]]
    matched = user_routes(settings.registry_users[1])["match"][0]["vars"]["{http.auth.user.id}"]
    assert matched == ["\\{env.HOME\\}"]


@pytest.mark.parametrize(("method", "path"), READS)
def test_every_role_reads(config: dict[str, Any], method: str, path: str) -> None:
    for user in ("reader", "ci", "ops", "team-a-ci"):
        assert decide(config, user, method, path) == PASSED, user


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_pull_users_never_write(config: dict[str, Any], method: str, path: str) -> None:
    assert decide(config, "reader", method, path) == 403
    assert decide(config, "ci", method, path) == PASSED
    assert decide(config, "ops", method, path) == PASSED


@pytest.mark.parametrize(("method", "path"), DELETES)
def test_only_admins_delete(config: dict[str, Any], method: str, path: str) -> None:
    assert decide(config, "ops", method, path) == PASSED
    for user in ("reader", "ci", "team-a-ci"):
        assert decide(config, user, method, path) == 403, user


def test_the_catalog_only_for_users_of_every_repository(config: dict[str, Any]) -> None:
    for user in ("reader", "ci", "ops"):
        assert decide(config, user, "GET", "/v2/_catalog") == PASSED
    # It would name other teams' repositories: refused, not filtered.
    assert decide(config, "team-a-ci", "GET", "/v2/_catalog") == 403


@pytest.mark.parametrize(
    ("repository", "allowed"),
    [
        ("team-a/app", True),
        ("team-a/app/api", True),
        ("utils/busybox", True),
        ("team-a", False),
        ("team-ab/app", False),
        ("team-b/app", False),
        ("utils/busybox-extra", False),
        ("utils", False),
        ("x/team-a/app", False),
    ],
)
def test_a_scoped_user_stays_in_its_repositories(config: dict[str, Any], repository: str, allowed: bool) -> None:
    expected = PASSED if allowed else 403
    for method, path in [*READS[1:], *WRITES]:
        assert decide(config, "team-a-ci", method, path.replace("utils/busybox", repository)) == expected, path


def test_no_method_or_path_outside_the_api(config: dict[str, Any]) -> None:
    for method, path in [
        ("OPTIONS", "/v2/"),
        ("GET", "/v2"),
        ("GET", "/v2/utils/busybox/other/latest"),
        ("PUT", f"/v2/utils/busybox/blobs/{DIGEST}"),
        ("POST", "/v2/utils/busybox/manifests/latest"),
        ("GET", "/debug/pprof/"),
        ("GET", "/metrics"),
    ]:
        assert decide(config, "ops", method, path) == 403, (method, path)


def test_a_refusal_is_the_registrys_denied(config: dict[str, Any]) -> None:
    refusal = user_rules(config, "reader")[-1]["handle"][0]
    assert refusal["status_code"] == 403
    assert json.loads(refusal["body"])["errors"][0]["code"] == "DENIED"
    assert refusal["headers"]["Docker-Distribution-Api-Version"] == ["registry/2.0"]
    assert refusal["headers"]["Content-Type"] == ["application/json; charset=utf-8"]


def test_a_scoped_upload_cannot_mount_from_other_repositories(config: dict[str, Any]) -> None:
    def upload_rule(user: str) -> dict[str, Any]:
        (rule,) = [rule for rule in user_rules(config, user) if rule.get("match", [{}])[0].get("method") == ["POST"]]
        return rule

    scoped = upload_rule("team-a-ci")["handle"]
    assert {"handler": "rewrite", "query": {"delete": ["mount", "from"]}} in scoped
    # The registry also reads them from a form body: without a Content-Type, Go parses none.
    assert {"handler": "headers", "request": {"delete": ["Content-Type"]}} in scoped
    assert upload_rule("ci")["handle"] == []


def test_repository_patterns() -> None:
    every = re.compile(f"^{repository_pattern(['*'])}$")
    assert every.match("a/b-c/d_e.f")
    assert not every.match("A/b")
    assert not every.match("a//b")
    scoped = re.compile(f"^{repository_pattern(['team-a/*', 'x.y'])}$")
    assert scoped.match("team-a/b/c")
    assert scoped.match("x.y")
    assert not scoped.match("xzy"), "a dot is a dot"


def test_the_pull_only_user() -> None:
    base = {"hostnames": '["r.example.com"]'}
    generated = parse_settings(base)
    assert generated.pull_user == User(name="image-registry-pull", access="pull")
    assert generated.registry_users == (User(name="registry"), generated.pull_user)
    configured = parse_settings({**base, "users": '[{"name": "ci"}, {"name": "nodes", "access": "pull"}]'})
    assert configured.pull_user.name == "nodes"
    assert [user.name for user in configured.registry_users] == ["ci", "nodes"]
