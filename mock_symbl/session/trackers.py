"""Trackers, sans I/O: what a tracker definition may hold, which trackers a conversation
runs with, what its start request asks of them, and where they were detected.

Symbl's documents set the rules checked here: a name and a vocabulary of phrases without
duplicates, periods and apostrophes the only punctuation (the tutorial also allows
dashes), at most 50 phrases per tracker and 500 trackers per account.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.protocol import StartRequestError, Tracker
from mock_symbl.session import insights
from mock_symbl.store import StoredInsight, StoredMessage, StoredTracker

MAX_TRACKERS = 500
MAX_PHRASES = 50
_ALLOWED_PUNCTUATION = frozenset(".'\u2019-")  # \u2019: the typographic apostrophe
_OPTIONS = ("interimResults", "enableAllTrackers")


class TrackerDefinitionError(ValueError):
    """A tracker definition breaks the documented rules; the message names the field."""


def _key(phrase: str) -> str:
    """What makes two phrases the same: matching ignores case and spacing."""
    return " ".join(phrase.lower().split())


def vocabulary(value: object, path: str) -> tuple[str, ...]:
    """A checked vocabulary: a non-empty list of distinct phrases, allowed punctuation only."""
    if not isinstance(value, list) or not value:
        raise TrackerDefinitionError(f"{path}: must be a non-empty array of phrases.")
    phrases: list[str] = []
    seen: set[str] = set()
    for index, phrase in enumerate(value):
        if not isinstance(phrase, str) or not phrase.strip():
            raise TrackerDefinitionError(f"{path}[{index}]: must be a non-empty string.")
        for char in phrase:
            if unicodedata.category(char).startswith("P") and char not in _ALLOWED_PUNCTUATION:
                raise TrackerDefinitionError(
                    f"{path}[{index}]: {char!r} is not allowed; phrases may hold only "
                    "periods, apostrophes and dashes."
                )
        if _key(phrase) in seen:
            raise TrackerDefinitionError(f"{path}[{index}]: {phrase!r} is listed twice.")
        seen.add(_key(phrase))
        phrases.append(phrase.strip())
    if len(phrases) > MAX_PHRASES:
        raise TrackerDefinitionError(
            f"{path}: {len(phrases)} phrases; a tracker holds at most {MAX_PHRASES}."
        )
    return tuple(phrases)


def tracker_name(value: object, path: str) -> str:
    """A checked tracker name: a non-empty string (case-sensitive, kept as given)."""
    if not isinstance(value, str) or not value.strip():
        raise TrackerDefinitionError(f"{path}: must be a non-empty string.")
    return value


def definition(body: object, path: str) -> tuple[str, tuple[str, ...]]:
    """The name and vocabulary of a tracker given as `{"name", "vocabulary"}`."""
    where = f"{path}." if path else ""
    if not isinstance(body, dict):
        raise TrackerDefinitionError(f"{path or 'body'}: a tracker must be a JSON object.")
    unknown = sorted(set(body) - {"name", "vocabulary"})
    if unknown:
        raise TrackerDefinitionError(
            f"{where}{unknown[0]}: unknown field; a tracker has name and vocabulary."
        )
    for required in ("name", "vocabulary"):
        if required not in body:
            raise TrackerDefinitionError(f"{where}{required}: is required.")
    name = tracker_name(body["name"], f"{where}name")
    return name, vocabulary(body["vocabulary"], f"{where}vocabulary")


def merged(added: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """The phrases of an update: the added ones first, then those the tracker had."""
    taken = {_key(p) for p in added}
    phrases = (*added, *(p for p in known if _key(p) not in taken))
    if len(phrases) > MAX_PHRASES:
        raise TrackerDefinitionError(
            f"vocabulary: the update makes {len(phrases)} phrases; a tracker holds at most "
            f"{MAX_PHRASES}."
        )
    return phrases


@dataclass(frozen=True, slots=True)
class TrackerOptions:
    """`config.trackers` of a start request."""

    interim_results: bool = False
    enable_all_trackers: bool = False


def options(config_extra: Mapping[str, Any]) -> TrackerOptions:
    """The tracker options of a start request's config; StartRequestError names a bad one.

    Booleans may come as `"true"`/`"false"` strings, as Symbl's own Python examples send
    `enableAllTrackers`.
    """
    given = config_extra.get("trackers")
    if given is None:
        return TrackerOptions()
    if not isinstance(given, dict):
        raise StartRequestError("config.trackers", "expected object")
    values: dict[str, bool] = {}
    for name in _OPTIONS:
        value = given.get(name)
        if value is None:
            value = False
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise StartRequestError(f"config.trackers.{name}", "expected boolean")
        values[name] = value
    return TrackerOptions(values["interimResults"], values["enableAllTrackers"])


def request_tracker_id(conversation_id: str, name: str) -> str:
    """A 16-digit id for a tracker defined in a start request, the same every time."""
    digest = hashlib.sha256(f"{conversation_id}\0{name}".encode()).digest()
    return str(10**15 + int.from_bytes(digest[:8], "big") % (9 * 10**15))


def conversation_trackers(
    conversation_id: str,
    requested: Sequence[Tracker],
    account: Sequence[StoredTracker],
) -> tuple[StoredTracker, ...]:
    """The trackers a start request runs with: its own, then the account's (with
    `enableAllTrackers`) whose names it did not define itself."""
    own = tuple(
        StoredTracker(request_tracker_id(conversation_id, t.name), t.name, t.vocabulary)
        for t in requested
    )
    names = {t.name for t in own}
    return own + tuple(t for t in account if t.name not in names)


def hits(trackers: Iterable[StoredTracker], texts: Sequence[str]) -> list[insights.TrackerHit]:
    """Where the trackers' phrases occur in the texts."""
    return insights.tracker_hits(((t.name, t.vocabulary) for t in trackers), texts)


