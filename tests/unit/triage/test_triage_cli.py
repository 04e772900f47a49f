"""``triage classify``: JSON lines in, one decision (or error record) per line out; ``triage`` with
no arguments is the service (the e2e tests start it so)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TRIAGE = Path(sys.executable).parent / "triage"


def _run(args: list[str], stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TRIAGE), *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_classify_round_trip_from_stdin() -> None:
    lines = [
        {"id": "a", "narrative": "Man sitting on the bus bench crying, says he wants to die."},
        {"id": 2, "narrative": "", "call_type": "SUICTHRT"},
    ]
    result = _run(["classify"], "".join(json.dumps(line) + "\n" for line in lines))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 2]
    assert out[0]["route"] == "clinician_only" and out[0]["rule"] == "R3_behavioral_no_threat"
    assert out[1]["needs_review"] is True and out[1]["indicators"][0]["source"] == "call_type"


def test_bad_lines_are_reported_and_the_rest_go_on(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text(
        '{"id": 1, "narrative": "Shots fired"}\nnot json\n{"id": 3, "narrative": 7}\n\n'
        '{"id": 4, "narrative": "Open line, caller hung up."}\n',
        encoding="utf-8",
    )
    result = _run(["classify", str(path)])
    assert result.returncode == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == [1, None, 3, 4]
    assert out[0]["threat_level"] == "imminent"
    assert out[1]["line"] == 2 and "error" in out[1]
    assert out[2]["error"] == "narrative must be a string"
    assert out[3]["needs_review"] is True
    assert "line 2" in result.stderr and "line 3" in result.stderr


def test_a_missing_file_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    result = _run(["classify", str(tmp_path / "absent.jsonl")])
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "Traceback" not in result.stderr


def test_help_names_the_commands_and_the_service() -> None:
    result = _run(["--help"])
    assert result.returncode == 0
    words = " ".join(result.stdout.split())  # argparse wraps to the terminal's width
    assert "{classify}" in words and "with no arguments runs the service" in words


def test_an_unknown_command_is_a_usage_error_not_the_service() -> None:
    result = _run(["clasify"], timeout=20)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_a_reader_that_stops_early_ends_the_batch_quietly(tmp_path: Path) -> None:
    """``triage classify calls.jsonl | head -1``: no traceback when the pipe closes."""
    path = tmp_path / "calls.jsonl"
    path.write_text(
        "".join(json.dumps({"id": n, "narrative": "Man crying on the bench"}) + "\n" for n in range(5000)),
        encoding="utf-8",
    )
    with subprocess.Popen(
        [str(TRIAGE), "classify", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as batch:
        assert batch.stdout is not None and batch.stderr is not None
        first = json.loads(batch.stdout.readline())
        batch.stdout.close()  # the reader goes away after one line
        errors = batch.stderr.read()
        status = batch.wait(timeout=60)
    assert first["id"] == 0
    assert "Traceback" not in errors and "BrokenPipe" not in errors
    assert status == 141
