"""What ingress-nginx makes of a rendered Ingress: an nginx configuration for Debian's nginx.

Each annotation becomes the directive ingress-nginx's template renders for it
(rootfs/etc/nginx/template/nginx.tmpl, internal/ingress/annotations), with the
controller's defaults where an annotation is absent: `proxy-body-size` 1m (so
413 beyond it), request buffering on, 60 s timeouts, no backend verification,
and `proxy_ssl_name` left to nginx ("upstream_balancer"). An annotation of
ingress-nginx that this module does not model is an error, so nothing the
program renders goes untried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.program_run import secret_data

PREFIX = "nginx.ingress.kubernetes.io/"
DEFAULTS = {
    "backend-protocol": "HTTP",
    "proxy-body-size": "1m",
    "proxy-request-buffering": "on",
    "proxy-read-timeout": "60",
    "proxy-send-timeout": "60",
    "proxy-ssl-verify": "off",
    "proxy-ssl-server-name": "off",
    "proxy-ssl-verify-depth": "1",
    "proxy-ssl-protocols": "TLSv1.2",
    "proxy-ssl-ciphers": "DEFAULT",
}
OPTIONAL = ("proxy-ssl-secret", "proxy-ssl-name")


def _settings(annotations: Mapping[str, str]) -> dict[str, str]:
    ours = {key.removeprefix(PREFIX): value for key, value in annotations.items() if key.startswith(PREFIX)}
    unknown = set(ours) - set(DEFAULTS) - set(OPTIONAL)
    assert not unknown, f"annotations this model of ingress-nginx does not render: {sorted(unknown)}"
    return {**DEFAULTS, **ours}


def nginx_config(
    ingress: dict[str, Any],
    objects: Mapping[tuple[str, str], Any],
    directory: Path,
    inside: Callable[[Path], str],
    endpoint: str,
) -> Path:
    """Write nginx.conf (and the certificates it names) into `directory`; `endpoint` is the pod's address."""
    directory.mkdir(parents=True, exist_ok=True)
    namespace = ingress["metadata"]["namespace"]
    settings = _settings(ingress["metadata"].get("annotations") or {})
    location = _location(settings, objects, namespace, directory, inside)
    servers = []
    for rule in ingress["spec"]["rules"]:
        (path,) = rule["http"]["paths"]
        assert (path["path"], path["pathType"]) == ("/", "Prefix")
        tls = next(entry for entry in ingress["spec"]["tls"] if rule["host"] in entry["hosts"])
        certificate = _write_tls(objects[("Secret", tls["secretName"])], directory, inside)
        servers.append(
            f"""
    server {{
        listen 443 ssl;
        server_name {rule["host"]};
        ssl_protocols TLSv1.2 TLSv1.3;
        {certificate}
        location / {{
{location}
        }}
    }}"""
        )
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    config = directory / "nginx.conf"
    config.write_text(
        f"""user root;
pid {inside(directory / "nginx.pid")};
error_log {inside(directory / "error.log")} info;
events {{ worker_connections 64; }}
http {{
    access_log {inside(directory / "access.log")};
    client_body_temp_path {inside(temp)};
    proxy_temp_path {inside(temp)};
    upstream upstream_balancer {{ server {endpoint}; }}
{"".join(servers)}
}}
"""
    )
    return config


def _location(
    settings: dict[str, str],
    objects: Mapping[tuple[str, str], Any],
    namespace: str,
    directory: Path,
    inside: Callable[[Path], str],
) -> str:
    scheme = "https" if settings["backend-protocol"] == "HTTPS" else "http"
    lines = [
        f"client_max_body_size {settings['proxy-body-size']};",
        f"proxy_request_buffering {settings['proxy-request-buffering']};",
        f"proxy_read_timeout {settings['proxy-read-timeout']}s;",
        f"proxy_send_timeout {settings['proxy-send-timeout']}s;",
        "proxy_http_version 1.1;",
        "proxy_buffering off;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Host $host;",
        "proxy_set_header X-Forwarded-Port 443;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        f"proxy_pass {scheme}://upstream_balancer;",
    ]
    if "proxy-ssl-secret" in settings:
        secret_namespace, name = settings["proxy-ssl-secret"].split("/")
        assert secret_namespace == namespace, "ingress-nginx reads the secret from the Ingress's namespace"
        data = secret_data(objects[("Secret", name)])
        trusted = directory / f"ca-{namespace}-{name}.pem"
        trusted.write_text(data["ca.crt"])
        lines.append(f"proxy_ssl_trusted_certificate {inside(trusted)};")
        if "tls.crt" in data:
            # ingress-nginx then presents the Secret's key pair to the backend as a client certificate.
            lines.append(_write_key_pair(data, directory / f"{namespace}-{name}", inside, "proxy_ssl"))
    lines += [
        f"proxy_ssl_ciphers {settings['proxy-ssl-ciphers']};",
        f"proxy_ssl_protocols {settings['proxy-ssl-protocols']};",
        f"proxy_ssl_verify {settings['proxy-ssl-verify']};",
        f"proxy_ssl_verify_depth {settings['proxy-ssl-verify-depth']};",
        f"proxy_ssl_server_name {settings['proxy-ssl-server-name']};",
    ]
    if "proxy-ssl-name" in settings:
        lines.append(f"proxy_ssl_name {settings['proxy-ssl-name']};")
    return "\n".join(f"            {line}" for line in lines)


def _write_tls(secret: dict[str, Any], directory: Path, inside: Callable[[Path], str]) -> str:
    return _write_key_pair(secret_data(secret), directory / secret["metadata"]["name"], inside, "ssl")


def _write_key_pair(data: Mapping[str, str], stem: Path, inside: Callable[[Path], str], directive: str) -> str:
    certificate, key = stem.with_suffix(".crt"), stem.with_suffix(".key")
    certificate.write_text(data["tls.crt"])
    key.write_text(data["tls.key"])
    key.chmod(0o600)
    return f"{directive}_certificate {inside(certificate)}; {directive}_certificate_key {inside(key)};"
