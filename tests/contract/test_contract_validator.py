"""The contract validator itself: it must fail on what breaks a model, and only on that."""

from __future__ import annotations

from typing import Any

import pytest
from contract_models import (
    DOCS_MODELS,
    INSTALL,
    SYMBL_REST,
    Validator,
    is_model,
    model,
    symbl_rest_installed,
    validate,
)
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module", autouse=True)
def _symbl_rest(require: Any) -> None:
    require(SYMBL_REST, symbl_rest_installed(), INSTALL)


MESSAGE = {
    "id": "m1",
    "text": "Hello.",
    "from": {"id": "u1", "name": "Jane", "email": "jane@example.com"},
    "startTime": "2026-01-01T00:00:00.000Z",
    "endTime": "2026-01-01T00:00:01.000Z",
    "conversationId": "1234567890123456",
    "phrases": [{"type": "action_phrase", "text": "send it"}],
    "sentiment": {"polarity": {"score": 0.5}, "suggested": "positive"},
    "words": [
        {
            "word": "Hello",
            "startTime": "2026-01-01T00:00:00.000Z",
            "endTime": "2026-01-01T00:00:01.000Z",
            "speakerTag": 1,
        }
    ],
}


def messages(**changes: Any) -> dict[str, Any]:
    return {"messages": [{**MESSAGE, **changes}]}


def problems(value: Any, type_name: str = "MessageListResponse") -> list[str]:
    return [str(v) for v in validate(value, type_name).violations]


def test_a_complete_answer_passes_with_no_drift() -> None:
    report = validate(messages(), "MessageListResponse")
    assert report.violations == []
    assert report.drift() == []
    assert report.extensions == set()


def test_a_wrong_type_names_the_path_the_expected_and_the_actual_type() -> None:
    assert problems(messages(text=5)) == ["messages[].text: expected str, got int 5"]
    bad = messages(sentiment={"polarity": {"score": "high"}, "suggested": "positive"})
    assert problems(bad) == ["messages[].sentiment.polarity.score: expected float, got str 'high'"]


def test_a_snake_case_or_python_name_is_a_wrong_json_name() -> None:
    answer = messages()
    item = answer["messages"][0]
    item["conversation_id"] = item.pop("conversationId")
    item["_from"] = item.pop("from")
    found = problems(answer)
    assert found == [
        "messages[].conversation_id: expected JSON name 'conversationId', "
        "got 'conversation_id' (not a field of ConversationMessage)",
        "messages[]._from: expected JSON name 'from', "
        "got '_from' (not a field of ConversationMessage)",
    ]


def test_ints_are_floats_but_bools_are_neither() -> None:
    assert problems({"wpm": 120}, "AnalyticsMembersInfoPace") == []
    assert problems({"wpm": True}, "AnalyticsMembersInfoPace") == [
        "wpm: expected float, got bool True"
    ]
    assert problems({"text": "x", "offset": 2.5}, "Tag") == ["offset: expected int, got float 2.5"]
    assert problems({"definitive": 1}, "ConversationActionItem") == [
        "definitive: expected bool, got int 1"
    ]


def test_dates_are_iso_8601_strings() -> None:
    assert problems(messages(startTime="yesterday")) == [
        "messages[].startTime: expected datetime (an ISO-8601 string), got str 'yesterday'"
    ]
    assert problems(messages(startTime=1700000000)) == [
        "messages[].startTime: expected datetime (an ISO-8601 string), got int 1700000000"
    ]


def test_null_and_absence_are_allowed_only_where_swagger_allows_them() -> None:
    assert problems(messages(sentiment=None)) == []
    assert problems({"messages": None}) == ["messages: expected list[ConversationMessage] "
                                            "(required), got null"]  # fmt: skip
    assert problems({}) == ["messages: expected list[ConversationMessage] (required), got absent"]
    assert problems({"messages": [None]}) == [
        "messages[]: expected ConversationMessage (required), got null"
    ]


def test_lists_maps_and_nested_models_are_checked_item_by_item() -> None:
    assert problems(messages(words="Hello")) == [
        "messages[].words: expected list[Word], got str 'Hello'"
    ]
    assert problems(messages(words=[{"word": 3}])) == [
        "messages[].words[].word: expected str, got int 3"
    ]
    validator = Validator()
    validator.check({"a": 1, "b": "x"}, "dict(str, int)", "counts")
    assert [str(v) for v in validator.report.violations] == ["counts{}: expected int, got str 'x'"]
    assert problems([{"name": "Budget", "matches": [{"messageRefs": [{"offset": "1"}]}]}],
                    "list[TrackersListResponse]") == [
        "[].matches[].messageRefs[].offset: expected int, got str '1'"
    ]  # fmt: skip


