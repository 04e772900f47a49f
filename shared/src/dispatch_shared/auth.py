"""Role-scoped API keys: ``API_KEYS="role:key,role:key"``, sent as ``Authorization: Bearer <key>``.

Roles: ``cad`` posts calls, ``console`` reads calls, units and the stream, ``unit`` reports
lifecycle and unit status, ``ops`` changes the roster and reads insights and the policy.
Probes and metrics stay open. Production refuses to start without keys; development without
``API_KEYS`` shares generated keys through ``.run/api-keys.env`` so every local service agrees.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
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


class MissingApiKeys(RuntimeError):
    """Production was started without API_KEYS."""


LOCAL_KEYS_FILE = Path(".run") / "api-keys.env"


def parse_api_keys(spec: str) -> list[tuple[str, Role]]:
    """Parse ``role:key,role:key``; raises ValueError naming the bad entry (never the key)."""
    keys: list[tuple[str, Role]] = []
    for position, entry in enumerate(filter(None, (e.strip() for e in spec.split(","))), start=1):
        role, sep, key = entry.partition(":")
        if not sep or role not in {r.value for r in Role} or len(key) < 16:
            raise ValueError(
                f"API_KEYS entry {position} must be role:key with a known role and a key of 16+ chars"
            )
        keys.append((key, Role(role)))
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


def load_api_keys(settings: ServiceSettings) -> list[tuple[str, Role]]:
    """The keys in force: API_KEYS, or in development the shared local keys."""
    if settings.api_keys:
        return parse_api_keys(settings.api_keys)
    if settings.environment is Environment.PRODUCTION:
        raise MissingApiKeys("ENVIRONMENT=production needs API_KEYS=role:key,...")
    return parse_api_keys(local_api_keys())


class KeyRing:
    """Looks up the role of a presented key in constant time per stored key."""

    def __init__(self, keys: list[tuple[str, Role]]) -> None:
        self._keys = [(key.encode(), role) for key, role in keys]

    def role_of(self, presented: str) -> Role | None:
        found: Role | None = None
        candidate = presented.encode()
        for key, role in self._keys:
            # Compare against every key, so timing says nothing about which one matched.
            if hmac.compare_digest(key, candidate):
                found = role
        return found


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


def require(*roles: Role) -> Callable[[Request], Role]:
    """A dependency admitting keys of ``roles``: 401 without a known key, 403 for another role."""

    def check(request: Request) -> Role:
        keyring: KeyRing = request.app.state.keyring
        token = presented_key(request)
        role = keyring.role_of(token) if token else None
        if role is None:
            raise HTTPException(
                status_code=401,
                detail="a valid API key is required (Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if role not in roles:
            allowed = ", ".join(roles)
            raise HTTPException(status_code=403, detail=f"this needs a key with role {allowed}")
        return role

    return check
