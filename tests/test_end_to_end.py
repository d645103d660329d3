"""End to end: the seed's own verification, against the real registry running the rendered pod.

Debian's `docker-registry` (Distribution 2.8, the code of the `registry:2`
image) runs with exactly the Deployment's environment and volumes, as the
pod's user; `skopeo` and `curl` trust only the stack's `caCertPem` and log in
with the stack's credentials. External names come in on 443 (as through the
Ingress), the Service name on 5000.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.doubles import FaithfulMocks, ProgramRun, dev_config, run_program
from tests.pod_sandbox import PodLayout, Sandbox, build_busybox_image

REQUIRED_TOOLS = (
    "docker-registry",
    "skopeo",
    "busybox",
    "curl",
    "unshare",
    "nsenter",
    "setpriv",
    "iptables",
    "openssl",
)
NOT_IN_CERTIFICATE = "not-in-certificate.8-mega.local"
REPOSITORY = "utils/busybox"


@dataclass
class Registry:
    run: ProgramRun
    mocks: FaithfulMocks
    layout: PodLayout
    sandbox: Sandbox
    workspace: Path
    image_digest: str

    @property
    def password(self) -> str:
        return str(self.run.outputs["password"])

    @property
    def username(self) -> str:
        return str(self.run.outputs["username"])

    def addresses(self) -> list[str]:
        """Every external hostname (via the Ingress, 443) and the Service's cluster name (5000)."""
        return [*self.run.outputs["hostnames"], self.run.outputs["internalHost"]]

    def skopeo(self, *argv: str) -> tuple[int, str]:
        result = self.sandbox.run("skopeo", "--policy", self.sandbox.inside(self.workspace / "policy.json"), *argv)
        return result.returncode, result.stderr.strip()

    def curl(self, url: str, *options: str) -> tuple[int, str, str]:
        """(curl exit code, HTTP status, body): trusting only the stack's CA unless told otherwise."""
        trust = [] if "--no-ca" in options else ["--cacert", self.ca_file]
        rest = [option for option in options if option != "--no-ca"]
        result = self.sandbox.run("curl", "-sS", "-w", "\n%{http_code}", *trust, *rest, url)
        body, _, status = result.stdout.rpartition("\n")
        return result.returncode, status, (body or result.stderr).strip()

    @property
    def ca_file(self) -> str:
        return self.sandbox.inside(self.workspace / "trust" / "ca.crt")

    @property
    def trust_dir(self) -> str:
        return self.sandbox.inside(self.workspace / "trust")

    def credentials(self, password: str | None = None) -> str:
        return f"{self.username}:{password if password is not None else self.password}"

    def inspect_digest(self, address: str, *, trust: bool = True, password: str | None = None) -> tuple[int, str]:
        options = ["--cert-dir", self.trust_dir] if trust else []
        result = self.sandbox.run(
            "skopeo", "--policy", self.sandbox.inside(self.workspace / "policy.json"), "inspect", *options,
            "--creds", self.credentials(password), "--format", "{{.Digest}}", f"docker://{address}/{REPOSITORY}:latest",
        )  # fmt: skip
        return result.returncode, (result.stdout if result.returncode == 0 else result.stderr).strip()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    assert os.geteuid() == 0, "the end-to-end tests need root: they mount and unshare namespaces"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    assert not missing, f"missing {', '.join(missing)}: `make test` installs them (Debian packages)"
    mocks = FaithfulMocks()
    run = run_program(dev_config(), mocks)
    workspace = tmp_path_factory.mktemp("pod")
    certificate_names = sorted(
        {
            *run.outputs["hostnames"],
            "image-registry",
            "image-registry.kube-infra",
            "image-registry.kube-infra.svc",
            "image-registry.kube-infra.svc.cluster.local",
        }
    )
    layout = PodLayout.from_run(run, workspace, [*certificate_names, NOT_IN_CERTIFICATE])
    trust = workspace / "trust"
    trust.mkdir()
    (trust / "ca.crt").write_text(run.outputs["caCertPem"])
    digest = build_busybox_image(workspace / "busybox")
    sandbox = Sandbox(layout)
    try:
        sandbox.start_registry()
        yield Registry(run, mocks, layout, sandbox, workspace, digest)
    finally:
        sandbox.close()


def test_push_through_every_certificate_name(registry: Registry) -> None:
    source = f"oci:{registry.sandbox.inside(registry.workspace / 'busybox')}:latest"
    for address in registry.addresses():
        code, error = registry.skopeo(
            "copy",
            "--dest-cert-dir",
            registry.trust_dir,
            "--dest-creds",
            registry.credentials(),
            source,
            f"docker://{address}/{REPOSITORY}:latest",
        )
        assert code == 0, f"push to {address}: {error}"


