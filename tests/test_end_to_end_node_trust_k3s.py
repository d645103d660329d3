"""End to end: on k3s, the CA that `k3sRegistriesYaml` names survives a restart of k3s.

The node-trust DaemonSet's own command runs (busybox, its host directories a
directory of the test, as in test_end_to_end_node_trust.py); then k3s starts
as it does at every restart: it removes `<certs.d>/<host>` for every host of
registries.yaml (`cleanContainerdHosts` in k3s's pkg/agent/containerd/config.go)
and writes its hosts.toml there, naming the `ca_file` of registries.yaml, which
containerd reads at the next pull. That file must still be there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.node_layouts import LAYOUTS
from harness.doubles import FaithfulMocks, dev_config, run_program
from tests.node_sandbox import node_path, rancher_node, start_node_trust, wait_for


@pytest.mark.parametrize("platform", ["k3s", "rke2"])
def test_a_k3s_restart_leaves_the_ca_that_registries_yaml_names(tmp_path: Path, platform: str) -> None:
    config = dev_config()
    config["image-registry:nodeTrust"] = json.dumps({"enabled": True, "platform": platform})
    run = run_program(config, FaithfulMocks())
    configs = yaml.safe_load(run.outputs["k3sRegistriesYaml"])["configs"]
    assert set(configs) == set(run.outputs["hostnames"])
    ca_files = [node_path(tmp_path, entry["tls"]["ca_file"]) for entry in configs.values()]
    certs = node_path(tmp_path, LAYOUTS[platform].certs_dir)
    node = start_node_trust(run, tmp_path, rancher_node(platform))
    try:
        wait_for([*ca_files, *(certs / host / "ca.crt" for host in configs)])
        # k3s starting: every listed host's directory goes, whatever it holds.
        for host in configs:
            shutil.rmtree(certs / host)
        for ca_file in ca_files:
            assert ca_file.exists(), f"{ca_file.relative_to(tmp_path)} went with k3s's cleaning: pulls fail"
            assert ca_file.read_text() == run.outputs["caCertPem"]
    finally:
        node.close()
