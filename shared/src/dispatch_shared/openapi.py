"""The OpenAPI document every service serves at ``/openapi.json``, completed in one place.

FastAPI generates the operations and models; ``install_openapi`` adds, from what each route
depends on, what a client generator needs and FastAPI cannot know:

* the bearer scheme (``apiKey``: ``Authorization: Bearer <key>``, ``dispatch_shared.auth``) on every
  operation behind a role gate, with the roles it admits in its security requirement and its
  description, so ``/docs`` shows an Authorize button that takes an API key;
* every error answer the operation can give, each an ``ErrorBody`` (``dispatch_shared.errors``):
  401 and 403 behind a role gate, 413 and 422 with a body, 422 with parameters, 404 with a path
  parameter, 429 when rate limited, 503 when it uses the database, and the 409 (or other) answers
  the route declares itself, with the route's own description kept;
* ``servers``, ``license`` (Apache-2.0) and ``contact`` in ``info``.

The document is built on first request, after every router is included.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from dispatch_shared.auth import Role
from dispatch_shared.errors import ErrorBody
from dispatch_shared.ratelimit import rate_limited
from dispatch_shared.settings import ServiceSettings

__all__ = ["BEARER_SCHEME", "ERROR_STATUSES", "complete_openapi", "install_openapi"]

BEARER_SCHEME = "apiKey"
"""The name of the security scheme in ``components.securitySchemes``."""

LICENSE = {"name": "Apache-2.0", "identifier": "Apache-2.0"}
CONTACT = {"name": "Dispatch triage maintainers"}

_COMPONENT = "#/components/schemas/{model}"
_ERROR_REF = {"$ref": _COMPONENT.format(model="ErrorBody")}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
ERROR_STATUSES: dict[str, str] = {
    "401": "No valid API key: send `Authorization: Bearer <key>`.",
    "403": "The key's role (or the unit it is bound to) may not do this.",
    "404": "Nothing has the id in the path.",
    "409": "The request conflicts with the resource as it is now.",
    "413": "The body is larger than MAX_BODY_BYTES; nothing was read.",
    "422": "The request cannot be taken as sent: `detail` lists each problem and where it is (`loc`).",
    "429": "Too many requests for this key: retry after `Retry-After` seconds.",
    "503": "The database is unavailable; nothing was stored. Retry after `Retry-After` seconds.",
}
"""The error statuses the services answer, with the description used when a route gives none."""

_FASTAPI_DESCRIPTIONS = frozenset({"Validation Error", "Unprocessable Entity"})
"""FastAPI's own descriptions of its 422, replaced by ours."""

_BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key of one role (cad, console, unit or ops; API_KEYS), sent as "
    "`Authorization: Bearer <key>`. Each operation names the roles it admits; a unit key bound to "
    "one unit speaks for that unit only.",
}


def _dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable ``dependant`` depends on, depth first."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependencies(sub)


def _gate_roles(call: Callable[..., Any], depth: int = 0) -> frozenset[Role] | None:
    """The roles a role gate admits, or None when ``call`` is not one.

    A gate is what ``dispatch_shared.auth.require`` and ``require_principal`` make (or a function
    that wraps one, such as routing's stream access): a function holding its tuple of roles, or
    another gate, in its closure.
    """
    if depth > 3 or not inspect.isfunction(call):
        return None
    held = inspect.getclosurevars(call).nonlocals.values()
    for value in held:
        if isinstance(value, tuple) and value and all(isinstance(role, Role) for role in value):
            return frozenset(value)
    for value in held:
        if callable(value) and (roles := _gate_roles(value, depth + 1)) is not None:
            return roles
    return None


def _route_roles(route: Any) -> frozenset[Role] | None:
    """The roles admitted by every gate on ``route`` (their intersection); None when it has no gate."""
    admitted: frozenset[Role] | None = None
    for call in _dependencies(route.dependant):
        roles = _gate_roles(call)
        if roles is not None:
            admitted = roles if admitted is None else admitted & roles
    return admitted


def _is_runtime(call: Callable[..., Any]) -> bool:
    """Whether ``call`` is ``dispatch_shared.http.get_runtime``: the route reaches the database.

    Named, not imported, because ``dispatch_shared.http`` imports this module.
    """
    return (getattr(call, "__module__", ""), getattr(call, "__qualname__", "")) == (
        "dispatch_shared.http",
        "get_runtime",
    )


