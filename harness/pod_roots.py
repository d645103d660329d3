"""The pod sandbox's holder: inside fresh mount, network and PID namespaces, one root per container and one
for clients, then it waits to be killed (harness/pod_sandbox.py starts it: `python -m harness.pod_roots PLAN`).

Each root is an overlay of `/` with the workspace, the pod's `/etc/hosts` and a system trust store that
trusts nothing; a container's root has its image's files (the registry or Caddy binary, the image's
configuration file) and its volumes bound at their paths and nothing of the others'. With
`readOnlyRootFilesystem` all of it is read-only but the volumes mounted writable, as in a container.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from harness.pod_layout import CADDY_BINARY, ContainerLayout, PodLayout

# CADDY_BINARY: where bench/ has found it.
__all__ = ["CADDY_BINARY", "CLIENT_ROOT", "INGRESS_PORT", "INSIDE"]

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
    hosts = [f"127.0.0.1 localhost {' '.join(layout.host_names)}", *layout.extra_hosts]
    (root / "etc" / "hosts").write_text("".join(f"{line}\n" for line in hosts))
    _sh("mount", "-t", "tmpfs", "tmpfs", f"{root}/etc/ssl/certs")
    trusted = decoy + "".join(layout.system_trust).encode()
    (root / "etc" / "ssl" / "certs" / "ca-certificates.crt").write_bytes(trusted)
    return root


def _container_root(root: Path, container: ContainerLayout) -> None:
    """The image's files and the container's volumes in its root; read-only but its writable volumes, if asked."""
    for path, source in container.image_files.items():
        target = Path(f"{root}{path}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
        _sh("mount", "--bind", source, str(target))
        _sh("mount", "-o", "remount,bind,ro", str(target))
    # A parent before what is mounted inside it, as containerd orders a container's mounts.
    for mount in sorted(container.mounts, key=lambda mount: len(Path(mount.target).parts)):
        target = Path(f"{root}{mount.target}")
        target.mkdir(parents=True, exist_ok=True)
        _sh("mount", "--bind", mount.source, str(target))
        if mount.read_only:
            _sh("mount", "-o", "remount,bind,ro", str(target))
    if container.security.read_only_root:
        # The root and what the sandbox added to it (the workspace, the trust store); /dev, /proc and /sys
        # stay as a runtime leaves them, and each volume as its mount says.
        for read_only in (root, Path(f"{root}{INSIDE}"), root / "etc" / "ssl" / "certs"):
            _sh("mount", "-o", "remount,bind,ro", str(read_only))


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
        _container_root(_build_root(nsroot, f"c-{container.name}", layout, decoy), container)
    _sh("ip", "link", "set", "lo", "up")
    if layout.redirect_ingress and layout.port:
        # What the Ingress does for external names: 443 reaches the pod's HTTPS port.
        _sh("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "127.0.0.1", "--dport", str(INGRESS_PORT),
            "-j", "REDIRECT", "--to-ports", str(layout.port))  # fmt: skip
    (state / "ready").write_text("ready")
    signal.pause()


if __name__ == "__main__":
    _hold(sys.argv[1])
