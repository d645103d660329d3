"""RegistryWorkload: the namespace, the registry's settings, Secrets, storage and Deployment."""

from __future__ import annotations

import json
import posixpath
from typing import Any

import yaml

from harness.doubles import FaithfulMocks, ProgramRun, contains_secret, dev_config, run_program
from harness.program_run import secret_data
from tests.conftest import RunProgram
from tests.rendered import container, containers, environment, mounts, secret_named, volumes

DEV_KINDS = sorted(
    [
        "ConfigMap",
        "Deployment",
        "Ingress",
        "Namespace",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        # TLS, the registry's config file, the front's config, the CA for Traefik, the ingress client's key pair.
        "Secret",
        "Secret",
        "Secret",
        "Secret",
        "Secret",
        "Service",
        "ServiceAccount",
        "ServersTransport",
    ]
)


def test_exactly_these_objects_in_the_namespace(dev_run: ProgramRun) -> None:
    manifests = dev_run.manifests()
    assert sorted(item["kind"] for item in manifests) == DEV_KINDS
    namespace = dev_run.manifest("Namespace")
    assert namespace["metadata"]["name"] == "kube-infra"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for item in manifests:
        if item["kind"] != "Namespace":
            assert item["metadata"]["namespace"] == "kube-infra", item["kind"]


def test_a_created_namespace_is_kept_on_destroy(dev_run: ProgramRun) -> None:
    # Other services may be put there later: `pulumi destroy` must not take them with it.
    assert dev_run.one("kubernetes:core/v1:Namespace").retain_on_delete is True


def test_a_shared_namespace_is_used_untouched(run_with: RunProgram) -> None:
    run = run_with(namespace="platform", createNamespace="false")
    assert run.of_type("kubernetes:core/v1:Namespace") == []
    manifests = run.manifests()
    assert {item["metadata"]["namespace"] for item in manifests} == {"platform"}
    assert run.outputs["namespace"] == "platform"
    assert run.outputs["internalHost"] == "image-registry.platform.svc.cluster.local:5000"


def test_deployment_replicas_and_recreate_on_a_single_node_volume(dev_run: ProgramRun) -> None:
    deployment = dev_run.manifest("Deployment")
    assert deployment["metadata"]["name"] == "image-registry"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container(dev_run)["image"].startswith("registry:3.1.")


def test_settings_come_from_the_config_map_as_in_the_manual_install(dev_run: ProgramRun) -> None:
    env = environment(dev_run)
    from_config_map = {item["name"] for item in container(dev_run)["env"] if "configMapKeyRef" in item["valueFrom"]}
    config_map_name = dev_run.manifest("ConfigMap")["metadata"]["name"]
    for item in container(dev_run)["env"]:
        if "configMapKeyRef" in item["valueFrom"]:
            assert item["valueFrom"]["configMapKeyRef"]["name"] == config_map_name
    assert {"REGISTRY_HTTP_ADDR", "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"} <= from_config_map
    # On the pod's loopback, plain: the front (test_front.py) is the only way in, and it authenticates.
    assert env["REGISTRY_HTTP_ADDR"] == "127.0.0.1:5002"
    assert not [name for name in env if name.startswith(("REGISTRY_AUTH", "REGISTRY_HTTP_TLS"))]
    assert env["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"] == "/var/lib/registry"


def test_the_images_own_defaults_are_overridden(dev_run: ProgramRun) -> None:
    # registry:3.x's config file: deletes on, debug listener on :5001, debug logs, in-memory cache.
    env = environment(dev_run)
    assert env["REGISTRY_STORAGE_DELETE_ENABLED"] == "false"
    assert yaml.safe_load(env["REGISTRY_HTTP_DEBUG"]) == {}
    # No line per request (each has its URL, an upload's `_state` token included): warnings and errors only.
    assert env["REGISTRY_LOG_LEVEL"] == "warn"
    assert env["REGISTRY_LOG_ACCESSLOG_DISABLED"] == "true"
    assert env["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR"] == "inmemory"
    assert yaml.safe_load(env["REGISTRY_HTTP_HEADERS"]) == {"X-Content-Type-Options": ["nosniff"]}


