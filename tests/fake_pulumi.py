"""A `pulumi` for tests of the Makefile and `make renew`: a project's stacks, the one selected, their config; it
answers previews with given documents and records every call.

It answers as the real CLI does (v3.277.0, checked by hand on a file backend with no stack selected, and in
pkg/cmd/pulumi/stack of pulumi/pulumi): `pulumi version`; `pulumi stack --show-name` prints the stack's name
(`organization/image-registry/NAME` with `--fully-qualify-stack-names`, as on a self-managed backend); with no
stack selected every command that needs one fails with exit 1 and `error: no stack selected; please use \\`pulumi
stack select\\` or \\`pulumi stack init\\` to choose one` (`… \\`pulumi stack select\\` to choose one` for the
commands that never offer a new stack: `stack output`, `destroy`) — unless stdin is a terminal and neither
`--non-interactive` nor CI says otherwise: then it prompts to choose or create a stack (recorded here as a call
with `"prompted": true`; the real CLI waits for an answer). `--stack NAME` that names no stack fails with exit 6
and `error: no stack named 'NAME' found`. `pulumi stack ls --json`; `pulumi stack select [--create]` and
`pulumi stack init` select (and create) as the real ones do; `pulumi config --json` lists the stack's config,
an object with a secret inside as `{"secret": true}` only; `pulumi config get KEY --json` gives one key, secrets
decrypted; `pulumi preview --json`, `--target`, `--target-dependents`, `pulumi up --policy-pack` as its
reference documents them. The project's own config defaults (Pulumi.yaml), which the real `config --json` adds,
are left out: none is `storage`.

A stack's config is given as its `Pulumi.<stack>.yaml` holds it, the project's keys without the `image-registry:`
prefix (added here; another namespace's keys, such as `kubernetes:context`, in full), a secret as
`{"secure": "<its plaintext>"}`.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

VERSION = "v3.277.0"

_SCRIPT = """#!{python}
import json, os, sys
from pathlib import Path
here = Path({here!r})
state_file = here / "state.json"
state = json.loads(state_file.read_text())
answers = json.loads((here / "answers.json").read_text())
argv = sys.argv[1:]
QUALIFIER = "organization/image-registry/"
NOT_FOUND = 6

def option(name, short_name=None):
    for index, argument in enumerate(argv):
        if argument in (name, short_name) and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return None

flags = {{"--stack", "-s", "--target", "--policy-pack", "--cwd", "-C"}}
words = [a for i, a in enumerate(argv) if not a.startswith("-") and (i == 0 or argv[i - 1] not in flags)]
record = {{"argv": argv, "backend": os.environ.get("PULUMI_BACKEND_URL", ""), "stack": None}}

def finish(status, out="", err=""):
    with (here / "calls").open("a") as calls:
        calls.write(json.dumps(record) + "\\n")
    state_file.write_text(json.dumps(state))
    if out:
        print(out)
    if err:
        print(err, file=sys.stderr)
    sys.exit(status)

def interactive():
    ci = any(os.environ.get(name) for name in ("CI", "GITHUB_ACTIONS", "BUILD_NUMBER"))
    return "--non-interactive" not in argv and os.isatty(0) and not ci

def short(name):
    return name[len(QUALIFIER):] if name.startswith(QUALIFIER) else name

def require_stack(offer_new=True):
    named = option("--stack", "-s")
    if named is not None:
        if short(named) not in state["stacks"]:
            finish(NOT_FOUND, err=f"error: no stack named '{{named}}' found")
        record["stack"] = short(named)
        return short(named)
    if state["selected"] in state["stacks"]:
        record["stack"] = state["selected"]
        return state["selected"]
    if interactive():
        record["prompted"] = True
        finish(1, out="Please choose a stack" + (", or create a new one:" if offer_new else ":"))
    init = " or `pulumi stack init`" if offer_new else ""
    finish(1, err=f"error: no stack selected; please use `pulumi stack select`{{init}} to choose one")

def qualified(name):
    return QUALIFIER + name if "--fully-qualify-stack-names" in argv else name

def secret_inside(value):
    if isinstance(value, dict):
        return "secure" in value or any(secret_inside(item) for item in value.values())
    if isinstance(value, list):
        return any(secret_inside(item) for item in value)
    return False

