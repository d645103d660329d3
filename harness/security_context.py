"""A container's securityContext as the kubelet applies it: what its processes are (user, groups, capabilities,
no_new_privs, a read-only root), from the pod's and the container's contexts, and the `setpriv` that makes a
process so in the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What a runtime (containerd, CRI-O) grants a container whose spec drops nothing.
RUNTIME_DEFAULT_CAPABILITIES = (
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "NET_RAW",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)  # fmt: skip


@dataclass
class Security:
    """A container's securityContext over its pod's, as the kubelet applies it to the container's processes."""

    run_as_user: int
    run_as_group: int
    # Supplementary groups: the pod's fsGroup and supplementalGroups.
    groups: list[int]
    read_only_root: bool
    # The capabilities the container's processes hold (and may ever hold: the bounding set), by name.
    capabilities: list[str]
    # allowPrivilegeEscalation: false
    no_new_privs: bool

    @classmethod
    def of(cls, pod: dict[str, Any], container: dict[str, Any]) -> Security:
        context = {**(pod.get("securityContext") or {}), **(container.get("securityContext") or {})}
        assert not context.get("privileged"), "the sandbox runs no privileged container"
        user = int(context.get("runAsUser", 0))  # the images' user: root
        assert not (context.get("runAsNonRoot") and user == 0), (
            f"{container['name']}: runAsNonRoot with uid 0: the kubelet would not start it"
        )
        pod_context = pod.get("securityContext") or {}
        groups = [*([pod_context["fsGroup"]] if "fsGroup" in pod_context else []),
                  *pod_context.get("supplementalGroups", [])]  # fmt: skip
        capabilities = context.get("capabilities") or {}
        dropped = {_capability(name) for name in capabilities.get("drop", [])}
        kept = set() if "ALL" in dropped else set(RUNTIME_DEFAULT_CAPABILITIES) - dropped
        return cls(
            run_as_user=user,
            run_as_group=int(context.get("runAsGroup", 0)),
            groups=sorted(set(groups)),
            read_only_root=bool(context.get("readOnlyRootFilesystem")),
            capabilities=sorted(kept | {_capability(name) for name in capabilities.get("add", [])}),
            no_new_privs=context.get("allowPrivilegeEscalation") is False,
        )


def _capability(name: str) -> str:
    return name.upper().removeprefix("CAP_")


def identity(security: Security) -> list[str]:
    """`setpriv` making the process what its securityContext says: its user, group and supplementary groups,
    no_new_privs, and exactly its capabilities (every other one dropped, out of its bounding set too).

    The capabilities a spec adds are given as ambient ones, so that every process of the container holds
    them; a runtime sets none (a non-root process has an added capability only from the file capabilities of
    the binary it runs, as the caddy image's /usr/bin/caddy has NET_BIND_SERVICE). What is dropped is gone
    either way."""
    capabilities = ",".join(["-all", *(f"+{name.lower()}" for name in security.capabilities)])
    groups = f"--groups={','.join(map(str, security.groups))}" if security.groups else "--clear-groups"
    return [
        "/usr/bin/setpriv", f"--reuid={security.run_as_user}", f"--regid={security.run_as_group}", groups,
        f"--bounding-set={capabilities}", f"--inh-caps={capabilities}", f"--ambient-caps={capabilities}",
        *(["--no-new-privs"] if security.no_new_privs else []), "--",
    ]  # fmt: skip
