"""ServerCertificate: signed by our CA, every derived name in it, the right usages."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from harness.doubles import ProgramRun, Registration, contains_secret
from tests.conftest import RunProgram

# The manual install's names, written out here on purpose (the program derives them).
SEED_NAMES = {
    "image-registry.8-mega.internal",
    "image-registry.8-mega.example.com",
    "image-registry",
    "image-registry.kube-infra",
    "image-registry.kube-infra.svc",
    "image-registry.kube-infra.svc.cluster.local",
}


def certificates(run: ProgramRun) -> tuple[x509.Certificate, x509.Certificate]:
    ca_pem = run.one("tls:index/selfSignedCert:SelfSignedCert").plain_outputs["certPem"]
    server_pem = server_signer(run).plain_outputs["certPem"]
    return x509.load_pem_x509_certificate(ca_pem.encode()), x509.load_pem_x509_certificate(server_pem.encode())


def server_signer(run: ProgramRun) -> Registration:
    return run.named("tls:index/locallySignedCert:LocallySignedCert", "image-registry-server-cert")


def dns_names(certificate: x509.Certificate) -> set[str]:
    return set(
        certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    )


def test_sans_are_the_hostnames_and_every_service_name(dev_run: ProgramRun) -> None:
    _, server = certificates(dev_run)
    assert dns_names(server) == SEED_NAMES


@pytest.mark.parametrize("name", sorted(SEED_NAMES))
def test_certificate_verifies_against_the_ca_for_each_name(dev_run: ProgramRun, name: str) -> None:
    ca, server = certificates(dev_run)
    verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(x509.DNSName(name))
    chain = verifier.verify(server, [])
    assert chain[-1] == ca


def test_certificate_does_not_verify_for_other_names(dev_run: ProgramRun) -> None:
    ca, server = certificates(dev_run)
    verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(x509.DNSName("registry.8-mega.internal"))
    with pytest.raises(x509.verification.VerificationError):
        verifier.verify(server, [])


def test_openssl_agrees(dev_run: ProgramRun, tmp_path: Path) -> None:
    ca, server = certificates(dev_run)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-purpose", "sslserver",
         "-verify_hostname", "image-registry.kube-infra.svc.cluster.local",
         "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "server.pem")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": OK")


def test_usages_and_constraints(dev_run: ProgramRun) -> None:
    _, server = certificates(dev_run)
    constraints = server.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is False
    usage = server.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_encipherment, "an EC key never encrypts (RFC 5480)"
    assert not usage.key_cert_sign
    extended = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(extended) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_lifetime_and_early_renewal(dev_run: ProgramRun) -> None:
    _, server = certificates(dev_run)
    assert server.not_valid_after_utc - server.not_valid_before_utc == datetime.timedelta(hours=8760)
    signer = server_signer(dev_run)
    assert signer.inputs["earlyRenewalHours"] == 720
    assert signer.plain_outputs["readyForRenewal"] is False


def test_key_is_p256_for_cheap_handshakes(dev_run: ProgramRun) -> None:
    _, server = certificates(dev_run)
    public_key = server.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)


def test_key_is_secret_and_matches(dev_run: ProgramRun) -> None:
    _, server = certificates(dev_run)
    key = next(item for item in dev_run.of_type("tls:index/privateKey:PrivateKey") if item.name.endswith("-server-key"))
    assert contains_secret(key.outputs["privateKeyPem"])
    request = dev_run.named("tls:index/certRequest:CertRequest", "image-registry-server-csr")
    assert contains_secret(request.inputs["privateKeyPem"])
    private = serialization.load_pem_private_key(key.plain_outputs["privateKeyPem"].encode(), None)
    assert private.public_key() == server.public_key()


def test_extra_names_and_addresses(run_with: RunProgram) -> None:
    run = run_with(tls={"extraDnsNames": ["registry.lan"], "extraIpAddresses": ["192.0.2.10"]}, namespace="infra")
    _, server = certificates(run)
    assert dns_names(server) == {
        "image-registry.8-mega.internal",
        "image-registry.8-mega.example.com",
        "image-registry",
        "image-registry.infra",
        "image-registry.infra.svc",
        "image-registry.infra.svc.cluster.local",
        "registry.lan",
    }
    addresses = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.IPAddress
    )
    assert addresses == [ipaddress.ip_address("192.0.2.10")]
