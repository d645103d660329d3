"""What one bcrypt check costs at each cost: the price of a guess against a stolen hash."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import bcrypt

from bench.stats import Figure

# Checks per timing: enough for a few hundred milliseconds at the lowest cost.
CHECKS = {4: 200, 5: 100, 10: 8, 12: 2}


@dataclass
class HashCost:
    cost: int
    milliseconds: Figure = field(default_factory=lambda: Figure("ms"))


def measure(costs: tuple[int, ...], runs: int) -> list[HashCost]:
    results = [HashCost(cost) for cost in costs]
    for _ in range(runs):
        for result in results:
            hashed = bcrypt.hashpw(b"a-Passw0rd-someone-chose", bcrypt.gensalt(result.cost))
            checks = CHECKS.get(result.cost, 1)
            started = time.perf_counter()
            for _ in range(checks):
                bcrypt.checkpw(b"a-guess", hashed)
            result.milliseconds.add((time.perf_counter() - started) * 1000 / checks)
    return results
