"""Cron schedules, as Kubernetes reads a CronJob's `schedule`.

The API server and kube-controller-manager parse it with robfig/cron v3's
standard parser (`cron.ParseStandard`): five whitespace-separated fields, or
one of its macros. Each field is a comma-separated list of `*` (or `?`), a
value, a range `a-b`, or either with a step (`*/15`, `0-30/5`, `5/15` meaning
5 to the end); months and weekdays may be named (jan-dec, sun-sat, any case).
Its bounds are exact: day of week is 0-6, so `7` (Sunday in some crons) is
refused. A `CRON_TZ=`/`TZ=` prefix is refused by the API server in favour of
the CronJob's `.spec.timeZone`. `@every <duration>` parses too but is no
documented CronJob schedule, so it is refused here. Stricter than the parser
only where it quietly accepts a mistake: an empty list item (`1,,2`) and
`*-5` (it ignores the `-5`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MACROS = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")
_STEP = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    # Names in order of value, starting at `low`.
    names: tuple[str, ...] = ()
    note: str = ""

    @property
    def allowed(self) -> str:
        named = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
        return f"{self.name} {self.low}-{self.high}{named}{self.note}"

    def value(self, text: str) -> int | None:
        """The value of a number or name, or None when it is neither or out of bounds."""
        lowered = text.lower()
        if lowered in self.names:
            return self.low + self.names.index(lowered)
        if text.isascii() and text.isdigit() and self.low <= int(text) <= self.high:
            return int(text)
        return None


FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day of month", 1, 31),
    CronField("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    CronField("day of week", 0, 6, ("sun", "mon", "tue", "wed", "thu", "fri", "sat"), " (0 is Sunday; not 7)"),
)
SCHEDULE_ALLOWED = (
    "a cron schedule of five fields (minute hour day-of-month month day-of-week) such as '30 3 * * 0', "
    f"or one of {', '.join(MACROS)}; each field *, a value, a range a-b, a step */n or a-b/n, "
    "or a comma-separated list of these"
)


def check_schedule(schedule: str) -> str:
    """`schedule` if Kubernetes accepts it as a CronJob's; otherwise a ValueError naming each bad field."""
    if "TZ" in schedule:
        raise ValueError(
            f"{SCHEDULE_ALLOWED}, without CRON_TZ= or TZ= (Kubernetes refuses them: a CronJob's "
            ".spec.timeZone says the zone, else the controller's zone applies)"
        )
    if schedule.startswith("@"):
        if schedule in MACROS:
            return schedule
        raise ValueError(f"{SCHEDULE_ALLOWED} (no other @ form)")
    fields = schedule.split()
    if len(fields) != len(FIELDS):
        raise ValueError(f"{SCHEDULE_ALLOWED} (not {len(fields)} fields)")
    bad = [
        f"{field.allowed}, not {text!r}{reason}"
        for text, field in zip(fields, FIELDS, strict=True)
        if (reason := _field_problem(text, field)) is not None
    ]
    if bad:
        raise ValueError(f"{SCHEDULE_ALLOWED}: {'; '.join(bad)}")
    return schedule


def _field_problem(text: str, field: CronField) -> str | None:
    """None when the field is valid, else what to add to "not '…'" (often nothing)."""
    problems = [problem for item in text.split(",") if (problem := _item_problem(item, field)) is not None]
    return problems[0] if problems else None


def _item_problem(item: str, field: CronField) -> str | None:
    span, slash, step = item.partition("/")
    if slash and not _STEP.match(step):
        return ""
    if slash and int(step) == 0:
        return " (a step is 1 or more)"
    if span in ("*", "?"):
        return None
    low, dash, high = span.partition("-")
    start, end = field.value(low), field.value(high) if dash else None
    if start is None or (dash and end is None):
        return ""
    if end is not None and end < start:
        return " (a range runs from low to high)"
    return None


def schedule_pattern() -> str:
    """The same grammar as a regex for the JSON Schema (only the order of a range's ends is left out)."""
    fields = r"\s+".join(_field_pattern(field) for field in FIELDS)
    return rf"^\s*{fields}\s*$|^({'|'.join(MACROS)})$"


def _field_pattern(field: CronField) -> str:
    numbers = "|".join(str(number) for number in range(field.high, field.low - 1, -1))
    # JSON Schema patterns take no flags: spell each name in any case.
    names = ["".join(f"[{char}{char.upper()}]" for char in name) for name in field.names]
    value = f"(0*({numbers})|{'|'.join(names)})" if names else f"0*({numbers})"
    item = rf"([*?]|{value}(-{value})?)(/0*[1-9][0-9]*)?"
    return f"{item}(,{item})*"
