"""Who may do what, as routes of the front (Caddy): the claimed user, then each user's role and repositories.

Before any bcrypt check, the front reads which user a request claims from its
`Authorization` header with one regular expression per user (the base64 of
`<user>:` is a fixed prefix): a request that claims no known user, or carries
credentials longer than any password can be, is refused at once, at no cost
(Caddy would check an unknown user against a cost-14 dummy hash, over a second
of CPU, and cache every failed credential whatever its size).

After authentication, each user has its own routes: what its `access` allows
on the repositories its patterns name, and 403 `DENIED` for everything else,
before the registry sees the request. A user scoped to some repositories may
not list the catalog (it would reveal the others): that is refused, not
filtered.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from components.settings import User
from components.settings.types import BCRYPT_MAX_PASSWORD_BYTES

# Variables of the front's routes.
CLAIMED_USER = "claimed_user"
_MAPPED_USER = "{registry_claimed_user}"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# A repository name in Distribution's grammar, and the parts of the paths that follow it.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_ANY_REPOSITORY = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_NAME_CHARACTERS = "[a-z0-9._/-]*"
_REFERENCE = r"[^/]+"
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"
# A user's rules and its refusal: only the first that matches applies (a route group).
_RULES = "rules"
READ = ("GET", "HEAD")
UPLOAD = ("GET", "HEAD", "PATCH", "PUT", "DELETE")
JSON_TYPE = {"Content-Type": ["application/json; charset=utf-8"]}
API_VERSION = {"Docker-Distribution-Api-Version": ["registry/2.0"]}


def caddy_literal(text: str) -> str:
    """`text` as Caddy reads it back: braces escaped, so that no placeholder is expanded in it."""
    return text.replace("{", "\\{").replace("}", "\\}")


def registry_error(status: int, code: str, message: str, headers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """A response the way the registry answers errors: clients print its message."""
    return {
        "handler": "static_response",
        "status_code": status,
        "headers": {**JSON_TYPE, **API_VERSION, **(headers or {})},
        "body": json.dumps({"errors": [{"code": code, "message": message}]}),
    }


def unauthorized(realm: str) -> dict[str, Any]:
    return registry_error(
        401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": [f'Basic realm="{realm}"']}
    )


def credentials_pattern(user: str) -> str:
    """What `Authorization` holds exactly when it is Basic credentials of `user` with a password bcrypt can hash."""
    claimed = f"{user}:".encode()
    whole = len(claimed) // 3 * 3
    fixed = re.escape(base64.b64encode(claimed[:whole]).decode())
    rest = claimed[whole:]
    if len(rest) == 1:
        # The next character mixes the last byte's low 2 bits with the password's first 4.
        fixed += re.escape(_B64[rest[0] >> 2]) + _char_class((rest[0] & 0b11) << 4, 16)
    elif len(rest) == 2:
        pair = base64.b64encode(rest + b"\0").decode()[:2]
        fixed += re.escape(pair) + _char_class((rest[1] & 0b1111) << 2, 4)
    longest = 4 * math.ceil((len(claimed) + BCRYPT_MAX_PASSWORD_BYTES) / 3)
    fixed_length = 4 * math.ceil(len(claimed) / 3) if rest else len(fixed)
    # Go's BasicAuth takes any case of "Basic" and exactly one space.
    return rf"^(?i:basic) {fixed}[A-Za-z0-9+/]{{0,{longest - fixed_length}}}={{0,2}}$"


def _char_class(first: int, count: int) -> str:
    return "[" + re.escape(_B64[first : first + count]) + "]"


def claim_handlers(users: Sequence[User]) -> list[dict[str, Any]]:
    """Sets the variable `claimed_user` to the user the credentials name, or "" (none, unknown, too long)."""
    mappings = [
        # The output is a regexp template: `$` would start a group reference.
        {"input_regexp": credentials_pattern(user.name), "outputs": [user.name.replace("$", "$$")]}
        for user in users
    ]
    source = "{http.request.header.Authorization}"
    claim = {"handler": "map", "source": source, "destinations": [_MAPPED_USER], "mappings": mappings}
    claim["defaults"] = [""]
    # Evaluated once here; the map itself would run its expressions again at every use.
    return [claim, {"handler": "vars", CLAIMED_USER: _MAPPED_USER}]


def refuse_unknown_claims(realm: str) -> dict[str, Any]:
    """No credentials, an unknown user, or credentials no account can have: 401, no bcrypt."""
    return {"match": [{"vars": {CLAIMED_USER: [""]}}], "handle": [unauthorized(realm)], "terminal": True}


def repository_pattern(patterns: Sequence[str]) -> str:
    """A regular expression of the repository names `patterns` cover ('*' is any characters, '/' included)."""
    if "*" in patterns:
        return _ANY_REPOSITORY
    # Only characters of repository names: the registry refuses (404) a name its grammar does not allow.
    alternatives = [_NAME_CHARACTERS.join(re.escape(part) for part in pattern.split("*")) for pattern in patterns]
    return f"(?:{'|'.join(alternatives)})"


def user_routes(user: User) -> dict[str, Any]:
    """The routes of an authenticated `user`: what its role allows on its repositories passes on, the rest is 403."""
    name = repository_pattern(user.repositories)
    allowed = [
        _allow(READ, r"^/v2/$"),
        *([_allow(READ, r"^/v2/_catalog$")] if user.every_repository else []),
        _allow(READ, rf"^/v2/{name}/(?:manifests/{_REFERENCE}|blobs/{_DIGEST}|tags/list|referrers/{_DIGEST})$"),
    ]
    if user.access in ("push", "admin"):
        allowed += [
            _allow(("POST",), rf"^/v2/{name}/blobs/uploads/$", _confine_mounts(user)),
            _allow(UPLOAD, rf"^/v2/{name}/blobs/uploads/[^/]+$"),
            _allow(("PUT",), rf"^/v2/{name}/manifests/{_REFERENCE}$"),
        ]
    if user.access == "admin":
        # The registry still answers 405 UNSUPPORTED unless storage.deleteEnabled.
        allowed.append(_allow(("DELETE",), rf"^/v2/{name}/(?:manifests/{_REFERENCE}|blobs/{_DIGEST})$"))
    denied = {"group": _RULES, "handle": [registry_error(403, "DENIED", "requested access to the resource is denied")]}
    # Nothing terminal: an allowed request goes on to the proxy, after the other users' (unmatched) routes.
    return {
        "match": [{"vars": {"{http.auth.user.id}": [caddy_literal(user.name)]}}],
        "handle": [{"handler": "subroute", "routes": [*allowed, denied]}],
    }


def _allow(methods: Sequence[str], path: str, handlers: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    # The path matcher sees the path decoded and cleaned, as the registry's router does (it redirects
    # an uncleaned path to the clean one, which comes back here).
    return {
        "group": _RULES,
        "match": [{"method": list(methods), "path_regexp": {"pattern": path}}],
        "handle": list(handlers),
    }


def _confine_mounts(user: User) -> list[dict[str, Any]]:
    """A scoped user's upload never mounts a blob from another repository (one it may not read): the
    registry reads `mount` and `from` from the query or from a form body, so both are taken away."""
    if user.every_repository:
        return []
    return [
        {"handler": "rewrite", "query": {"delete": ["mount", "from"]}},
        {"handler": "headers", "request": {"delete": ["Content-Type"]}},
    ]
