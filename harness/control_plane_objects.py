"""What the test control plane is given once its API answers, and how the harness asks it: nodes that kwok
plays (registered as a kubelet registers), a default StorageClass with hostPath volumes to bind claims, and a
small HTTPS client with the admin's certificate (standard library only: no Kubernetes client to install).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from harness.control_plane_pki import Pki

# kwok manages the nodes that carry this annotation (kwokctl's convention), and no others.
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")


class Api:
    """The admin's HTTPS client of the API server (standard library only)."""

    def __init__(self, server: str, pki: Pki) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=pki.cert("ca"))
        self.context.load_cert_chain(pki.cert("admin"), pki.key("admin"))

    def call(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """GET (or POST `body`): the status (0 when unreachable) and the answer (decoded when JSON: /readyz is text)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=10) as answer:
                content = answer.read()
                is_json = answer.headers.get_content_type() == "application/json"
                return answer.status, json.loads(content) if is_json else content.decode()
        except urllib.error.HTTPError as error:
            return error.code, None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, None


def node(name: str, kubelet_version: str) -> dict[str, Any]:
    # Registered as a kubelet would: labels, capacity, allocatable and node info in the created object's status
    # (kwok's node-initialize stage keeps what is there). The kubelet version is the API server's, as on a
    # cluster whose nodes are up to date (kwok would say "kwok-<its version>").
    resources = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    labels = {
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "type": "kwok",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": dict([KWOK_ANNOTATION])},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "nodeInfo": {"kubeletVersion": kubelet_version, "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def storage(volumes_dir: Path, count: int) -> list[tuple[str, dict[str, Any]]]:
    """A default StorageClass with nothing to provision, and `count` hostPath volumes of it to bind claims."""
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "Immediate",
        "reclaimPolicy": "Retain",
    }
    objects = [("/apis/storage.k8s.io/v1/storageclasses", storage_class)]
    for index in range(count):
        # Retain: a released volume keeps its data and is not reused, as hostPath has no deleter.
        spec = {
            "capacity": {"storage": "100Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "standard",
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": str(volumes_dir / f"pv-{index}"), "type": "DirectoryOrCreate"},
        }
        volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"pv-{index}"}, "spec": spec}
        objects.append(("/api/v1/persistentvolumes", volume))
    return objects


def nodes_ready(api: Api, names: list[str]) -> bool:
    """Whether every node named has its Ready condition True."""
    status, answer = api.call("/api/v1/nodes")
    if status != 200:
        return False
    ready = {
        node["metadata"]["name"]
        for node in answer["items"]
        if any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))
    }
    return ready >= set(names)
