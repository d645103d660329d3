"""The registry under test: the rendered pod running in its sandbox, and a client that trusts only the stack's CA."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from components.settings.project import DEFAULT_FRONT_IMAGE, service_dns_names
from harness.doubles import FaithfulMocks, ProgramRun
from harness.images import build_random_image
from harness.pod_layout import CADDY_BINARY, PodLayout
from harness.pod_sandbox import Sandbox
from harness.registry_release import pinned, version_of

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
    "nginx",
    "haproxy",
)
# The front's release the stack pins (caddy:2.10.2-alpine@…): the sandbox runs that binary.
FRONT_RELEASE = DEFAULT_FRONT_IMAGE.split(":")[1].split("-")[0]
NOT_IN_CERTIFICATE = "not-in-certificate.8-mega.internal"
REPOSITORY = "utils/busybox"


def require_tools() -> None:
    assert os.geteuid() == 0, "the end-to-end tests need root: they mount and unshare namespaces"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    assert not missing, f"missing {', '.join(missing)}: `make test` installs them (Debian packages)"
    version = subprocess.run([CADDY_BINARY, "version"], capture_output=True, text=True, check=False).stdout
    assert version.startswith(f"v{FRONT_RELEASE} "), f"the front's Caddy is {version!r}, not {FRONT_RELEASE}"
    registry = pinned()  # built from the module proxy when it is not there yet
    assert version_of(registry) == registry.version, f"{registry.binary} is {version_of(registry)!r}, not {registry}"


def certificate_names(run: ProgramRun) -> list[str]:
    """The names a client may use: the external hostnames and every form of the Service's name."""
    service = service_dns_names(run.outputs["serviceName"], run.outputs["namespace"])
    return sorted({*run.outputs["hostnames"], *service})


