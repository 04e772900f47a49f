"""Who reports: a unit key bound to one unit (``unit@<unit_id>:key``) reports for that unit only.

A bound key may report steps and ask for backup on a call its unit is on, and set its own unit's
status; anything about another unit is refused with 403. Unbound unit keys, console keys relaying
a unit's radio report and ops keys are not limited here. Each router has already admitted the
key's role (``routing.app``), so these checks only look at the binding.
"""

from __future__ import annotations

from typing import Annotated

from dispatch_shared.auth import Principal, Role, require_principal
from dispatch_shared.db import transaction
from fastapi import Depends, HTTPException
from sqlalchemy.engine import Engine
from sqlmodel import Session

from routing import calls

PrincipalDep = Annotated[Principal, Depends(require_principal(*Role))]
"""Who the request's key speaks for: its role, and the unit it is bound to (None when unbound)."""


def units_on_call(session: Session, call_id: str) -> set[str] | None:
    """Ids of the units on ``call_id``: its primary and every unit added to it (released ones too).

    None for a call routing does not have.
    """
    try:
        call = calls.get_call(session, call_id)
    except calls.UnknownCall:
        return None
    added = calls.added_units(session, [call_id]).get(call_id, [])
    return {unit.unit_id for unit in added} | ({call.unit_id} if call.unit_id else set())


def require_own_call(principal: Principal, *, call_id: str, engine: Engine) -> None:
    """Refuse (403) a key bound to a unit that is not on ``call_id``.

    An unbound key passes without a query; so does a call routing does not have, for the route
    to answer 404 as it does for any key.
    """
    if principal.unit_id is None:
        return
    with transaction(engine) as session:
        on_call = units_on_call(session, call_id)
    if on_call is not None and principal.unit_id not in on_call:
        raise HTTPException(
            status_code=403,
            detail=f"this key is bound to unit {principal.unit_id}, which is not on call {call_id}",
        )


def require_own_unit(principal: Principal, *, unit_id: str) -> None:
    """Refuse (403) a key bound to a unit other than ``unit_id``; an unbound key passes."""
    if principal.unit_id is not None and principal.unit_id != unit_id:
        raise HTTPException(
            status_code=403,
            detail=f"this key is bound to unit {principal.unit_id} and cannot report for unit {unit_id}",
        )
