"""Large transfers: skopeo pushes and pulls one image, plain and secured, through the same registry process.

Besides the throughput, each transfer's CPU time is counted per process: the
client (skopeo), the front (Caddy) and the registry. On a machine where all
three share the CPUs, the throughput ratio is the ratio of the work; the CPU
seconds per GiB say where the secured path's extra work is.
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Figure
from components.workload.front import UPSTREAM
from tests.e2e import Registry
from tests.images import build_random_image

# skopeo remembers where blobs already are and mounts them from there instead of uploading:
# forgotten before every push, so that each push sends every byte.
BLOB_INFO_CACHE = "/var/lib/containers/cache"
DIRECTIONS = ("push", "pull")
PARTS = ("client", "front", "registry")


@dataclass
class Throughput:
    label: str
    # MiB/s by direction.
    rate: dict[str, Figure] = field(default_factory=lambda: {way: Figure("MiB/s") for way in DIRECTIONS})
    # CPU seconds per GiB by (direction, part).
    cpu: dict[tuple[str, str], Figure] = field(
        default_factory=lambda: {(way, part): Figure("s/GiB") for way in DIRECTIONS for part in PARTS}
    )


def image_mib(layout: Path) -> float:
    return sum(blob.stat().st_size for blob in (layout / "blobs" / "sha256").iterdir()) / 2**20


def _process_cpu(pid: int) -> float:
    """User and system seconds of a running process (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


Step = tuple[Callable[..., tuple[int, str]], tuple[Any, ...]]


def _transfer(registry: Registry, way: str, into: Throughput, mib: float, step: Step) -> None:
    """Run the step (it must succeed) and record its rate and every part's CPU time."""
    pids = {part: registry.sandbox.processes[part].pid for part in ("front", "registry")}
    before = {part: _process_cpu(pid) for part, pid in pids.items()} | {"client": _children_cpu()}
    started = time.monotonic()
    function, arguments = step
    code, error = function(*arguments)
    elapsed = time.monotonic() - started
    assert code == 0, error
    after = {part: _process_cpu(pid) for part, pid in pids.items()} | {"client": _children_cpu()}
    into.rate[way].add(mib / elapsed)
    for part in PARTS:
        into.cpu[(way, part)].add((after[part] - before[part]) / (mib / 1024))


def _steps(registry: Registry, secured: bool, image: Path, destination: Path, reference: str) -> dict[str, Step]:
    """Push and pull: through the front with credentials, or straight to the registry's plain HTTP."""
    client = registry.client
    if secured:
        host = registry.run.outputs["registryHost"]
        return {
            "push": (registry.push, (image, host, reference)),
            "pull": (registry.pull, (host, destination, reference)),
        }
    remote = f"docker://{UPSTREAM}/{reference}"
    return {
        "push": (_plain_copy, (registry, f"oci:{client.inside(image)}:latest", remote)),
        "pull": (_plain_copy, (registry, remote, f"oci:{client.inside(destination)}:latest")),
    }


def measure(registry: Registry, total_mib: int, layers: int, runs: int) -> list[Throughput]:
    """Push then pull the image `runs` times each way, plain and secured alternating."""
    image = registry.workspace / "transfer-image"
    build_random_image(image, total_mib=total_mib, layer_count=layers)
    mib = image_mib(image)
    plain, secured = Throughput("plain registry: HTTP, no authentication"), Throughput("secured: TLS, credentials")
    destination = registry.workspace / "transfer-pulled"
    for attempt in range(runs):
        for throughput in (plain, secured):
            reference = f"bench/{'secured' if throughput is secured else 'plain'}-{attempt}:latest"
            registry.client.run("rm", "-rf", BLOB_INFO_CACHE)
            for way, step in _steps(registry, throughput is secured, image, destination, reference).items():
                _transfer(registry, way, throughput, mib, step)
            shutil.rmtree(destination)
    return [plain, secured]


def _plain_copy(registry: Registry, source: str, destination: str) -> tuple[int, str]:
    return registry.skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", source, destination)
