"""The accounts the front checks, read back from what the program rendered."""

from __future__ import annotations

import json

from harness.doubles import ProgramRun


def front_accounts(run: ProgramRun) -> dict[str, str]:
    """The users and bcrypt hashes the front checks, from the Caddy config in the `<name>-auth` Secret."""
    secret = next(item for item in run.of_type("kubernetes:core/v1:Secret") if item.name.endswith("-auth"))
    config = json.loads(secret.plain_inputs["stringData"]["caddy.json"])
    routes = config["apps"]["http"]["servers"]["registry"]["routes"]
    handlers = [handler for route in routes for handler in route["handle"]]
    (basic,) = [handler["providers"]["http_basic"] for handler in handlers if handler["handler"] == "authentication"]
    return {account["username"]: account["password"] for account in basic["accounts"]}


def htpasswd_file(accounts: dict[str, str]) -> str:
    """The accounts as an htpasswd file: `user:hash` lines."""
    return "".join(f"{user}:{hashed}\n" for user, hashed in accounts.items())
