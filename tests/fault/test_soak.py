"""A short fault soak in every test run: random faults while calls stream in, nothing lost.

``make soak`` runs the long version (50 rounds); see tests/fault/soak.py. The drill is one round
of two overlapping faults, as they once lost calls.
"""

from collections import Counter
from pathlib import Path

import pytest

from tests.fault.soak import Fault, run_soak

pytestmark = pytest.mark.fault

ROUNDS = 5


def test_short_soak_loses_and_duplicates_nothing(
    tmp_path: Path, soak_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    tally = run_soak(
        ROUNDS, calls_per_round=20, workdir=tmp_path, database_url=soak_database_url, log=lines.append
    )
    with capsys.disabled():
        print("\n[soak] " + "\n[soak] ".join(lines) + "\n" + tally.table())
    assert tally.failure is None, tally.failure
    assert tally.rounds == ROUNDS and tally.lost == 0 and tally.duplicated == 0


# Calls at 25/s; triage SIGKILLed at call 30 and the broker stopped (SIGTERM) at call 60; both
# stay down until the last call is posted, then the broker and triage start again.
DRILL_CALLS = 150
DRILL = [Fault("kill", "triage", at=30), Fault("broker_stop", "broker", at=60)]


def test_drill_triage_killed_then_broker_stopped_until_the_last_call_loses_nothing(
    tmp_path: Path, soak_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    tally = run_soak(
        1,
        calls_per_round=DRILL_CALLS,
        per_second=25,
        script=DRILL,
        hold_until_posted=True,
        workdir=tmp_path,
        database_url=soak_database_url,
        log=lines.append,
    )
    with capsys.disabled():
        print("\n[drill] " + "\n[drill] ".join(lines) + "\n" + tally.table())
    assert tally.failure is None, tally.failure
    assert tally.faults == Counter({"kill": 1, "broker_stop": 1})
    assert tally.calls_under_fault > 0, "every call was posted before both faults were in effect"
    assert tally.calls == DRILL_CALLS and tally.lost == 0 and tally.duplicated == 0
