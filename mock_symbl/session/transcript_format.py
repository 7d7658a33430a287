"""The formatted transcript (`POST …/transcript`): Markdown or SRT made from the stored
messages, their speakers and word times.

Symbl's transcript page documents both formats: Markdown with a message per paragraph
(`<br/><br/>` between them), key phrases in `<mark>` and an optional speaker label before each
message; SRT with a numbered cue per message. Pure: options and messages in, text out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mock_symbl.store import Member, StoredInsight, StoredMessage, StoredTopic

MARKDOWN = "text/markdown"
SRT = "text/srt"
CONTENT_TYPES = (MARKDOWN, SRT)
PARAGRAPH = "<br/><br/>"


class TranscriptRequestError(ValueError):
    """A transcript request Symbl's documents do not allow; the message names the problem."""


def _flag(body: Mapping[str, Any], name: str, where: str = "") -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise TranscriptRequestError(f"{where}{name} must be true or false, not {value!r}.")
    return value


@dataclass(frozen=True, slots=True)
class TranscriptOptions:
    """What a transcript request asks for (the request body's documented members)."""

    content_type: str
    create_paragraphs: bool = False
    highlight_insight_phrases: bool = False
    highlight_all_phrases: bool = False
    show_speaker_separation: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> TranscriptOptions:
        """Options from a request body; TranscriptRequestError names what is wrong."""
        content_type = body.get("contentType")
        if content_type is None:
            raise TranscriptRequestError("contentType is required: text/markdown or text/srt.")
        if content_type not in CONTENT_TYPES:
            raise TranscriptRequestError(
                f"Unsupported contentType {content_type!r}: use text/markdown or text/srt."
            )
        phrases = body.get("phrases", {})
        if not isinstance(phrases, Mapping):
            raise TranscriptRequestError(
                'phrases must be an object: {"highlightOnlyInsightKeyPhrases": …, '
                '"highlightAllKeyPhrases": …}.'
            )
        return cls(
            content_type=content_type,
            create_paragraphs=_flag(body, "createParagraphs"),
            highlight_insight_phrases=_flag(phrases, "highlightOnlyInsightKeyPhrases", "phrases."),
            highlight_all_phrases=_flag(phrases, "highlightAllKeyPhrases", "phrases."),
            show_speaker_separation=_flag(body, "showSpeakerSeparation"),
        )


def speaker_labels(messages: Sequence[StoredMessage]) -> dict[str, str]:
    """A label per sender: their name, else `Speaker N` in the order they first spoke (as
    Symbl labels diarized speakers)."""
    labels: dict[str, str] = {}
    unnamed = 0
    for message in messages:
        sender: Member = message.sender
        if sender.id in labels:
            continue
        if sender.name:
            labels[sender.id] = sender.name
        else:
            unnamed += 1
            labels[sender.id] = f"Speaker {unnamed}"
    return labels


def _phrase_spans(text: str, phrases: Sequence[str]) -> list[tuple[int, int]]:
    """Where the phrases occur in the text (whole words, any case), overlaps merged."""
    spans: list[tuple[int, int]] = []
    for phrase in phrases:
        core = phrase.strip().rstrip(".?!,;:").strip()
        if not core:
            continue
        pattern = re.compile(rf"(?<!\w){re.escape(core)}(?!\w)", re.IGNORECASE)
        spans.extend(m.span() for m in pattern.finditer(text))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _marked(text: str, phrases: Sequence[str]) -> str:
    """The text escaped for Markdown's inline HTML, its key phrases in `<mark>`."""
    out, last = [], 0
    for start, end in _phrase_spans(text, phrases):
        out.append(html.escape(text[last:start], quote=False))
        out.append(f"<mark>{html.escape(text[start:end], quote=False)}</mark>")
        last = end
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def key_phrases(
    options: TranscriptOptions,
    messages: Sequence[StoredMessage],
    insights: Sequence[StoredInsight],
    topics: Sequence[StoredTopic],
) -> dict[str, list[str]]:
    """The phrases to highlight, per message id. An insight's key phrases are the topics'
    phrases said in its message (the insight's whole text where none is); with
    `highlightAllKeyPhrases` the topics' phrases are highlighted in every message too."""
    found: dict[str, list[str]] = {}
    if not (options.highlight_insight_phrases or options.highlight_all_phrases):
        return found
    text = {m.id: m.text for m in messages}
    in_message: dict[str, list[str]] = {}
    for topic in topics:
        for message_id in topic.message_ids:
            if _phrase_spans(text.get(message_id, ""), [topic.text]):
                in_message.setdefault(message_id, []).append(topic.text)
    for insight in insights:
        for message_id in insight.message_ids:
            found.setdefault(message_id, []).extend(in_message.get(message_id) or [insight.text])
    if options.highlight_all_phrases:
        for message_id, phrases in in_message.items():
            found.setdefault(message_id, []).extend(phrases)
    return found


def markdown(
    messages: Sequence[StoredMessage],
    options: TranscriptOptions,
    phrases: Mapping[str, Sequence[str]],
) -> str:
    """The Markdown transcript: a paragraph per message (one run of text without
    `createParagraphs`), with speaker labels and `<mark>`ed key phrases as asked."""
    labels = speaker_labels(messages)
    parts = []
    for message in messages:
        text = _marked(message.text, phrases.get(message.id, ()))
        if options.show_speaker_separation:
            text = f"{html.escape(labels[message.sender.id], quote=False)}: {text}"
        parts.append(text)
    return (PARAGRAPH if options.create_paragraphs else " ").join(parts)


def srt_time(seconds: float) -> str:
    """`HH:MM:SS,mmm`, SRT's cue time."""
    millis = max(round(seconds * 1000), 0)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def cue_span(message: StoredMessage) -> tuple[float, float]:
    """When a message is on screen: from its first word's start to its last word's end
    (the message's own times when it has no timed words)."""
    if message.words:
        first, last = message.words[0], message.words[-1]
        return first.time_offset, last.time_offset + last.duration
    return message.time_offset, message.time_offset + message.duration


def srt(messages: Sequence[StoredMessage], options: TranscriptOptions) -> str:
    """The SRT transcript: a numbered cue per message, timed by its words."""
    labels = speaker_labels(messages)
    cues = []
    for number, message in enumerate(messages, start=1):
        start, end = cue_span(message)
        text = " ".join(message.text.split())
        if options.show_speaker_separation:
            text = f"{labels[message.sender.id]}: {text}"
        cues.append(f"{number}\n{srt_time(start)} --> {srt_time(end)}\n{text}\n")
    return "\n".join(cues)


def formatted(
    messages: Sequence[StoredMessage],
    options: TranscriptOptions,
    insights: Sequence[StoredInsight] = (),
    topics: Sequence[StoredTopic] = (),
) -> dict[str, Any]:
    """`{"transcript": {"payload", "contentType"}}` as `POST …/transcript` answers."""
    if options.content_type == SRT:
        payload = srt(messages, options)
    else:
        payload = markdown(messages, options, key_phrases(options, messages, insights, topics))
    return {"transcript": {"payload": payload, "contentType": options.content_type}}