@dataclass
class Registry:
    run: ProgramRun
    mocks: FaithfulMocks
    layout: PodLayout
    sandbox: Sandbox
    workspace: Path
    # Where clients run: the pod's own network unless the registry sits behind a proxy elsewhere.
    client_sandbox: Sandbox | None = None
    # What every new pod needs before its registry starts (a link to an object store, say).
    on_new_pod: Callable[[Sandbox], None] | None = None

    @property
    def client(self) -> Sandbox:
        return self.client_sandbox or self.sandbox

    @property
    def password(self) -> str:
        return str(self.run.outputs["password"])

    @property
    def username(self) -> str:
        return str(self.run.outputs["username"])

    def addresses(self) -> list[str]:
        """Every external hostname (via the Ingress, 443) and the Service's cluster name (5000)."""
        return [*self.run.outputs["hostnames"], self.run.outputs["internalHost"]]

    @property
    def trust_dir(self) -> str:
        return self.client.inside(self.workspace / "trust")

    @property
    def ca_file(self) -> str:
        return self.client.inside(self.workspace / "trust" / "ca.crt")

    def credentials(self, password: str | None = None) -> str:
        return f"{self.username}:{password if password is not None else self.password}"

    def _skopeo_argv(self, *argv: str) -> list[str]:
        return ["skopeo", "--policy", self.client.inside(self.workspace / "policy.json"), *argv]

    def skopeo(self, *argv: str) -> tuple[int, str]:
        result = self.client.run(*self._skopeo_argv(*argv))
        return result.returncode, result.stderr.strip()

    def _push_argv(self, layout: Path, address: str, reference: str, login: str | None = None) -> list[str]:
        return self._skopeo_argv(
            "copy", "--dest-cert-dir", self.trust_dir, "--dest-creds", login or self.credentials(),
            f"oci:{self.client.inside(layout)}:latest", f"docker://{address}/{reference}",
        )  # fmt: skip

    def push(
        self, layout: Path, address: str, reference: str = f"{REPOSITORY}:latest", login: str | None = None
    ) -> tuple[int, str]:
        """skopeo's (exit code, error) pushing `layout`; as the first user unless `login` ("user:password")."""
        result = self.client.run(*self._push_argv(layout, address, reference, login))
        return result.returncode, result.stderr.strip()

    def start_push(self, layout: Path, address: str, reference: str) -> subprocess.Popen[str]:
        """A push in the background, returned once its layers are on their way to the registry: an upload
        started, as the front's access log (the record of every request) shows it."""
        has_front = any(container.name == "front" for container in self.layout.containers)
        log = self.sandbox.log("front" if has_front else None)
        before = log.read_text().count("blobs/uploads/")
        push = self.client.start(*self._push_argv(layout, address, reference))
        deadline = time.monotonic() + 30
        while log.read_text().count("blobs/uploads/") == before and push.poll() is None:
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.01)
        time.sleep(0.2)
        assert push.poll() is None, "the push ended before anything could happen to it: use a larger image"
        return push

    def push_killed_midway(self, layout: Path, address: str, reference: str) -> tuple[int, str]:
        """Push, and SIGKILL the registry once the layers are on their way; the push's (code, error)."""
        push = self.start_push(layout, address, reference)
        self.sandbox.kill_registry()
        _, error = push.communicate(timeout=120)
        return push.returncode, error.strip()

    def pull(
        self, address: str, destination: Path, reference: str = f"{REPOSITORY}:latest", login: str | None = None
    ) -> tuple[int, str]:
        return self.skopeo(
            "copy", "--src-cert-dir", self.trust_dir, "--src-creds", login or self.credentials(),
            f"docker://{address}/{reference}", f"oci:{self.client.inside(destination)}:latest",
        )  # fmt: skip

    def curl(self, url: str, *options: str) -> tuple[int, str, str]:
        """(curl exit code, HTTP status, body): trusting only the stack's CA unless told otherwise."""
        trust = [] if "--no-ca" in options else ["--cacert", self.ca_file]
        rest = [option for option in options if option != "--no-ca"]
        result = self.client.run("curl", "-sS", "-w", "\n%{http_code}", *trust, *rest, url)
        body, _, status = result.stdout.rpartition("\n")
        return result.returncode, status, (body or result.stderr).strip()

    def catalog(self, address: str) -> object:
        code, status, body = self.curl(f"https://{address}/v2/_catalog", "-u", self.credentials())
        assert (code, status) == (0, "200"), body
        return json.loads(body)

    def inspect_digest(self, address: str, *, trust: bool = True, password: str | None = None) -> tuple[int, str]:
        options = ["--cert-dir", self.trust_dir] if trust else []
        result = self.client.run(*self._skopeo_argv(
            "inspect", *options, "--creds", self.credentials(password), "--format", "{{.Digest}}",
            f"docker://{address}/{REPOSITORY}:latest",
        ))  # fmt: skip
        return result.returncode, (result.stdout if result.returncode == 0 else result.stderr).strip()

    def pulled_digest(self, address: str, reference: str, destination: Path, login: str | None = None) -> str:
        """Pull `reference` into an OCI layout (skopeo checks every blob's digest) and return its manifest digest."""
        code, error = self.pull(address, destination, reference, login)
        assert code == 0, error
        digest: str = json.loads((destination / "index.json").read_text())["manifests"][0]["digest"]
        return digest

    def check_nothing_is_lost_when_killed_mid_push(self) -> None:
        """An image pushed before, and one whose push the registry's death cut, both whole after a retry."""
        host = self.run.outputs["registryHost"]
        earlier = build_random_image(self.workspace / "earlier", total_mib=8, layer_count=2)
        assert self.push(self.workspace / "earlier", host, "ci/earlier:1")[0] == 0
        large = build_random_image(self.workspace / "large", total_mib=64, layer_count=2)
        code, _ = self.push_killed_midway(self.workspace / "large", host, "ci/large:1")
        assert code != 0, "the push must have been cut"
        self.sandbox.start_registry()
        code, error = self.push(self.workspace / "large", host, "ci/large:1")
        assert code == 0, error
        assert self.pulled_digest(host, "ci/large:1", self.workspace / "pulled-large") == large
        assert self.pulled_digest(host, "ci/earlier:1", self.workspace / "pulled-earlier") == earlier

    def restart_pod(self, run: ProgramRun | None = None) -> None:
        """A new pod for the Deployment (of `run`, when its settings changed), as after a rollout or an
        eviction: volumes laid out anew. The old one is stopped as a rollout stops it."""
        self.sandbox.stop_registry()
        self.sandbox.close()
        self.run = run or self.run
        previous = self.layout
        self.layout = PodLayout.from_run(self.run, self.workspace, previous.host_names)
        self.layout.redirect_ingress = previous.redirect_ingress
        # What the test added to the pod's network (an upstream double's name and CA) stays.
        self.layout.extra_hosts, self.layout.system_trust = previous.extra_hosts, previous.system_trust
        self.sandbox = Sandbox(self.layout)
        if self.on_new_pod is not None:
            self.on_new_pod(self.sandbox)
        self.sandbox.start_registry()


@contextmanager
def running_registry(
    run: ProgramRun,
    mocks: FaithfulMocks,
    workspace: Path,
    *,
    redirect_ingress: bool = True,
    on_new_pod: Callable[[Sandbox], None] | None = None,
) -> Iterator[Registry]:
    """The rendered pod, started; every certificate name (and one that is not) resolves to it."""
    require_tools()
    layout = PodLayout.from_run(run, workspace, [*certificate_names(run), NOT_IN_CERTIFICATE])
    layout.redirect_ingress = redirect_ingress
    trust = workspace / "trust"
    trust.mkdir(exist_ok=True)
    (trust / "ca.crt").write_text(run.outputs["caCertPem"])
    registry = Registry(run, mocks, layout, Sandbox(layout), workspace, on_new_pod=on_new_pod)
    try:
        if on_new_pod is not None:
            on_new_pod(registry.sandbox)
        registry.sandbox.start_registry()
        yield registry
    finally:
        registry.sandbox.close()
