"""Client -> server control messages: build and validate start, stop and modify requests."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.protocol.fields import FieldError, Fields

# Encoding -> (lowest, highest) sample rate in Hz; None: no documented ceiling.
SAMPLE_RATES: Mapping[str, tuple[int, int | None]] = {
    "LINEAR16": (8000, 48000),
    "FLAC": (16000, None),
    "MULAW": (8000, 8000),
    "Opus": (16000, 48000),
}
_CANONICAL_ENCODING = {name.upper(): name for name in SAMPLE_RATES}
INSIGHT_TYPES = ("question", "action_item", "follow_up")
MAX_TIMEOUT_S = 1800
# What redacted content is replaced with, and the bounds of a custom string (redacting-pii.md).
DEFAULT_REDACTION_STRING = "****"
MAX_REDACTION_STRING = 16
_REDACTION_KEYS = ("identifyContent", "redactContent", "redactionString")


class StartRequestError(FieldError):
    """A start or modify request breaks the protocol; `path` names the field."""


def canonical_encoding(name: str, path: str = "encoding") -> str:
    """The documented spelling of an encoding name, matched case-insensitively."""
    try:
        return _CANONICAL_ENCODING[name.upper()]
    except KeyError:
        known = ", ".join(SAMPLE_RATES)
        raise StartRequestError(path, f"unknown encoding {name!r} (known: {known})") from None


def check_sample_rate(encoding: str, rate: int, path: str) -> None:
    """Raise unless `rate` is allowed for `encoding`."""
    low, high = SAMPLE_RATES[encoding]
    if rate < low or (high is not None and rate > high):
        allowed = f"{low} Hz" if low == high else f"{low}-{high} Hz" if high else f">= {low} Hz"
        raise StartRequestError(path, f"{rate} Hz is not allowed for {encoding} ({allowed})")


@dataclass(frozen=True, slots=True)
class Speaker:
    """Who is speaking on this connection; unknown keys are echoed back by servers."""

    user_id: str | None = None
    name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `speaker` object of a start request."""
        out: dict[str, Any] = dict(self.extra)
        if self.user_id is not None:
            out["userId"] = self.user_id
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class Tracker:
    """A named set of phrases the server reports when they are said."""

    name: str
    vocabulary: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise StartRequestError("trackers[].name", "must not be empty")
        if not self.vocabulary:
            raise StartRequestError(f"trackers[{self.name}].vocabulary", "must not be empty")


