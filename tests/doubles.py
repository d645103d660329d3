"""Faithful test doubles for Pulumi's engine and the providers the program uses.

`FaithfulMocks` really does what the providers do: the tls resources generate
real keys and sign real certificates (with `cryptography`), the random
resources draw real randomness, and Kubernetes objects get the provider's
auto-naming (`<name>-<8 hex>`). It also keeps state between runs the way
Pulumi does: a resource whose inputs did not change keeps its outputs; one
whose inputs changed gets new ones (a new key, a new certificate, a new
auto-name), as a replacement would.

`run_program` runs `__main__.py` under these mocks and records everything the
program registered, with the secret markers and resource options the engine
would see.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import runpy
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import pulumi
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT_DIR = Path(__file__).resolve().parent.parent

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


def unwrap(value: Any) -> Any:
    """The value with every Pulumi secret marker removed, and whole numbers as int
    (protobuf carries every number as a float; Kubernetes wants integers back)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def redact(value: Any) -> Any:
    """The value with every secret replaced by a marker: what is left is plain text in state."""
    if rpc.is_rpc_secret(value):
        return "(secret)"
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def contains_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_secret(item) for item in value)
    return False


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
        traditional = serialization.PrivateFormat.TraditionalOpenSSL
    elif algorithm == "ECDSA":
        curves = {"P224": ec.SECP224R1(), "P256": ec.SECP256R1(), "P384": ec.SECP384R1(), "P521": ec.SECP521R1()}
        key = ec.generate_private_key(curves[inputs.get("ecdsaCurve", "P224")])
        traditional = serialization.PrivateFormat.TraditionalOpenSSL
    else:
        raise ValueError(f"the double does not generate {algorithm} keys")
    pem = serialization.Encoding.PEM
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
    """The provider's auto-naming: `<resource name>-<8 hex>` when metadata.name is absent."""
    metadata = dict(inputs.get("metadata") or {})
    metadata.setdefault("name", f"{name}-{secrets.token_hex(4)}")
    return {**inputs, "metadata": metadata}


_CREATORS = {
    "tls:index/privateKey:PrivateKey": private_key,
    "tls:index/selfSignedCert:SelfSignedCert": self_signed_cert,
    "tls:index/certRequest:CertRequest": cert_request,
    "tls:index/locallySignedCert:LocallySignedCert": locally_signed_cert,
    "random:index/randomPassword:RandomPassword": random_password,
    "random:index/randomBytes:RandomBytes": random_bytes,
}


@dataclass
class _Stored:
    inputs: Any
    resource_id: str
    outputs: dict[str, Any]