def test_drift_lists_declared_fields_never_sent_and_lists_always_empty() -> None:
    item = dict(MESSAGE)
    del item["words"]
    item["phrases"] = []
    item["from"] = {"id": "u1", "name": "Jane", "email": None}
    report = validate({"messages": [item]}, "MessageListResponse")
    assert report.violations == []
    assert report.drift() == ["messages[].from.email", "messages[].phrases[]", "messages[].words"]


def test_drift_over_several_answers_counts_a_field_any_answer_sent() -> None:
    validator = Validator()
    without = dict(MESSAGE)
    del without["sentiment"]
    validator.check({"messages": [without]}, "MessageListResponse")
    validator.check({"messages": [MESSAGE]}, "MessageListResponse")
    assert validator.report.drift() == []


def test_unknown_fields_are_extensions_not_violations() -> None:
    report = validate(messages(timeOffset=1.5), "MessageListResponse")
    assert report.violations == []
    assert report.extensions == {"messages[].timeOffset"}


def test_required_fields_come_from_the_generated_setters() -> None:
    assert model("MessageListResponse").fields["messages"].required
    assert not model("ConversationMessage").fields["text"].required
    assert model("UserTrunc").fields["userId"].required


@pytest.mark.parametrize("name", sorted(DOCS_MODELS))
def test_docs_models_name_only_known_types(name: str) -> None:
    for f in model(name).fields.values():
        inner = f.type.removeprefix("list[").removesuffix("]")
        if is_model(inner):
            assert model(inner).fields


def _instance(type_name: str, depth: int = 0) -> st.SearchStrategy[Any]:
    """Valid JSON for a swagger type (every field present, recursion cut at depth 3)."""
    leaves: dict[str, st.SearchStrategy[Any]] = {
        "str": st.text(max_size=5),
        "int": st.integers(),
        "float": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
        "bool": st.booleans(),
        "object": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        "date": st.dates().map(lambda d: d.isoformat()),
        "datetime": st.datetimes().map(lambda d: d.isoformat() + "Z"),
    }
    if type_name in leaves:
        return leaves[type_name]
    if type_name.startswith("list["):
        if depth > 2:
            return st.just([])
        return st.lists(_instance(type_name[5:-1], depth + 1), min_size=1, max_size=2)
    fields = model(type_name).fields
    return st.fixed_dictionaries({k: _instance(f.type, depth + 1) for k, f in fields.items()})


RESPONSES = [
    "MessageListResponse",
    "ActionItemListResponse",
    "TopicListResponse",
    "AnalyticsListResponse",
    "EntitiesListResponse",
    "Token",
    "ConversationListResponse",
    "SummaryListResponse",
]


# A structural property: a hundred instances cover every model listed many times over.
@settings(max_examples=100)
@given(st.sampled_from(RESPONSES).flatmap(lambda n: st.tuples(st.just(n), _instance(n))))
def test_every_valid_instance_passes(case: tuple[str, Any]) -> None:
    name, value = case
    assert validate(value, name).violations == []


def _leaves(value: Any, path: str = "") -> list[tuple[str, list[Any], Any]]:
    """(path, container chain, key) of every scalar leaf."""
    out: list[tuple[str, list[Any], Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            where = f"{path}.{k}" if path else k
            if isinstance(v, dict | list):
                out += _leaves(v, where)
            else:
                out.append((where, [value], k))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                out += _leaves(item, f"{path}[]")
    return out


@settings(max_examples=100)
@given(
    st.sampled_from(RESPONSES).flatmap(lambda n: st.tuples(st.just(n), _instance(n))),
    st.data(),
)
def test_a_leaf_of_the_wrong_type_fails_at_its_path(case: tuple[str, Any], data: Any) -> None:
    name, value = case
    leaves = [leaf for leaf in _leaves(value) if not isinstance(leaf[1][0][leaf[2]], dict)]
    if not leaves:
        return
    path, (container,), key = data.draw(st.sampled_from(leaves))
    original = container[key]
    # A list is the wrong type for every scalar swagger type but `object`.
    container[key] = [original]
    found = validate(value, name).violations
    kind = model_type_at(name, path)
    if kind == "object":
        assert found == []
    else:
        assert [v.path for v in found] == [path]


def model_type_at(root: str, path: str) -> str:
    type_name = root
    for part in path.replace("[]", ".[]").split("."):
        if not part:
            continue
        type_name = type_name[5:-1] if part == "[]" else model(type_name).fields[part].type
    return type_name
