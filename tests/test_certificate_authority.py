"""CertificateAuthority: a real, separate CA with the right constraints."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from harness.doubles import ProgramRun, contains_secret
from harness.program_run import secret_data
from tests.conftest import RunProgram


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


def _certificates(pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.encode())


def _generations(run: ProgramRun) -> dict[str, x509.Certificate]:
    """Each CA's certificate by the name of its resource."""
    return {
        item.name: x509.load_pem_x509_certificate(item.plain_outputs["certPem"].encode())
        for item in run.of_type("tls:index/selfSignedCert:SelfSignedCert")
    }


def _signer_of(run: ProgramRun) -> x509.Certificate:
    server = run.named("tls:index/locallySignedCert:LocallySignedCert", "image-registry-server-cert")
    certificate = x509.load_pem_x509_certificate(server.plain_outputs["certPem"].encode())
    (signer,) = [ca for ca in _generations(run).values() if ca.subject == certificate.issuer]
    certificate.verify_directly_issued_by(signer)
    return signer


def _trusted_everywhere(run: ProgramRun) -> list[list[x509.Certificate]]:
    """The CAs in each place that trusts them: the output, the nodes' files, the ingress's and the front's."""

    secrets = {item["metadata"]["name"]: item for item in run.manifests() if item["kind"] == "Secret"}
    node_files = next(item for item in run.manifests() if item["kind"] == "ConfigMap" and "ca.crt" in item["data"])
    ingress_ca = secret_data(secrets["image-registry-ca"])["ca.crt"]
    # The front's TLS Secret is auto-named: a new certificate is a new Secret, which rolls the pods.
    (tls,) = [secret for name, secret in secrets.items() if name.startswith("image-registry-tls-")]
    front_ca = secret_data(tls)["ca.crt"]
    return [
        _certificates(pem) for pem in (run.outputs["caCertPem"], node_files["data"]["ca.crt"], ingress_ca, front_ca)
    ]


def test_one_generation_is_the_ca_as_it_always_was(run_with: RunProgram) -> None:
    run = run_with(nodeTrust={"enabled": True})
    assert list(_generations(run)) == ["image-registry-ca-cert"], "an upgrade must not rename (replace) the CA"
    (ca,) = _generations(run).values()
    assert run.outputs["caCertPem"] == run.one("tls:index/selfSignedCert:SelfSignedCert").plain_outputs["certPem"]
    assert all(trusted == [ca] for trusted in _trusted_everywhere(run))


def test_a_rotation_trusts_the_next_ca_before_it_signs(run_with: RunProgram) -> None:
    prepared = run_with(nodeTrust={"enabled": True}, tls={"trustedCaGenerations": [1, 2]})
    cas = _generations(prepared)
    assert set(cas) == {"image-registry-ca-cert", "image-registry-ca-2-cert"}
    assert all(item.protect for item in prepared.of_type("tls:index/selfSignedCert:SelfSignedCert"))
    assert _signer_of(prepared) == cas["image-registry-ca-cert"], "the first step changes no certificate"
    assert "CA-2" in cas["image-registry-ca-2-cert"].subject.rfc4514_string()
    both = [cas["image-registry-ca-cert"], cas["image-registry-ca-2-cert"]]
    assert all(trusted == both for trusted in _trusted_everywhere(prepared))

    switched = run_with(nodeTrust={"enabled": True}, tls={"caGeneration": 2, "trustedCaGenerations": [1, 2]})
    cas = _generations(switched)
    assert _signer_of(switched) == cas["image-registry-ca-2-cert"]
    both = [cas["image-registry-ca-cert"], cas["image-registry-ca-2-cert"]]
    assert all(trusted == both for trusted in _trusted_everywhere(switched))

    finished = run_with(nodeTrust={"enabled": True}, tls={"caGeneration": 2})
    assert list(_generations(finished)) == ["image-registry-ca-2-cert"]
    (ca,) = _generations(finished).values()
    assert _signer_of(finished) == ca
    assert all(trusted == [ca] for trusted in _trusted_everywhere(finished))
