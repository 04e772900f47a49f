"""Each service's ``/openapi.json`` is a valid OpenAPI 3.1 document a client generator can trust.

The checks hold for every operation, so a new route is held to them too: the document validates
(``openapi-spec-validator``); an operation behind a role gate declares the bearer scheme and its
roles, and answers 401 without a key and 403 with a key of another role, as declared; every error
answer it can give is documented with the one ``ErrorBody``; every model a request or answer uses,
and every body that is a bare JSON object, has an example that its schema accepts; every property
of every model and every parameter has a description. ``/docs`` and ``/redoc`` load nothing from
another host, so they work where the service has no internet access.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from dispatch_shared.auth import Role
from dispatch_shared.openapi import BEARER_SCHEME, ERROR_STATUSES
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.unit.service_apps import KEYS, SERVICES, service_app

METHODS = ("get", "put", "post", "delete", "patch")
OPEN_PATHS = {"/healthz", "/readyz", "/metrics", "/asyncapi.json", "/console"}
"""Operations anyone may call: probes, metrics, the event contract and the (data-free) console page."""
ERROR_REF = "#/components/schemas/ErrorBody"


def document(service: str) -> dict[str, Any]:
    # Served over HTTP, as a client generator reads it.
    response = TestClient(service_app(service)).get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def all_operations() -> list[tuple[str, str, str]]:
    return [
        (service, path, method) for service in SERVICES for path, method, _ in operations(document(service))
    ]


def refs_in(schema: Any) -> Iterator[str]:
    """The component names ``schema`` refers to at its own level (not inside those components)."""
    if isinstance(schema, dict):
        if isinstance(schema.get("$ref"), str):
            yield schema["$ref"].removeprefix("#/components/schemas/")
        for value in schema.values():
            yield from refs_in(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from refs_in(item)


def concrete(path: str) -> str:
    """``path`` with a plausible value in each parameter."""
    return re.sub(r"\{[^}]*_id\}", str(uuid4()), path).replace("{", "").replace("}", "")


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_is_valid_openapi(service: str) -> None:
    schema = document(service)
    validate(schema)  # raises on any error, dangling $ref included
    assert schema["info"]["license"]["identifier"] == "Apache-2.0"
    assert schema["info"]["contact"]["name"]
    assert [server["url"] for server in schema["servers"]][0] == "/"
    assert schema["components"]["securitySchemes"][BEARER_SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"][BEARER_SCHEME]["description"],
    }


@pytest.mark.parametrize("service", SERVICES)
def test_only_probes_and_the_contract_are_open(service: str) -> None:
    for path, method, operation in operations(document(service)):
        if path in OPEN_PATHS:
            assert "security" not in operation, (method, path)
            continue
        [requirement] = operation["security"]
        roles = requirement[BEARER_SCHEME]
        assert roles and set(roles) <= {role.value for role in Role}, (method, path)
        assert f"**Roles:** {', '.join(roles)}" in operation["description"], (method, path)


@pytest.mark.parametrize(("service", "path", "method"), all_operations())
def test_the_declared_roles_are_the_ones_admitted(service: str, path: str, method: str) -> None:
    operation = document(service)["paths"][path][method]
    if "security" not in operation:
        return
    admitted = set(operation["security"][0][BEARER_SCHEME])
    client = TestClient(service_app(service), raise_server_exceptions=True)
    url = concrete(path)
    anonymous = client.request(method, url)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert isinstance(anonymous.json()["detail"], str)
    # Only keys that must be refused are sent: an admitted one would reach the database.
    for role in Role:
        if role.value not in admitted:
            refused = client.request(method, url, headers={"Authorization": f"Bearer {KEYS[role]}"})
            assert refused.status_code == 403, (role, refused.text)
            assert set(refused.json()) == {"detail"}


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_documents_its_errors_as_error_bodies(service: str) -> None:
    for path, method, operation in operations(document(service)):
        responses = operation["responses"]
        expected: set[str] = set()
        if "security" in operation:
            expected |= {"401", "403"}
        if "requestBody" in operation:
            expected |= {"413", "422"}
        parameters = operation.get("parameters", [])
        if parameters:
            expected.add("422")
        if any(parameter["in"] == "path" for parameter in parameters):
            expected.add("404")
        assert expected <= set(responses), (method, path, sorted(expected - set(responses)))
        for status, response in responses.items():
            if int(status) >= 400:
                assert status in ERROR_STATUSES, (method, path, status)
                assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}
                assert response["description"]
        if "429" in responses or "503" in responses:
            for status in {"429", "503"} & set(responses):
                assert "Retry-After" in responses[status]["headers"]


def test_operations_document_what_they_depend_on() -> None:
    intake, routing = document("intake"), document("routing")
    # Rate limited: every CAD post.
    for path in ("/v1/calls", "/v1/eido", "/v1/calls/{call_id}/notes"):
        assert "429" in intake["paths"][path]["post"]["responses"], path
    assert "429" not in routing["paths"]["/v1/calls/{call_id}/override"]["post"]["responses"]
    # The database: routes that use it, not the probes or the policy.
    assert "503" in routing["paths"]["/v1/calls"]["get"]["responses"]
    assert "503" not in document("triage")["paths"]["/v1/triage/preview"]["post"]["responses"]
    # Conflicts the routes declare keep their own description.
    conflict = routing["paths"]["/v1/units/{unit_id}/status"]["put"]["responses"]["409"]
    assert conflict["description"] == "Not a status the roster sets now"


def component_validator(schema: dict[str, Any], target: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``target`` that resolves ``#/components/...`` in ``schema``."""
    return Draft202012Validator({**target, "components": schema["components"]})


