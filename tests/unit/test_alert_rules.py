"""The alert rules: valid for Prometheus, each with its promtool cases and a runbook section.

``promtool check rules`` and ``promtool test rules`` run when promtool is on PATH (Debian package
``prometheus``); the structural checks below run everywhere.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "deploy" / "prometheus"
ALERTS = RULES_DIR / "alerts.yml"
ALERT_TESTS = RULES_DIR / "alerts_test.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not on PATH (Debian: apt-get install prometheus)"
)


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def runbook_anchors() -> set[str]:
    """GitHub-style anchors of the runbook's headings (lower case, spaces to hyphens)."""
    headings = re.findall(r"^#{2,3} (.+)$", RUNBOOK.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_alert_links_its_runbook_section() -> None:
    anchors = runbook_anchors()
    for alert in alerts():
        url = alert["annotations"].get("runbook_url", "")
        path, _, anchor = url.partition("#")
        assert path == "docs/runbook.md", f"{alert['alert']}: runbook_url {url!r}"
        assert anchor in anchors, f"{alert['alert']}: no runbook section #{anchor}"


def test_every_alert_has_a_promtool_case() -> None:
    cases = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    firing = {
        check["alertname"]
        for case in cases
        for check in case.get("alert_rule_test", [])
        if check.get("exp_alerts")
    }
    assert {alert["alert"] for alert in alerts()} <= firing


def test_the_slo_rules_use_the_metrics_the_services_export() -> None:
    expressions = " ".join(str(rule["expr"]) for rule in rules())
    for metric in (
        "dispatch_call_assigned_seconds_bucket",
        "dispatch_queue_oldest_seconds",
        "dispatch_units_free",
    ):
        assert metric in expressions


def test_every_service_has_an_alert_for_being_absent() -> None:
    """``up == 0`` needs an ``up`` series; a service with no target at all has none."""
    absent = " ".join(str(rule["expr"]) for rule in alerts() if "absent(" in str(rule["expr"]))
    for service in ("intake", "triage", "routing"):
        assert f'absent(up{{job="dispatch", service="{service}"}})' in absent, service


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    assert PROMTOOL is not None
    result = subprocess.run(  # noqa: S603 - a fixed tool on fixed files
        [PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_rule_cases_pass() -> None:
    assert PROMTOOL is not None
    result = subprocess.run(  # noqa: S603
        [PROMTOOL, "test", "rules", ALERT_TESTS.name],
        cwd=RULES_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