class FaithfulMocks(pulumi.runtime.Mocks):
    """Provider doubles with state: keep one instance to model re-runs of a stack."""

    def __init__(self, stacks: Mapping[str, ProgramRun] | None = None) -> None:
        self.state: dict[tuple[str, str], _Stored] = {}
        self.created: list[tuple[str, str]] = []
        # What a StackReference reads: other stacks' outputs, by fully qualified stack name.
        self.stacks = dict(stacks or {})

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = unwrap(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            # A read (no `custom` flag): the other stack's outputs, with its secret ones named as such.
            other = self.stacks[inputs["name"]]
            state = {
                "name": inputs["name"],
                "outputs": other.outputs,
                "secretOutputNames": sorted(other.secret_outputs),
            }
            return inputs["name"], state
        if not args.custom:
            return None, {}
        key = (args.typ, args.name)
        stored = self.state.get(key)
        if stored is not None and stored.inputs == inputs:
            return stored.resource_id, stored.outputs
        if args.typ in _CREATORS:
            outputs = _CREATORS[args.typ](inputs)
        elif args.typ.startswith("kubernetes:"):
            outputs = kubernetes_object(args.name, inputs)
        else:
            raise AssertionError(f"no test double for resource type {args.typ}")
        for secret_output in SECRET_OUTPUTS.get(args.typ, ()):
            if secret_output in outputs:
                outputs[secret_output] = rpc.wrap_rpc_secret(outputs[secret_output])
        resource_id = f"{args.name}-id-{secrets.token_hex(4)}"
        self.state[key] = _Stored(inputs, resource_id, outputs)
        self.created.append(key)
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise AssertionError(f"the program must not invoke functions, but called {args.token}")


@dataclass
class Registration:
    """A resource as the engine saw it: inputs keep their secret markers."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool
    delete_before_replace: bool
    replace_on_changes: tuple[str, ...]
    retain_on_delete: bool
    # The URNs this resource answers to besides its own (its earlier places in the tree).
    aliases: tuple[str, ...]

    @property
    def plain_inputs(self) -> dict[str, Any]:
        plain: dict[str, Any] = unwrap(self.inputs)
        return plain

    @property
    def plain_outputs(self) -> dict[str, Any]:
        plain: dict[str, Any] = unwrap(self.outputs)
        return plain


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping each registration's options."""

    def __init__(self, mocks: FaithfulMocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.registrations[response.urn] = Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=request.custom,
                inputs=rpc.deserialize_properties(request.object),
                outputs=self.resources[response.urn].state,
                protect=request.protect,
                delete_before_replace=request.deleteBeforeReplace,
                replace_on_changes=tuple(request.replaceOnChanges),
                retain_on_delete=request.retainOnDelete,
                aliases=tuple(request.aliasURNs) + tuple(_alias_urn(request, alias) for alias in request.aliases),
            )
        return response


def _alias_urn(request: Any, alias: Any) -> str:
    """The URN an alias stands for, as the engine computes it from a spec (an empty parent is the same parent)."""
    if alias.WhichOneof("alias") == "urn":
        return str(alias.urn)
    spec = alias.spec
    stack, project = spec.stack or pulumi.get_stack(), spec.project or pulumi.get_project()
    kind, name = spec.type or request.type, spec.name or request.name
    parent = "" if spec.noParent else (spec.parentUrn or request.parent)
    qualified = f"{parent.split('::')[2]}${kind}" if parent else kind
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    registrations: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_token: str) -> list[Registration]:
        return [item for item in self.registrations if item.type == type_token]

    def one(self, type_token: str) -> Registration:
        found = self.of_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
        return found[0]

    def kubernetes(self) -> list[Registration]:
        return [item for item in self.registrations if item.type.startswith("kubernetes:")]

    def manifests(self) -> list[dict[str, Any]]:
        """Every Kubernetes object as the provider would send it (names resolved, secrets unwrapped)."""
        result = []
        for item in self.kubernetes():
            _, group_version, kind = item.type.split(":")
            manifest = {key: value for key, value in item.plain_outputs.items() if not key.startswith("__")}
            if item.type == "kubernetes:apiextensions.k8s.io:CustomResource":
                result.append(manifest)
                continue
            api_version = group_version.replace("core/v1", "v1")
            result.append({"apiVersion": api_version, "kind": kind, **manifest})
        return result

    def manifest(self, kind: str) -> dict[str, Any]:
        found = [item for item in self.manifests() if item["kind"] == kind]
        assert len(found) == 1, f"expected one {kind}, found {len(found)}"
        return found[0]


def dev_config() -> dict[str, str]:
    """Pulumi.dev.yaml's settings, as the engine hands them to the program (objects as JSON)."""
    return stack_config("dev")


def stack_config(stack: str) -> dict[str, str]:
    """Pulumi.<stack>.yaml's settings, as the engine hands them to the program (objects as JSON)."""
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    config: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return config


def run_program(
    config: Mapping[str, str],
    mocks: FaithfulMocks | None = None,
    *,
    stack: str = "dev",
    preview: bool = False,
    secret_keys: list[str] | None = None,
    monitor: RecordingMonitor | None = None,
    root_directory: Path = PROJECT_DIR,
    project: str = "image-registry",
    program: Path = PROJECT_DIR / "__main__.py",
) -> ProgramRun:
    """Run `program` once under the mocks, as `pulumi up` would, and wait for it.

    `root_directory` is where the CLI says Pulumi.yaml (and the stack files) are.
    """
    mocks = mocks if mocks is not None else FaithfulMocks()
    monitor = monitor if monitor is not None else RecordingMonitor(mocks)
    ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    # The mock settings leave it unset; the CLI always passes it (--root_directory).
    pulumi.runtime.settings.SETTINGS.root_directory = str(root_directory)
    pulumi.runtime.set_all_config(dict(config), secret_keys or [])

    def main() -> None:
        runpy.run_path(str(program), run_name="__main__")

    _sync_await(run_pulumi_func(main))
    run = ProgramRun(list(monitor.registrations.values()))
    root = ROOT.get()
    for name, value in getattr(root, "outputs", {}).items():
        output = pulumi.Output.from_input(value)
        run.outputs[name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            run.secret_outputs.add(name)
    return run