def bodies(operation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The media type objects of the operation's request body and its 2xx answers."""
    answers = [response for status, response in operation["responses"].items() if status.startswith("2")]
    for body in [operation.get("requestBody", {}), *answers]:
        yield from body.get("content", {}).values()


def media_examples(media: dict[str, Any]) -> list[Any]:
    """The examples a media type object gives: ``example``, and each of ``examples``' values."""
    given = [media["example"]] if "example" in media else []
    return given + [entry["value"] for entry in media.get("examples", {}).values()]


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_and_answer_model_has_an_example_its_schema_accepts(service: str) -> None:
    schema = document(service)
    models = schema["components"]["schemas"]
    for path, method, operation in operations(schema):
        for media in bodies(operation):
            examples = media_examples(media)
            for example in examples:
                component_validator(schema, media["schema"]).validate(example)
            if examples:
                continue
            for name in refs_in(media.get("schema", {})):
                assert models[name].get("examples"), (method, path, name)
    for name, model in models.items():
        for example in model.get("examples", []):
            component_validator(schema, {"$ref": f"#/components/schemas/{name}"}).validate(example)


def inline_object_cases() -> list[tuple[str, str, str]]:
    return [case for case in all_operations() if case[1] not in OPEN_PATHS]


@pytest.mark.parametrize(("service", "path", "method"), inline_object_cases())
def test_a_body_that_is_a_bare_object_has_an_example(service: str, path: str, method: str) -> None:
    # A bare object (``dict[str, Any]``) refers to no model, so no model's example shows its shape.
    # The probes and the event contract are left out: their shape is fixed elsewhere.
    for media in bodies(document(service)["paths"][path][method]):
        if media.get("schema", {}).get("type") == "object" and not any(refs_in(media["schema"])):
            assert media_examples(media), (method, path)


@pytest.mark.parametrize("service", SERVICES)
def test_every_parameter_is_described(service: str) -> None:
    undescribed = [
        (method, path, parameter["in"], parameter["name"])
        for path, method, operation in operations(document(service))
        for parameter in operation.get("parameters", [])
        if not parameter.get("description")
    ]
    assert undescribed == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_property_of_every_model_is_described(service: str) -> None:
    for name, model in document(service)["components"]["schemas"].items():
        for field, definition in model.get("properties", {}).items():
            assert definition.get("description"), f"{name}.{field}"


def test_a_route_that_reads_its_body_by_hand_documents_the_body_it_reads() -> None:
    routing = document("routing")
    units = routing["paths"]["/v1/units"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert sorted(refs_in(units)) == ["UnitRegistration", "UnitRegistration"]
    report = routing["paths"]["/v1/calls/{call_id}/status"]["post"]["requestBody"]
    assert report["content"]["application/json"]["schema"]["discriminator"]["propertyName"] == "status"


class _Links(HTMLParser):
    """The ``src`` and ``href`` of every element in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value for name, value in attrs if name in ("src", "href") and value]


ABSOLUTE_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]*:)?//[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.IGNORECASE)
"""A URL naming a host (``https://cdn.example.net``, ``//cdn.example.net``), in markup or script."""


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_pages_load_everything_from_the_service(service: str, page: str) -> None:
    client = TestClient(service_app(service))
    answer = client.get(page)
    assert answer.status_code == 200 and "'/openapi.json'" in answer.text.replace('"', "'")
    assert ABSOLUTE_URL.findall(answer.text) == []
    parser = _Links()
    parser.feed(answer.text)
    scripts = [link for link in parser.links if link.endswith(".js")]
    assert scripts, "the page loads its script"
    for link in parser.links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, link
        asset = client.get(link)
        assert asset.status_code == 200 and asset.content, link
