"""A short fault soak in every test run: random faults while calls stream in, nothing lost.

``make soak`` runs the long version (50 rounds); see tests/fault/soak.py.
"""

from pathlib import Path

import pytest

from tests.fault.soak import run_soak

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
