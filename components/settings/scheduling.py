"""How big the registry pod is and where it may run: resources, node selection, tolerations, affinity."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from components.settings.base import ConfigModel
from components.settings.types import Quantity, problem, quantity_value

ResourceName = Annotated[str, Field(pattern=r"^([a-z0-9.-]+/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
LabelKey = Annotated[str, Field(pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]
AFFINITY_KINDS = ("nodeAffinity", "podAffinity", "podAntiAffinity")


class Resources(ConfigModel):
    requests: dict[ResourceName, Quantity] = Field(
        default_factory=lambda: {"cpu": "100m", "memory": "128Mi"},
        description="an object of resource names and quantities, such as {cpu: 100m, memory: 128Mi}",
    )
    limits: dict[ResourceName, Quantity] = Field(
        default_factory=lambda: {"cpu": "1", "memory": "512Mi"},
        description="an object of resource names and quantities, such as {cpu: 2, memory: 1Gi}",
    )

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for name, request in self.requests.items():
            limit = self.limits.get(name)
            if limit is not None and quantity_value(request) > quantity_value(limit):
                raise problem(f"at most resources.limits.{name} ({limit})", at=f".requests.{name}", value=request)
        return self


class Toleration(ConfigModel):
    key: LabelKey | None = Field(default=None, description="a taint's key; none: every key (with operator Exists)")
    operator: Literal["Exists", "Equal"] = Field(default="Equal", description="Equal or Exists")
    value: str | None = Field(default=None, description="the taint's value (with operator Equal)")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="NoSchedule, PreferNoSchedule or NoExecute; none: every effect"
    )
    toleration_seconds: int | None = Field(default=None, ge=0, description="a whole number of seconds ≥ 0")

    @model_validator(mode="after")
    def _exists_has_no_value(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise problem("no value with operator Exists", at=".value", value=self.value)
        if self.key is None and self.operator != "Exists":
            raise problem("a key, or operator Exists (tolerate every taint)", at=".operator", value=self.operator)
        return self


def affinity(value: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(value) - set(AFFINITY_KINDS))
    if unknown:
        raise problem(f"only the keys {', '.join(AFFINITY_KINDS)}", at=f".{unknown[0]}", value=value[unknown[0]])
    return value
