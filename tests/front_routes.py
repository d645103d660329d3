"""The front's Caddy config as a test reads it: where it is, and what its routes decide for a user and a request.

The decision follows Caddy's semantics for the routes the program writes (a
user's route matched by the authenticated user; in it, the first rule whose
method and path match lets the request pass, else the refusal answers). The
patterns are RE2's subset, which Python's `re` reads alike. The end-to-end
tests check the real Caddy decides the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness.doubles import ProgramRun
from harness.program_run import secret_data
from tests.rendered import secret_named, volumes

PASSED = "passed to the registry"
USER_ID = "{http.auth.user.id}"


def caddy_config(run: ProgramRun) -> dict[str, Any]:
    """The front's config file, from the Secret mounted where its command reads it."""
    # The pod's front, whatever else the pod holds (a mirror's containers).
    pod = run.manifest("Deployment")["spec"]["template"]["spec"]
    (front,) = [item for item in pod["containers"] if item["name"] == "front"]
    (script,) = [argument for argument in front["command"] if "caddy run" in argument]
    path = re.search(r"config=(\S+)", script)
    assert path is not None, script
    directory, _, key = path.group(1).rpartition("/")
    (mount,) = [item for item in front["volumeMounts"] if item["mountPath"] == directory]
    secret = secret_named(run, volumes(run)[mount["name"]]["secret"]["secretName"])
    config: dict[str, Any] = json.loads(secret_data(secret)[key])
    return config


def server(config: dict[str, Any]) -> dict[str, Any]:
    servers = config["apps"]["http"]["servers"]
    assert list(servers) == ["registry"]
    result: dict[str, Any] = servers["registry"]
    return result


def user_rules(config: dict[str, Any], user: str) -> list[dict[str, Any]]:
    """The routes of `user`'s subroute: its rules, then its refusal."""
    found = [route for route in server(config)["routes"] if _vars(route).get(USER_ID) == [user]]
    assert len(found) == 1, f"{len(found)} routes for {user}"
    (subroute,) = found[0]["handle"]
    assert subroute["handler"] == "subroute"
    rules: list[dict[str, Any]] = subroute["routes"]
    return rules


def decide(config: dict[str, Any], user: str, method: str, path: str) -> int | str:
    """What the front does with an authenticated request of `user`: PASSED, or the status it answers."""
    for rule in user_rules(config, user):
        if "match" not in rule:
            (refusal,) = rule["handle"]
            status: int = refusal["status_code"]
            return status
        (match,) = rule["match"]
        if method in match["method"] and re.search(match["path_regexp"]["pattern"], path):
            return PASSED
    raise AssertionError(f"no rule and no refusal for {user}")


def _vars(route: dict[str, Any]) -> dict[str, Any]:
    matches = route.get("match") or [{}]
    found: dict[str, Any] = matches[0].get("vars") or {}
    return found


def mirror_decision(config: dict[str, Any], user: str, method: str, path: str) -> int | str | tuple[str, str]:
    """What the front does with an authenticated request of `user` once the users' routes let it pass: the
    first terminal route after them that matches answers (a mirror's: (its dial address, the path the cache
    gets); the refusal: its status), else PASSED to the registry."""
    decided = decide(config, user, method, path)
    if decided != PASSED:
        return decided
    routes = server(config)["routes"]
    last_user_route = max(index for index, route in enumerate(routes) if USER_ID in _vars(route))
    for route in routes[last_user_route + 1 :]:
        if not route.get("terminal"):
            continue
        (match,) = route["match"]
        found = re.search(match["path_regexp"]["pattern"], path)
        if found is None or method not in match.get("method", [method]):
            continue
        handlers = route["handle"]
        if handlers[0]["handler"] == "static_response":
            status: int = handlers[0]["status_code"]
            return status
        rewrite, proxy = handlers
        name = match["path_regexp"]["name"]
        target = rewrite["uri"]
        for key, value in found.groupdict().items():
            target = target.replace(f"{{http.regexp.{name}.{key}}}", value)
        (upstream,) = proxy["upstreams"]
        return upstream["dial"], target
    return PASSED
