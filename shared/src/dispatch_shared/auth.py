"""Role-scoped API keys: ``API_KEYS="role:key,role:key"``, sent as ``Authorization: Bearer <key>``.

Roles: ``cad`` posts calls, ``console`` reads calls, units and the stream, ``unit`` reports
lifecycle and unit status, ``ops`` changes the roster and reads insights and the policy.
A unit key may be bound to one unit, ``unit@<unit_id>:key``: it then speaks for that unit only
(a ``Principal`` with ``unit_id``; the service decides what that unit may touch).
Probes and metrics stay open. Production refuses to start without keys; development without
``API_KEYS`` shares generated keys through ``.run/api-keys.env`` so every local service agrees.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from fastapi import HTTPException, Request

from dispatch_shared.settings import Environment, ServiceSettings


class Role(StrEnum):
    """What a key may do."""

    CAD = "cad"
    CONSOLE = "console"
    UNIT = "unit"
    OPS = "ops"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a key speaks for: its role and, for a unit key bound to one unit, that unit's id.

    ``unit_id`` is None for an unbound key; only ``unit`` keys are ever bound.
    """

    role: Role
    unit_id: str | None = None


class MissingApiKeys(RuntimeError):
    """Production was started without API_KEYS."""


LOCAL_KEYS_FILE = Path(".run") / "api-keys.env"

# The unit ids routing accepts: letters, digits, '.', '_' and '-', at most 64 (no ':', ',' or '@').
_UNIT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def parse_api_keys(spec: str) -> list[tuple[str, Principal]]:
    """Parse comma-separated ``role:key`` and ``unit@<unit_id>:key`` entries into (key, Principal).

    Keys are 16+ characters and may contain ``:`` and ``@``; the role part ends at the first ``:``.
    Raises ValueError naming the position of the bad entry, never the key: an unknown role, a short
    key, a role other than ``unit`` bound to a unit, a malformed unit id, or one key given twice
    with different roles or units.
    """
    keys: list[tuple[str, Principal]] = []
    first_seen: dict[str, tuple[int, Principal]] = {}
    for position, entry in enumerate(filter(None, (e.strip() for e in spec.split(","))), start=1):
        holder, sep, key = entry.partition(":")
        role, bound, unit_id = holder.partition("@")
        if not sep or role not in {r.value for r in Role} or len(key) < 16:
            raise ValueError(
                f"API_KEYS entry {position} must be role:key (or unit@<unit id>:key) with a known role "
                "and a key of 16+ chars"
            )
        if bound and role != Role.UNIT:
            raise ValueError(f"API_KEYS entry {position}: only unit keys can be bound (unit@<unit id>:key)")
        if bound and not _UNIT_ID.fullmatch(unit_id):
            raise ValueError(
                f"API_KEYS entry {position}: the unit id after @ must be 1-64 letters, digits, '.', '_', '-'"
            )
        principal = Principal(Role(role), unit_id if bound else None)
        earlier, first = first_seen.setdefault(key, (position, principal))
        if first != principal:
            raise ValueError(
                f"API_KEYS entries {earlier} and {position} give the same key different roles or units"
            )
        keys.append((key, principal))
    return keys


def local_api_keys(path: Path = LOCAL_KEYS_FILE) -> str:
    """The development keys, generated once and shared by every local service through ``path``."""
    if not path.exists():
        spec = ",".join(f"{role}:{role}-{secrets.token_urlsafe(18)}" for role in Role)
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"API_KEYS={spec}\n")
        try:
            # link() fails if the file exists: when services start together the first one wins,
            # and nobody ever reads a half-written file.
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    text = path.read_text().strip()
    if not text.startswith("API_KEYS="):
        raise RuntimeError(f"{path} is not readable as API_KEYS=...")
    return text.removeprefix("API_KEYS=")


def load_api_keys(settings: ServiceSettings) -> list[tuple[str, Principal]]:
    """The keys in force: API_KEYS, or in development the shared local keys."""
    if settings.api_keys:
        return parse_api_keys(settings.api_keys)
    if settings.environment is Environment.PRODUCTION:
        raise MissingApiKeys("ENVIRONMENT=production needs API_KEYS=role:key,...")
    return parse_api_keys(local_api_keys())


class KeyRing:
    """Looks up who a presented key speaks for, in constant time per stored key."""

    def __init__(self, keys: Iterable[tuple[str, Principal]]) -> None:
        self._keys = [(key.encode(), principal) for key, principal in keys]

    def principal_of(self, presented: str) -> Principal | None:
        """The role and bound unit of ``presented``; None for a key not in the ring."""
        found: Principal | None = None
        candidate = presented.encode()
        for key, principal in self._keys:
            # Compare against every key, so timing says nothing about which one matched.
            if hmac.compare_digest(key, candidate):
                found = principal
        return found

    def role_of(self, presented: str) -> Role | None:
        """The role of ``presented``; None for a key not in the ring."""
        principal = self.principal_of(presented)
        return principal.role if principal is not None else None


def presented_key(request: Request) -> str | None:
    """The bearer token of a request's ``Authorization`` header.

    Keys are read from the header only, never from the URL, where logs and history keep them;
    a browser stream trades its key for a short-lived token instead (see routing's stream).
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def require_principal(*roles: Role) -> Callable[[Request], Principal]:
    """A dependency admitting keys of ``roles`` and returning who the key speaks for (its Principal).

    401 without a known key, 403 for another role.
    """

    def check(request: Request) -> Principal:
        keyring: KeyRing = request.app.state.keyring
        token = presented_key(request)
        principal = keyring.principal_of(token) if token else None
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="a valid API key is required (Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.role not in roles:
            allowed = ", ".join(roles)
            raise HTTPException(status_code=403, detail=f"this needs a key with role {allowed}")
        return principal

    return check


def require(*roles: Role) -> Callable[[Request], Role]:
    """A dependency admitting keys of ``roles``: 401 without a known key, 403 for another role."""
    by_key = require_principal(*roles)

    def check(request: Request) -> Role:
        return by_key(request).role

    return check
