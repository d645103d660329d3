"""End to end: the node-trust DaemonSet's own command writes what containerd reads, and a client pulls with it.

The container's command is the rendered one (a shell script), run by Debian's
busybox-static with only busybox applets on its PATH, as in the registry image
it uses; its host directories are a directory of the workspace, bound in a
mount namespace. Then the files are what containerd expects, and `skopeo`
pulls `utils/busybox:latest` over the external hostname trusting the CA
directory the DaemonSet wrote, nothing else.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from harness.doubles import FaithfulMocks
from harness.e2e import REPOSITORY, running_registry
from harness.images import build_busybox_image
from tests.node_sandbox import node_trust_run, start_node_trust, wait_for


def test_the_daemon_set_makes_the_node_trust_the_registry(tmp_path: Path) -> None:
    mocks = FaithfulMocks()
    run = node_trust_run(mocks)
    with running_registry(run, mocks, tmp_path) as registry:
        host = run.outputs["registryHost"]
        digest = build_busybox_image(tmp_path / "busybox")
        assert registry.push(tmp_path / "busybox", host)[0] == 0

        node = start_node_trust(run, tmp_path)
        try:
            certs = tmp_path / "node" / "etc" / "containerd" / "certs.d"
            docker = tmp_path / "node" / "etc" / "docker" / "certs.d"
            hostnames = run.outputs["hostnames"]
            wait_for(
                [certs / name / "hosts.toml" for name in hostnames] + [docker / name / "ca.crt" for name in hostnames]
            )
            for name in hostnames:
                assert (certs / name / "ca.crt").read_text() == run.outputs["caCertPem"]
                assert (docker / name / "ca.crt").read_text() == run.outputs["caCertPem"]
                hosts = tomllib.loads((certs / name / "hosts.toml").read_text())
                ca = "ca.crt"
                assert (hosts["server"], hosts["ca"]) == (f"https://{name}", ca)
                assert hosts["host"][f"https://{name}"] == {"capabilities": ["pull", "resolve"], "ca": ca}

            trusted = registry.client.inside(certs / host)
            code, error = registry.skopeo(
                "copy", "--src-cert-dir", trusted, "--src-creds", registry.credentials(),
                f"docker://{host}/{REPOSITORY}:latest", f"oci:{registry.client.inside(tmp_path / 'pulled')}:latest",
            )  # fmt: skip
            assert code == 0, error
            assert json.loads((tmp_path / "pulled" / "index.json").read_text())["manifests"][0]["digest"] == digest

            # A file removed behind its back (a k3s restart, a person) comes back.
            (certs / host / "ca.crt").unlink()
            wait_for([certs / host / "ca.crt"])
        finally:
            node.close()
