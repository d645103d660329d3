"""The front's Caddy configuration (JSON): TLS, who may do what, the access log, the hop to the registry.

Everything a request meets, in order: a request that names no host is refused
(the registry would build its URLs from its own listener); `GET /` and `HEAD /`
pass unauthenticated (probes and clients' pings, as the registry allows); the
claimed user is read from the credentials and an unknown one refused at no
cost (front_access.py); the credentials are checked with bcrypt once and then
from the cache; the user's role and repositories decide; the registry, on the
pod's loopback, answers.
Every request gets one JSON line on stdout: who (user, or the user the
credentials claimed), from where (behind the Ingress, the address the
ingress controller saw), what, and the outcome; never a header's value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from components.settings import REGISTRY_PORT, User
from components.settings.mirrors import Mirror
from components.workload.front_access import (
    CLAIMED_USER,
    READ,
    caddy_literal,
    claim_handlers,
    refuse_unknown_claims,
    registry_error,
    unauthorized,
    user_routes,
)
from components.workload.front_mirrors import mirror_routes

UPSTREAM = "127.0.0.1:5002"
TLS_DIR = "/etc/caddy/tls"
TMP_DIR = "/tmp"
# Where `caddy reload` reaches the running front: a socket in the front's own scratch directory,
# which no other container mounts (no TCP admin endpoint at all).
ADMIN_SOCKET = f"{TMP_DIR}/caddy-admin.sock"
# Far above what registry clients send (Basic credentials, a User-Agent, an Accept list). Go answers 431 above
# it over HTTP/1.1 only past another 4 KiB it allows itself (about 20 KiB in all); HTTP/2 has it exactly.
MAX_HEADER_BYTES = 16 * 1024
# After SIGTERM the front keeps serving while the Service and the Ingress stop sending it requests,
# then lets requests in flight (a layer upload) finish: the pod's termination grace covers both.
SHUTDOWN_DELAY_SECONDS = 5
DRAIN_SECONDS = 60
# The ingress controller's client certificate: only requests it brings may say who the client is.
INGRESS_CLIENT_SUFFIX = "-ingress"
_FORWARDED_CLIENT = "{registry_forwarded_client}"
# What the proxy's error says (Go's, as Caddy passes it on) when no connection to the registry could be made:
# refused, or timed out (`dial tcp 127.0.0.1:5002: connect: connection refused`).
REGISTRY_UNREACHABLE = r"^dial "
# When the client's request body ended before its Content-Length: HTTP/2's END_STREAM too early, or the
# connection closed mid-body (Go's errors, as the copy to the registry met them, alone or in a `readfrom` one).
CLIENT_BODY_ENDED = (
    r"^(?:readfrom tcp \S+: )?(?:unexpected EOF|request declared a Content-Length of \d+ but only wrote \d+ bytes)$"
)
# The query parameter that carries an upload's state: whoever has it can act on the upload.
UPLOAD_TOKEN = "_state"
# The access log's field for the client's address.
CLIENT = "client"
# Clients see the registry's answers, not the hop's headers (Caddy's Server, the proxy's Via).
_HIDE_THE_HOP = {"handle": [{"handler": "headers", "response": {"delete": ["Server", "Via"], "deferred": True}}]}
_NO_BODY_READ = {"method": list(READ), "header": {"Content-Length": None, "Transfer-Encoding": None}}
_JSON = {"format": "json", "time_format": "rfc3339_nano", "duration_format": "seconds"}


def front_config(
    users: Sequence[User], accounts: Sequence[tuple[str, str]], realm: str, mirrors: Sequence[Mirror] = ()
) -> str:
    """Caddy's configuration: `accounts` are (user, bcrypt hash) pairs of `users`; `realm` the stack's name;
    `mirrors` the pull-through caches it routes `/v2/mirror/<upstream>/` to (front_mirrors.py)."""
    config = {
        "admin": {"listen": f"unix/{ADMIN_SOCKET}", "config": {"persist": False}},
        "logging": _logging(),
        "apps": {
            "http": {
                "grace_period": f"{DRAIN_SECONDS}s",
                "shutdown_delay": f"{SHUTDOWN_DELAY_SECONDS}s",
                "servers": {"registry": _server(users, accounts, realm, mirrors)},
            },
            "tls": {
                "certificates": {"load_files": [_certificate()]},
                "disable_ocsp_stapling": True,
            },
        },
    }
    return json.dumps(config, indent=2, sort_keys=True)


def _server(
    users: Sequence[User], accounts: Sequence[tuple[str, str]], realm: str, mirrors: Sequence[Mirror]
) -> dict[str, Any]:
    proxy = _proxy()
    return {
        "listen": [f":{REGISTRY_PORT}"],
        # HTTP/3 would open a UDP socket and advertise it (Alt-Svc) through the Ingress.
        "protocols": ["h1", "h2"],
        "max_header_bytes": MAX_HEADER_BYTES,
        "read_header_timeout": "10s",
        "automatic_https": {"disable": True},
        "tls_connection_policies": [_tls_policy()],
        # One TLS policy for every name: the ingress controller's SNI (the Service name it verifies) and its
        # Host (the external name) differ, as do the probes' (none) and their Host.
        "strict_sni_host": False,
        "logs": {"default_logger_name": "registry"},
        "errors": {"routes": _error_routes(realm)},
        "routes": [
            _HIDE_THE_HOP,
            _refuse_no_host(),
            _open_root(proxy),
            # Evaluated as the line is written: who the credentials named, and the client (behind the Ingress,
            # as the ingress controller saw it; `request.remote_ip` is the TCP peer, `request.client_ip` too).
            {"handle": [_log_field(CLAIMED_USER, CLAIMED_USER), _log_field(CLIENT, "client_ip")]},
            {"handle": claim_handlers(users)},
            _client_behind_the_ingress(realm),
            refuse_unknown_claims(realm),
            {"handle": [_authentication(accounts, realm)]},
            *(user_routes(user) for user in users),
            # After the users' rules: what reaches them is authenticated and within the user's repositories.
            *mirror_routes(mirrors, _proxy),
            {"handle": [proxy]},
        ],
    }


def _refuse_no_host() -> dict[str, Any]:
    """An empty Host (HTTP/1.1 `Host:`, HTTP/1.0 without one, HTTP/2 without `:authority`) would reach the
    registry as the proxy's own dial address, and the registry would send the client its loopback address
    in upload URLs."""
    refusal = registry_error(400, "UNSUPPORTED", "the request names no host (Host header)")
    return {"match": [{"vars": {"{http.request.host}": [""]}}], "handle": [refusal], "terminal": True}


def _open_root(proxy: dict[str, Any]) -> dict[str, Any]:
    """The registry answers GET / without credentials: probes and clients' pings use it. Only reads, and only
    that path as sent: the path matcher would also take what it cleans to `/` (`//`, `/v2/..`)."""
    root = {"method": list(READ), "vars": {"{http.request.uri.path}": ["/"]}}
    return {"match": [root], "handle": [proxy], "terminal": True}


def _log_field(key: str, variable: str) -> dict[str, Any]:
    return {"handler": "log_append", "key": key, "value": f"{{http.vars.{variable}}}"}


def _tls_policy() -> dict[str, Any]:
    return {
        "certificate_selection": {"any_tag": ["registry"]},
        "protocol_min": "tls1.2",
        # Clients need no certificate; the ingress controller presents one from the stack's CA.
        "client_authentication": {
            "ca": {"provider": "file", "pem_files": [f"{TLS_DIR}/ca.crt"]},
            "mode": "verify_if_given",
        },
    }


def _certificate() -> dict[str, Any]:
    return {"certificate": f"{TLS_DIR}/tls.crt", "key": f"{TLS_DIR}/tls.key", "tags": ["registry"]}


def _client_behind_the_ingress(realm: str) -> dict[str, Any]:
    """Through the Ingress, the client is the last address the ingress controller added to X-Forwarded-For;
    from anyone else that header says nothing."""
    subject = f"^(.*,)?CN={re.escape(realm + INGRESS_CLIENT_SUFFIX)}(,.*)?$"
    rightmost = {"input_regexp": r"(?:^|,)\s*([0-9A-Fa-f.:]+)\s*$", "outputs": ["${1}"]}
    return {
        "match": [{"vars_regexp": {"{http.request.tls.client.subject}": {"pattern": subject}}}],
        "handle": [
            {
                "handler": "map",
                "source": "{http.request.header.X-Forwarded-For}",
                "destinations": [_FORWARDED_CLIENT],
                "mappings": [rightmost],
                "defaults": ["{http.vars.client_ip}"],
            },
            {"handler": "vars", "client_ip": _FORWARDED_CLIENT},
        ],
    }


def _authentication(accounts: Sequence[tuple[str, str]], realm: str) -> dict[str, Any]:
    return {
        "handler": "authentication",
        "providers": {
            "http_basic": {
                "hash": {"algorithm": "bcrypt"},
                # One bcrypt check per credential; bounded (1,000 entries of at most a 72-byte password).
                "hash_cache": {},
                "realm": realm,
                "accounts": [{"username": caddy_literal(user), "password": hashed} for user, hashed in accounts],
            }
        },
    }


def _proxy(dial: str = UPSTREAM) -> dict[str, Any]:
    # Larger than Go's 4 KiB default: fewer writes per pushed layer (about a tenth less CPU in the front).
    transport = {"protocol": "http", "read_buffer_size": 65536, "write_buffer_size": 65536}
    return {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": dial}],
        "transport": transport,
        # A registry restarting alone: wait for it a little rather than fail at once. A connection that could
        # not be made is tried again; an exchange that failed, only for a read without a body (Caddy would
        # repeat any GET, whose body, read once, is gone: a client's short body would end as an outage).
        "load_balancing": {"try_duration": "5s", "try_interval": "250ms", "retry_match": [_NO_BODY_READ]},
        "headers": {
            "request": {
                # The registry builds upload URLs from `Forwarded` first, then X-Forwarded-Proto and -Host:
                # only the front's own may reach it (Caddy replaces a client's X-Forwarded-*).
                "delete": ["Forwarded"],
                # Who the registry logs as the client (it prefers X-Forwarded-For to the TCP peer).
                "set": {"X-Forwarded-For": ["{http.vars.client_ip}"]},
            },
        },
    }


def _error_routes(realm: str) -> list[dict[str, Any]]:
    """Errors of the front's own handlers, answered as the registry answers errors.

    The proxy reports every failed exchange as a 502 (a 504 on a timeout), whoever failed: only a connection
    to the registry that could not be made means the registry is down or restarting. A request body that
    ended early (shorter than its Content-Length, or the connection gone) is the client's error.
    """
    unavailable = registry_error(503, "UNAVAILABLE", "the registry is not answering; try again", {"Retry-After": ["5"]})
    cut_short = registry_error(400, "SIZE_INVALID", "the request body is shorter than its Content-Length")
    broken = registry_error(502, "UNKNOWN", "the registry's answer was cut off; try again")
    return [
        _HIDE_THE_HOP,
        {"match": [{"expression": "{http.error.status_code} == 401"}], "handle": [unauthorized(realm)]},
        {"match": [_error_message(REGISTRY_UNREACHABLE)], "handle": [unavailable]},
        {"match": [_error_message(CLIENT_BODY_ENDED)], "handle": [cut_short]},
        # Anything else of the registry's (it went away mid-answer): its JSON, never an empty 502.
        {"match": [{"expression": "{http.error.status_code} >= 500"}], "handle": [broken]},
    ]


def _error_message(pattern: str) -> dict[str, Any]:
    return {"vars_regexp": {"{http.error.message}": {"pattern": pattern}}}


def _logging() -> dict[str, Any]:
    access_logger = "http.log.access.registry"
    # Every logger's lines that hold a request (the access log's, the proxy's warnings) lose what holds
    # secrets: headers (Authorization, the client's included), TLS details, and the upload token in the URI.
    dropped = {field: {"filter": "delete"} for field in ("request>headers", "request>tls", "resp_headers")}
    token = {"filter": "regexp", "regexp": upload_token_pattern(), "value": "${1}"}
    encoder = {"format": "filter", "wrap": _JSON, "fields": {**dropped, "request>uri": token}}
    return {
        "logs": {
            "default": {"level": "INFO", "exclude": [access_logger], "encoder": encoder},
            "access": {
                "level": "INFO",
                "include": [access_logger],
                "writer": {"output": "stdout"},
                "encoder": encoder,
            },
        }
    }


def upload_token_name() -> str:
    """The `_state` parameter's name as the registry reads it (Go's query parsing: percent-decoded), as a
    pattern both RE2 (Caddy) and POSIX awk take: each character itself or its `%XX` escape, either case."""
    name = "".join(f"({re.escape(char)}|%{ord(char):02x})" for char in UPLOAD_TOKEN)
    return re.sub(r"%([0-9a-f])([a-f])", lambda hex_: f"%{hex_[1]}[{hex_[2]}{hex_[2].upper()}]", name)


def upload_token_pattern() -> str:
    """Every `_state` parameter of a request target; group 1 is the `?` or `&` before it, which stays.

    Not Caddy's `query` filter: it parses the whole URI first and, on any error (a bad `%` escape in a
    fragment, which no server checks), logs the URI untouched, token and all.
    """
    return rf"([?&]){upload_token_name()}=[^&]*"
