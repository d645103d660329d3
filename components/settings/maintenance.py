"""Read-only mode and garbage collection."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from components.settings.base import ConfigModel

_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELD = r"[0-9*?/,\-A-Za-z]+"
_CRON_RE = re.compile(rf"^{_CRON_FIELD}( {_CRON_FIELD}){{4}}$")


class GarbageCollect(ConfigModel):
    schedule: str = Field(description="a cron schedule such as '30 3 * * 0' (five fields) or @weekly")
    delete_untagged: bool = False

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str) -> str:
        if schedule not in _MACROS and not _CRON_RE.match(schedule):
            raise ValueError("a cron schedule: five fields such as '30 3 * * 0', or @hourly, @daily, @weekly, …")
        return schedule


class MaintenanceSettings(ConfigModel):
    read_only: bool = False
    garbage_collect: GarbageCollect | None = None
    # Says, in config, that pushes during the collection window may lose blobs.
    allow_online_gc: bool = False
