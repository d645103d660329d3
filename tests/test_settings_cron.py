"""Garbage collection's cron schedule: what Kubernetes' CronJob accepts (robfig/cron's standard parser), no more."""

from __future__ import annotations

import json
import re

import pytest

from components.settings import SettingsError, parse_settings
from components.settings.cron import MACROS, check_schedule, schedule_pattern

ACCEPTED = [
    "30 3 * * 0",
    "*/15 * * * *",
    "0 0-6/2 * * *",
    "5/15 * * * *",
    "0 3 1,15 * *",
    "0 3 * jan-MAR Mon-Fri",
    "0 3 ? * sun",
    "0 0 31 12 6",
    " 0  3 * * * ",
    "00 03 * * *",
    *MACROS,
]
# (schedule, the words of the message that say which field and why)
REFUSED = [
    (
        "x y z w v",
        "minute 0-59, not 'x'; hour 0-23, not 'y'; day of month 1-31, not 'z'; month 1-12 or jan-dec, "
        "not 'w'; day of week 0-6 or sun-sat (0 is Sunday; not 7), not 'v'",
    ),
    ("60 * * * *", "minute 0-59, not '60'"),
    ("0 24 * * *", "hour 0-23, not '24'"),
    ("0 0 0 * *", "day of month 1-31, not '0'"),
    ("0 0 32 * *", "day of month 1-31, not '32'"),
    ("0 0 * 13 *", "month 1-12 or jan-dec, not '13'"),
    ("0 0 * january *", "month 1-12 or jan-dec, not 'january'"),
    ("0 3 * * 7", "day of week 0-6 or sun-sat (0 is Sunday; not 7), not '7'"),
    ("*/0 * * * *", "minute 0-59, not '*/0' (a step is 1 or more)"),
    ("5-2 * * * *", "minute 0-59, not '5-2' (a range runs from low to high)"),
    ("1-2-3 * * * *", "minute 0-59, not '1-2-3'"),
    ("*/5/2 * * * *", "minute 0-59, not '*/5/2'"),
    ("*-5 * * * *", "minute 0-59, not '*-5'"),
    ("1,,2 * * * *", "minute 0-59, not '1,,2'"),
    ("-1 * * * *", "minute 0-59, not '-1'"),
    ("0 3 * * * *", "(not 6 fields)"),
    ("0 3 * *", "(not 4 fields)"),
    ("", "(not 0 fields)"),
    ("@every 1h", "(no other @ form)"),
    ("@Daily", "(no other @ form)"),
    ("@daily ", "(no other @ form)"),
    ("CRON_TZ=UTC 0 3 * * *", "without CRON_TZ= or TZ= (Kubernetes refuses them: a CronJob's .spec.timeZone"),
    ("TZ=Europe/Paris 0 3 * * *", "without CRON_TZ= or TZ="),
]


def gc_problems(schedule: str) -> list[str]:
    maintenance = {"readOnly": True, "garbageCollect": {"schedule": schedule}}
    raw = {
        "hostnames": '["registry.example.com"]',
        "storage": json.dumps({"accessMode": "ReadWriteMany", "deleteEnabled": True}),
        "maintenance": json.dumps(maintenance),
    }
    try:
        parse_settings(raw)
    except SettingsError as error:
        return error.problems
    return []


@pytest.mark.parametrize("schedule", ACCEPTED)
def test_what_kubernetes_accepts(schedule: str) -> None:
    assert check_schedule(schedule) == schedule
    assert gc_problems(schedule) == []


@pytest.mark.parametrize(("schedule", "words"), REFUSED, ids=[schedule or "empty" for schedule, _ in REFUSED])
def test_what_kubernetes_refuses_is_refused_naming_the_field(schedule: str, words: str) -> None:
    (problem,) = gc_problems(schedule)
    assert problem.startswith(f"image-registry:maintenance.garbageCollect.schedule: {json.dumps(schedule)} is not")
    assert "allowed: a cron schedule of five fields (minute hour day-of-month month day-of-week)" in problem
    assert words in problem


@pytest.mark.parametrize("schedule", [*ACCEPTED, *(schedule for schedule, _ in REFUSED)])
def test_the_schema_pattern_agrees_except_on_backward_ranges(schedule: str) -> None:
    """The stack files' check says the same (the order of a range's ends is beyond a regex: SCHEMA_LIMITS)."""
    matches = re.search(schedule_pattern(), schedule) is not None
    expected = schedule in ACCEPTED or schedule.startswith("5-2")
    assert matches == expected
