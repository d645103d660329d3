"""Read-only mode and garbage collection."""

from __future__ import annotations

from pydantic import Field, field_validator

from components.settings.base import ConfigModel
from components.settings.cron import SCHEDULE_ALLOWED, check_schedule, schedule_pattern


class GarbageCollect(ConfigModel):
    """A CronJob that runs `registry garbage-collect` on the storage, in a pod of its own."""

    schedule: str = Field(description=SCHEDULE_ALLOWED, json_schema_extra={"pattern": schedule_pattern()})
    delete_untagged: bool = Field(
        default=False, description="true or false: whether manifests no tag points at are deleted too"
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str) -> str:
        return check_schedule(schedule)


class MaintenanceSettings(ConfigModel):
    """Read-only mode, and a scheduled garbage collection."""

    read_only: bool = Field(
        default=False, description="true or false: whether the registry refuses pushes and deletes (pulls still work)"
    )
    garbage_collect: GarbageCollect | None = Field(
        default=None, description="an object {schedule, deleteUntagged}; none: no collection"
    )
    # Says, in config, that pushes during the collection window may lose blobs.
    allow_online_gc: bool = Field(
        default=False,
        description="true or false: whether garbage collection may run while the registry accepts pushes "
        "(a push during the collection may lose blobs)",
    )
