"""The pod sandbox applies each container's securityContext as a kubelet does, so the end-to-end tests would
fail for a container that needs more than its spec grants.

Each container's processes run as its runAsUser and runAsGroup with the pod's fsGroup as a supplementary
group, with no_new_privs (allowPrivilegeEscalation: false), holding exactly the capabilities the spec leaves
(none for the registry, NET_BIND_SERVICE for the front); with readOnlyRootFilesystem its root is read-only
but for the volumes it mounts writable. Hooks and exec probes run the same way (`Sandbox.exec_in`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from components.workload.environment import DATA_DIR
from harness.doubles import FaithfulMocks, dev_config, run_program
from harness.e2e import Registry
from harness.pod_layout import PodLayout
from harness.pod_sandbox import Sandbox
from harness.registry_release import BINARY_IN_IMAGE, IMAGE_CONFIG, pinned, version_of
from harness.security_context import Security

NET_BIND_SERVICE = 1 << 10  # its bit in the kernel's capability masks
BIND_443 = "import socket; socket.socket().bind(('127.0.0.1', 443))"
PYTHON = "/usr/bin/python3"


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def group_processes(leader: int) -> list[int]:
    """Every process of a container: its process group (the sandbox starts each in a session of its own)."""
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    found = []
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        if int(fields[2]) == leader:  # pgrp
            found.append(pid)
    return found


@pytest.mark.parametrize(("container", "capabilities"), [("registry", 0), ("front", NET_BIND_SERVICE)])
def test_every_process_of_a_container_has_the_identity_its_spec_gives(
    registry: Registry, container: str, capabilities: int
) -> None:
    """The containers' own processes (the front's reload loop and its `sleep` too): user, groups, caps."""
    leader = registry.sandbox.processes[container].pid
    processes = group_processes(leader)
    assert leader in processes
    assert len(processes) > (2 if container == "front" else 0), "the front runs caddy, its reload loop, a sleep"
    for pid in processes:
        process = status(pid)
        assert process["Uid"].split() == ["10001"] * 4, (container, process["Name"])
        assert process["Gid"].split() == ["10001"] * 4, (container, process["Name"])
        assert process["Groups"].split() == ["10001"], "the pod's fsGroup, and no other"
        assert process["NoNewPrivs"] == "1", "allowPrivilegeEscalation: false"
        for mask in ("CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(process[mask], 16) == capabilities, (container, process["Name"], mask)


def test_the_registry_is_the_release_the_stack_pins(registry: Registry) -> None:
    release = pinned()
    assert os.path.samefile(f"/proc/{registry.sandbox.processes['registry'].pid}/exe", release.binary)
    assert version_of(release) == "v3.1.1"
    answer = registry.sandbox.exec_in("registry", BINARY_IN_IMAGE, "--version")
    assert answer.stdout.split()[-1] == "v3.1.1", answer
    image_config = registry.sandbox.exec_in("registry", "cat", "/etc/distribution/config.yml")
    assert image_config.stdout == IMAGE_CONFIG.read_text(), "the image's own file, verbatim"


@pytest.mark.parametrize("container", ["registry", "front"])
def test_exec_in_a_container_runs_as_the_container(registry: Registry, container: str) -> None:
    """What hooks and exec probes run, with the same identity."""
    identity = [registry.sandbox.exec_in(container, "id", option).stdout.strip() for option in ("-u", "-g", "-G")]
    assert identity == ["10001", "10001", "10001"]
    own = registry.sandbox.exec_in(container, "cat", "/proc/self/status").stdout.splitlines()
    assert "NoNewPrivs:\t1" in own


@pytest.mark.parametrize(
    ("container", "writable", "read_only"),
    [
        pytest.param("registry", [DATA_DIR, "/tmp"], ["/", "/etc", "/var/tmp", "/etc/registry/config"], id="registry"),
        pytest.param("front", ["/tmp"], ["/", "/etc", "/var/tmp", "/etc/caddy/config", "/etc/caddy/tls"], id="front"),
    ],
)
def test_a_read_only_root_but_for_the_volumes_mounted_writable(
    registry: Registry, container: str, writable: list[str], read_only: list[str]
) -> None:
    """readOnlyRootFilesystem: writes outside the writable volumes fail for the mount's sake (EROFS, which the
    kernel answers before it looks at permissions), even where the mode allows them (/var/tmp is 1777)."""
    for directory in writable:
        answer = registry.sandbox.exec_in(
            container, "sh", "-c", f'echo x > "{directory}/probe" && rm "{directory}/probe"'
        )
        assert answer.returncode == 0, (directory, answer.stderr)
    for directory in read_only:
        answer = registry.sandbox.exec_in(container, "sh", "-c", f'echo x > "{directory}/probe"')
        assert answer.returncode != 0, f"{container} wrote into {directory}"
        assert "Read-only file system" in answer.stderr, (directory, answer.stderr)


@pytest.mark.parametrize(("container", "writable"), [("registry", {DATA_DIR, "/tmp"}), ("front", {"/tmp"})])
def test_every_mount_but_the_writable_volumes_is_read_only(
    registry: Registry, container: str, writable: set[str]
) -> None:
    """The whole root as the container sees it: the image's files, the workspace the sandbox adds, the volumes;
    only /dev, /proc and /sys stay as the runtime mounts them."""
    mounts = registry.sandbox.exec_in(container, "cat", "/proc/self/mountinfo").stdout.splitlines()
    options = {line.split()[4]: set(line.split()[5].split(",")) for line in mounts}
    runtime = ("/dev", "/proc", "/sys")
    read_write = {path for path, flags in options.items() if "rw" in flags and not path.startswith(runtime)}
    assert read_write == writable
    assert "ro" in options["/"]


def test_a_dropped_capability_is_gone_an_added_one_is_there(registry: Registry) -> None:
    """Ports below 1024 need NET_BIND_SERVICE: the front adds it, the registry drops it with ALL."""
    front = registry.sandbox.exec_in("front", PYTHON, "-c", BIND_443)
    assert front.returncode == 0, front.stderr
    refused = registry.sandbox.exec_in("registry", PYTHON, "-c", BIND_443)
    assert refused.returncode != 0
    assert "Permission denied" in refused.stderr, refused.stderr


def test_root_without_capabilities_cannot_do_what_root_does(tmp_path: Path) -> None:
    """The node-trust DaemonSet runs as uid 0 with every capability dropped: chown needs CAP_CHOWN, a file
    of another user needs CAP_DAC_OVERRIDE. The sandbox runs it so; it needs neither."""
    config = dev_config()
    config["image-registry:nodeTrust"] = json.dumps({"enabled": True})
    layout = PodLayout.from_run(run_program(config, FaithfulMocks()), tmp_path, [], kind="DaemonSet", pod_name="nt")
    container = layout.container()
    assert (container.security.run_as_user, container.security.capabilities) == (0, [])
    stranger = tmp_path / "stranger"
    stranger.write_text("")
    stranger.chmod(0o600)
    os.chown(stranger, 4242, 4242)
    sandbox = Sandbox(layout)
    try:
        inside = sandbox.inside(stranger)
        chown = sandbox.exec_in("node-trust", "chown", "1", "/host/etc/containerd/certs.d")
        assert (chown.returncode, "not permitted" in chown.stderr) == (1, True), chown
        read = sandbox.exec_in("node-trust", "cat", inside)
        assert (read.returncode, "Permission denied" in read.stderr) == (1, True), read
        status_text = sandbox.exec_in("node-trust", "cat", "/proc/self/status").stdout
        assert "NoNewPrivs:\t1" in status_text
        assert "CapBnd:\t0000000000000000" in status_text
    finally:
        sandbox.close()


def test_the_security_context_read_as_the_kubelet_reads_it() -> None:
    """The container's fields over the pod's; a runtime's default capabilities when ALL is not dropped;
    no_new_privs only for allowPrivilegeEscalation: false; runAsNonRoot with uid 0 refused."""
    pod = {"securityContext": {"runAsUser": 1000, "runAsGroup": 2000, "fsGroup": 3000, "supplementalGroups": [4000]}}
    container = {
        "name": "c",
        "securityContext": {"runAsUser": 1500, "capabilities": {"drop": ["NET_RAW", "CAP_KILL"], "add": ["SYS_TIME"]}},
    }
    security = Security.of(pod, container)
    assert (security.run_as_user, security.run_as_group, security.groups) == (1500, 2000, [3000, 4000])
    assert (security.read_only_root, security.no_new_privs) == (False, False)
    assert {"SYS_TIME", "CHOWN"} <= set(security.capabilities)
    assert not {"NET_RAW", "KILL"} & set(security.capabilities)
    with pytest.raises(AssertionError, match="runAsNonRoot"):
        Security.of({"securityContext": {"runAsNonRoot": True}}, {"name": "c"})
