"""Typed reading of decoded JSON, with errors that name the offending field's path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import HarnessError


class FieldError(HarnessError, ValueError):
    """A JSON field is missing or has the wrong type or value."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def type_name(value: object) -> str:
    """Name a decoded JSON value's type the way JSON does."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


class Fields:
    """Read one JSON object's fields: absent (or null) optional fields give None."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    @classmethod
    def of(cls, value: object, path: str) -> Fields:
        """Wrap `value`, which must be a JSON object."""
        if not isinstance(value, Mapping):
            raise FieldError(path, f"expected object, got {type_name(value)}")
        return cls(value, path)

    def at(self, key: str) -> str:
        """The path of `key` inside this object."""
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, expected: str, types: tuple[type, ...]) -> Any:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and bool not in types:
            raise FieldError(self.at(key), f"expected {expected}, got boolean")
        if not isinstance(value, types):
            raise FieldError(self.at(key), f"expected {expected}, got {type_name(value)}")
        return value

    def has(self, key: str) -> bool:
        """Whether the field is present and not null."""
        return self.data.get(key) is not None

    def text(self, key: str) -> str | None:
        """An optional string field."""
        value: str | None = self._get(key, "string", (str,))
        return value

    def required_text(self, key: str) -> str:
        """A string field that must be present."""
        value = self.text(key)
        if value is None:
            raise FieldError(self.at(key), "missing")
        return value

    def flag(self, key: str) -> bool | None:
        """An optional boolean field."""
        value: bool | None = self._get(key, "boolean", (bool,))
        return value

    def number(self, key: str) -> float | None:
        """An optional number field (integers included, booleans not)."""
        value = self._get(key, "number", (int, float))
        return None if value is None else float(value)

    def integer(self, key: str) -> int | None:
        """An optional integer field; a float with no fraction counts as an integer."""
        value: int | float | None = self._get(key, "integer", (int, float))
        if isinstance(value, float):
            if not value.is_integer():
                raise FieldError(self.at(key), f"expected integer, got {value}")
            return int(value)
        return value

    def obj(self, key: str) -> Fields | None:
        """An optional nested object."""
        value = self.data.get(key)
        return None if value is None else Fields.of(value, self.at(key))

    def objects(self, key: str) -> list[Fields] | None:
        """An optional array of objects."""
        items = self._get(key, "array", (list,))
        if items is None:
            return None
        return [Fields.of(item, f"{self.at(key)}[{i}]") for i, item in enumerate(items)]

    def required_objects(self, key: str) -> list[Fields]:
        """An array of objects that must be present."""
        items = self.objects(key)
        if items is None:
            raise FieldError(self.at(key), "missing")
        return items

    def strings(self, key: str) -> list[str] | None:
        """An optional array of strings."""
        items = self._get(key, "array", (list,))
        if items is None:
            return None
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise FieldError(f"{self.at(key)}[{i}]", f"expected string, got {type_name(item)}")
        return list(items)
