"""The program's cost: `__main__.py` under the mock engine, from process start to the last resource registered.

Each evaluation is a fresh process (`python -m bench.evaluation USERS STATE`),
as each `pulumi up` is. The state file stands for the backend: the first run
starts without one and leaves it; the re-run reads it, so unchanged resources
keep their outputs, as the engine keeps them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import Figure
from harness.doubles import FaithfulMocks, RecordingMonitor, dev_config, run_program

PROJECT_DIR = Path(__file__).resolve().parent.parent
HASH_TYPE = "pulumi-python:dynamic/image-registry:PasswordHash"


@dataclass
class Evaluation:
    users: int
    first: Figure = field(default_factory=lambda: Figure("s"))
    rerun: Figure = field(default_factory=lambda: Figure("s"))
    # Hashes computed by the re-runs (0 when nothing is redone).
    rehashed: int = 0


def users_config(count: int) -> list[dict[str, str]]:
    """`count` users with supplied passwords (hashed at bcryptCost, the expensive kind)."""
    return [{"name": f"user{index}", "password": f"Passw0rd-chosen-by-user-{index}"} for index in range(count)]


def evaluate(users: int, state: Path) -> tuple[float, int]:
    """One evaluation in a fresh process: (seconds to the last registration, hashes computed)."""
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "bench.evaluation", str(users), str(state)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    return report["last_registered"] - started, report["hashed"]


def measure(user_counts: tuple[int, ...], runs: int, workspace: Path) -> list[Evaluation]:
    evaluations = [Evaluation(count) for count in user_counts]
    for attempt in range(runs):
        for evaluation in evaluations:
            state = workspace / f"state-{evaluation.users}-{attempt}.json"
            first, _ = evaluate(evaluation.users, state)
            rerun, hashed = evaluate(evaluation.users, state)
            evaluation.first.add(first)
            evaluation.rerun.add(rerun)
            evaluation.rehashed += hashed
    return evaluations


def _child(users: int, state: Path) -> None:
    mocks = FaithfulMocks()
    if state.exists():
        mocks.load(state)
    monitor = RecordingMonitor(mocks)
    config = {**dev_config(), "image-registry:users": json.dumps(users_config(users))}
    run_program(config, mocks, secret_keys=["image-registry:users"], monitor=monitor)
    mocks.save(state)
    hashed = sum(1 for typ, _ in mocks.created if typ == HASH_TYPE)
    print(json.dumps({"last_registered": monitor.last_registered, "hashed": hashed}))


if __name__ == "__main__":
    _child(int(sys.argv[1]), Path(sys.argv[2]))
