"""Access tokens for real endpoints: from the environment, generated and cached in memory.

`SYMBL_ACCESS_TOKEN` is used as it is; otherwise `SYMBL_APP_ID` and `SYMBL_APP_SECRET` are
exchanged at the endpoint's own `/oauth2/token:generate`, and the token is reused until
REFRESH_BEFORE_S before it expires. Tokens are never written to disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from harness.errors import EndpointError

REFRESH_BEFORE_S = 60.0


class AuthError(EndpointError):
    """No credentials, or the endpoint refused them; one line naming the problem."""


def http_base(endpoint: str) -> str:
    """The REST base of an endpoint: `wss://h/…` -> `https://h`, `ws://h:p/…` -> `http://h:p`."""
    parts = urlsplit(endpoint)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise AuthError(f"not an endpoint URL: {endpoint!r} (expected ws://, wss://, http(s)://)")
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def over_websocket(url: str) -> str:
    """The same address over WebSocket: `https://…` -> `wss://…`, `http://…` -> `ws://…`;
    a ws(s) URL as it is."""
    parts = urlsplit(url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit(parts._replace(scheme=scheme))


class TokenSource:
    """Gives a valid access token for one endpoint, generating it when needed."""

    def __init__(
        self,
        endpoint: str,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        env = os.environ if environ is None else environ
        self._base = http_base(endpoint)
        self._fixed = env.get("SYMBL_ACCESS_TOKEN") or None
        self._app_id = env.get("SYMBL_APP_ID") or ""
        self._app_secret = env.get("SYMBL_APP_SECRET") or ""
        self._transport = transport
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        if self._fixed is None and not (self._app_id and self._app_secret):
            raise AuthError(
                "no credentials: set SYMBL_ACCESS_TOKEN, or SYMBL_APP_ID and SYMBL_APP_SECRET"
            )

    def token(self) -> str:
        """A token valid for at least REFRESH_BEFORE_S more seconds."""
        if self._fixed is not None:
            return self._fixed
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        url = f"{self._base}/oauth2/token:generate"
        body = {"type": "application", "appId": self._app_id, "appSecret": self._app_secret}
        try:
            with httpx.Client(transport=self._transport, timeout=15) as client:
                reply = client.post(url, json=body)
        except httpx.HTTPError as error:
            raise AuthError(f"cannot reach {url}: {error}") from None
        if reply.status_code >= 500:
            # A server error, or a gateway whose upstream is gone, says nothing of credentials.
            raise AuthError(f"{url} is unavailable (HTTP {reply.status_code})")
        if reply.status_code != 200:
            raise AuthError(f"{url} refused the credentials: HTTP {reply.status_code}")
        try:
            data = reply.json()
            token, expires_in = str(data["accessToken"]), float(data["expiresIn"])
        except (ValueError, KeyError, TypeError):
            raise AuthError(f"{url} answered without accessToken/expiresIn") from None
        self._token = token
        self._refresh_at = self._clock() + max(expires_in - REFRESH_BEFORE_S, 0.0)
        return token

    @property
    def secrets(self) -> list[str]:
        """Every secret value this source knows, for redaction."""
        values = [self._fixed, self._app_secret, self._token]
        return [v for v in values if v]
