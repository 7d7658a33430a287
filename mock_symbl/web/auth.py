"""Access tokens: issued for app credentials, checked on every socket and REST call.

Tokens are JWTs with an `exp` claim (the JavaScript SDKs decode it and refuse an expired
one), signed with a secret kept in the store, so every process sharing a database file
accepts the tokens any of them issued.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jwt

from mock_symbl.store import Store

TOKEN_LIFETIME_S = 86400
INVALID_TOKEN = "Token validation failed for provided token."


class AuthError(Exception):
    """Credentials or a token were refused; the message is what the client is told."""


@dataclass(frozen=True, slots=True)
class App:
    """An application: its public id and the key that owns its conversations."""

    app_id: str
    key: str


def app_key(app_id: str, app_secret: str) -> str:
    """The identity of an id/secret pair: each distinct pair is its own app."""
    return hashlib.sha256(f"{app_id}\0{app_secret}".encode()).hexdigest()[:32]


class Authority:
    """Issue and verify tokens. With `apps`, only those id/secret pairs may have one."""

    def __init__(
        self,
        store: Store,
        apps: Mapping[str, str] | None = None,
        lifetime_s: int = TOKEN_LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._secret = store.token_secret
        self._apps = dict(apps) if apps else None
        self._lifetime = lifetime_s
        self._clock = clock

    def generate(self, app_id: str, app_secret: str) -> tuple[str, int]:
        """A token for the app and its remaining lifetime in seconds."""
        if not app_id or not app_secret:
            raise AuthError("appId and appSecret are required.")
        if self._apps is not None and not secrets.compare_digest(
            self._apps.get(app_id, ""), app_secret
        ):
            raise AuthError("Invalid appId or appSecret.")
        key = app_key(app_id, app_secret)
        now = self._clock()
        existing = self._store.valid_token(key, now)
        if existing is not None:
            token, expires_at = existing
            return token, int(expires_at - now)
        expires_at = now + self._lifetime
        claims = {"sub": app_id, "app": key, "iat": int(now), "exp": int(expires_at)}
        claims["jti"] = secrets.token_hex(8)
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        self._store.save_token(key, token, float(int(expires_at)))
        return token, int(int(expires_at) - now)

    def verify(self, token: str | None) -> App:
        """The app a token belongs to; raises AuthError if missing, unknown or expired."""
        if not token:
            raise AuthError(INVALID_TOKEN)
        try:
            # Expiry is checked against our own clock below, so tests can move time.
            claims = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"verify_exp": False}
            )
        except jwt.PyJWTError:
            raise AuthError(INVALID_TOKEN) from None
        expires = claims.get("exp")
        if not isinstance(expires, int) or expires <= self._clock():
            raise AuthError(INVALID_TOKEN)
        return App(app_id=str(claims.get("sub", "")), key=str(claims.get("app", "")))
