"""Operations settings: pod sizing and placement, network policy, metrics, maintenance and garbage collection."""

from __future__ import annotations

import json

import pytest

from components.settings import GarbageCollect, Resources, Settings, SettingsError, Toleration, parse_settings

HOSTS = json.dumps(["registry.example.com"])
SHARED = {"accessMode": "ReadWriteMany", "deleteEnabled": True}


def parse(**raw: object) -> Settings:
    return parse_settings({"hostnames": HOSTS, **{key: json.dumps(value) for key, value in raw.items()}})


def problems(**raw: object) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse(**raw)
    return caught.value.problems


def test_defaults() -> None:
    settings = parse()
    assert settings.resources == Resources(
        requests={"cpu": "100m", "memory": "128Mi"}, limits={"cpu": "1", "memory": "512Mi"}
    )
    assert (settings.node_selector, settings.tolerations, settings.affinity) == ({}, (), {})
    assert settings.priority_class_name is None
    assert (settings.network_policy.allow_from, settings.network_policy.restrict_egress) == ((), False)
    assert (settings.metrics.enabled, settings.metrics.service_monitor) == (False, False)
    assert settings.metrics.allow_from == ("monitoring",)
    assert settings.maintenance.read_only is False
    assert settings.maintenance.garbage_collect is None


@pytest.mark.parametrize(
    ("ingress", "namespace"),
    [
        pytest.param({}, "kube-system", id="traefik-as-on-k3s"),
        pytest.param({"controller": "nginx"}, "ingress-nginx", id="nginx-chart"),
        pytest.param({"className": "nginx"}, "ingress-nginx", id="class-nginx"),
        pytest.param({"controller": "nginx", "controllerNamespace": "edge"}, "edge", id="own"),
    ],
)
def test_the_controller_namespace_follows_the_controller(ingress: dict[str, str], namespace: str) -> None:
    assert parse(ingress=ingress).ingress.controller_namespace == namespace


def test_placement() -> None:
    settings = parse(
        resources={"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        nodeSelector={"kubernetes.io/os": "linux", "node-role.example.com/infra": "true"},
        tolerations=[{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}, {"operator": "Exists"}],
        affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
        priorityClassName="system-cluster-critical",
    )
    assert settings.resources.limits == {"memory": "1Gi"}
    assert settings.tolerations == (
        Toleration(key="dedicated", value="infra", effect="NoSchedule"),
        Toleration(operator="Exists"),
    )
    assert settings.priority_class_name == "system-cluster-critical"


def test_garbage_collection_when_it_is_safe() -> None:
    read_only = parse(storage=SHARED, maintenance={"readOnly": True, "garbageCollect": {"schedule": "30 3 * * 0"}})
    assert read_only.maintenance.garbage_collect == GarbageCollect(schedule="30 3 * * 0")
    accepted = parse(
        storage={**SHARED, "accessMode": "ReadWriteOnce"},
        maintenance={"allowOnlineGc": True, "garbageCollect": {"schedule": "@weekly", "deleteUntagged": True}},
    )
    assert accepted.maintenance.garbage_collect == GarbageCollect(schedule="@weekly", delete_untagged=True)


@pytest.mark.parametrize(
    ("raw", "key", "allowed"),
    [
        pytest.param(
            {"maintenance": {"readOnly": True, "garbageCollect": {"schedule": "@daily"}}},
            "maintenance.garbageCollect",
            "storage.deleteEnabled: true",
            id="gc-without-deletes",
        ),
        pytest.param(
            {"storage": SHARED, "maintenance": {"garbageCollect": {"schedule": "@daily"}}},
            "maintenance.garbageCollect",
            "garbage collection while pushes run",
            id="gc-while-writable",
        ),
        pytest.param(
            {
                "storage": {"type": "emptyDir", "deleteEnabled": True},
                "maintenance": {"readOnly": True, "garbageCollect": {"schedule": "@daily"}},
            },
            "maintenance.garbageCollect",
            "a second pod can mount",
            id="gc-on-emptydir",
        ),
        pytest.param(
            {
                "storage": {"accessMode": "ReadWriteOncePod", "deleteEnabled": True},
                "maintenance": {"readOnly": True, "garbageCollect": {"schedule": "@daily"}},
            },
            "maintenance.garbageCollect",
            "ReadWriteOncePod",
            id="gc-on-one-pod-claim",
        ),
        pytest.param(
            {"storage": SHARED, "maintenance": {"readOnly": True, "garbageCollect": {"schedule": "every night"}}},
            "maintenance.garbageCollect.schedule",
            "cron schedule",
            id="gc-schedule",
        ),
        pytest.param({"metrics": {"serviceMonitor": True}}, "metrics.serviceMonitor", "metrics.enabled", id="monitor"),
        pytest.param({"metrics": {"allowFrom": ["Monitoring"]}}, "metrics.allowFrom[0]", "namespace", id="metrics-ns"),
        pytest.param(
            {"networkPolicy": {"allowFrom": ["ci_runners"]}}, "networkPolicy.allowFrom[0]", "namespace", id="np"
        ),
        pytest.param(
            {"networkPolicy": {"restrictEgres": True}}, "networkPolicy.restrictEgres", "only the keys", id="typo"
        ),
        pytest.param(
            {"resources": {"requests": {"memory": "2Gi"}}},
            "resources.requests.memory",
            "at most resources.limits.memory (512Mi)",
            id="request-over-limit",
        ),
        pytest.param({"resources": {"limits": {"cpu": "lots"}}}, "resources.limits.cpu", "quantity", id="cpu-text"),
        pytest.param(
            {"tolerations": [{"operator": "Exists", "value": "x"}]}, "tolerations[0].value", "Exists", id="tol-value"
        ),
        pytest.param({"tolerations": [{"effect": "NoSchedule"}]}, "tolerations[0].operator", "a key", id="tol-key"),
        pytest.param(
            {"tolerations": [{"key": "a", "effect": "Sometimes"}]}, "tolerations[0].effect", "NoExecute", id="effect"
        ),
        pytest.param({"affinity": {"nodeAfinity": {}}}, "affinity.nodeAfinity", "podAntiAffinity", id="affinity"),
        pytest.param({"nodeSelector": {"bad key!": "x"}}, "nodeSelector.bad key!", "node labels", id="selector"),
        pytest.param({"priorityClassName": "High"}, "priorityClassName", "lowercase", id="priority-class"),
    ],
)
def test_bad_operations_settings(raw: dict[str, object], key: str, allowed: str) -> None:
    found = [problem for problem in problems(**raw) if problem.startswith(f"image-registry:{key}:")]
    assert found, problems(**raw)
    assert allowed in found[0]
