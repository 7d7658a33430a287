"""Access tokens: issued for app credentials, refreshed, revoked, checked on every socket
and REST call.

Tokens are JWTs with an `exp` claim (the JavaScript SDKs decode it and refuse an expired
one), signed with a secret kept in the store, so every process sharing a database file
accepts the tokens any of them issued. Each answer also carries a refresh token: an opaque,
single-use string (the store keeps only its digest) that `token:refresh` trades, with the
app's credentials, for a new access token and a new refresh token.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from mock_symbl.store import Store

TOKEN_LIFETIME_S = 86400
# Symbl documents no lifetime for refresh tokens; a month outlives any test run.
REFRESH_LIFETIME_S = 30 * 86400
# Every token request issues a refresh token: an app keeps its newest ones only, so that a
# client asking for a token per call does not grow the store without end.
MAX_REFRESH_TOKENS = 1000
INVALID_TOKEN = "Token validation failed for provided token."
INVALID_REFRESH_TOKEN = "The refresh token is invalid, expired or already used."


class AuthError(Exception):
    """Credentials or a token were refused; the message is what the client is told."""


@dataclass(frozen=True, slots=True)
class App:
    """An application: its public id and the key that owns its conversations."""

    app_id: str
    key: str


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token request answers: an access token, its lifetime, a refresh token."""

    access_token: str
    expires_in: int
    refresh_token: str

    def to_json(self) -> dict[str, Any]:
        """The answer's body. The refresh token goes under the name `token:refresh` takes
        and under the (misspelt) one the generated REST client's `Token` model reads."""
        return {
            "accessToken": self.access_token,
            "expiresIn": self.expires_in,
            "refreshToken": self.refresh_token,
            "refershToken": self.refresh_token,
        }


def app_key(app_id: str, app_secret: str) -> str:
    """The identity of an id/secret pair: each distinct pair is its own app."""
    return hashlib.sha256(f"{app_id}\0{app_secret}".encode()).hexdigest()[:32]


def _digest(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


class Authority:
    """Issue, refresh, revoke and verify tokens. With `apps`, only those id/secret pairs
    may have one."""

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

    def _app(self, app_id: str, app_secret: str) -> str:
        """The key of an app whose credentials are accepted; AuthError otherwise."""
        if not app_id or not app_secret:
            raise AuthError("appId and appSecret are required.")
        if self._apps is not None and not secrets.compare_digest(
            self._apps.get(app_id, ""), app_secret
        ):
            raise AuthError("Invalid appId or appSecret.")
        return app_key(app_id, app_secret)

    def generate(self, app_id: str, app_secret: str) -> Grant:
        """A token for the app (the one still valid, if any) with a new refresh token."""
        key = self._app(app_id, app_secret)
        now = self._clock()
        existing = self._store.valid_token(key, now)
        if existing is None:
            return self._issue(app_id, key, now)
        token, expires_at = existing
        jti = str(self._claims(token).get("jti", ""))
        return Grant(token, int(expires_at - now), self._refresh_token(key, jti, now))

    def refresh(self, app_id: str, app_secret: str, refresh_token: str) -> Grant:
        """A new token for a refresh token the app was given (each works once)."""
        key = self._app(app_id, app_secret)
        now = self._clock()
        if not refresh_token or not self._store.take_refresh_token(
            _digest(refresh_token), key, now
        ):
            raise AuthError(INVALID_REFRESH_TOKEN)
        return self._issue(app_id, key, now)

    def revoke(self, app_id: str, app_secret: str, token: str) -> None:
        """Refuse `token` (one of the app's) from now on, with its refresh tokens."""
        key = self._app(app_id, app_secret)
        claims = self._claims(token)
        if claims.get("app") != key:
            raise AuthError("The token was not issued to this app.")
        expires = claims.get("exp")
        self._store.revoke_token(
            key,
            token,
            str(claims.get("jti", "")),
            float(expires) if isinstance(expires, int) else self._clock(),
            self._clock(),
        )

    def _issue(self, app_id: str, key: str, now: float) -> Grant:
        # Whole seconds from the whole second it was issued in: a new token says 86400.
        expires_at = int(now) + self._lifetime
        jti = secrets.token_hex(8)
        claims = {"sub": app_id, "app": key, "iat": int(now), "exp": expires_at, "jti": jti}
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        self._store.save_token(key, token, float(expires_at))
        return Grant(token, self._lifetime, self._refresh_token(key, jti, now))

    def _refresh_token(self, key: str, jti: str, now: float) -> str:
        refresh_token = secrets.token_urlsafe(32)
        self._store.save_refresh_token(
            _digest(refresh_token), key, jti, now + REFRESH_LIFETIME_S, now, MAX_REFRESH_TOKENS
        )
        return refresh_token

    def _claims(self, token: str) -> dict[str, Any]:
        """A token's claims if this server signed it (expired or not); AuthError otherwise."""
        try:
            # Expiry is checked against our own clock, so tests can move time.
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"verify_exp": False}
            )
        except jwt.PyJWTError:
            raise AuthError(INVALID_TOKEN) from None
        return claims

    def verify(self, token: str | None) -> App:
        """The app a token belongs to; raises AuthError if missing, unknown, expired or
        revoked."""
        if not token:
            raise AuthError(INVALID_TOKEN)
        claims = self._claims(token)
        expires = claims.get("exp")
        if not isinstance(expires, int) or expires <= self._clock():
            raise AuthError(INVALID_TOKEN)
        jti = claims.get("jti")
        if isinstance(jti, str) and self._store.is_revoked(jti):
            raise AuthError(INVALID_TOKEN)
        return App(app_id=str(claims.get("sub", "")), key=str(claims.get("app", "")))
