"""`make renew`: certificate renewals and what rolls with them are applied; any other change is refused.

The decision (tools/renewal.py) is checked over documents shaped as `pulumi preview --json` prints them
(tests/preview_documents.py); the runner (tools/renew.py) against a `pulumi` that answers with them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.doubles import ProgramRun
from tests.conftest import RunProgram
from tests.fake_pulumi import FakePulumi
from tests.preview_documents import (
    CLIENT_CERT,
    CONFIG_MAP,
    DEPLOYMENT,
    INGRESS,
    SERVER_CERT,
    SERVER_CSR,
    SERVERS_TRANSPORT,
    TLS_SECRET,
    client_renewal_steps,
    config_map_update,
    preview,
    renewed_certificate,
    server_renewal_steps,
    step,
)
from tools import renew, renewal

CERTIFICATE = "tls:index/locallySignedCert:LocallySignedCert"


def with_changed(found: dict[str, Any], path: str, kind: str = "update") -> dict[str, Any]:
    """The step, its provider's detailed diff naming one more path."""
    found["detailedDiff"] = {**(found["detailedDiff"] or {}), path: {"kind": kind, "inputDiff": False}}
    return found


def test_a_renewal_alone_may_be_applied_to_its_due_certificates() -> None:
    renewing = preview(*server_renewal_steps(), *client_renewal_steps())
    assert renewal.due_certificates(renewing) == sorted([SERVER_CERT, CLIENT_CERT])
    assert renewal.refusals(renewing, renewing) == []


def test_what_stays_the_same_or_is_only_refreshed_changes_nothing() -> None:
    refreshes = [{**step("refresh", urn, {}), "detailedDiff": None} for urn in (SERVER_CERT, DEPLOYMENT, INGRESS)]
    assert renewal.changes(preview(*refreshes)) == {}
    assert renewal.due_certificates(preview(*refreshes)) == []


def test_no_certificate_is_due_when_none_is_ready_for_renewal() -> None:
    assert renewal.due_certificates(preview(config_map_update())) == []


def test_a_change_elsewhere_in_the_stack_is_refused_and_named() -> None:
    full = preview(*server_renewal_steps(), config_map_update())
    assert renewal.refusals(full, preview(*server_renewal_steps())) == [
        f"{CONFIG_MAP}: replace, which the renewal does not do"
    ]


def test_a_change_to_what_rolls_with_the_certificate_is_refused_when_it_is_not_the_renewal() -> None:
    # A new image waiting in the Deployment: the targeted preview has it too (the Deployment is a dependent).
    steps = server_renewal_steps(image="registry:3.2.0")
    with_changed(steps[2], "spec.template.spec.containers[1].image")
    assert renewal.refusals(preview(*steps), preview(*steps)) == [
        f"{DEPLOYMENT}: update of spec.template.spec.containers[1].image"
    ]


def test_drift_the_provider_does_not_detail_is_found_in_the_inputs() -> None:
    steps = server_renewal_steps()
    steps[2]["detailedDiff"] = None
    steps[2]["oldState"]["inputs"]["spec"]["replicas"] = 2  # scaled by hand; the refresh brought it back
    assert renewal.refusals(preview(*steps), preview(*steps)) == [f"{DEPLOYMENT}: update of spec.replicas"]


def test_a_reason_that_no_path_explains_counts_as_its_whole_key() -> None:
    steps = server_renewal_steps()
    steps[2] = {**steps[2], "detailedDiff": None, "oldState": None, "newState": None}
    assert renewal.refusals(preview(*steps), preview(*steps)) == [f"{DEPLOYMENT}: update of spec"]


def test_a_change_that_says_nothing_of_what_it_changes_is_refused() -> None:
    silent = {"op": "update", "urn": INGRESS, "detailedDiff": None}
    steps = [*server_renewal_steps()[:3], silent]
    assert renewal.refusals(preview(*steps), preview(*steps)) == [f"{INGRESS}: update of (unspecified)"]


