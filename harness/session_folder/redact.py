"""Keep secrets off disk: redact tokens and app secrets in URLs, headers, JSON and free text.

Keys are matched as a server reads them: after percent-decoding, so `access%5Ftoken=…`
in a query (which servers accept as `access_token`) loses its value like the plain key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

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
        # Refresh tokens, under their name and symbl_rest's misspelling of it.
        "refreshtoken",
        "refershtoken",
    }
)
# The keys looked for in free text; `_` stands for a separator ('_' or '-'), `_?` for an
# optional one.
_TEXT_KEYS = (
    "access_?token",
    "x_api_key",
    "api_?key",
    "authorization",
    "app_?secret",
    "client_?secret",
    "token",
    "password",
    "refresh_?token",
    "refersh_?token",
)


def _spelled(char: str) -> str:
    """One character of a key, as itself or percent-encoded in either case."""
    forms = {re.escape(char)} | {f"%{ord(c):02x}" for c in (char.lower(), char.upper())}
    return "(?:" + "|".join(sorted(forms)) + ")"


def _key_pattern(name: str) -> str:
    separator = "(?:" + "|".join(_spelled(c) for c in "_-") + ")"
    parts = re.split(r"(_\??)", name)
    return "".join(
        separator + part[1:] if part.startswith("_") else "".join(map(_spelled, part))
        for part in parts
    )


# `key=value` in URLs and `"key": "value"` / `'key': 'value'` in JSON or Python reprs. A key
# starts a word, or follows a percent-escape (`%26token=` decodes to `&token=`); its `=` may
# be escaped too (`next=%2F%3Ftoken%3D…`, a URL inside a query).
_KEYED_VALUE = re.compile(
    rf"""(?ix)
    (?:(?<![A-Za-z0-9_-])|(?<=%[0-9a-f]{{2}}))
    (["']?(?:{"|".join(map(_key_pattern, _TEXT_KEYS))})["']?\s*(?:[:=]|%3a|%3d)\s*["']?)
    (?:(bearer|basic)\s+)?
    ([^"'\s,;&}}#]+)
    """
)
# A bare `Bearer <value>` only when the value looks like a credential, so that speech such
# as "basic information" in a transcript is left alone.
_SCHEME_VALUE = re.compile(r"(?i)\b(bearer|basic)\s+([A-Za-z0-9._~+/=-]{20,})")


def _decoded(text: str) -> str:
    """`text` percent-decoded, twice over at most (servers decode once; the second round
    covers a double encoding); bounded so that a hostile key costs linear time."""
    return unquote(unquote(text))


def is_secret_key(key: str) -> bool:
    """Whether a header, query or JSON key names a secret, percent-encoded or not."""
    return _decoded(key).replace("-", "").replace("_", "").lower() in _SECRET_KEYS


class Redactor:
    """Replace secrets with REDACTED; every secret value it meets is remembered and
    removed from all later text too, wherever it appears."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._known: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Remember a secret value, decoded and encoded, to remove from everything redacted
        from now on."""
        for form in {secret, _decoded(secret), quote(secret, safe="")}:
            # Very short values would erase ordinary text; keyed redaction still covers them.
            if len(form) >= 6 and form != REDACTED and form not in self._secrets:
                self._secrets.add(form)
                self._known = None

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
        return self.known(value)

    def known(self, value: str) -> str:
        """Redact only the secret values remembered so far, wherever they appear in `value`
        (for text such as a URL path, where `token:generate` is a name, not a secret)."""
        if not self._secrets:
            return value
        if self._known is None:
            # Longest first, so a secret containing another goes whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._known = re.compile("|".join(map(re.escape, ordered)))
        return self._known.sub(REDACTED, value)

    def json(self, value: Any) -> Any:
        """Redact a decoded JSON value: secret keys lose their values, strings are scrubbed."""
        # Learn every keyed secret first, so a copy of it earlier in the value goes too.
        self.learn(value)
        return self._redact_json(value)

    def learn(self, value: Any) -> None:
        """Remember the values under secret keys in a decoded JSON value, redacting nothing."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                if is_secret_key(str(key)):
                    self._learn(item)
                else:
                    self.learn(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self.learn(item)

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


def without_userinfo(url: str) -> str:
    """A URL as messages may show it: any `user:password@` taken out of its address."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def without_query(url: str) -> str:
    """A URL as messages may show it: without its query, which may carry a token."""
    return url.split("?", 1)[0]