def test_deletes_only_when_the_stack_asks(run_with: RunProgram) -> None:
    run = run_with(storage={"deleteEnabled": True})
    assert environment(run)["REGISTRY_STORAGE_DELETE_ENABLED"] == "true"


def test_no_per_pod_cache_with_replicas(run_with: RunProgram) -> None:
    run = run_with(replicas=3, storage={"accessMode": "ReadWriteMany"})
    # An empty YAML string: the registry's "no cache" without an "unknown cache type" warning.
    assert yaml.safe_load(environment(run)["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR"]) == ""


def test_the_http_secret_is_a_file_every_replica_shares(dev_run: ProgramRun) -> None:
    # The registry reads http.secret from its config file: the container is given one, from a Secret.
    (config_file,) = container(dev_run)["args"]
    config_mount = mounts(dev_run)[posixpath.dirname(config_file)]
    assert config_mount["readOnly"] is True
    secret = secret_named(dev_run, volumes(dev_run)[config_mount["name"]]["secret"]["secretName"])
    config = yaml.safe_load(secret_data(secret)[posixpath.basename(config_file)])
    assert config == {"version": 0.1, "http": {"secret": config["http"]["secret"]}}
    assert len(config["http"]["secret"]) >= 32
    registration = next(
        item for item in dev_run.of_type("kubernetes:core/v1:Secret") if item.name.endswith("-registry")
    )
    assert contains_secret(registration.inputs["stringData"])
    assert "REGISTRY_HTTP_SECRET" not in environment(dev_run)


def test_no_secret_reaches_the_environment(run_with: RunProgram) -> None:
    storage = {"type": "s3", "bucket": "images", "accessKey": "AKIAEXAMPLE", "secretKey": "s3cr3t-Example-Key"}
    run = run_with(storage=storage, replicas=2, secret_keys=["image-registry:storage"])
    assert all("configMapKeyRef" in item["valueFrom"] for item in container(run)["env"])
    config_map = run.manifest("ConfigMap")["data"]
    assert not any("s3cr3t-Example-Key" in value or "AKIAEXAMPLE" in value for value in config_map.values())