@dataclass
class InterimMatches:
    """What interim results of the phrase being spoken already reported, so each match
    goes out once per phrase rather than with every growing hypothesis."""

    reported: set[tuple[str, str]] = field(default_factory=set)

    def new(self, trackers: Sequence[StoredTracker], text: str) -> list[insights.TrackerHit]:
        """The matches in an interim hypothesis not reported yet for this phrase."""
        fresh = []
        for hit in hits(trackers, [text]):
            if (hit.tracker, hit.value) not in self.reported:
                self.reported.add((hit.tracker, hit.value))
                fresh.append(hit)
        return fresh

    def phrase_ended(self) -> None:
        """The phrase was finalised: the next one starts with nothing reported."""
        self.reported.clear()


def detected(
    trackers: Sequence[StoredTracker],
    messages: Sequence[StoredMessage],
    found: Sequence[StoredInsight],
) -> list[dict[str, Any]]:
    """The trackers detected in a conversation, as `GET …/trackers-detected` lists them:
    per phrase, the messages and insights it occurs in (offset -1: a similar match)."""
    texts = [m.text for m in messages]
    insight_texts = [i.text for i in found]
    out = []
    for tracker in trackers:
        matches = []
        for value in tracker.vocabulary:
            phrase = [(tracker.name, (value,))]
            refs = [
                {
                    "id": messages[h.message_index].id,
                    "text": texts[h.message_index],
                    "offset": h.offset,
                }
                for h in insights.tracker_hits(phrase, texts)
            ]
            if not refs:
                continue
            insight_refs = [
                {
                    "text": insight_texts[h.message_index],
                    "offset": h.offset,
                    "type": found[h.message_index].type,
                    "id": found[h.message_index].id,
                }
                for h in insights.tracker_hits(phrase, insight_texts)
            ]
            matches.append(
                {
                    "type": "vocabulary",
                    "value": value,
                    "messageRefs": refs,
                    "insightRefs": insight_refs,
                }
            )
        if matches:
            out.append({"id": tracker.id, "name": tracker.name, "matches": matches})
    return out
