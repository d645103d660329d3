"""The benchmark's short version (`python -m bench --quick`): every section runs, so `make bench` cannot rot.

Its figures are too few to judge the goals; what is checked is that every case
was measured, answered 200 to every request (bench/small_requests.py asserts
it), and that an unchanged re-run computes no hash at all. It runs the way a
person does, as a command (tests/ imports nothing of bench/: both share harness/).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from harness.doubles import PROJECT_DIR
from harness.e2e import require_tools

SECTIONS = (
    "## 1. Small requests",
    "## 2. Large transfers",
    "## 3. The program under the mock engine",
    "## 4. Scale of the rendered stack",
    "## 5. What a bcrypt check costs",
    "## 6. Without credentials: what a request costs the pod",
)


def table_rows(text: str, section: str) -> list[list[str]]:
    """The rows of the first table under `section` (header and rule left out)."""
    body = text.split(section, 1)[1]
    table = next(line for line in body.split("\n\n") if line.startswith("| "))
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]


def test_the_quick_benchmark_measures_every_case(tmp_path: Path) -> None:
    require_tools()
    results = tmp_path / "RESULTS.md"
    command = [sys.executable, "-m", "bench", "--quick", "--output", str(results)]
    run = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    text = results.read_text()
    assert all(section in text for section in SECTIONS)
    assert re.search(r"^- machine: `nproc` \d+, memory [\d.]+ GiB", text, re.M)
    requests = {row[0]: float(row[2]) for row in table_rows(text, SECTIONS[0])}
    assert set(requests) >= {"plain registry: HTTP, no authentication", "secured, generated password (cost 4)"}
    assert all(rate > 0 for rate in requests.values())
    transfers = table_rows(text, SECTIONS[1])
    # The client kept apart from the pod needs a CPU of its own.
    layouts = ["shared", "client apart"] if len(os.sched_getaffinity(0)) > 1 else ["shared"]
    cases = ["plain registry: HTTP, no authentication", "secured: TLS, credentials"]
    cases.append("before: the registry's own TLS and htpasswd")
    assert [row[:2] for row in transfers] == [[layout, case] for layout in layouts for case in cases]
    assert all(float(row[2].split()[0]) > 0 and float(row[3].split()[0]) > 0 for row in transfers)
    evaluations = table_rows(text, SECTIONS[2])
    assert [row[0] for row in evaluations] == ["1", "3"]
    assert [row[3] for row in evaluations] == ["0", "0"], "an unchanged re-run hashed again"
    scales = {row[0]: int(row[3]) for row in table_rows(text, SECTIONS[3])}
    assert scales["prod"] > scales["dev"] > 0
    costs = {int(row[0]): float(row[1]) for row in table_rows(text, SECTIONS[4])}
    assert costs[5] > costs[4] > 0
    memory = table_rows(text, SECTIONS[5])
    assert len(memory) == 4
    assert memory[0][0] == "idle"
    assert float(memory[0][1]) > 0, "the pod's resident memory was read"
    assert "Goal: an unknown user costs no more than a wrong password at cost 10" in text
