"""Short-lived tokens that open the console stream, so API keys never travel in a URL.

Browsers' EventSource cannot send an ``Authorization`` header, so whatever opens the stream from
a browser sits in its URL, where proxies, logs and history can keep it. A console exchanges its
key (``POST /v1/stream/token`` with ``Authorization: Bearer <key>``) for a token that opens only
the stream, only until it expires (``STREAM_TOKEN_SECONDS``). The token is checked when the stream
opens; a stream already open is not cut when it expires.

Tokens are stateless: ``v1.<expires, unix seconds>.<role>.<nonce>.<HMAC-SHA256>``, signed with
``STREAM_TOKEN_SECRET``. Without that setting each process draws a random secret, so a token
works only on the replica that issued it: set one shared secret when several replicas serve
consoles behind one address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from dispatch_shared.auth import Role

__all__ = ["IssuedToken", "StreamTokens"]

_VERSION = "v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class IssuedToken:
    """A stream token and how many seconds it stays valid."""

    token: str
    expires_in: int


class StreamTokens:
    """Issues and checks stream tokens for one secret."""

    def __init__(self, secret: bytes, *, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        """``secret``: 32+ bytes shared by every replica; ``ttl_seconds``: lifetime of a token."""
        if len(secret) < 32:
            raise ValueError("a stream token secret needs at least 32 bytes")
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    @classmethod
    def with_secret(cls, secret: str, *, ttl_seconds: int) -> StreamTokens:
        """From the configured secret, or a random one for this process when it is empty."""
        raw = secret.encode() if secret else secrets.token_bytes(32)
        return cls(raw, ttl_seconds=ttl_seconds)

    def issue(self, role: Role) -> IssuedToken:
        """A new token for ``role``, valid for ``ttl_seconds`` from now."""
        expires = int(self._clock()) + self.ttl_seconds
        body = f"{_VERSION}.{expires}.{role.value}.{secrets.token_urlsafe(12)}"
        return IssuedToken(token=f"{body}.{self._mac(body)}", expires_in=self.ttl_seconds)

    def verify(self, token: str) -> Role | None:
        """The role a token was issued for, or None if it is malformed, forged or expired."""
        body, _, mac = token.rpartition(".")
        if not body or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        parts = body.split(".")
        if len(parts) != 4:
            return None
        version, expires, role, _nonce = parts
        if version != _VERSION or not expires.isdigit() or int(expires) <= self._clock():
            return None
        try:
            return Role(role)
        except ValueError:
            return None

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())
