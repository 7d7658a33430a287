"""Keep secrets off disk: redact tokens and app secrets in URLs, headers, JSON and free text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "REDACTED"

# Keys compared with case, '-' and '_' ignored. The WebSocket subprotocol carries the
# token when a browser client cannot set headers.
_SECRET_KEYS = frozenset(
    {
        "accesstoken",
        "xapikey",
        "apikey",
        "authorization",
        "appsecret",
        "clientsecret",
        "secwebsocketprotocol",
        "token",
        "password",
    }
)
_KEY_NAMES = "|".join(
    (
        r"access[_-]?token",
        r"x[_-]api[_-]key",
        r"api[_-]?key",
        r"authorization",
        r"app[_-]?secret",
        r"client[_-]?secret",
        r"token",
        r"password",
    )
)
# `key=value` in URLs and `"key": "value"` / `'key': 'value'` in JSON or Python reprs.
_KEYED_VALUE = re.compile(
    rf"""(?ix)
    (?<![A-Za-z0-9_-])
    (["']?(?:{_KEY_NAMES})["']?\s*[:=]\s*["']?)
    (?:(bearer|basic)\s+)?
    ([^"'\s,;&}}#]+)
    """
)
# A bare `Bearer <value>` only when the value looks like a credential, so that speech such
# as "basic information" in a transcript is left alone.
_SCHEME_VALUE = re.compile(r"(?i)\b(bearer|basic)\s+([A-Za-z0-9._~+/=-]{20,})")


def is_secret_key(key: str) -> bool:
    """Whether a header, query or JSON key names a secret."""
    return key.replace("-", "").replace("_", "").lower() in _SECRET_KEYS


class Redactor:
    """Replace secrets with REDACTED; every secret value it meets is remembered and
    removed from all later text too, wherever it appears."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Remember a secret value to remove from everything redacted from now on."""
        # Very short values would erase ordinary text; keyed redaction still covers them.
        if len(secret) >= 6 and secret != REDACTED:
            self._secrets.add(secret)

    def text(self, value: str) -> str:
        """Redact secrets in free text: known values, `key=value` pairs, bearer tokens."""

        def keyed(match: re.Match[str]) -> str:
            self.add(match.group(3))
            scheme = f"{match.group(2)} " if match.group(2) else ""
            return f"{match.group(1)}{scheme}{REDACTED}"

        def scheme(match: re.Match[str]) -> str:
            self.add(match.group(2))
            return f"{match.group(1)} {REDACTED}"

        value = _KEYED_VALUE.sub(keyed, value)
        value = _SCHEME_VALUE.sub(scheme, value)
        for secret in sorted(self._secrets, key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value

    def json(self, value: Any) -> Any:
        """Redact a decoded JSON value: secret keys lose their values, strings are scrubbed."""
        # Learn every keyed secret first, so a copy of it earlier in the value goes too.
        self._learn_keyed(value)
        return self._redact_json(value)

    def _learn_keyed(self, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if is_secret_key(str(key)):
                    self._learn(item)
                else:
                    self._learn_keyed(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self._learn_keyed(item)

    def _redact_json(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                key: REDACTED
                if is_secret_key(str(key)) and item is not None
                else self._redact_json(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self._redact_json(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Redact HTTP headers given as (name, value) pairs."""
        out = []
        for name, value in headers:
            if is_secret_key(name):
                self._learn(value)
                out.append((name, REDACTED))
            else:
                out.append((name, self.text(value)))
        return out

    def _learn(self, value: Any) -> None:
        if isinstance(value, str):
            for part in value.replace(",", " ").split():
                if part.lower() not in {"bearer", "basic"}:
                    self.add(part)
        elif isinstance(value, list | tuple):
            for item in value:
                self._learn(item)