def plain(value):
    if isinstance(value, dict):
        return value["secure"] if set(value) == {{"secure"}} else {{key: plain(item) for key, item in value.items()}}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value

def entry(value, show_secrets):
    secret = secret_inside(value)
    if secret and not show_secrets:
        return {{"secret": True}}
    value = plain(value)
    if isinstance(value, (dict, list)):
        return {{"value": json.dumps(value, separators=(",", ":")), "objectValue": value, "secret": secret}}
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    return {{"value": text, "secret": secret}}

command = words[:2]
if words[:1] == ["version"]:
    finish(0, out=state["version"])
if words == ["stack"]:
    name = require_stack()
    finish(0, out=qualified(name) if "--show-name" in argv else f"Current stack is {{name}}:")
if command == ["stack", "ls"]:
    listed = [{{"name": name, "current": name == state["selected"], "resourceCount": 0}} for name in state["stacks"]]
    finish(0, out=json.dumps(listed, indent=2))
if command == ["stack", "init"]:
    name = short(words[2] if len(words) > 2 else option("--stack", "-s"))
    state["stacks"].setdefault(name, {{}})
    state["selected"] = name
    finish(0, out=f"Created stack '{{name}}'")
if command == ["stack", "select"]:
    name = short(words[2] if len(words) > 2 else option("--stack", "-s"))
    if name not in state["stacks"]:
        if "--create" not in argv:
            finish(NOT_FOUND, err=f"error: no stack named '{{name}}' found")
        state["stacks"][name] = {{}}
    state["selected"] = name
    finish(0)
if command == ["stack", "output"]:
    require_stack(offer_new=False)
    finish(0, out="{{}}")
if words == ["config"] or command == ["config", "get"]:
    name = require_stack()
    config = {{key if ":" in key else "image-registry:" + key: value for key, value in state["stacks"][name].items()}}
    if command == ["config", "get"]:
        key = words[2] if ":" in words[2] else "image-registry:" + words[2]
        if key not in config:
            finish(1, err=f"error: configuration key '{{words[2]}}' not found for stack '{{name}}'")
        finish(0, out=json.dumps(entry(config[key], show_secrets=True), indent=2))
    listed = {{key: entry(value, "--show-secrets" in argv) for key, value in sorted(config.items())}}
    finish(0, out=json.dumps(listed, indent=2))
if words[:1] == ["preview"]:
    require_stack()
    answer = answers["targeted" if "--target" in argv else "full"]
    finish(answer["status"], out=json.dumps(answer["document"], indent=4))
if words[:1] in (["up"], ["destroy"]):
    require_stack(offer_new=words[0] == "up")
finish(answers.get(words[0] if words else "", 0))
"""


class FakePulumi:
    """The CLI over a project whose stacks are `stacks` (name → config), `selected` the one selected (none: none).

    By default the project has the stack `dev` (Pulumi.dev.yaml), not selected."""

    def __init__(
        self,
        bin_dir: Path,
        *,
        stacks: Mapping[str, Mapping[str, Any]] | None = None,
        selected: str | None = None,
        version: str = VERSION,
    ) -> None:
        self.bin_dir = bin_dir
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        executable = bin_dir / "pulumi"
        executable.write_text(_SCRIPT.format(python=sys.executable, here=str(bin_dir)))
        executable.chmod(0o755)
        state: dict[str, Any] = {
            "stacks": {"dev": {}} if stacks is None else dict(stacks),
            "selected": selected,
            "version": version,
        }
        (self.bin_dir / "state.json").write_text(json.dumps(state))
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

    def records(self) -> list[dict[str, Any]]:
        """Every call: its arguments (`argv`), the stack it worked on (`stack`, None when none), the backend
        (`backend`, PULUMI_BACKEND_URL), and `prompted` when it asked on a terminal."""
        record = self.bin_dir / "calls"
        return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []

    def calls(self) -> list[list[str]]:
        return [record["argv"] for record in self.records()]

    def command_lines(self) -> list[str]:
        return [shlex.join(["pulumi", *call]) for call in self.calls()]

    def stacks(self) -> list[str]:
        state: dict[str, Any] = json.loads((self.bin_dir / "state.json").read_text())
        return sorted(state["stacks"])

    def selected(self) -> str | None:
        state: dict[str, Any] = json.loads((self.bin_dir / "state.json").read_text())
        selected: str | None = state["selected"]
        return selected
