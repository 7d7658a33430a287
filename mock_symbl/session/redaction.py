"""What a start request's `redaction` and `detectEntities` do to the words of a phrase.

`prepare()` takes a phrase's recognised words and gives the words to deliver (each run of
personal data collapsed into one word, the redaction string, when `redactContent` asks) and
the entities to report with a final message: personal data when `identifyContent` asks,
general entities when `detectEntities` does, each with its offset in the delivered text
(redacting-pii.md: an offset points into the redacted text; the entity keeps what was
said). A general entity over hidden words is left out unless `identifyContent` shows them.

A caption still being spoken also hides a run of digits it ends with (`trailing_digits`):
the next words may make it a phone or card number, and a caption must not show the first
digits of one before the final hides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from harness.protocol import StartRequest
from mock_symbl.engines.base import Word
from mock_symbl.session.entities import Span, find_general, find_pii, trailing_digits
from mock_symbl.store import StoredEntity


@dataclass(frozen=True, slots=True)
class Prepared:
    """The words to deliver and the entities found in them (finals only)."""

    words: tuple[Word, ...]
    entities: tuple[StoredEntity, ...] = ()


def wanted(request: StartRequest) -> bool:
    """Whether the request asks for anything `prepare()` does."""
    redaction = request.redaction
    asked = redaction is not None and (redaction.identify_content or redaction.redact_content)
    return asked or request.detect_entities


def prepare(
    words: tuple[Word, ...],
    request: StartRequest,
    *,
    final: bool,
    today: date,
    speakers: Sequence[str] = (),
) -> Prepared:
    """The phrase's words as delivered, and (for a final) its entities."""
    if not wanted(request) or not words:
        return Prepared(words)
    redaction = request.redaction
    identify = redaction is not None and redaction.identify_content
    redact = redaction is not None and redaction.redact_content
    said = [w.word for w in words]
    pii = find_pii(said, today, speakers) if redaction is not None else []
    hidden = list(pii) if redact else []
    if redact and not final:
        start = trailing_digits(said)
        if start is not None and all(s.last <= start for s in hidden):
            hidden.append(Span("", "", start, len(said), ""))
    delivered, where = _mask(words, hidden, redaction.redaction_string if redaction else "")
    if not final:
        return Prepared(delivered)
    found: list[Span] = list(pii) if identify else []
    if request.detect_entities:
        general = find_general(said, today, speakers)
        found += [g for g in general if identify or not any(_overlap(g, h) for h in hidden)]
    found.sort(key=lambda s: (s.first, s.type))
    starts = _offsets([w.word for w in delivered])
    entities = tuple(
        StoredEntity(
            type=span.type,
            value=span.value,
            text=" ".join(said[span.first : span.last]).strip(".,;:!?"),
            offset=starts[where[span.first]],
        )
        for span in found
    )
    return Prepared(delivered, entities)


def _overlap(a: Span, b: Span) -> bool:
    return a.first < b.last and b.first < a.last


def _mask(
    words: tuple[Word, ...], hidden: Sequence[Span], mask: str
) -> tuple[tuple[Word, ...], list[int]]:
    """The words with each hidden span as one word `mask`; where each old word went."""
    out: list[Word] = []
    where: list[int] = []
    spans = {s.first: s for s in hidden}
    i = 0
    while i < len(words):
        span = spans.get(i)
        if span is None:
            where.append(len(out))
            out.append(words[i])
            i += 1
            continue
        covered = words[span.first : span.last]
        where.extend([len(out)] * len(covered))
        out.append(
            Word(
                mask,
                covered[0].start,
                covered[-1].end,
                min(w.confidence for w in covered),
            )
        )
        i = span.last
    return tuple(out), where


def _offsets(words: Sequence[str]) -> list[int]:
    """Where each word starts in the sentence the words make (joined by single spaces)."""
    starts: list[int] = []
    position = 0
    for word in words:
        starts.append(position)
        position += len(word.strip()) + 1
    return starts
