"""The HTTP baseline: one POST that validates intake's call submission model and does nothing else.

Served exactly as intake is (``dispatch_shared.http.serve``, the same uvicorn settings) on the port
in ``BARE_PORT``; answers 202 with a fixed call id, so the load generator reads it like intake's.
``GET /healthz`` tells the harness it is up.
"""

from __future__ import annotations

import os

from dispatch_shared.http import serve
from dispatch_shared.settings import ServiceSettings
from fastapi import FastAPI
from intake.schemas import CallSubmission

CALL_ID = "00000000-0000-4000-8000-000000000000"


def create_app() -> FastAPI:
    """The bare app: ``POST /v1/calls`` (body: ``CallSubmission``) -> 202 ``{"call_id": ...}``."""
    app = FastAPI(title="bare baseline")

    @app.post("/v1/calls", status_code=202)
    def submit_call(submission: CallSubmission) -> dict[str, str]:
        return {"call_id": CALL_ID}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    """Serve the bare app on ``BARE_PORT`` with intake's server settings."""
    settings = ServiceSettings(service_name="bare", port=int(os.environ["BARE_PORT"]))
    serve(create_app(), settings)


if __name__ == "__main__":
    main()