@dataclass(frozen=True, slots=True)
class Redaction:
    """`config.redaction`: find personal and payment data, and/or mask it in what is said."""

    identify_content: bool = False
    redact_content: bool = False
    redaction_string: str = DEFAULT_REDACTION_STRING

    def __post_init__(self) -> None:
        if not 1 <= len(self.redaction_string) <= MAX_REDACTION_STRING:
            raise StartRequestError(
                "config.redaction.redactionString",
                f"must be 1-{MAX_REDACTION_STRING} characters, got {len(self.redaction_string)}",
            )

    def to_json(self) -> dict[str, Any]:
        """The `redaction` object of a start request's config."""
        return {
            "identifyContent": self.identify_content,
            "redactContent": self.redact_content,
            "redactionString": self.redaction_string,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRequest:
    """A validated `start_request`; build one directly or parse one with `from_json`.

    `sample_rate_hertz` None leaves the rate to the server. Unknown fields are kept in
    `extra` (top level) and `config_extra` so nothing a client sent is lost.
    `custom_vocabulary` joins the top-level list and `config.customVocabulary`.
    """

    encoding: str = "LINEAR16"
    sample_rate_hertz: int | None = None
    meeting_title: str | None = None
    insight_types: tuple[str, ...] = ()
    confidence_threshold: float = 0.5
    language_code: str | None = None
    timezone_offset: int | None = None
    speaker: Speaker | None = None
    trackers: tuple[Tracker, ...] = ()
    custom_vocabulary: tuple[str, ...] = ()
    sentiment: bool = False
    detect_entities: bool = False
    redaction: Redaction | None = None
    no_connection_timeout: int | None = None
    disconnect_on_stop_request: bool | None = None
    disconnect_on_stop_request_timeout: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    config_extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        encoding = canonical_encoding(self.encoding, "config.speechRecognition.encoding")
        object.__setattr__(self, "encoding", encoding)
        if self.sample_rate_hertz is not None:
            check_sample_rate(
                encoding, self.sample_rate_hertz, "config.speechRecognition.sampleRateHertz"
            )
        if not 0.5 <= self.confidence_threshold <= 1.0:
            raise StartRequestError(
                "config.confidenceThreshold",
                f"{self.confidence_threshold} is outside 0.5-1.0",
            )
        for name, value in (
            ("noConnectionTimeout", self.no_connection_timeout),
            ("disconnectOnStopRequestTimeout", self.disconnect_on_stop_request_timeout),
        ):
            if value is not None and not 0 <= value <= MAX_TIMEOUT_S:
                raise StartRequestError(name, f"{value} s is outside 0-{MAX_TIMEOUT_S} s")

    @property
    def known_insight_types(self) -> tuple[str, ...]:
        """The requested insight types a server produces; others are ignored, not errors."""
        return tuple(t for t in self.insight_types if t in INSIGHT_TYPES)

    def to_json(self) -> dict[str, Any]:
        """The message as a JSON-ready dict."""
        speech: dict[str, Any] = {"encoding": self.encoding}
        if self.sample_rate_hertz is not None:
            speech["sampleRateHertz"] = self.sample_rate_hertz
        config: dict[str, Any] = dict(self.config_extra)
        config["confidenceThreshold"] = self.confidence_threshold
        config["speechRecognition"] = speech
        if self.language_code is not None:
            config["languageCode"] = self.language_code
        if self.timezone_offset is not None:
            config["timezoneOffset"] = self.timezone_offset
        if self.sentiment:
            config["sentiment"] = True
        if self.detect_entities:
            config["detectEntities"] = True
        if self.redaction is not None:
            config["redaction"] = self.redaction.to_json()
        message: dict[str, Any] = dict(self.extra)
        message["type"] = "start_request"
        optional: dict[str, Any] = {
            "meetingTitle": self.meeting_title,
            "noConnectionTimeout": self.no_connection_timeout,
            "disconnectOnStopRequest": self.disconnect_on_stop_request,
            "disconnectOnStopRequestTimeout": self.disconnect_on_stop_request_timeout,
        }
        message.update({k: v for k, v in optional.items() if v is not None})
        if self.insight_types:
            message["insightTypes"] = list(self.insight_types)
        if self.custom_vocabulary:
            message["customVocabulary"] = list(self.custom_vocabulary)
        if self.trackers:
            message["trackers"] = [
                {"name": t.name, "vocabulary": list(t.vocabulary)} for t in self.trackers
            ]
        message["config"] = config
        if self.speaker is not None:
            message["speaker"] = self.speaker.to_json()
        return message

    def encode(self) -> str:
        """The text frame to send."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, message: object) -> StartRequest:
        """Validate a decoded `start_request`; raises StartRequestError naming the field."""
        try:
            return _parse_start_request(Fields.of(message, ""))
        except StartRequestError:
            raise
        except FieldError as error:
            raise StartRequestError(error.path, error.problem) from None


_START_KEYS = {
    "type",
    "meetingTitle",
    "insightTypes",
    "customVocabulary",
    "trackers",
    "config",
    "speaker",
    "noConnectionTimeout",
    "disconnectOnStopRequest",
    "disconnectOnStopRequestTimeout",
}
_CONFIG_KEYS = {
    "confidenceThreshold",
    "languageCode",
    "timezoneOffset",
    "speechRecognition",
    "sentiment",
    "detectEntities",
    "redaction",
    "customVocabulary",
    "encoding",
    "sampleRateHertz",
}


def _parse_start_request(msg: Fields) -> StartRequest:
    if msg.data.get("type") != "start_request":
        raise StartRequestError("type", f"expected 'start_request', got {msg.data.get('type')!r}")
    config = msg.obj("config") or Fields({}, "config")
    # Older clients put the audio format flat in `config`.
    speech = config.obj("speechRecognition") or config
    encoding = canonical_encoding(speech.text("encoding") or "LINEAR16", speech.at("encoding"))
    speaker = msg.obj("speaker")
    threshold = config.number("confidenceThreshold")
    title = msg.text("meetingTitle")
    return StartRequest(
        encoding=encoding,
        sample_rate_hertz=_sample_rate(speech, encoding),
        # The reference documents it in `config`; the SDKs' examples put it on top.
        meeting_title=config.text("meetingTitle") if title is None else title,
        insight_types=tuple(msg.strings("insightTypes") or ()),
        confidence_threshold=0.5 if threshold is None else threshold,
        language_code=config.text("languageCode"),
        timezone_offset=config.integer("timezoneOffset"),
        speaker=_speaker(speaker) if speaker is not None else None,
        trackers=tuple(_tracker(t) for t in msg.objects("trackers") or ()),
        custom_vocabulary=_vocabulary(msg, config),
        sentiment=bool(config.flag("sentiment")),
        detect_entities=bool(config.flag("detectEntities")),
        redaction=_redaction(config.obj("redaction")),
        no_connection_timeout=msg.integer("noConnectionTimeout"),
        disconnect_on_stop_request=msg.flag("disconnectOnStopRequest"),
        disconnect_on_stop_request_timeout=msg.integer("disconnectOnStopRequestTimeout"),
        extra={k: v for k, v in msg.data.items() if k not in _START_KEYS},
        config_extra={k: v for k, v in config.data.items() if k not in _CONFIG_KEYS},
    )


def _sample_rate(speech: Fields, encoding: str) -> int | None:
    rate = speech.integer("sampleRateHertz")
    if rate is not None:
        check_sample_rate(encoding, rate, speech.at("sampleRateHertz"))
    return rate


def _vocabulary(msg: Fields, config: Fields) -> tuple[str, ...]:
    """The top-level `customVocabulary`, then the config's."""
    terms: list[str] = []
    for where in (msg, config):
        for i, term in enumerate(where.strings("customVocabulary") or ()):
            if not term.strip():
                raise StartRequestError(f"{where.at('customVocabulary')}[{i}]", "must not be empty")
            terms.append(term)
    return tuple(terms)


def _redaction(redaction: Fields | None) -> Redaction | None:
    if redaction is None:
        return None
    unknown = sorted(set(redaction.data) - set(_REDACTION_KEYS))
    if unknown:
        known = ", ".join(_REDACTION_KEYS)
        raise StartRequestError(redaction.at(unknown[0]), f"unknown field (known: {known})")
    text = redaction.text("redactionString")
    return Redaction(
        identify_content=bool(redaction.flag("identifyContent")),
        redact_content=bool(redaction.flag("redactContent")),
        redaction_string=DEFAULT_REDACTION_STRING if text is None else text,
    )


def _speaker(speaker: Fields) -> Speaker:
    return Speaker(
        user_id=speaker.text("userId"),
        name=speaker.text("name"),
        extra={k: v for k, v in speaker.data.items() if k not in {"userId", "name"}},
    )


def _tracker(tracker: Fields) -> Tracker:
    name = tracker.required_text("name")
    if not name:
        raise StartRequestError(tracker.at("name"), "must not be empty")
    vocabulary = tracker.strings("vocabulary")
    if not vocabulary:
        raise StartRequestError(tracker.at("vocabulary"), "must list at least one phrase")
    return Tracker(name=name, vocabulary=tuple(vocabulary))


def stop_request() -> dict[str, Any]:
    """The `stop_request` message."""
    return {"type": "stop_request"}


def modify_request(encoding: str, sample_rate_hertz: int) -> dict[str, Any]:
    """A validated `modify_request` changing the audio format mid-stream."""
    path = "speechRecognition"
    canonical = canonical_encoding(encoding, f"{path}.encoding")
    check_sample_rate(canonical, sample_rate_hertz, f"{path}.sampleRateHertz")
    return {
        "type": "modify_request",
        "speechRecognition": {"encoding": canonical, "sampleRateHertz": sample_rate_hertz},
    }


def encode(message: Mapping[str, Any] | Sequence[Any]) -> str:
    """Serialise a control message as a compact JSON text frame."""
    return json.dumps(message, separators=(",", ":"))
