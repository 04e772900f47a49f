"""The lexicon file: validation, the store that reloads it, and the version every decision carries."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from triage.policy import DEFAULT_POLICY_FILE, PolicyError, PolicyStore, classify, load_policy


def _lexicon() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    return data


def _write(path: Path, data: dict[str, Any], *, bump: int = 0) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")
    if bump:  # a later mtime than the last load, whatever the filesystem's clock granularity
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def _base(version: str) -> str:
    """The base lexicon's part of a policy version (layers follow after '+')."""
    return version.split("+")[0]


def test_store_reloads_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.json"
    data = _lexicon()
    _write(path, {**data, "version": "test-1"})
    store = PolicyStore(path)
    assert _base(store.current.version) == "test-1"
    assert store.reload_if_changed() is False

    data["version"] = "test-2"
    data["indicators"]["acute_distress"]["priority"] = 2
    _write(path, data, bump=5)
    assert store.reload_if_changed() is True
    decision = classify("Woman having a panic attack at the bus stop.", policy=store.current)
    assert (_base(decision.policy_version), decision.priority) == ("test-2", 2)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: "{not json",
        lambda d: {**d, "version": ""},
        lambda d: {**d, "phrases": [{"code": "no_such_code", "patterns": ["x"]}]},
        lambda d: {**d, "phrases": [{"code": "weapon", "patterns": ["(unclosed"]}]},
        lambda d: {**d, "phrases": [{"code": "weapon", "patterns": ["Gun"]}]},
        lambda d: {**d, "indicators": {**d["indicators"], "weapon": {"family": "S", "label": "weapon"}}},
    ],
)
def test_invalid_file_keeps_the_policy_in_force(tmp_path: Path, breakage: Any) -> None:
    path = tmp_path / "lexicon.json"
    data = _lexicon()
    _write(path, {**data, "version": "good"})
    store = PolicyStore(path)

    broken = breakage(data)
    if isinstance(broken, str):
        path.write_text(broken, encoding="utf-8")
    else:
        _write(path, broken, bump=5)
    assert store.reload() is False
    assert _base(store.current.version) == "good"
    assert store.summary()["last_reload_error"]
    with pytest.raises(PolicyError):
        load_policy(path)


def test_env_var_points_at_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "other.json"
    _write(path, {**_lexicon(), "version": "from-env"})
    monkeypatch.setenv("TRIAGE_POLICY_FILE", str(path))
    store = PolicyStore()
    assert _base(store.current.version) == "from-env"
    assert store.summary()["source"].split(", ")[0] == str(path)


def test_summary_describes_the_policy() -> None:
    summary = PolicyStore(DEFAULT_POLICY_FILE).summary()
    assert summary["version"] == load_policy().version
    assert set(summary["indicators_per_family"]) == {"B", "S", "M"}
    assert all(count > 0 for count in summary["indicators_per_family"].values())
    assert summary["call_type_codes"]["SUICTHRT"] == ["suicidal_ideation"]
    assert summary["descriptors"]["psychiatric_label"] > 0
    assert summary["source"].split(", ")[0].endswith("lexicon.json")
    assert "es" in summary["languages"]


def test_missing_file_at_start_up_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        PolicyStore(tmp_path / "missing.json")


def _overlay(path: Path, **fields: Any) -> Path:
    path.write_text(
        json.dumps({"name": "metro", "version": "3", "kind": "agency", **fields}), encoding="utf-8"
    )
    return path


def test_agency_overlay_adds_call_types_and_shorthand(tmp_path: Path) -> None:
    # Regional radio codes mean different things per agency: only an overlay may read them.
    assert classify("", "CODE 22").rule == "R6_nothing_fired"
    overlay = _overlay(
        tmp_path / "metro.json",
        rewrites=[{"from": "PIC", "to": "person in crisis", "case_sensitive": True}],
        call_types={"codes": {"CODE 22": ["mental_health_crisis"]}},
    )
    store = PolicyStore(DEFAULT_POLICY_FILE, overlays=[overlay])
    assert store.current.version.endswith("+metro.3")
    by_code = classify("", "CODE 22", policy=store.current)
    assert (by_code.route.value, by_code.crisis) == ("clinician_only", True)
    shorthand = classify("PIC ON THE BRIDGE APPROACH, CALM", policy=store.current)
    assert shorthand.crisis and shorthand.policy_version == store.current.version


def test_overlays_come_from_the_environment_and_are_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlay = _overlay(tmp_path / "metro.json", call_types={"codes": {"CODE 22": ["welfare_concern"]}})
    monkeypatch.setenv("TRIAGE_POLICY_OVERLAYS", f" {overlay} ,")
    store = PolicyStore(DEFAULT_POLICY_FILE)
    assert store.current.version.endswith("+metro.3")
    _overlay(overlay, version="4", call_types={"codes": {"CODE 22": ["mental_health_crisis"]}})
    stat = overlay.stat()
    os.utime(overlay, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert store.reload_if_changed() is True
    assert store.current.version.endswith("+metro.4")


@pytest.mark.parametrize(
    "fields",
    [
        {"indicators": {"weapon": {"family": "S", "label": "w", "threat": "high"}}},  # redefines
        {"macros": {"animal": "(?:perro|gato)"}},  # would change what the base's animal phrases match
        {"call_types": {"codes": {"CODE 22": ["no_such_code"]}}},
        {"kind": "language"},  # a language pack must name its language
        {"phrases": [{"code": "weapon", "patterns": ["(unclosed"]}]},
    ],
)
def test_a_bad_overlay_is_refused(tmp_path: Path, fields: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        load_policy(DEFAULT_POLICY_FILE, [_overlay(tmp_path / "bad.json", **fields)])
