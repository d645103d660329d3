"""The test control plane's keys and certificates, and the kubeconfigs built from them.

One CA signs the API server's serving certificate and every client's certificate (the identities
kubeadm gives: the admin in system:masters, the controller manager and the scheduler by their RBAC
user names), so authorization runs as on a real cluster. EC P-256 keys: quick to make, and accepted
by every component. A kubeconfig is written as JSON, which YAML readers (kubectl, client-go) take.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The names and address a client may use for the API server: loopback for the tests, the in-cluster
# names and the first address of the service range (the `kubernetes` Service) for what runs in pods.
SERVICE_CIDR = "10.96.0.0/16"
API_SERVER_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
API_SERVER_IPS = ("127.0.0.1", "10.96.0.1")
# Client identities: file stem -> (user, group).
CLIENTS = {
    "admin": ("kubernetes-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    # kwok plays every node's kubelet; the Node authorizer would want one identity per node, so it acts as admin.
    "kwok": ("kwok", "system:masters"),
}
_VALIDITY = datetime.timedelta(days=2)


@dataclass(frozen=True)
class Pki:
    """Paths of the files `write_pki` made in one directory."""

    directory: Path

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    def kubeconfig(self, name: str) -> Path:
        return self.directory / f"{name}.kubeconfig"


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    # Backdated a little: the components compare against their own clocks.
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
    )


def _make_ca(pki: Pki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = _name("image-registry test control plane CA")
    cert = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(pki.key("ca"), key)
    pki.cert("ca").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _issue(
    pki: Pki,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    name: str,
    subject: x509.Name,
    *,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName] | None = None,
) -> None:
    ca_cert, ca_key = ca
    key = _new_key()
    builder = (
        _builder(subject, ca_cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write_key(pki.key(name), key)
    pki.cert(name).write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def write_kubeconfig(pki: Pki, name: str, server: str) -> Path:
    """A kubeconfig for client `name` (its certificate and key inline, so the file stands alone)."""

    def inline(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    cluster = {"server": server, "certificate-authority-data": inline(pki.cert("ca"))}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [
            {
                "name": name,
                "user": {"client-certificate-data": inline(pki.cert(name)), "client-key-data": inline(pki.key(name))},
            }
        ],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": name}}],
        "current-context": "test",
    }
    path = pki.kubeconfig(name)
    path.write_text(json.dumps(config, indent=1))
    path.chmod(0o600)
    return path


def write_pki(directory: Path) -> Pki:
    """The CA, the API server's serving pair, a pair per client and the service-account signing pair."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory)
    ca = _make_ca(pki)
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in API_SERVER_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(address)) for address in API_SERVER_IPS]
    _issue(pki, ca, "apiserver", _name("kube-apiserver"), usage=ExtendedKeyUsageOID.SERVER_AUTH, sans=sans)
    for stem, (user, group) in CLIENTS.items():
        _issue(pki, ca, stem, _name(user, group), usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    # Service-account tokens are signed with this key (kube-apiserver) and checked with its public half.
    service_account = _new_key()
    _write_key(pki.key("service-account"), service_account)
    public = service_account.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (directory / "service-account.pub").write_bytes(public)
    return pki
