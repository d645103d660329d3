"""A `pulumi` for tests of `make renew`: it answers previews with given documents and records every call.

There is no Pulumi CLI on these machines: what it stands for is the CLI's interface as its reference
documents it (`pulumi preview --json`, `--target`, `--target-dependents`, `pulumi up --policy-pack`).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

_SCRIPT = """#!{python}
import json, sys
from pathlib import Path
here = Path({here!r})
with (here / "calls").open("a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
answers = json.loads((here / "answers.json").read_text())
if sys.argv[1] == "preview":
    answer = answers["targeted" if "--target" in sys.argv else "full"]
    print(json.dumps(answer["document"], indent=4))
    sys.exit(answer["status"])
sys.exit(answers.get(sys.argv[1], 0))
"""


class FakePulumi:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        executable = bin_dir / "pulumi"
        executable.write_text(_SCRIPT.format(python=sys.executable, here=str(bin_dir)))
        executable.chmod(0o755)
        self.answer(full={}, targeted={})

    def answer(
        self, *, full: dict[str, Any], targeted: dict[str, Any], preview_status: int = 0, up_status: int = 0
    ) -> None:
        answers = {
            "full": {"document": full, "status": preview_status},
            "targeted": {"document": targeted, "status": preview_status},
            "up": up_status,
        }
        (self.bin_dir / "answers.json").write_text(json.dumps(answers))

    def calls(self) -> list[list[str]]:
        record = self.bin_dir / "calls"
        return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []

    def command_lines(self) -> list[str]:
        return [shlex.join(["pulumi", *call]) for call in self.calls()]
