"""Symbl's response models and a validator that checks a JSON answer against them.

The models are read, at test time, from the generated client `symbl_rest` 1.0.14 (each class's
`swagger_types` and `attribute_map`; a field is required where its setter refuses `None`).
The few routes Symbl documents but `symbl_rest` does not know get their models from Symbl's
documentation, written below in the same notation (`DOCS_MODELS`).

A field path names where a value sits in an answer: `messages[].from.email`, `[].matches`
(`[]` an item of a list, `{}` a value of a map).
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib
import importlib.metadata
import inspect
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SYMBL_REST = "symbl-rest 1.0.14"
INSTALL = "pip install -r examples/python-sdk/requirements.txt"


def symbl_rest_installed() -> bool:
    """Whether the version of symbl_rest whose models this table was checked against is here."""
    try:
        return importlib.metadata.version("symbl-rest") == "1.0.14"
    except importlib.metadata.PackageNotFoundError:
        return False


# Models of routes Symbl documents that symbl_rest 1.0.14 does not know, in swagger's notation:
# model name -> JSON name -> (type, required). Each names the page of symbl-docs it is read from.
DOCS_MODELS: dict[str, tuple[str, dict[str, tuple[str, bool]]]] = {
    "ConversationListResponse": (
        "docs/conversation-api/api-reference/all-conversations.md",
        {"conversations": ("list[ConversationDataListResponse]", True)},
    ),
    "SummaryListResponse": (
        "docs/conversation-api/api-reference/summary.md",
        {"summary": ("list[SummaryItem]", True)},
    ),
    "SummaryItem": (
        "docs/conversation-api/api-reference/summary.md",
        {
            "id": ("str", True),
            "text": ("str", True),
            "messageRefs": ("list[MessageRef]", True),
        },
    ),
    "MessageRef": (
        "docs/conversation-api/api-reference/summary.md",
        {"id": ("str", True)},
    ),
    "FormattedTranscriptResponse": (
        "docs/conversation-api/api-reference/transcript.md",
        {"transcript": ("FormattedTranscript", True)},
    ),
    "FormattedTranscript": (
        "docs/conversation-api/api-reference/transcript.md",
        {"payload": ("str", True), "contentType": ("str", True)},
    ),
    "DeleteConversationResponse": (
        "docs/conversation-api/api-reference/delete.md",
        {"message": ("str", True)},
    ),
    "ManagedTracker": (
        "docs/management-api/trackers/create-tracker.md",
        {"id": ("str", True), "name": ("str", True), "vocabulary": ("list[str]", True)},
    ),
    "ManagedTrackerResponse": (
        "docs/management-api/trackers/get-tracker.md",
        {"tracker": ("ManagedTracker", True)},
    ),
    "ManagedTrackerListResponse": (
        "docs/management-api/trackers/get-tracker.md",
        {"trackers": ("list[ManagedTracker]", True)},
    ),
    "DeletedEntityResponse": (
        "docs/management-api/trackers/delete-tracker.md",
        {"id": ("str", True), "type": ("str", True), "deleted": ("bool", True)},
    ),
}

_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\(([^,]+), (.+)\)$")
PRIMITIVES = frozenset({"str", "int", "float", "bool", "object", "date", "datetime"})


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a model: its JSON name, its swagger type, and whether it is required."""

    json_name: str
    type: str
    required: bool
    python_name: str


@dataclass(frozen=True, slots=True)
class Model:
    """A response model: its fields by JSON name, and where it is defined."""

    name: str
    fields: dict[str, Field]
    source: str


def _required(cls: type, python_name: str) -> bool:
    """Whether the generated setter refuses `None` (swagger's `required`)."""
    setter = getattr(cls, python_name).fset
    blank = cls.__new__(cls)
    try:
        setter(blank, None)
    except ValueError:
        return True
    return False


@cache
def model(name: str) -> Model:
    """The model called `name`, from symbl_rest or from `DOCS_MODELS`."""
    if name in DOCS_MODELS:
        source, spec = DOCS_MODELS[name]
        fields = {j: Field(j, t, r, j) for j, (t, r) in spec.items()}
        return Model(name, fields, f"symbl-docs {source}")
    cls = getattr(importlib.import_module("symbl_rest.models"), name, None)
    if not inspect.isclass(cls) or not hasattr(cls, "swagger_types"):
        raise KeyError(f"no model {name!r} in symbl_rest.models nor in DOCS_MODELS")
    fields = {
        cls.attribute_map[p]: Field(cls.attribute_map[p], t, _required(cls, p), p)
        for p, t in cls.swagger_types.items()
    }
    return Model(name, fields, f"symbl_rest.models.{name}")


def is_model(type_name: str) -> bool:
    """Whether a swagger type names a model (not a primitive, list or map)."""
    return not (type_name in PRIMITIVES or _LIST.match(type_name) or _DICT.match(type_name))


@dataclass(frozen=True, slots=True)
class Violation:
    """A value that breaks the model: where, what the model wants, what came."""

    path: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.path or '(answer)'}: expected {self.expected}, got {self.actual}"


