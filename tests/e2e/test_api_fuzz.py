"""schemathesis against each running service's OpenAPI, with valid keys of every role.

Each generated request is sent once per role, so both the authorised path and the 403 path are
exercised; none may answer with a server error. The services run as real processes on a real
database and the real broker.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.stack import API_KEYS, ServiceProcess, auth, unique

pytestmark = pytest.mark.e2e

# Streams never end and the console is a page, not an API.
NOT_FUZZED = ["/v1/stream", "/console"]


@pytest.fixture(params=["intake", "triage", "routing"])
def running_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[ServiceProcess]:
    workdir = Path(tmp_path_factory.mktemp(request.param))
    service = ServiceProcess(
        request.param,
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'fuzz.db'}",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KAFKA_NAMESPACE": unique("fuzz") + ".",
            "API_KEYS": API_KEYS,
            "RATE_LIMIT_PER_MINUTE": "0",
        },
        workdir / "logs" / f"{request.param}.log",
    )
    with service.running():
        yield service


def test_no_server_errors(running_service: ServiceProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{running_service.url}/openapi.json").exclude(path=NOT_FUZZED)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case) -> None:
            for role in ("cad", "console", "unit", "ops"):
                response = case.call(headers=auth(role), timeout=10)
                assert response.status_code < 500, f"{case.method} {case.formatted_path} as {role}"

        no_server_error()
