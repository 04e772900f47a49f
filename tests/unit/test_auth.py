"""API keys: parsing, role checks and the development fallback."""

from pathlib import Path

import pytest
from dispatch_shared.auth import KeyRing, MissingApiKeys, Role, load_api_keys, local_api_keys, parse_api_keys
from dispatch_shared.ratelimit import RateLimiter
from dispatch_shared.settings import ServiceSettings

KEY = "k" * 20


def test_parse_keeps_each_role_and_key() -> None:
    keys = parse_api_keys(f"cad:{KEY}, ops:{'o' * 20},console:{'c' * 20}")
    assert keys == [(KEY, Role.CAD), ("o" * 20, Role.OPS), ("c" * 20, Role.CONSOLE)]


@pytest.mark.parametrize("spec", ["cad", f"admin:{KEY}", "cad:short", f":{KEY}"])
def test_parse_refuses_bad_entries_without_echoing_keys(spec: str) -> None:
    with pytest.raises(ValueError, match="entry 1") as raised:
        parse_api_keys(spec)
    assert KEY not in str(raised.value)


def test_keyring_finds_the_role_and_nothing_for_unknown_keys() -> None:
    ring = KeyRing([(KEY, Role.CAD), ("u" * 20, Role.UNIT)])
    assert ring.role_of(KEY) is Role.CAD
    assert ring.role_of("u" * 20) is Role.UNIT
    assert ring.role_of("u" * 19) is None
    assert ring.role_of("") is None


def test_production_refuses_to_start_without_keys() -> None:
    with pytest.raises(MissingApiKeys):
        load_api_keys(ServiceSettings(environment="production", api_keys=""))


def test_development_shares_one_generated_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.env"
    first = local_api_keys(path)
    assert local_api_keys(path) == first  # the second service reads what the first wrote
    assert {role for _, role in parse_api_keys(first)} == set(Role)
    assert path.stat().st_mode & 0o777 == 0o600


def test_rate_limiter_allows_a_burst_then_says_how_long_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(60, burst=2, clock=lambda: now[0])
    assert limiter.acquire("a") == 0 and limiter.acquire("a") == 0
    wait = limiter.acquire("a")
    assert wait == pytest.approx(1.0)
    assert limiter.acquire("b") == 0  # other keys have their own bucket
    now[0] += 1.0
    assert limiter.acquire("a") == 0


def test_production_refuses_the_embedded_database() -> None:
    settings = ServiceSettings(environment="production", api_keys=f"ops:{KEY}", database_url="")
    with pytest.raises(ValueError, match="DATABASE_URL"):
        settings.resolved_database_url()
    assert ServiceSettings(
        environment="production", database_url="postgresql+psycopg://db/x"
    ).resolved_database_url()
