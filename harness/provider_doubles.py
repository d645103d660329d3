"""Faithful doubles of the tls and random providers: real keys, real certificates, real randomness.

Each function takes a resource's inputs (as the provider's schema names them)
and returns its outputs, as the provider's create would.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import secrets
import string
from collections.abc import Mapping
from typing import Any

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# What each provider's schema marks secret in its outputs (the engine does this
# from additionalSecretOutputs; the mock monitor does not, so the doubles must).
SECRET_OUTPUTS: dict[str, tuple[str, ...]] = {
    "tls:index/privateKey:PrivateKey": ("privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"),
    "tls:index/certRequest:CertRequest": ("privateKeyPem",),
    "tls:index/selfSignedCert:SelfSignedCert": ("privateKeyPem",),
    "tls:index/locallySignedCert:LocallySignedCert": ("caPrivateKeyPem",),
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "random:index/randomBytes:RandomBytes": ("base64", "hex"),
    "kubernetes:core/v1:Secret": ("data", "stringData"),
}

_KEY_USAGES = {
    "digital_signature": "digital_signature",
    "content_commitment": "content_commitment",
    "key_encipherment": "key_encipherment",
    "data_encipherment": "data_encipherment",
    "key_agreement": "key_agreement",
    "cert_signing": "key_cert_sign",
    "crl_signing": "crl_sign",
    "encipher_only": "encipher_only",
    "decipher_only": "decipher_only",
}
_EXTENDED_KEY_USAGES = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
}
_SUBJECT_FIELDS = {
    "commonName": NameOID.COMMON_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "country": NameOID.COUNTRY_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "province": NameOID.STATE_OR_PROVINCE_NAME,
}
_RANDOM_PASSWORD_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"


def _name(subject: Mapping[str, Any] | None) -> x509.Name:
    attributes = []
    for key, oid in _SUBJECT_FIELDS.items():
        if subject and subject.get(key):
            attributes.append(x509.NameAttribute(oid, subject[key]))
    return x509.Name(attributes)


def _sans(dns_names: list[str] | None, ip_addresses: list[str] | None) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names or []]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses or []]
    return names


def _load_key(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _build_certificate(
    inputs: Mapping[str, Any],
    *,
    subject: x509.Name,
    public_key: Any,
    issuer: x509.Name,
    issuer_key: Any,
    issuer_certificate: x509.Certificate | None,
    sans: list[x509.GeneralName],
) -> dict[str, Any]:
    """What terraform-provider-tls's createCertificate does, with cryptography."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    not_after = now + datetime.timedelta(hours=int(inputs["validityPeriodHours"]))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=bool(inputs.get("isCaCertificate")), path_length=None), critical=True)
    )
    uses = list(inputs.get("allowedUses") or [])
    key_usage_flags = dict.fromkeys(_KEY_USAGES.values(), False)
    for use in uses:
        if use in _KEY_USAGES:
            key_usage_flags[_KEY_USAGES[use]] = True
    if any(key_usage_flags.values()):
        builder = builder.add_extension(x509.KeyUsage(**key_usage_flags), critical=True)
    extended = [_EXTENDED_KEY_USAGES[use] for use in uses if use in _EXTENDED_KEY_USAGES]
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if inputs.get("setSubjectKeyId"):
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if issuer_certificate is not None:
        try:
            ski = issuer_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
        except x509.ExtensionNotFound:
            pass
    certificate = builder.sign(issuer_key, hashes.SHA256())
    early = int(inputs.get("earlyRenewalHours") or 0)
    return {
        **inputs,
        "certPem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": now.isoformat().replace("+00:00", "Z"),
        "validityEndTime": not_after.isoformat().replace("+00:00", "Z"),
        "readyForRenewal": now >= not_after - datetime.timedelta(hours=early),
    }


