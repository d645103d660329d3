"""CertificateAuthority: a real, separate CA with the right constraints."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from harness.doubles import ProgramRun, contains_secret


def ca_certificate(run: ProgramRun) -> x509.Certificate:
    pem = run.one("tls:index/selfSignedCert:SelfSignedCert").plain_outputs["certPem"]
    return x509.load_pem_x509_certificate(pem.encode())


def test_ca_is_a_certificate_authority(dev_run: ProgramRun) -> None:
    certificate = ca_certificate(dev_run)
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is True
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    assert certificate.issuer == certificate.subject
    assert certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


def test_ca_subject_and_lifetime(dev_run: ProgramRun) -> None:
    certificate = ca_certificate(dev_run)
    organization = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert organization == "infra-services"
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == datetime.timedelta(hours=87600)


def test_ca_is_the_stack_output(dev_run: ProgramRun) -> None:
    assert ca_certificate(dev_run) == x509.load_pem_x509_certificate(dev_run.outputs["caCertPem"].encode())


def test_ca_key_is_its_own_and_secret_wherever_used(dev_run: ProgramRun) -> None:
    keys = dev_run.of_type("tls:index/privateKey:PrivateKey")
    ca_key = next(key for key in keys if key.name.endswith("-ca-key"))
    assert ca_key.inputs["algorithm"] == "RSA"
    assert ca_key.inputs["rsaBits"] == 4096
    public = serialization.load_pem_public_key(ca_key.plain_outputs["publicKeyPem"].encode())
    assert public == ca_certificate(dev_run).public_key()
    assert contains_secret(ca_key.outputs["privateKeyPem"])
    for signer in dev_run.of_type("tls:index/locallySignedCert:LocallySignedCert"):
        assert contains_secret(signer.inputs["caPrivateKeyPem"])
    self_signed = dev_run.one("tls:index/selfSignedCert:SelfSignedCert")
    assert contains_secret(self_signed.inputs["privateKeyPem"])


def test_the_ca_cannot_be_replaced_silently(dev_run: ProgramRun) -> None:
    # A new CA must first be trusted by every node and client: preview fails instead of replacing it.
    ca_key = next(key for key in dev_run.of_type("tls:index/privateKey:PrivateKey") if key.name.endswith("-ca-key"))
    assert ca_key.protect
    assert dev_run.one("tls:index/selfSignedCert:SelfSignedCert").protect
    others = [key for key in dev_run.of_type("tls:index/privateKey:PrivateKey") if key is not ca_key]
    assert len(others) == 2, "the server's and the ingress client's"
    assert not any(key.protect for key in others), "their certificates renew themselves: they stay replaceable"
