"""The registry's own log: warnings and errors only, and never an upload's `_state` token.

The registry logs every line of a request with its URL, even an error's (a
cancelled upload logs one on 2.8 and 3.1 alike), and an upload's URL carries
its token. The serving container's command is the rendered shell script, run
here by busybox (as in the registry image) with a stand-in `registry` that
writes such lines, slowly: they come out without the token, each at once.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from harness.doubles import ProgramRun
from tests.rendered import container, environment, mounts, volumes

TOKEN = "c9lnRjcMig2__zmgDkd49iYClspwOheBj19aScSiVs97Ik5hbWUiOiJ1dGlscy9idXN5Ym94In0%3D"
UPLOAD = "/v2/utils/busybox/blobs/uploads/24b00aeb-d76f-405c-9ae6-d98f9a8e8a29"
LINES = [
    f'level=error msg="error closing blobwriter: already closed" http.request.uri="{UPLOAD}?_state={TOKEN}"',
    f'level=error msg="response completed with error" http.request.uri="{UPLOAD}?digest=sha256:ab&_state={TOKEN}"',
    f'127.0.0.1 - - "PATCH {UPLOAD}?%5Fst%61te={TOKEN}&_state={TOKEN} HTTP/1.1" 202 0',
    'level=error msg="response completed with error" err.code="manifest unknown" http.request.uri="/v2/a/manifests/b"',
]


def test_warnings_and_errors_only(dev_run: ProgramRun) -> None:
    env = environment(dev_run)
    assert env["REGISTRY_LOG_LEVEL"] == "warn", "no `info` line per request"
    assert env["REGISTRY_LOG_ACCESSLOG_DISABLED"] == "true", "no access log: the front's is the record"


def test_the_registry_serves_through_its_log_filter(dev_run: ProgramRun) -> None:
    registry = container(dev_run)
    assert registry["command"][:2] == ["/bin/sh", "-c"]
    assert registry["command"][3:] == ["registry"], "$0 of the script"
    (config_file,) = registry["args"]
    assert config_file.endswith(".yml")
    # The pipe lives in the registry's own scratch directory.
    assert "emptyDir" in volumes(dev_run)[mounts(dev_run)["/tmp"]["name"]]


def run_filter(dev_run: ProgramRun, tmp_path: Path) -> list[tuple[float, str]]:
    """The serving command, run by busybox with a stand-in registry; each output line with when it came."""
    (script,) = container(dev_run)["command"][2:3]
    stand_in = tmp_path / "bin" / "registry"
    stand_in.parent.mkdir()
    printed = "".join(f"echo '{line}' >&2; sleep 0.5; " for line in LINES)
    stand_in.write_text(f'#!/bin/busybox sh\necho "$*"; {printed}\n')
    stand_in.chmod(0o755)
    for applet in ("sh", "busybox", "mkfifo", "rm", "sleep"):
        (stand_in.parent / applet).symlink_to("/bin/busybox")
    # The script's scratch directory is the test's (the registry's is /tmp, its emptyDir).
    script = script.replace("/tmp/", f"{tmp_path}/")
    argv = ["/bin/busybox", "sh", "-c", script, "registry", *container(dev_run)["args"]]
    start = time.monotonic()
    process = subprocess.Popen(argv, env={"PATH": str(stand_in.parent)}, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    arrived = [(time.monotonic() - start, line.rstrip("\n")) for line in process.stdout]
    assert process.wait(timeout=30) == 0
    return arrived


def test_no_upload_token_leaves_the_container_and_every_line_at_once(dev_run: ProgramRun, tmp_path: Path) -> None:
    arrived = run_filter(dev_run, tmp_path)
    output = [line for _, line in arrived]
    assert output[0] == f"serve {container(dev_run)['args'][0]}", "the registry serves its config file"
    assert len(output) == 1 + len(LINES)
    for line in output:
        assert TOKEN not in line
        assert "state=" not in line
    assert output[1].endswith(f'http.request.uri="{UPLOAD}?"')
    assert output[2].endswith(f'http.request.uri="{UPLOAD}?digest=sha256:ab&"')
    assert output[4] == LINES[3], "a line without a token is left as it is"
    # Each line as the registry writes it, not when a buffer fills: the last came 1.5 s after the first.
    assert arrived[-1][0] - arrived[1][0] > 1.0