def test_data_lives_on_a_protected_claim(dev_run: ProgramRun) -> None:
    claim = dev_run.manifest("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    data_mount = mounts(dev_run)["/var/lib/registry"]
    assert volumes(dev_run)[data_mount["name"]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert dev_run.one("kubernetes:core/v1:PersistentVolumeClaim").protect is True


def test_the_registry_is_probed_on_its_loopback_from_inside(dev_run: ProgramRun) -> None:
    # The kubelet probes the pod's IP, where the registry does not listen: the probe runs in the container.
    for probe in ("readinessProbe", "livenessProbe"):
        assert container(dev_run)[probe]["exec"]["command"] == [
            "wget",
            "-q",
            "-O",
            "/dev/null",
            "http://127.0.0.1:5002/",
        ]


def test_pod_is_locked_down(dev_run: ProgramRun) -> None:
    pod = dev_run.manifest("Deployment")["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]
    for name, item in containers(dev_run).items():
        security = item["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["runAsNonRoot"] is True, name
    assert container(dev_run)["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_throwaway_storage_only_when_asked(run_with: RunProgram) -> None:
    run = run_with(storage={"type": "emptyDir", "sizeLimit": "2Gi"})
    assert "PersistentVolumeClaim" not in {item["kind"] for item in run.manifests()}
    assert volumes(run)["data"]["emptyDir"] == {"sizeLimit": "2Gi"}


def test_shared_storage_allows_replicas_and_rolling_updates(run_with: RunProgram) -> None:
    run = run_with(replicas=3, storage={"accessMode": "ReadWriteMany", "storageClass": "nfs-client", "size": "200Gi"})
    deployment = run.manifest("Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    claim = run.manifest("PersistentVolumeClaim")
    assert claim["spec"]["storageClassName"] == "nfs-client"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_certificate_and_settings_changes_roll_the_pods_user_changes_do_not() -> None:
    # The registry loads its key pair and settings only at start: their objects
    # are auto-named and replaced on change, so the pod template changes.
    mocks = FaithfulMocks()
    first = run_program(dev_config(), mocks)
    for registration in first.registrations:
        if registration.type in (
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:Secret",
        ) and registration.name.endswith(("-tls", "-config")):
            assert "name" not in registration.inputs["metadata"]
            assert "data" in registration.replace_on_changes
            if registration.type == "kubernetes:core/v1:Secret":
                assert "stringData" in registration.replace_on_changes

    config = dev_config()
    config["image-registry:users"] = '[{"name": "registry"}, {"name": "ci"}]'
    users_changed = run_program(config, mocks)
    assert template(users_changed) == template(first)

    config["image-registry:hostnames"] = (
        '["image-registry.8-mega.internal", "image-registry.8-mega.example.com", "registry.8-mega.example.com"]'
    )
    certificate_changed = run_program(config, mocks)
    assert volumes(certificate_changed)["tls"]["secret"]["secretName"] != volumes(first)["tls"]["secret"]["secretName"]
    assert template(certificate_changed) != template(first)


def template(run: ProgramRun) -> dict[str, Any]:
    result: dict[str, Any] = run.manifest("Deployment")["spec"]["template"]
    return result


def test_its_own_service_account_without_a_token(dev_run: ProgramRun) -> None:
    account = dev_run.manifest("ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    pod = dev_run.manifest("Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"] == "image-registry"
    assert pod["automountServiceAccountToken"] is False


def test_one_replica_needs_no_budget_or_spread(dev_run: ProgramRun) -> None:
    assert "PodDisruptionBudget" not in {item["kind"] for item in dev_run.manifests()}
    assert "topologySpreadConstraints" not in dev_run.manifest("Deployment")["spec"]["template"]["spec"]


def test_replicas_get_a_disruption_budget_a_spread_and_a_gapless_rollout(run_with: RunProgram) -> None:
    run = run_with(replicas=3, storage={"accessMode": "ReadWriteMany"})
    budget = run.manifest("PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    labels = run.manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (spread,) = run.manifest("Deployment")["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert (spread["topologyKey"], spread["whenUnsatisfiable"], spread["maxSkew"]) == (
        "kubernetes.io/hostname",
        "ScheduleAnyway",
        1,
    )
    assert run.manifest("Deployment")["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_sizing_and_placement_from_config(run_with: RunProgram) -> None:
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]}}
    run = run_with(
        resources={"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        nodeSelector={"kubernetes.io/os": "linux"},
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}],
        affinity=affinity,
        priorityClassName="infra-critical",
    )
    pod = run.manifest("Deployment")["spec"]["template"]["spec"]
    assert container(run)["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}]
    assert pod["affinity"] == affinity
    assert pod["priorityClassName"] == "infra-critical"


def test_default_sizing_is_todays(dev_run: ProgramRun) -> None:
    assert container(dev_run)["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }


def test_read_only_in_the_json_form(run_with: RunProgram, dev_run: ProgramRun) -> None:
    # The leaf form (…_READONLY_ENABLED=true) makes the registry panic at start.
    assert json.loads(environment(dev_run)["REGISTRY_STORAGE_MAINTENANCE_READONLY"]) == {"enabled": False}
    env = environment(run_with(maintenance={"readOnly": True}))
    assert json.loads(env["REGISTRY_STORAGE_MAINTENANCE_READONLY"]) == {"enabled": True}
    assert not any(name.startswith("REGISTRY_STORAGE_MAINTENANCE_READONLY_") for name in env)


def test_metrics_on_their_own_port_when_asked(run_with: RunProgram) -> None:
    run = run_with(metrics={"enabled": True})
    env = environment(run)
    assert (env["REGISTRY_HTTP_DEBUG_ADDR"], env["REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED"]) == (":5001", "true")
    assert "REGISTRY_HTTP_DEBUG" not in env
    assert {port["name"]: port["containerPort"] for port in container(run)["ports"]} == {"metrics": 5001}
    assert "ports" not in container(run_with())
