"""What the stack's Secrets and ConfigMaps say of who holds which registry credentials, for the policies.

The front's Caddy config (in the `<name>-auth` Secret) says which users may
write; dockerconfigjson Secrets and the nodes' hosts.toml files (an
`Authorization` header per host) say which users their holders are.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
# The request header a containerd hosts.toml gives a host (`Authorization = "Basic <user:password>"`).
_BASIC_HEADER = re.compile(r'Authorization"?\s*=\s*"Basic\s+([A-Za-z0-9+/=]+)"', re.IGNORECASE)
# The front's Caddy config (in the `<name>-auth` Secret) and what its per-user routes match on.
FRONT_CONFIG_KEY = "caddy.json"
USER_ID = "{http.auth.user.id}"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
DOCKER_CONFIG_KEY = ".dockerconfigjson"


def users_who_can_write(front_config: Mapping[str, Any]) -> set[str]:
    """The front's users that some rule lets write (POST, PUT, PATCH, DELETE) or that no rule of their own holds."""
    accounts, ruled, writers = set(), set(), set()
    for server in ((front_config.get("apps") or {}).get("http") or {}).get("servers", {}).values():
        for route in server.get("routes") or ():
            for handler in route.get("handle") or ():
                basic = (handler.get("providers") or {}).get("http_basic") or {}
                accounts |= {_literal(account.get("username", "")) for account in basic.get("accounts") or ()}
            users = {
                _literal(user)
                for match in route.get("match") or ()
                for user in (match.get("vars") or {}).get(USER_ID, ())
            }
            ruled |= users
            if users and _lets_write(route):
                writers |= users
    # A user without rules of its own reaches the registry unchecked.
    return writers | (accounts - ruled)


def _lets_write(route: Mapping[str, Any]) -> bool:
    rules = [rule for handler in route.get("handle") or () for rule in handler.get("routes") or ()]
    return any(WRITES & set(match.get("method") or ()) for rule in rules for match in rule.get("match") or ())


def _literal(text: str) -> str:
    """A name as Caddy reads it: escaped braces are braces."""
    return text.replace("\\{", "{").replace("\\}", "}")


def secret_document(props: Mapping[str, Any], key: str) -> Any:
    """A Secret's JSON value under `key`, from `stringData` or base64 `data`: the engine hands the pack what the
    provider checked, and pulumi-kubernetes moves `stringData` into `data` (None when unknown or not JSON)."""
    text = (props.get("stringData") or {}).get(key)
    encoded = (props.get("data") or {}).get(key)
    try:
        return json.loads(text if text is not None else base64.b64decode(encoded or ""))
    except (ValueError, TypeError):
        return None


def docker_config_users(props: Mapping[str, Any]) -> list[str]:
    """The user names a dockerconfigjson Secret carries (none when its data is not known yet)."""
    document = secret_document(props, DOCKER_CONFIG_KEY)
    auths = document.get("auths") or {} if isinstance(document, dict) else {}
    return sorted({str(entry.get("username") or base64.b64decode(entry.get("auth", "")).decode().split(":")[0])
                   for entry in auths.values()})  # fmt: skip


def pull_secrets_that_can_push(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """dockerconfigjson Secrets of the stack that carry a user the front lets write."""
    resources = list(resources)
    writers: set[str] = set()
    for kind, props in resources:
        config = secret_document(props, FRONT_CONFIG_KEY) if kind == SECRET else None
        if isinstance(config, dict):
            writers |= users_who_can_write(config)
    found = []
    for kind, props in resources:
        if kind == SECRET and props.get("type") == "kubernetes.io/dockerconfigjson":
            metadata = props.get("metadata") or {}
            for user in sorted(set(docker_config_users(props)) & writers):
                found.append(f"{metadata.get('namespace')}/{metadata.get('name')} carries the user {user}")
    return found


def _data_texts(props: Mapping[str, Any], encoded: bool) -> Iterator[str]:
    """The text values of a Secret (base64 `data`) or a ConfigMap (`data`), and their `stringData`."""
    yield from (str(text) for text in (props.get("stringData") or {}).values())
    for text in (props.get("data") or {}).values():
        try:
            yield base64.b64decode(str(text)).decode() if encoded else str(text)
        except ValueError:
            continue


def header_users(text: str) -> list[str]:
    """The user names of the Basic `Authorization` headers a hosts.toml text gives its hosts."""
    return [base64.b64decode(found).decode(errors="replace").split(":")[0] for found in _BASIC_HEADER.findall(text)]


def node_credentials_misplaced(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """ConfigMaps that carry an Authorization header (node files with a credential), and Secrets whose headers
    carry a user the front lets write (every node would hold a credential that can push)."""
    resources = list(resources)
    writers: set[str] = set()
    for kind, props in resources:
        config = secret_document(props, FRONT_CONFIG_KEY) if kind == SECRET else None
        writers |= users_who_can_write(config) if isinstance(config, dict) else set()
    found = []
    for kind, props in resources:
        where = "{namespace}/{name}".format_map({"namespace": None, "name": None, **(props.get("metadata") or {})})
        users = {user for text in _data_texts(props, kind == SECRET) for user in header_users(text)}
        if kind == CONFIG_MAP and users:
            found.append(f"ConfigMap {where} holds an Authorization header: node credentials belong in a Secret")
        elif kind == SECRET:
            found += [
                f"Secret {where} gives the nodes the user {user}, who can push" for user in sorted(users & writers)
            ]
    return found