def test_a_certificate_replaced_for_new_names_is_not_a_renewal() -> None:
    new_names = step(
        "replace",
        SERVER_CERT,
        {"certRequestPem": "old"},
        {"certRequestPem": "new"},
        replace_reasons=["certRequestPem"],
        detailed_diff={"certRequestPem": "update-replace"},
    )
    csr = step("replace", SERVER_CSR, {"dnsNames": ["a"]}, {"dnsNames": ["a", "b"]}, replace_reasons=["dnsNames"])
    full = preview(new_names, csr, *client_renewal_steps())
    assert renewal.due_certificates(full) == [CLIENT_CERT]
    # The client certificate's renewal, targeted, has neither: both are named.
    assert renewal.refusals(full, preview(*client_renewal_steps())) == [
        f"{SERVER_CSR}: replace, which the renewal does not do",
        f"{SERVER_CERT}: replace, which the renewal does not do",
    ]
    assert renewal.refusals(full, full) == [
        f"{SERVER_CSR}: replace of dnsNames[1]",
        f"{SERVER_CERT}: replace, and the certificate is not due for renewal",
    ]


def test_a_due_certificate_whose_inputs_change_too_is_refused() -> None:
    both = renewed_certificate(SERVER_CERT, reasons=("certRequestPem", "readyForRenewal"))
    full = preview(both, *server_renewal_steps()[1:])
    assert renewal.due_certificates(full) == [SERVER_CERT]
    assert renewal.refusals(full, full) == [f"{SERVER_CERT}: replace of certRequestPem"]


def test_the_refreshed_state_alone_shows_a_certificate_due() -> None:
    refreshed = renewed_certificate(SERVER_CERT)
    del refreshed["replaceReasons"]
    refreshed["detailedDiff"] = {}
    assert renewal.due_certificates(preview(refreshed)) == [SERVER_CERT]
    refreshed["oldState"]["outputs"]["readyForRenewal"] = False
    assert renewal.due_certificates(preview(refreshed)) == []


def test_the_providers_plan_alone_shows_a_certificate_due() -> None:
    # Without a refresh the state still says false; the plan replaces it for readyForRenewal.
    planned = renewed_certificate(SERVER_CERT)
    planned["oldState"]["outputs"]["readyForRenewal"] = False
    assert renewal.due_certificates(preview(planned)) == [SERVER_CERT]


def test_only_a_replaced_certificate_is_renewed() -> None:
    kept = {**renewed_certificate(SERVER_CERT), "op": "update"}
    assert renewal.due_certificates(preview(kept)) == []


def test_what_only_the_targeted_preview_changes_is_refused() -> None:
    full = preview(*server_renewal_steps()[:2])
    assert renewal.refusals(full, preview(*server_renewal_steps())) == [
        f"{INGRESS}: update only when targeted",
        f"{DEPLOYMENT}: update only when targeted",
    ]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("spec.tls[0].secretName", ("spec", "tls", 0, "secretName")),
        ('metadata.annotations["pulumi.com/skipAwait"]', ("metadata", "annotations", "pulumi.com/skipAwait")),
        ('stringData["tls.crt"]', ("stringData", "tls.crt")),
        ("readyForRenewal", ("readyForRenewal",)),
    ],
)
def test_property_paths_read_and_print_as_pulumi_writes_them(text: str, path: tuple[str | int, ...]) -> None:
    assert renewal.parse_path(text) == path
    assert renewal.describe(path) == text


def test_the_inputs_differ_where_a_value_list_or_key_differs() -> None:
    old = {"a": {"b": [1, 2], "c": "x"}, "d": True}
    new = {"a": {"b": [1, 3, 4], "c": "x"}, "d": 1, "e": None}
    assert list(renewal.differences(old, new)) == [("a", "b", 1), ("a", "b", 2), ("d",), ("e",)]


def leaves(value: Any, at: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*at, index))
    else:
        yield at, value


def carriers(run: ProgramRun) -> dict[tuple[str, tuple[str | int, ...]], str]:
    """Where the program's inputs carry a certificate or the name of a Secret holding one: (type, path) -> URN."""
    pems = [item.plain_outputs["certPem"] for item in run.of_type(CERTIFICATE)]
    holders = [
        item
        for item in run.of_type("kubernetes:core/v1:Secret")
        if any(isinstance(value, str) and any(pem in value for pem in pems) for _, value in leaves(item.plain_inputs))
    ]
    marks = pems + [item.plain_outputs["metadata"]["name"] for item in holders]
    return {
        (item.type, path): item.urn
        for item in run.registrations
        if item.type != CERTIFICATE
        for path, value in leaves(item.plain_inputs)
        if isinstance(value, str) and any(mark in value for mark in marks)
    }