def private_key(inputs: Mapping[str, Any]) -> dict[str, Any]:
    algorithm = inputs.get("algorithm", "RSA")
    key: Any
    if algorithm == "RSA":
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(inputs.get("rsaBits", 2048)))
    elif algorithm == "ECDSA":
        curves = {"P224": ec.SECP224R1(), "P256": ec.SECP256R1(), "P384": ec.SECP384R1(), "P521": ec.SECP521R1()}
        key = ec.generate_private_key(curves[inputs.get("ecdsaCurve", "P224")])
    else:
        raise ValueError(f"the double does not generate {algorithm} keys")
    pem = serialization.Encoding.PEM
    # "RSA PRIVATE KEY" (PKCS#1) or "EC PRIVATE KEY" (SEC 1), as the provider writes them.
    traditional = serialization.PrivateFormat.TraditionalOpenSSL
    return {
        **inputs,
        "privateKeyPem": key.private_bytes(pem, traditional, serialization.NoEncryption()).decode(),
        "privateKeyPemPkcs8": key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "publicKeyPem": key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        "publicKeyOpenssh": key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + "\n",
    }


def self_signed_cert(inputs: Mapping[str, Any]) -> dict[str, Any]:
    key = _load_key(inputs["privateKeyPem"])
    subject = _name(inputs.get("subject"))
    sans = _sans(inputs.get("dnsNames"), inputs.get("ipAddresses"))
    return _build_certificate(
        inputs,
        subject=subject,
        public_key=key.public_key(),
        issuer=subject,
        issuer_key=key,
        issuer_certificate=None,
        sans=sans,
    )


def cert_request(inputs: Mapping[str, Any]) -> dict[str, Any]:
    key = _load_key(inputs["privateKeyPem"])
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(inputs.get("subject")))
    sans = _sans(inputs.get("dnsNames"), inputs.get("ipAddresses"))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    request = builder.sign(key, hashes.SHA256())
    return {**inputs, "certRequestPem": request.public_bytes(serialization.Encoding.PEM).decode()}


def locally_signed_cert(inputs: Mapping[str, Any]) -> dict[str, Any]:
    request = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
    if not request.is_signature_valid:
        raise ValueError("certificate request signature is invalid")
    ca_certificate = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
    ca_key = _load_key(inputs["caPrivateKeyPem"])
    try:
        sans = list(request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        sans = []
    return _build_certificate(
        inputs,
        subject=request.subject,
        public_key=request.public_key(),
        issuer=ca_certificate.subject,
        issuer_key=ca_key,
        issuer_certificate=ca_certificate,
        sans=sans,
    )


def random_password(inputs: Mapping[str, Any]) -> dict[str, Any]:
    alphabet = ""
    if inputs.get("upper", True):
        alphabet += string.ascii_uppercase
    if inputs.get("lower", True):
        alphabet += string.ascii_lowercase
    if inputs.get("numeric", True):
        alphabet += string.digits
    if inputs.get("special", True):
        alphabet += inputs.get("overrideSpecial") or _RANDOM_PASSWORD_SPECIAL
    result = "".join(secrets.choice(alphabet) for _ in range(int(inputs["length"])))
    return {**inputs, "result": result, "bcryptHash": bcrypt.hashpw(result.encode(), bcrypt.gensalt(10)).decode()}


def random_bytes(inputs: Mapping[str, Any]) -> dict[str, Any]:
    data = secrets.token_bytes(int(inputs["length"]))
    return {**inputs, "base64": base64.b64encode(data).decode(), "hex": data.hex()}


def kubernetes_object(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The provider's auto-naming (`<resource name>-<8 hex>` when metadata.name is absent), and its Check of a
    Secret: `stringData` moved into `data`, base64, which is what the engine keeps and a policy pack sees."""
    metadata = dict(inputs.get("metadata") or {})
    metadata.setdefault("name", f"{name}-{secrets.token_hex(4)}")
    checked = {**inputs, "metadata": metadata}
    if "stringData" in checked:
        encoded = {key: base64.b64encode(value.encode()).decode() for key, value in checked.pop("stringData").items()}
        checked["data"] = {**(checked.get("data") or {}), **encoded}
    return checked


CREATORS = {
    "tls:index/privateKey:PrivateKey": private_key,
    "tls:index/selfSignedCert:SelfSignedCert": self_signed_cert,
    "tls:index/certRequest:CertRequest": cert_request,
    "tls:index/locallySignedCert:LocallySignedCert": locally_signed_cert,
    "random:index/randomPassword:RandomPassword": random_password,
    "random:index/randomBytes:RandomBytes": random_bytes,
}
