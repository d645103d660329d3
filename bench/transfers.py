"""Large transfers: skopeo pushes and pulls one image, plain, secured and as before, through the same storage.

Plain is the pod's registry container over HTTP without authentication;
secured, the pod through its front; before, the same registry binary serving
TLS and htpasswd itself beside the pod (the previous design), so that what TLS
costs anyway is told apart from what the front adds.

Two CPU layouts: every process on every CPU ("shared"), and the client on one
CPU with the pod on the others ("apart"), as on a cluster where the client is
another node and the pod has its own CPU. Besides the throughput, each
transfer's CPU time is counted per process: the client (skopeo), the front
(Caddy) and the registry. When all three share the CPUs, the throughput ratio
is the ratio of the work; the CPU seconds per GiB say where the secured path's
extra work is.
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.small_requests import BEFORE_PORT, start_before
from bench.stats import Figure
from components.workload.front_config import UPSTREAM
from harness.e2e import Registry
from harness.images import build_random_image
from harness.process_usage import cpu_seconds

# skopeo remembers where blobs already are and mounts them from there instead of uploading:
# forgotten before every push, so that each push sends every byte.
BLOB_INFO_CACHE = "/var/lib/containers/cache"
DIRECTIONS = ("push", "pull")
PARTS = ("client", "front", "registry")
SHARED, APART = "shared", "apart"
PLAIN, SECURED, BEFORE = "plain", "secured", "before"
LABELS = {
    PLAIN: "plain registry: HTTP, no authentication",
    SECURED: "secured: TLS, credentials",
    BEFORE: "before: the registry's own TLS and htpasswd",
}


def layouts() -> tuple[str, ...]:
    """The client can be kept apart from the pod only with a CPU for each."""
    return (SHARED, APART) if len(os.sched_getaffinity(0)) > 1 else (SHARED,)


@dataclass
class Throughput:
    kind: str
    layout: str
    # MiB/s by direction.
    rate: dict[str, Figure] = field(default_factory=lambda: {way: Figure("MiB/s") for way in DIRECTIONS})
    # CPU seconds per GiB by (direction, part).
    cpu: dict[tuple[str, str], Figure] = field(
        default_factory=lambda: {(way, part): Figure("s/GiB") for way in DIRECTIONS for part in PARTS}
    )

    @property
    def label(self) -> str:
        return LABELS[self.kind]


def image_mib(layout: Path) -> float:
    return sum(blob.stat().st_size for blob in (layout / "blobs" / "sha256").iterdir()) / 2**20


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


Step = tuple[Callable[..., tuple[int, str]], tuple[Any, ...]]


@dataclass(frozen=True)
class Servers:
    """The pids of the pod's processes, and of the previous design's registry beside them."""

    front: int
    registry: int
    before: int

    def parts(self, kind: str) -> dict[str, int]:
        """The processes doing a kind's server work, by part; the previous design has no front."""
        return {"registry": self.before} if kind == BEFORE else {"front": self.front, "registry": self.registry}


def _cpu(servers: dict[str, int]) -> dict[str, float]:
    return {part: cpu_seconds(pid) for part, pid in servers.items()} | {"client": _children_cpu()}


def _transfer(servers: dict[str, int], way: str, into: Throughput, mib: float, step: Step) -> None:
    """Run the step (it must succeed) and record its rate and every part's CPU time."""
    before = _cpu(servers)
    started = time.monotonic()
    function, arguments = step
    code, error = function(*arguments)
    elapsed = time.monotonic() - started
    assert code == 0, error
    after = _cpu(servers)
    into.rate[way].add(mib / elapsed)
    for part in PARTS:
        into.cpu[(way, part)].add((after.get(part, 0.0) - before.get(part, 0.0)) / (mib / 1024))


def _steps(registry: Registry, kind: str, image: Path, destination: Path, reference: str) -> dict[str, Step]:
    """Push and pull: with credentials over TLS (the front, or the previous design), or plain HTTP to the registry."""
    client = registry.client
    if kind != PLAIN:
        host = registry.run.outputs["registryHost"]
        address = host if kind == SECURED else f"{host}:{BEFORE_PORT}"
        return {
            "push": (registry.push, (image, address, reference)),
            "pull": (registry.pull, (address, destination, reference)),
        }
    remote = f"docker://{UPSTREAM}/{reference}"
    return {
        "push": (_plain_copy, (registry, f"oci:{client.inside(image)}:latest", remote)),
        "pull": (_plain_copy, (registry, remote, f"oci:{client.inside(destination)}:latest")),
    }


def _pin(pids: list[int], cpus: set[int]) -> None:
    """Every thread of each process; threads started later inherit it."""
    for pid in pids:
        for task in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(task), cpus)


@contextmanager
def client_apart(servers: Servers) -> Iterator[None]:
    """The client (started by this process) on the first CPU, the pod's processes on the others."""
    every = os.sched_getaffinity(0)
    client_cpu = min(every)
    pod = [servers.front, servers.registry, servers.before]
    _pin(pod, every - {client_cpu})
    os.sched_setaffinity(0, {client_cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, every)
        _pin(pod, every)


def measure(registry: Registry, total_mib: int, layers: int, runs: int) -> list[Throughput]:
    """Push then pull the image `runs` times each way, every kind in turn, in each CPU layout."""
    image = registry.workspace / "transfer-image"
    build_random_image(image, total_mib=total_mib, layer_count=layers)
    mib = image_mib(image)
    processes = registry.sandbox.processes
    servers = Servers(processes["front"].pid, processes["registry"].pid, start_before(registry).pid)
    results = []
    for layout in layouts():
        throughputs = [Throughput(kind, layout) for kind in LABELS]
        with client_apart(servers) if layout == APART else nullcontext():
            for attempt in range(runs):
                for throughput in throughputs:
                    _push_and_pull(registry, servers, throughput, image, mib=mib, attempt=f"{attempt}-{layout}")
        results += throughputs
    return results


def _push_and_pull(
    registry: Registry, servers: Servers, throughput: Throughput, image: Path, *, mib: float, attempt: str
) -> None:
    reference = f"bench/{throughput.kind}-{attempt}:latest"
    destination = registry.workspace / "transfer-pulled"
    registry.client.run("rm", "-rf", BLOB_INFO_CACHE)
    for way, step in _steps(registry, throughput.kind, image, destination, reference).items():
        _transfer(servers.parts(throughput.kind), way, throughput, mib, step)
    shutil.rmtree(destination)


def _plain_copy(registry: Registry, source: str, destination: str) -> tuple[int, str]:
    return registry.skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", source, destination)
