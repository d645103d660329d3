"""`make bench`: measure, print the results and write them to bench/RESULTS.md.

`--quick` is the short version `make test` runs (tests/test_bench.py): small
figures, one run, so that the benchmark cannot rot.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import abuse, engine, evaluation, hashing, scale, small_requests, transfers
from bench.abuse import Volume
from bench.report import Results, markdown
from bench.small_requests import Load

RESULTS = Path(__file__).with_name("RESULTS.md")
# A tmpfs for the transfers' storage: the figures are about TLS and authentication, not the disk.
MEMORY = "/dev/shm"


@dataclass(frozen=True)
class Profile:
    runs: int
    costs: tuple[int, ...]
    load: Load
    before: Load
    transfer_mib: int
    users: tuple[int, ...]
    abuse: Volume


FULL = Profile(
    runs=5,
    costs=(5, 10, 12),
    load=Load(requests=2000, concurrency=8),
    # The registry's own htpasswd pays bcrypt per request: fewer requests, the same concurrency.
    before=Load(requests=200, concurrency=8),
    transfer_mib=256,
    users=(1, 10, 100),
    abuse=Volume(oversized=200, wrong=1000, guesses=10),
)
QUICK = Profile(
    runs=1,
    costs=(5,),
    load=Load(100, 8),
    before=Load(100, 8),
    transfer_mib=8,
    users=(1, 3),
    abuse=Volume(oversized=20, wrong=100, guesses=2),
)


def run(profile: Profile, command: str) -> Results:
    with tempfile.TemporaryDirectory(prefix="image-registry-bench-") as directory:
        workspace = Path(directory)
        requests = small_requests.measure(
            workspace / "requests", profile.costs, profile.load, profile.before, profile.runs
        )
        with (
            tempfile.TemporaryDirectory(prefix="image-registry-bench-", dir=MEMORY) as in_memory,
            small_requests.secured_pod(Path(in_memory) / "transfers", 10) as registry,
        ):
            throughputs = transfers.measure(registry, profile.transfer_mib, 4, profile.runs)
        evaluations = evaluation.measure(profile.users, profile.runs, workspace)
        abuses = abuse.measure(workspace / "abuse", profile.abuse, profile.runs)
        engine_times = engine.measure(profile.runs, workspace)
    hash_costs = hashing.measure((4, *profile.costs), profile.runs)
    return Results(
        command,
        profile.runs,
        requests,
        throughputs,
        profile.transfer_mib,
        evaluations,
        scale.measure(),
        hash_costs,
        abuses,
        engine_times,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short version: small figures, one run")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"where to write the results ({RESULTS.name})")
    arguments = parser.parse_args(argv)
    command = "make bench" if not arguments.quick else shlex.join(["python", "-m", "bench", *argv])
    text = markdown(run(QUICK if arguments.quick else FULL, command))
    print(text)
    arguments.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
