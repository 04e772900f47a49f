"""Database engines: a failed statement never carries its bound values (narratives) into an error."""

import pytest
from dispatch_shared.db import make_engine, migration_lock_key
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

NARRATIVE = "Caller says her son wants to die and has pills"


def test_a_sqlite_error_names_the_statement_but_not_the_narrative() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE calls (narrative TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO calls VALUES (:narrative)"), {"narrative": NARRATIVE})
    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        connection.execute(text("INSERT INTO calls VALUES (:narrative)"), {"narrative": NARRATIVE})
    message = str(raised.value)
    assert "INSERT INTO calls" in message  # the error still says what failed
    assert NARRATIVE not in message and "wants to die" not in message
    assert "hidden due to hide_parameters" in message
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "postgresql+psycopg://user@127.0.0.1:1/db"])
def test_every_backend_hides_parameters(url: str) -> None:
    engine = make_engine(url)  # no connection is made
    assert engine.hide_parameters
    engine.dispose()


def test_each_service_has_its_own_64_bit_migration_lock() -> None:
    keys = {service: migration_lock_key(service) for service in ("intake", "triage", "routing")}
    assert len(set(keys.values())) == 3
    assert all(-(2**63) <= key < 2**63 for key in keys.values())  # PostgreSQL's bigint