def test_catalog_and_tags_as_in_the_seed(registry: Registry) -> None:
    for address in registry.addresses():
        code, status, body = registry.curl(f"https://{address}/v2/_catalog", "-u", registry.credentials())
        assert (code, status) == (0, "200"), body
        assert json.loads(body) == {"repositories": ["utils/busybox"]}
        code, status, body = registry.curl(
            f"https://{address}/v2/utils/busybox/tags/list", "-u", registry.credentials()
        )
        assert (code, status) == (0, "200"), body
        assert json.loads(body) == {"name": "utils/busybox", "tags": ["latest"]}


def test_pull_back_gives_the_same_digest(registry: Registry) -> None:
    for index, address in enumerate(registry.addresses()):
        code, digest = registry.inspect_digest(address)
        assert (code, digest) == (0, registry.image_digest), address
        destination = registry.workspace / f"pulled-{index}"
        code, error = registry.skopeo(
            "copy", "--src-cert-dir", registry.trust_dir, "--src-creds", registry.credentials(),
            f"docker://{address}/{REPOSITORY}:latest", f"oci:{registry.sandbox.inside(destination)}:latest",
        )  # fmt: skip
        assert code == 0, error
        index_json = json.loads((destination / "index.json").read_text())
        assert index_json["manifests"][0]["digest"] == registry.image_digest


def test_wrong_password_gets_401(registry: Registry) -> None:
    for address in registry.addresses():
        code, status, body = registry.curl(
            f"https://{address}/v2/_catalog", "-u", registry.credentials("not-the-password")
        )
        assert status == "401", body
        assert "UNAUTHORIZED" in body
    code, error = registry.inspect_digest(registry.addresses()[0], password="not-the-password")
    assert code != 0
    assert "unauthorized" in error


def test_no_credentials_gets_401_but_the_probe_path_answers(registry: Registry) -> None:
    address = registry.addresses()[0]
    assert registry.curl(f"https://{address}/v2/")[1] == "401"
    assert registry.curl(f"https://{address}/")[1] == "200"


def test_a_client_without_the_ca_fails_verification(registry: Registry) -> None:
    for address in registry.addresses():
        code, digest_or_error = registry.inspect_digest(address, trust=False)
        assert code != 0
        assert "certificate signed by unknown authority" in digest_or_error
        code, _, body = registry.curl(f"https://{address}/v2/", "--no-ca", "-u", registry.credentials())
        assert code == 60, body


def test_a_name_not_in_the_certificate_fails_hostname_verification(registry: Registry) -> None:
    code, error = registry.inspect_digest(NOT_IN_CERTIFICATE)
    assert code != 0
    assert f"not {NOT_IN_CERTIFICATE}" in error
    code, _, body = registry.curl(f"https://{NOT_IN_CERTIFICATE}/v2/", "-u", registry.credentials())
    assert code == 60
    assert "no alternative certificate subject name matches" in body


def test_tls_older_than_1_2_is_refused(registry: Registry) -> None:
    code, _, _ = registry.curl(f"https://{registry.addresses()[0]}/", "--tlsv1.0", "--tls-max", "1.1")
    assert code != 0
    code, status, _ = registry.curl(f"https://{registry.addresses()[0]}/", "--tlsv1.2", "--tls-max", "1.2")
    assert (code, status) == (0, "200")


def test_a_new_user_works_without_a_restart(registry: Registry) -> None:
    config = dev_config()
    config["image-registry:users"] = json.dumps([{"name": "registry"}, {"name": "ci", "password": "ci-Passw0rd-2026"}])
    updated = run_program(config, registry.mocks, secret_keys=["image-registry:users"])
    assert updated.outputs["password"] == registry.password
    registry_process = registry.sandbox.registry
    registry.layout.update_secret(updated, "htpasswd")
    address = registry.addresses()[0]
    code, status, body = registry.curl(f"https://{address}/v2/_catalog", "-u", "ci:ci-Passw0rd-2026")
    assert (code, status) == (0, "200"), body
    assert registry.curl(f"https://{address}/v2/_catalog", "-u", registry.credentials())[1] == "200"
    assert registry.sandbox.registry is registry_process
    assert registry_process is not None
    assert registry_process.poll() is None


def test_images_survive_a_restart_on_the_same_storage(registry: Registry) -> None:
    registry.sandbox.stop_registry()
    registry.sandbox.start_registry()
    for address in registry.addresses():
        _code, _status, body = registry.curl(f"https://{address}/v2/_catalog", "-u", registry.credentials())
        assert json.loads(body) == {"repositories": ["utils/busybox"]}
        assert registry.inspect_digest(address) == (0, registry.image_digest)
