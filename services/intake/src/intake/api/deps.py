"""Dependencies the routes share besides the runtime (``dispatch_shared.http.RuntimeDep``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


def get_agency_id(request: Request) -> str:
    """``EIDO_AGENCY_ID`` of the settings the app was built with."""
    agency_id: str = request.app.state.settings.eido_agency_id
    return agency_id


AgencyIdDep = Annotated[str, Depends(get_agency_id)]
"""The agency id (a domain name) EIDO exports name as their author."""
