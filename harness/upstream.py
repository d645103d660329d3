"""An "upstream" double for the mirrors: a public registry (Docker Hub, ghcr.io) inside the pod's network.

A second process of the registry release the stack pins (3.1.1, the toolchain's binary), serving HTTPS under
the upstream's API name (`registry-1.docker.io`) with a CA of its own, optionally requiring htpasswd
credentials, its access log on (one line per request: the blob fetches a test counts). It listens on
127.0.0.2:443 (or another loopback address) of the pod's network (127.0.0.1:443 is the Ingress's redirect
to the front); the pod's roots resolve its name there and trust its CA in their system trust store, as the
real image's CA bundle trusts Docker Hub's public CA. Nothing of the stack's trusts it otherwise.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.doubles import FaithfulMocks, ProgramRun
from harness.e2e import NOT_IN_CERTIFICATE, Registry, certificate_names, require_tools
from harness.pod_layout import PodLayout
from harness.pod_sandbox import Sandbox
from harness.registry_release import pinned

# Its address in the pod's network: the first upstream's; another one takes 127.0.0.3, and so on.
ADDRESS = "127.0.0.2"
# `"GET /v2/<name>/blobs/sha256:… HTTP/1.1" 200`: the combined log format of the registry's access log.
_BLOB_FETCH = r'"GET /v2/{name}/blobs/sha256:[0-9a-f]{{64}} HTTP/[0-9.]+" 200 '


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def certificate_pair(host: str) -> tuple[str, str, str]:
    """(CA certificate, server certificate, server key), PEM: a CA of its own for `host`."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{host} upstream double CA"))
        .issuer_name(_name(f"{host} upstream double CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _pem(ca), _pem(server), _key_pem(key)


@dataclass
class Upstream:
    """The double of one upstream: its files under `directory` (in the pod's workspace), its process."""

    host: str
    directory: Path
    # "user:password" it requires, or None for anonymous pulls.
    credentials: str | None = None
    address: str = ADDRESS
    ca_pem: str = field(init=False, default="")
    log: Path = field(init=False, default=Path())

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_pem, certificate, key = certificate_pair(self.host)
        (self.directory / "certs").mkdir(exist_ok=True)
        (self.directory / "certs" / "ca.crt").write_text(self.ca_pem)
        (self.directory / "tls.crt").write_text(certificate)
        (self.directory / "tls.key").write_text(key)
        (self.directory / "tls.key").chmod(0o600)

    def add_to(self, layout: PodLayout) -> None:
        """Every root of the pod resolves the upstream's name to it and trusts its CA (as a public CA)."""
        layout.extra_hosts.append(f"{self.address} {self.host}")
        layout.system_trust.append(self.ca_pem)

    def _config(self, sandbox: Sandbox) -> str:
        inside = sandbox.inside
        config: dict[str, object] = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": inside(self.directory / "data")}},
            "http": {
                "addr": f"{self.address}:443",
                "secret": "upstream-double-http-secret",
                "tls": {"certificate": inside(self.directory / "tls.crt"), "key": inside(self.directory / "tls.key")},
            },
        }
        if self.credentials is not None:
            user, password = self.credentials.split(":", 1)
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
            (self.directory / "htpasswd").write_text(f"{user}:{hashed}\n")
            config["auth"] = {"htpasswd": {"realm": self.host, "path": inside(self.directory / "htpasswd")}}
        return yaml.safe_dump(config)

    def start(self, sandbox: Sandbox) -> None:
        """The upstream's registry, in the pod's network (as root, in the clients' root), once it answers."""
        (self.directory / "config.yml").write_text(self._config(sandbox))
        argv = [pinned().binary, "serve", sandbox.inside(self.directory / "config.yml")]
        env = {"PATH": "/usr/bin:/bin", "OTEL_TRACES_EXPORTER": "none"}
        name = f"upstream-{self.host}"
        self.log = sandbox.workspace / f"{name}.log"
        sandbox.start_helper(name, argv, f"https://{self.host}/", env)

    def load(self, sandbox: Sandbox, layout: Path, reference: str) -> None:
        """Push an OCI layout as `reference` (`library/busybox:1.36`) into the upstream."""
        creds = ["--dest-creds", self.credentials] if self.credentials else []
        result = sandbox.run(
            "skopeo", "--policy", sandbox.inside(sandbox.workspace / "policy.json"), "copy",
            "--dest-cert-dir", sandbox.inside(self.directory / "certs"), *creds,
            f"oci:{sandbox.inside(layout)}:latest", f"docker://{self.host}/{reference}",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr

    def blob_fetches(self, name: str) -> int:
        """How many blobs of repository `name` it has served (200) so far."""
        pattern = _BLOB_FETCH.format(name=re.escape(name))
        return len(re.findall(pattern, self.log.read_text()))

    def requests_for(self, name: str) -> int:
        """How many requests named repository `name`."""
        return len(re.findall(rf" /v2/{re.escape(name)}/", self.log.read_text()))


@contextmanager
def pod_with_upstreams(
    run: ProgramRun, mocks: FaithfulMocks, workspace: Path, image: Path, holding: Sequence[tuple[Upstream, str]]
) -> Iterator[Registry]:
    """The rendered pod and, in its network, each upstream double holding its reference (the image at `image`)."""
    require_tools()
    layout = PodLayout.from_run(run, workspace, [*certificate_names(run), NOT_IN_CERTIFICATE])
    for upstream, _ in holding:
        upstream.add_to(layout)
    (workspace / "trust").mkdir(exist_ok=True)
    (workspace / "trust" / "ca.crt").write_text(run.outputs["caCertPem"])
    registry = Registry(run, mocks, layout, Sandbox(layout), workspace)
    try:
        for upstream, reference in holding:
            upstream.start(registry.sandbox)
            upstream.load(registry.sandbox, image, reference)
        registry.sandbox.start_registry()
        yield registry
    finally:
        registry.sandbox.close()
