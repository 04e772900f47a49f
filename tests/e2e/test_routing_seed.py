"""deploy/local/seed.sh fills an empty roster with the demo units, and leaves a filled one alone."""

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.stack import API_KEYS, ROOT, TEST_KEYS, ServiceProcess, auth

pytestmark = pytest.mark.e2e

SEED = ROOT / "deploy/local/seed.sh"
DEMO_UNITS = json.loads((ROOT / "deploy/local/units.json").read_text())


@pytest.fixture
def routing(tmp_path: Path, namespace: str, kafka_bootstrap: str) -> Iterator[ServiceProcess]:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'routing.db'}",
        "KAFKA_NAMESPACE": namespace,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "API_KEYS": API_KEYS,
    }
    with ServiceProcess("routing", env, tmp_path / "logs" / "routing.log").running() as service:
        yield service


def seed(routing: ServiceProcess, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("API_KEYS", "DISPATCH_API_KEY")}
    return subprocess.run(
        [str(SEED)],
        env=base | {"ROUTING_PORT": str(routing.port), "RUN_DIR": str(tmp_path / "run")} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_demo_roster_has_every_kind_of_unit_around_one_city() -> None:
    kinds = Counter(unit["type"] for unit in DEMO_UNITS)
    assert set(kinds) == {"police", "co_response", "clinician"} and min(kinds.values()) >= 2
    assert all(47.4 < unit["lat"] < 47.8 and -122.5 < unit["lon"] < -122.2 for unit in DEMO_UNITS)  # Seattle


def test_seed_fills_an_empty_roster_once(routing: ServiceProcess, tmp_path: Path) -> None:
    refused = seed(routing, tmp_path)  # no key at all
    assert refused.returncode != 0 and "could not read the roster" in refused.stderr

    first = seed(routing, tmp_path, DISPATCH_API_KEY=TEST_KEYS["ops"])
    assert first.returncode == 0, first.stderr
    assert f"registered {len(DEMO_UNITS)} demo units" in first.stdout
    roster = httpx.get(f"{routing.url}/v1/units", headers=auth("console")).json()
    assert {u["unit_id"] for u in roster["items"]} == {u["unit_id"] for u in DEMO_UNITS}
    assert all(u["status"] == "available" for u in roster["items"])

    # The ops key can also come from API_KEYS, as `make up` passes it to the services.
    again = seed(routing, tmp_path, API_KEYS=API_KEYS)
    assert again.returncode == 0 and "already has units" in again.stdout


def test_seed_reads_the_local_development_keys(routing: ServiceProcess, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "api-keys.env").write_text(f"API_KEYS={API_KEYS}\n")
    result = seed(routing, tmp_path)
    assert result.returncode == 0 and "registered" in result.stdout, result.stderr