@dataclass
class Report:
    """What validating one or more answers found.

    `violations` fail a contract; `extensions` are fields the model does not have (allowed only
    where listed); `sent` and `declared` give the drift: fields a model declares at a path where
    an object of that model was seen, but that no answer ever carried (with a non-null value).
    """

    violations: list[Violation] = field(default_factory=list)
    extensions: set[str] = field(default_factory=set)
    sent: set[str] = field(default_factory=set)
    declared: dict[str, str] = field(default_factory=dict)
    nonempty_lists: set[str] = field(default_factory=set)
    list_paths: set[str] = field(default_factory=set)

    def drift(self) -> list[str]:
        """Field paths the model has and the answers never sent (`x[]`: a list always empty)."""
        missing = {p for p in self.declared if p not in self.sent}
        # A field under one already missing is not drift of its own.
        missing = {p for p in missing if not any(_under(p, q) for q in missing if q != p)}
        empty = {f"{p}[]" for p in self.list_paths if p in self.sent} - {
            f"{p}[]" for p in self.nonempty_lists
        }
        return sorted(missing | empty)


def _under(path: str, parent: str) -> bool:
    return path.startswith(parent) and path[len(parent) :][:1] in (".", "[", "{")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _describe(value: Any) -> str:
    text = repr(value)
    shown = text if len(text) <= 60 else text[:57] + "..."
    return f"{type(value).__name__} {shown}"


def _iso(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _wrong_name(key: str, fields: dict[str, Field]) -> str | None:
    """The JSON name a key was probably meant to be (another spelling of a model field)."""

    def fold(name: str) -> str:
        return name.replace("_", "").replace("-", "").lower()

    for f in fields.values():
        if fold(key) in (fold(f.json_name), fold(f.python_name)):
            return f.json_name
    close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.85)
    return close[0] if close else None


class Validator:
    """Checks JSON values against swagger types; one instance gathers over many answers."""

    def __init__(self) -> None:
        self.report = Report()

    def check(self, value: Any, type_name: str, path: str = "") -> None:
        """Check `value` (never None here) against `type_name` at `path`."""
        report = self.report
        if match := _LIST.match(type_name):
            report.list_paths.add(path)
            if not isinstance(value, list):
                report.violations.append(Violation(path, type_name, _describe(value)))
                return
            if value:
                report.nonempty_lists.add(path)
            for item in value:
                self.check_nullable(item, match.group(1), f"{path}[]", required=True)
        elif match := _DICT.match(type_name):
            if not isinstance(value, dict):
                report.violations.append(Violation(path, type_name, _describe(value)))
                return
            for item in value.values():
                self.check_nullable(item, match.group(2), f"{path}{{}}", required=True)
        elif type_name in PRIMITIVES:
            if not _primitive_ok(value, type_name):
                expected = f"{type_name} (an ISO-8601 string)" if "date" in type_name else type_name
                report.violations.append(Violation(path, expected, _describe(value)))
        else:
            self._check_object(value, model(type_name), path)

    def check_nullable(self, value: Any, type_name: str, path: str, required: bool) -> None:
        """Check a value that may be null where the model allows it."""
        if value is None:
            if required:
                self.report.violations.append(Violation(path, f"{type_name} (required)", "null"))
            return
        self.report.sent.add(path)
        self.check(value, type_name, path)

    def _check_object(self, value: Any, spec: Model, path: str) -> None:
        report = self.report
        if not spec.fields:  # swagger's free-form object
            return
        if not isinstance(value, dict):
            report.violations.append(Violation(path, f"object {spec.name}", _describe(value)))
            return
        for f in spec.fields.values():
            report.declared.setdefault(_join(path, f.json_name), f.type)
        for key, item in value.items():
            where = _join(path, key)
            if key in spec.fields:
                f = spec.fields[key]
                self.check_nullable(item, f.type, where, f.required)
                continue
            meant = _wrong_name(key, spec.fields)
            # Another spelling sent beside the model's own is an alias, not a wrong name.
            if meant is not None and meant not in value:
                actual = f"{key!r} (not a field of {spec.name})"
                report.violations.append(Violation(where, f"JSON name {meant!r}", actual))
            else:
                report.extensions.add(where)
        for f in spec.fields.values():
            if f.required and f.json_name not in value:
                where = _join(path, f.json_name)
                report.violations.append(Violation(where, f"{f.type} (required)", "absent"))


def _primitive_ok(value: Any, type_name: str) -> bool:
    if type_name == "object":
        return True
    if type_name == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if type_name == "int":
        return isinstance(value, int)
    if type_name == "float":
        return isinstance(value, int | float)
    if type_name == "str":
        return isinstance(value, str)
    return isinstance(value, str) and _iso(value)  # date, datetime


def validate(value: Any, type_name: str | None) -> Report:
    """Check one answer; a route whose model is None answers with no JSON of its own."""
    validator = Validator()
    if type_name is not None:
        validator.check_nullable(value, type_name, "", required=True)
    return validator.report


def model_names(type_name: str) -> set[str]:
    """Every model a type reaches, itself included (for a table's consistency check)."""
    seen: set[str] = set()
    todo = [type_name]
    while todo:
        current = todo.pop()
        if match := _LIST.match(current):
            todo.append(match.group(1))
        elif match := _DICT.match(current):
            todo.append(match.group(2))
        elif current not in PRIMITIVES and current not in seen:
            seen.add(current)
            todo.extend(f.type for f in model(current).fields.values())
    return seen
