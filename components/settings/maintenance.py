"""Read-only mode and garbage collection."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from components.settings.base import ConfigModel
from components.settings.cron import SCHEDULE_ALLOWED, check_schedule, schedule_pattern
from components.settings.storage import EmptyDirStorage
from components.settings.types import problem


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


def check_collection_safe(maintenance: MaintenanceSettings, storage: Any) -> MaintenanceSettings:
    """A scheduled collection only where it frees something, in a window without pushes, from a second pod."""
    if maintenance.garbage_collect is None:
        return maintenance
    if not storage.delete_enabled:
        why = "storage.deleteEnabled: true as well (with deletes off nothing is ever freed)"
    elif not (maintenance.read_only or maintenance.allow_online_gc):
        why = (
            "maintenance.readOnly: true, or maintenance.allowOnlineGc: true to accept the risk "
            "(garbage collection while pushes run deletes blobs the new images need: they are corrupt)"
        )
    elif isinstance(storage, EmptyDirStorage) or getattr(storage, "access_mode", "") == "ReadWriteOncePod":
        why = "storage a second pod can mount (a claim, not emptyDir or ReadWriteOncePod)"
    else:
        return maintenance
    raise problem(why, at=".garbageCollect", value=maintenance.garbage_collect.model_dump(by_alias=True))