@pytest.mark.parametrize("controller", ["traefik", "nginx"])
def test_what_carries_the_certificates_in_the_program_is_what_a_renewal_may_change(
    run_with: RunProgram, controller: str
) -> None:
    found = carriers(run_with(ingress={"enabled": True, "controller": controller}))
    kinds = {kind for kind, _ in found}
    assert kinds >= {"kubernetes:core/v1:Secret", "kubernetes:apps/v1:Deployment"}
    outside = [
        f"{urn}: {renewal.describe(path)}" for (kind, path), urn in found.items() if not renewal.renews(kind, path)
    ]
    assert outside == []


def test_the_documents_name_the_programs_own_resources(dev_run: ProgramRun) -> None:
    urns = {item.urn for item in dev_run.registrations}
    named = {SERVER_CERT, CLIENT_CERT, SERVER_CSR, TLS_SECRET, CONFIG_MAP, DEPLOYMENT, INGRESS, SERVERS_TRANSPORT}
    assert named <= urns


@pytest.fixture
def pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    fake = FakePulumi(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{fake.bin_dir}{os.pathsep}{os.environ['PATH']}")
    return fake


FULL_PREVIEW = ["preview", "--stack", "dev", "--refresh", "--json", "--non-interactive"]
TARGETS = ["--target", CLIENT_CERT, "--target", SERVER_CERT, "--target-dependents"]
# Only the whole stack is refreshed: the engine fails a targeted refresh's dependents ("unknown provider").
TARGETED_PREVIEW = ["preview", "--stack", "dev", "--json", "--non-interactive", *TARGETS]


def test_renew_applies_the_renewal_with_the_previewed_targets_and_the_policy_pack(pulumi: FakePulumi) -> None:
    renewing = preview(*server_renewal_steps(), *client_renewal_steps())
    pulumi.answer(full=renewing, targeted=renewing)
    assert renew.main(["--stack", "dev"]) == 0
    up = ["up", "--stack", "dev", "--yes", "--non-interactive", "--diff", "--policy-pack", "policy"]
    assert pulumi.calls() == [FULL_PREVIEW, TARGETED_PREVIEW, [*up, *TARGETS]]


def test_renew_does_nothing_when_no_certificate_is_due(pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]) -> None:
    pulumi.answer(full=preview(config_map_update()), targeted={})
    assert renew.main(["--stack", "dev"]) == 0
    assert pulumi.calls() == [FULL_PREVIEW]
    assert capsys.readouterr().out.splitlines() == [
        "renew dev: no certificate is due for renewal.",
        "renew dev: other changes are pending (1): renewal leaves them to make preview, make up.",
    ]


def test_renew_refuses_names_what_and_applies_nothing(pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]) -> None:
    pulumi.answer(full=preview(*server_renewal_steps(), config_map_update()), targeted=preview(*server_renewal_steps()))
    assert renew.main(["--stack", "dev"]) == renew.REFUSED
    assert [call[0] for call in pulumi.calls()] == ["preview", "preview"]
    errors = capsys.readouterr().err
    assert f"  {CONFIG_MAP}: replace, which the renewal does not do" in errors.splitlines()
    assert "make preview STACK=dev" in errors
    # Names only: the values that change are never printed.
    assert "debug" not in errors


def test_a_failed_preview_stops_renew_with_pulumis_status_and_error(
    pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = {
        "diagnostics": [
            {"message": "verification warning: Argument is deprecated\n", "severity": "warning"},
            {"message": "error: the CA is protected\n", "severity": "error"},
        ]
    }
    pulumi.answer(full=failed, targeted={}, preview_status=255)
    assert renew.main(["--stack", "dev"]) == 255
    assert [call[0] for call in pulumi.calls()] == ["preview"]
    assert capsys.readouterr().err.splitlines() == [
        "error: the CA is protected",
        "renew dev: `pulumi preview` failed (exit 255)",
    ]


def test_a_failed_update_is_renews_failure(pulumi: FakePulumi) -> None:
    renewing = preview(*server_renewal_steps())
    pulumi.answer(full=renewing, targeted=renewing, up_status=255)
    assert renew.main(["--stack", "dev"]) == 255
