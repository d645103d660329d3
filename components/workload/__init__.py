"""The registry workload: pod spec, registry settings, storage and the component that owns them."""

from components.workload.registry_workload import RegistryWorkload, RegistryWorkloadArgs

__all__ = ["RegistryWorkload", "RegistryWorkloadArgs"]
