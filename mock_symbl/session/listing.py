"""`GET /v1/conversations`: its query parameters read and checked, and the conversations
they select, sorted and paged, as all-conversations.md documents them.

Pure: the caller hands in the app's conversations and the current time.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mock_symbl.store import Conversation

DEFAULT_LIMIT = 20
MAX_LIMIT = 65536
# Without a filter, and without a startTime, the list reaches back this far from endTime.
DEFAULT_RANGE = timedelta(days=7)
MAX_FILTER_FIELDS = 2

# What a sort or a filter may name, with or without the `conversation.` prefix.
_FIELDS: dict[str, Callable[[Conversation], Any]] = {
    "id": lambda c: c.id,
    "name": lambda c: c.name or "Conversation",
    "type": lambda c: "meeting",
    "startTime": lambda c: _when(c.start_time),
    "endTime": lambda c: _when(c.end_time) if c.end_time else None,
}
_TIMES = frozenset({"startTime", "endTime"})
_OPERATORS = {
    "==": "==",
    "!=": "!=",
    "=lt=": "<",
    "<": "<",
    "=le=": "<=",
    "<=": "<=",
    "=gt=": ">",
    ">": ">",
    "=ge=": ">=",
    ">=": ">=",
    "=in=": "in",
    "=out=": "out",
}
_COMPARISON = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|=[a-z]+=|<=|>=|<|>)\s*(.*?)\s*$")


class ListQueryError(ValueError):
    """A query parameter of the list that cannot be honoured; the message says which."""


def _when(text: str) -> datetime:
    """An ISO-8601 moment; one without a zone is UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# all-conversations.md also writes the start as `conversation.startDate`.
_ALIASES = {"startDate": "startTime", "endDate": "endTime"}


def _field(name: str, where: str) -> str:
    bare = name.removeprefix("conversation.")
    bare = _ALIASES.get(bare, bare)
    if bare in _FIELDS or bare.startswith("metadata."):
        return bare
    valid = ", ".join(f"conversation.{f}" for f in _FIELDS)
    raise ListQueryError(f"{where} names an unknown field {name!r}; valid fields: {valid}.")


@dataclass(frozen=True, slots=True)
class Condition:
    """`field op value(s)` of an RSQL filter."""

    field: str
    operator: str
    values: tuple[Any, ...]

    def holds(self, conversation: Conversation) -> bool:
        """Whether the conversation meets it (a field it lacks meets only `!=` and `=out=`)."""
        getter = _FIELDS.get(self.field)
        value = getter(conversation) if getter else None
        if value is None:
            return self.operator in ("!=", "out")
        if self.operator in ("==", "!=", "in", "out"):
            same = any(_equal(value, v) for v in self.values)
            return same if self.operator in ("==", "in") else not same
        other = self.values[0]
        if type(other) is not type(value):
            return False
        return bool(
            {"<": value < other, "<=": value <= other, ">": value > other, ">=": value >= other}[
                self.operator
            ]
        )


def _equal(value: Any, wanted: Any) -> bool:
    if isinstance(value, str) and isinstance(wanted, str) and "*" in wanted:
        return fnmatch.fnmatchcase(value, wanted)
    return bool(value == wanted)


def _split(text: str, separator: str) -> list[str]:
    """Split on a separator outside quotes and parentheses."""
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return parts


def _value(field: str, text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    if field in _TIMES:
        try:
            return _when(text)
        except ValueError:
            raise ListQueryError(
                f"filter value {text!r} for conversation.{field} is not an ISO 8601 date."
            ) from None
    return text


def parse_filter(text: str) -> tuple[Condition, ...]:
    """An RSQL filter: comparisons joined by `;` or `and`; no OR, at most two fields."""
    anded = re.sub(r"\s+and\s+", ";", text, flags=re.IGNORECASE)
    if re.search(r"\s+or\s+", anded, flags=re.IGNORECASE) or len(_split(anded, ",")) > 1:
        raise ListQueryError("filter may not use the OR operator (',' or 'or').")
    conditions = []
    for part in _split(anded, ";"):
        match = _COMPARISON.match(part)
        if match is None or match.group(2) not in _OPERATORS or not match.group(3):
            raise ListQueryError(
                f"filter part {part.strip()!r} is not an RSQL comparison such as "
                "conversation.name==Standup."
            )
        name, operator, argument = match.groups()
        field = _field(name, "filter")
        operator = _OPERATORS[operator]
        if operator in ("in", "out"):
            if not (argument.startswith("(") and argument.endswith(")")):
                raise ListQueryError(f"filter {name}{match.group(2)} needs a list like (a,b).")
            values = tuple(_value(field, v) for v in _split(argument[1:-1], ","))
        else:
            values = (_value(field, argument),)
        conditions.append(Condition(field, operator, values))
    if len({c.field for c in conditions}) > MAX_FILTER_FIELDS:
        raise ListQueryError(f"filter may name at most {MAX_FILTER_FIELDS} fields.")
    return tuple(conditions)


def _integer(params: Mapping[str, str], name: str, default: int, most: int | None) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0 or (most is not None and number > most):
        bound = f"from 0 to {most}" if most is not None else "of 0 or more"
        raise ListQueryError(f"{name} must be an integer {bound}, not {text!r}.")
    return number


def _moment(params: Mapping[str, str], name: str) -> datetime | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        return _when(text)
    except ValueError:
        raise ListQueryError(f"{name} must be an ISO 8601 date, not {text!r}.") from None


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What `GET /v1/conversations` was asked for."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    descending: bool = False
    sort: tuple[str, ...] = ("startTime",)
    since: datetime | None = None
    until: datetime | None = None
    filters: tuple[Condition, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, str], now: datetime) -> ListQuery:
        """Read the query parameters (ListQueryError names the first that is wrong)."""
        limit = _integer(params, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        offset = _integer(params, "offset", 0, None)
        order = params.get("order", "asc")
        if order.lower() not in ("asc", "desc"):
            raise ListQueryError(f"order must be 'asc' or 'desc', not {order!r}.")
        sort = tuple(
            _field(name.strip(), "sort")
            for name in params.get("sort", "conversation.startTime").split(",")
        )
        filters = parse_filter(params["filter"]) if params.get("filter") else ()
        since, until = _moment(params, "startTime"), _moment(params, "endTime")
        if not filters or since or until:
            # Without a filter the documented default range applies.
            until = until or now
            since = since or until - DEFAULT_RANGE
        if since is not None and until is not None and since >= until:
            raise ListQueryError("startTime must be earlier than endTime.")
        return cls(limit, offset, order.lower() == "desc", sort, since, until, filters)

    def select(self, conversations: Sequence[Conversation]) -> list[Conversation]:
        """The conversations it asks for: in range, filtered, sorted, then paged."""
        chosen = [
            c
            for c in conversations
            if (self.since is None or _when(c.start_time) >= self.since)
            and (self.until is None or _when(c.start_time) <= self.until)
            and all(f.holds(c) for f in self.filters)
        ]
        # A conversation still open has no end: it sorts after every ended one.
        chosen.sort(
            key=lambda c: tuple(
                (v is None, v if v is not None else "")
                for v in (_FIELDS[f](c) if f in _FIELDS else None for f in self.sort)
            ),
            reverse=self.descending,
        )
        return chosen[self.offset : self.offset + self.limit]
