"""The front's routes to the pull-through caches: `/v2/mirror/<upstream>/<name>/…` to that mirror's instance.

They come after the users' routes (front_access.py), so a request reaching
them is authenticated and its user's repository patterns cover
`mirror/<upstream>/<name>` (the generated mirror user's `mirror/*`, a '*'
user's). A read of a manifest, a blob or the tags of a name the mirror's
`repositories` patterns cover goes to that mirror, its path rewritten to the
upstream's name (`/v2/<name>/…`) from what the route matched: exactly the
path checked reaches the cache. Anything else under `/v2/mirror/` — another
method (no push into a mirror), a name outside the patterns (the upstream is
never asked), an unknown upstream — is 403 `DENIED`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from components.settings.mirrors import MIRROR_PREFIX, Mirror
from components.settings.project import MIRROR_PORTS_FROM
from components.workload.front_access import READ, registry_error, repository_pattern

# A tag in the distribution grammar, or a digest: only characters that need no escaping in a URI path.
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"
_CAPTURE = "mirror"


def mirror_address(index: int) -> str:
    """Where the `index`-th mirror listens: the pod's loopback (mirrors.py)."""
    return f"127.0.0.1:{MIRROR_PORTS_FROM + index}"


def mirror_path_pattern(mirror: Mirror) -> str:
    """The reads a mirror serves, the part after `/v2/mirror/<upstream>/` in the group `rest`."""
    name = repository_pattern(mirror.repositories)
    what = rf"(?:manifests/(?:{_TAG}|{_DIGEST})|blobs/{_DIGEST}|tags/list)"
    return rf"^/v2/{re.escape(mirror.path)}/(?P<rest>{name}/{what})$"


def mirror_routes(mirrors: Sequence[Mirror], proxy: Callable[[str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Each mirror's reads to its instance (`proxy(dial address)`), then 403 for the rest of `/v2/mirror/`."""
    if not mirrors:
        return []
    routes: list[dict[str, Any]] = [
        {
            "match": [
                {"method": list(READ), "path_regexp": {"name": _CAPTURE, "pattern": mirror_path_pattern(mirror)}}
            ],
            "handle": [
                # The matcher saw the path decoded and cleaned: the cache gets that path, nothing the client added.
                {"handler": "rewrite", "uri": f"/v2/{{http.regexp.{_CAPTURE}.rest}}"},
                proxy(mirror_address(index)),
            ],
            "terminal": True,
        }
        for index, mirror in enumerate(mirrors)
    ]
    denied = registry_error(403, "DENIED", "requested access to the resource is denied")
    everything_else = {"path_regexp": {"pattern": rf"^/v2/{MIRROR_PREFIX}(?:/|$)"}}
    routes.append({"match": [everything_else], "handle": [denied], "terminal": True})
    return routes
