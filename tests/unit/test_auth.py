"""API keys: parsing, role checks and the development fallback."""

from pathlib import Path
from typing import Annotated

import pytest
from dispatch_shared.auth import (
    KeyRing,
    MissingApiKeys,
    Principal,
    Role,
    load_api_keys,
    local_api_keys,
    parse_api_keys,
    require,
    require_principal,
)
from dispatch_shared.ratelimit import RateLimiter
from dispatch_shared.settings import ServiceSettings
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

KEY = "k" * 20


def test_parse_keeps_each_role_and_key() -> None:
    keys = parse_api_keys(f"cad:{KEY}, ops:{'o' * 20},console:{'c' * 20}")
    assert keys == [
        (KEY, Principal(Role.CAD)),
        ("o" * 20, Principal(Role.OPS)),
        ("c" * 20, Principal(Role.CONSOLE)),
    ]


def test_parse_binds_unit_keys_to_one_unit_and_leaves_others_unbound() -> None:
    keys = parse_api_keys(f"unit@M-12:{KEY}, unit:{'u' * 20}, unit@CL_3.b:a:b@c-{'x' * 16}")
    assert keys == [
        (KEY, Principal(Role.UNIT, "M-12")),
        ("u" * 20, Principal(Role.UNIT, None)),
        (f"a:b@c-{'x' * 16}", Principal(Role.UNIT, "CL_3.b")),  # a key may hold ':' and '@'
    ]


@pytest.mark.parametrize(
    "spec",
    [
        "cad",
        f"admin:{KEY}",
        "cad:short",
        f":{KEY}",
        f"admin@M-1:{KEY}",
        "unit@M-1:short",
        f"@M-1:{KEY}",
        f"console@M-1:{KEY}",
        f"ops@M-1:{KEY}",
        f"unit@:{KEY}",
        f"unit@M 1:{KEY}",
        f"unit@M/1:{KEY}",
        f"unit@M-1@M-2:{KEY}",
        f"unit@{'M' * 65}:{KEY}",
    ],
)
def test_parse_refuses_bad_entries_without_echoing_keys(spec: str) -> None:
    with pytest.raises(ValueError, match="entry 1") as raised:
        parse_api_keys(spec)
    assert KEY not in str(raised.value)


def test_parse_names_the_position_of_a_bad_binding() -> None:
    with pytest.raises(ValueError, match="entry 3: only unit keys can be bound") as raised:
        parse_api_keys(f"unit@M-1:{'u' * 20},cad:{'c' * 20},console@M-1:{KEY}")
    assert KEY not in str(raised.value)


@pytest.mark.parametrize("second", [f"unit@M-2:{KEY}", f"unit:{KEY}", f"console:{KEY}"])
def test_parse_refuses_one_key_speaking_for_two_principals(second: str) -> None:
    with pytest.raises(ValueError, match="entries 1 and 3") as raised:
        parse_api_keys(f"unit@M-1:{KEY},ops:{'o' * 20},{second}")
    assert KEY not in str(raised.value)
    assert parse_api_keys(f"unit@M-1:{KEY},unit@M-1:{KEY}")  # the same entry twice says nothing new


def test_keyring_finds_the_role_and_nothing_for_unknown_keys() -> None:
    ring = KeyRing([(KEY, Principal(Role.CAD)), ("u" * 20, Principal(Role.UNIT, "M-12"))])
    assert ring.role_of(KEY) is Role.CAD
    assert ring.role_of("u" * 20) is Role.UNIT
    assert ring.role_of("u" * 19) is None
    assert ring.role_of("") is None


def test_keyring_returns_the_bound_unit_of_a_key() -> None:
    ring = KeyRing(parse_api_keys(f"unit@M-12:{KEY},unit:{'u' * 20},console:{'c' * 20}"))
    assert ring.principal_of(KEY) == Principal(Role.UNIT, "M-12")
    assert ring.principal_of("u" * 20) == Principal(Role.UNIT, None)
    assert ring.principal_of("c" * 20) == Principal(Role.CONSOLE, None)
    assert ring.principal_of(KEY + "x") is None


def test_dependencies_return_the_role_or_the_principal_of_the_key() -> None:
    app = FastAPI()
    app.state.keyring = KeyRing(parse_api_keys(f"unit@M-12:{KEY},unit:{'u' * 20},cad:{'c' * 20}"))

    @app.get("/role")
    def role(found: Annotated[Role, Depends(require(Role.UNIT))]) -> str:
        return found.value

    @app.get("/principal")
    def principal(found: Annotated[Principal, Depends(require_principal(Role.UNIT))]) -> list[str | None]:
        return [found.role.value, found.unit_id]

    client = TestClient(app)

    def get(path: str, key: str) -> tuple[int, object]:
        response = client.get(path, headers={"Authorization": f"Bearer {key}"})
        return response.status_code, response.json()

    assert get("/role", KEY) == (200, "unit")
    assert get("/principal", KEY) == (200, ["unit", "M-12"])
    assert get("/principal", "u" * 20) == (200, ["unit", None])
    assert get("/principal", "c" * 20)[0] == get("/role", "c" * 20)[0] == 403
    assert get("/principal", "x" * 20)[0] == get("/role", "x" * 20)[0] == 401


def test_production_refuses_to_start_without_keys() -> None:
    with pytest.raises(MissingApiKeys):
        load_api_keys(ServiceSettings(environment="production", api_keys=""))


def test_development_shares_one_generated_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.env"
    first = local_api_keys(path)
    assert local_api_keys(path) == first  # the second service reads what the first wrote
    assert {principal for _, principal in parse_api_keys(first)} == {Principal(role) for role in Role}
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