def _error(status: str, description: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or ERROR_STATUSES[status],
        "content": {"application/json": {"schema": dict(_ERROR_REF)}},
    }
    if status in ("429", "503"):
        response["headers"] = dict(_RETRY_AFTER)
    if status == "401":
        response["headers"] = {"WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}}}
    return response


def _document_operation(operation: dict[str, Any], route: Any, models: dict[str, Any]) -> None:
    """Add the security requirement and the error answers ``route`` can give to its operation.

    ``route`` is the route as included (a ``RouteContext``): its dependant holds the dependencies
    of every router it was included through. ``models`` (the document's component schemas)
    receives the ``$defs`` of a request body the route declares itself.
    """
    statuses: set[str] = set()
    roles = _route_roles(route)
    if roles is not None:
        names = [role.value for role in Role if role in roles]
        operation["security"] = [{BEARER_SCHEME: names}]
        note = f"**Roles:** {', '.join(names)} (API key as `Authorization: Bearer <key>`)."
        described = operation.get("description")
        operation["description"] = f"{described}\n\n{note}" if described else note
        statuses |= {"401", "403"}
    parameters = operation.get("parameters", [])
    declared_body = (route.openapi_extra or {}).get("requestBody")
    if declared_body is not None:
        # A route that reads its body by hand declares it: that, not FastAPI's merge with it.
        operation["requestBody"] = copy.deepcopy(declared_body)
    if "requestBody" in operation:
        for media in operation["requestBody"].get("content", {}).values():
            _lift(media.get("schema", {}), models)
        statuses |= {"413", "422"}
    if parameters:
        statuses.add("422")
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.add("404")
    calls = set(_dependencies(route.dependant))
    if rate_limited in calls:
        statuses.add("429")
    if any(_is_runtime(call) for call in calls):
        statuses.add("503")
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses |= {status for status in responses if status in ERROR_STATUSES}
    for status in sorted(statuses):
        own = responses.get(status, {}).get("description")
        if own in _FASTAPI_DESCRIPTIONS:
            own = None
        responses[status] = _error(status, own)


def _models_in(annotation: Any, found: dict[str, type[BaseModel]]) -> None:
    """Every pydantic model ``annotation`` names, through unions, lists and fields, by class name."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation.__name__ not in found:
            found[annotation.__name__] = annotation
            for field in annotation.model_fields.values():
                _models_in(field.annotation, found)
        return
    for argument in get_args(annotation):
        _models_in(argument, found)


def _route_models(routes: list[Any]) -> dict[str, type[BaseModel]]:
    """The models the routes take and answer with, and those they contain, by class name."""
    found: dict[str, type[BaseModel]] = {}
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        _models_in(route.response_model, found)
        if route.body_field is not None:
            _models_in(route.body_field.field_info.annotation, found)
        for response in (route.responses or {}).values():
            _models_in(response.get("model"), found)
    return found


def _restore_examples(models: dict[str, Any], routes: list[Any]) -> None:
    """Put back the nulls of model examples (FastAPI drops every None when it encodes the document)."""
    for name, model in _route_models(routes).items():
        examples = model.model_json_schema(ref_template=_COMPONENT).get("examples")
        if examples is not None and name in models:
            models[name]["examples"] = examples


def _lift(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Put a model schema and its ``$defs`` into ``components`` (refs already point there)."""
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)


def complete_openapi(
    schema: dict[str, Any], *, routes: list[Any], settings: ServiceSettings
) -> dict[str, Any]:
    """``schema`` (FastAPI's document for ``routes``) with security, errors, servers and info completed."""
    info = schema.setdefault("info", {})
    info["license"] = dict(LICENSE)
    info["contact"] = dict(CONTACT)
    schema["servers"] = [
        {"url": "/", "description": "Where this document is served from."},
        {
            "url": f"http://127.0.0.1:{settings.port}",
            "description": f"{settings.service_name} on a developer machine (make run).",
        },
    ]
    components = schema.setdefault("components", {})
    models: dict[str, Any] = components.setdefault("schemas", {})
    _restore_examples(models, routes)
    error_body = ErrorBody.model_json_schema(ref_template=_COMPONENT)
    _lift(error_body, models)
    models["ErrorBody"] = error_body
    components.setdefault("securitySchemes", {})[BEARER_SCHEME] = dict(_BEARER)
    by_operation = {
        (route.path_format, method.lower()): route
        for route in iter_route_contexts(routes)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            route = by_operation.get((path, method))
            if route is not None:
                _document_operation(operation, route, models)
    # FastAPI's own 422 models are unused now that every 422 is an ErrorBody.
    text = repr(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}'" not in text:
            models.pop(unused, None)
    return schema


def install_openapi(app: FastAPI, *, settings: ServiceSettings) -> None:
    """Serve the completed document (``complete_openapi``) at ``app``'s ``/openapi.json`` and ``/docs``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = FastAPI.openapi(app)
            app.openapi_schema = complete_openapi(generated, routes=app.routes, settings=settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
