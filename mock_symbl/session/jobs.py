"""Async API jobs, sans I/O: their states, the options a request may carry, and the
conversation built from a whole file's audio or from text messages.

Recognised phrases become messages, insights and topics exactly as on a streamed
conversation: a job drives a `StreamingSession` (a start request, the audio, a stop
request) and keeps what it stores. Text messages take the same road through a recogniser
that hears the given words (`GivenPhrases`).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import numpy as np
from numpy.typing import NDArray

from harness.errors import HarnessError
from harness.protocol import StartRequest
from mock_symbl.engines.base import Hypothesis, Recognizer, Word
from mock_symbl.session.conversation import ConversationState, Output, Send, Store
from mock_symbl.session.ids import IdSource
from mock_symbl.session.streaming import EngineFactory, StreamingSession
from mock_symbl.store import Member, StoredInsight, StoredMessage, StoredTopic, StoredTracker


class JobStatus(enum.StrEnum):
    """Where a job stands (the Job API's `status`)."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


UNFINISHED: Final = (JobStatus.SCHEDULED, JobStatus.IN_PROGRESS)
# The only moves a job makes; a finished job never changes again.
TRANSITIONS: Final[Mapping[JobStatus, frozenset[JobStatus]]] = {
    JobStatus.SCHEDULED: frozenset({JobStatus.IN_PROGRESS, JobStatus.FAILED}),
    JobStatus.IN_PROGRESS: frozenset({JobStatus.COMPLETED, JobStatus.FAILED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
}
ABANDONED = "The server stopped before this job finished; submit the file again."
# Audio goes to the session in frames as a streaming client sends them, FRAMES_PER_CALL
# (about 2 s at 44.1 kHz) in one call to the recognition threads.
FRAME_SAMPLES = 4096
FRAMES_PER_CALL = 24
# Undated text messages follow each other at a speaking pace.
SECONDS_PER_WORD = 0.4
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


class JobRequestError(HarnessError):
    """A request the Async API refuses (400); the message names the parameter."""


class JobFailedError(HarnessError):
    """A job that cannot finish; the message is what the job reports."""


def next_status(current: JobStatus, new: JobStatus) -> JobStatus:
    """`new`, if a job in `current` may move there; JobFailedError otherwise."""
    if new not in TRANSITIONS[current]:
        raise JobFailedError(f"a {current.value} job cannot become {new.value}")
    return new


def job_json(job_id: str, status: str, message: str | None) -> dict[str, Any]:
    """A job as `GET /v1/job/{jobId}` answers: `id`, `status`, and a failure's `message`."""
    out: dict[str, Any] = {"id": job_id, "status": status}
    if status == JobStatus.FAILED and message:
        out["message"] = message
    return out


@dataclass(frozen=True, slots=True)
class JobOptions:
    """What a request asks of its job; every parameter the API documents is either here
    or refused by `job_options`."""

    name: str | None = None
    custom_vocabulary: tuple[str, ...] = ()
    # None: every insight and topic is kept, as on a streamed conversation.
    confidence_threshold: float | None = None
    language_code: str | None = None
    webhook_url: str | None = None
    mode: str | None = None
    # As a streaming start request's `trackers` and `config.trackers.enableAllTrackers`.
    trackers: tuple[Mapping[str, Any], ...] = ()
    enable_all_trackers: bool = False
    detect_entities: bool = False


# Documented parameters this server cannot honour, and why a request with them is refused.
UNSUPPORTED: Final[Mapping[str, str]] = {
    "detectPhrases": "actionable phrases are not detected by this server (messages carry none)",
    "enableSpeakerDiarization": "speaker diarization is not available on this server",
    "diarizationSpeakerCount": "speaker diarization is not available on this server",
    "enableSeparateRecognitionPerChannel": "per-channel recognition is not available here",
    "channelMetadata": "per-channel recognition is not available on this server",
    "entities": "custom entities are not detected here (detectEntities finds Symbl's own)",
    "metadata": "the Sales Process criterion it enables is not scored by this server",
}
# Sent as "off" they ask for nothing, and are accepted.
_OFF = frozenset({"false", "0", "", "[]", "{}", "null", "none"})
KNOWN: Final = frozenset(
    {
        "name",
        "customVocabulary",
        "confidenceThreshold",
        "languageCode",
        "webhookUrl",
        "mode",
        "trackers",
        "enableAllTrackers",
        "detectEntities",
        # Asked of every conversation here: its summary and call score are always computed.
        "enableSummary",
        "features",
    }
    | set(UNSUPPORTED)
)
# The languages the Async API documents; the code goes to the engines as a streaming
# start request's does (recordings and transcripts of any language answer).
LANGUAGES: Final = frozenset(
    {
        "ar-SA", "de-DE", "en-AU", "en-GB", "en-IE", "en-IN", "en-US", "en-ZA", "es-ES",
        "es-US", "fa-IR", "fr-CA", "fr-FR", "hi-IN", "it-IT", "ja-JP", "nl-NL", "pt-BR",
        "pt-PT", "ru-RU",
    }
)  # fmt: skip
MODES: Final = frozenset({"phone", "default"})


def job_options(params: Mapping[str, Sequence[Any]]) -> JobOptions:
    """The options of a request, from its query and body parameters (each name with the
    values given for it); JobRequestError names the first that is refused."""
    for name, values in params.items():
        if name not in KNOWN:
            known = ", ".join(sorted(KNOWN))
            raise JobRequestError(f"Unknown parameter {name!r}; this API takes {known}.")
        if name in UNSUPPORTED and any(_on(value) for value in values):
            raise JobRequestError(f"{name}: {UNSUPPORTED[name]}; leave it out or set it false.")
    return JobOptions(
        name=_text(params, "name"),
        custom_vocabulary=_vocabulary(params.get("customVocabulary", ())),
        confidence_threshold=_threshold(params),
        language_code=_language(params),
        webhook_url=_webhook(params),
        mode=_mode(params),
        trackers=_trackers(params.get("trackers", ())),
        enable_all_trackers=any(_on(v) for v in params.get("enableAllTrackers", ())),
        detect_entities=any(_on(v) for v in params.get("detectEntities", ())),
    )


def _on(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or value in ([], {}):
        return False
    return str(value).strip().lower() not in _OFF


def _one(params: Mapping[str, Sequence[Any]], name: str) -> Any:
    values = params.get(name, ())
    if len(values) > 1:
        raise JobRequestError(f"{name}: given {len(values)} times; give it once.")
    return values[0] if values else None


def _text(params: Mapping[str, Sequence[Any]], name: str) -> str | None:
    value = _one(params, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise JobRequestError(f"{name}: expected a string, got {type(value).__name__}.")
    return value


def _vocabulary(values: Sequence[Any]) -> tuple[str, ...]:
    """The words given: a JSON list, a list, repeated values, or (the Python SDK's way)
    a JSON list sent one character per repeated parameter."""
    if len(values) > 1 and all(isinstance(v, str) and len(v) == 1 for v in values):
        values = ["".join(values)]
    words: list[str] = []
    for value in values:
        given = value
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                given = json.loads(value)
            except ValueError:
                raise JobRequestError("customVocabulary: not a JSON list of strings.") from None
        items = given if isinstance(given, list) else [given]
        if not all(isinstance(item, str) for item in items):
            raise JobRequestError("customVocabulary: expected strings.")
        words.extend(item for item in items if item.strip())
    return tuple(words)


def _trackers(values: Sequence[Any]) -> tuple[Mapping[str, Any], ...]:
    """Trackers given as a list of `{"name", "vocabulary"}` (a JSON text in a query)."""
    found: list[Mapping[str, Any]] = []
    for value in values:
        given = value
        if isinstance(value, str):
            try:
                given = json.loads(value)
            except ValueError:
                raise JobRequestError("trackers: not a JSON list of trackers.") from None
        for index, tracker in enumerate(given if isinstance(given, list) else [given]):
            where = f"trackers[{index}]"
            if not isinstance(tracker, Mapping):
                raise JobRequestError(f"{where}: expected an object with name and vocabulary.")
            name, vocabulary = tracker.get("name"), tracker.get("vocabulary")
            if not isinstance(name, str) or not name.strip():
                raise JobRequestError(f"{where}.name: expected a non-empty string.")
            if (
                not isinstance(vocabulary, list)
                or not vocabulary
                or not all(isinstance(v, str) and v.strip() for v in vocabulary)
            ):
                raise JobRequestError(f"{where}.vocabulary: expected a list of phrases.")
            found.append({"name": name, "vocabulary": list(vocabulary)})
    return tuple(found)


def _threshold(params: Mapping[str, Sequence[Any]]) -> float | None:
    value = _one(params, "confidenceThreshold")
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise JobRequestError(f"confidenceThreshold: {value!r} is not a number.") from None
    if isinstance(value, bool) or not 0.5 <= number <= 1.0:
        raise JobRequestError(f"confidenceThreshold: {value!r} is outside 0.5 to 1.0.")
    return number


def _language(params: Mapping[str, Sequence[Any]]) -> str | None:
    code = _text(params, "languageCode")
    if code is not None and code not in LANGUAGES:
        supported = ", ".join(sorted(LANGUAGES))
        raise JobRequestError(
            f"languageCode: {code!r} is not a language the Async API takes ({supported})."
        )
    return code


def _mode(params: Mapping[str, Sequence[Any]]) -> str | None:
    mode = _text(params, "mode")
    if mode is not None and mode not in MODES:
        raise JobRequestError(f"mode: {mode!r} is neither 'phone' nor 'default'.")
    return mode


def _webhook(params: Mapping[str, Sequence[Any]]) -> str | None:
    url = _text(params, "webhookUrl")
    if not url:
        return None
    if urlsplit(url).scheme not in ("http", "https"):
        raise JobRequestError(f"webhookUrl: {url!r} is not an http(s) URL.")
    if not is_loopback(url):
        raise JobRequestError(
            f"webhookUrl: {url!r} is not on this machine; this server calls only loopback "
            "addresses (127.0.0.1, [::1], localhost)."
        )
    return url


def is_loopback(url: str) -> bool:
    """Whether an http(s) URL names this machine (a loopback address or localhost)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def media_source(url: Any) -> str:
    """A URL the server may fetch (loopback http(s), or `file://` on this machine);
    JobRequestError otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise JobRequestError("url: a URL to the file is required.")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise JobRequestError(f"url: {url!r} is not a URL.") from None
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise JobRequestError(f"url: {url!r} names a file on another machine.")
        return url
    if parts.scheme not in ("http", "https"):
        raise JobRequestError(f"url: {url!r} is neither http(s) nor file://.")
    if not is_loopback(url):
        raise JobRequestError(
            f"url: {url!r} is not on this machine; this server fetches only loopback URLs "
            "(http(s)://127.0.0.1, [::1] or localhost) and file:// paths."
        )
    return url


@dataclass(frozen=True, slots=True)
class TextMessage:
    """One message of `POST /v1/process/text`."""

    content: str
    sender: Member | None
    start: datetime | None
    end: datetime | None


def text_messages(body: Mapping[str, Any]) -> list[TextMessage]:
    """The `messages` of a text request; JobRequestError names the first bad field."""
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise JobRequestError("messages: a non-empty list of messages is required.")
    out = []
    for index, item in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(item, dict):
            raise JobRequestError(f"{where}: expected an object.")
        payload = item.get("payload")
        if not isinstance(payload, dict):
            raise JobRequestError(f"{where}.payload: expected an object with content.")
        content = payload.get("content")
        if not isinstance(content, str) or not content.strip():
            raise JobRequestError(f"{where}.payload.content: expected non-empty text.")
        kind = payload.get("contentType", "text/plain")
        if kind != "text/plain":
            raise JobRequestError(f"{where}.payload.contentType: only 'text/plain' is taken.")
        start, end = _duration(item.get("duration"), f"{where}.duration")
        out.append(TextMessage(content, _sender(item.get("from"), f"{where}.from"), start, end))
    return out


def _sender(value: Any, where: str) -> Member | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise JobRequestError(f"{where}: expected an object with name and userId.")
    name, user = value.get("name"), value.get("userId")
    for key, text in (("name", name), ("userId", user)):
        if text is not None and not isinstance(text, str):
            raise JobRequestError(f"{where}.{key}: expected a string.")
    if not name and not user:
        return None
    return Member(id="", name=name or user, email=user)


def _duration(value: Any, where: str) -> tuple[datetime | None, datetime | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise JobRequestError(f"{where}: expected an object with startTime and endTime.")
    times = []
    for key in ("startTime", "endTime"):
        text = value.get(key)
        if not isinstance(text, str):
            raise JobRequestError(f"{where}.{key}: expected an ISO-8601 time.")
        try:
            times.append(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise JobRequestError(f"{where}.{key}: {text!r} is not an ISO-8601 time.") from None
    if times[0].tzinfo is None or times[1].tzinfo is None:
        raise JobRequestError(f"{where}: times need a zone (Z or +hh:mm).")
    if times[1] < times[0]:
        raise JobRequestError(f"{where}: endTime is before startTime.")
    return times[0], times[1]


@dataclass
class Built:
    """What a job leaves: the records to store, in order, and how long its audio lasted."""

    outputs: list[Store] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class JobConversation:
    """The conversation a job fills: a new one, or one that already has messages (an append).

    The job's word times count from `state.started`, which lies `offset_s` after the
    conversation's own start (after its last message, for an append).
    """

    state: ConversationState
    members: list[Member]
    offset_s: float = 0.0

    @classmethod
    def existing(
        cls,
        *,
        conversation_id: str,
        app_key: str,
        started: datetime,
        messages: Sequence[StoredMessage],
        topics: Iterable[StoredTopic],
        members: Sequence[Member],
    ) -> JobConversation:
        """A stored conversation (new, or one to append to): the job's words start
        after its last message."""
        offset = max((m.time_offset + m.duration for m in messages), default=0.0)
        state = ConversationState(
            id=conversation_id,
            app_key=app_key,
            connection_id=conversation_id,
            started=started + timedelta(seconds=offset),
            messages=list(messages),
            topics={t.text: t for t in topics},
            message_seq=len(messages),
        )
        return cls(state, list(members), offset)


class GivenPhrases:
    """A recogniser that hears given phrases: text messages, as the session finalises them."""

    def __init__(self, phrases: Sequence[Hypothesis]) -> None:
        self._phrases = list(phrases)

    def accept(self, samples: NDArray[np.int16], sample_rate: int) -> list[Hypothesis]:
        """Text has no audio: nothing is heard before the end."""
        return []

    def finish(self) -> list[Hypothesis]:
        """Every phrase, final, in order."""
        phrases, self._phrases = self._phrases, []
        return phrases


def _start_request(options: JobOptions, rate: int, speaker: Member | None) -> str:
    config: dict[str, Any] = {
        "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": rate},
        "confidenceThreshold": options.confidence_threshold or 0.5,
    }
    if options.language_code:
        config["languageCode"] = options.language_code
    if options.enable_all_trackers:
        config["trackers"] = {"enableAllTrackers": True}
    if options.detect_entities:
        config["detectEntities"] = True
    request: dict[str, Any] = {
        "type": "start_request",
        "insightTypes": ["question", "action_item", "follow_up"],
        "config": config,
    }
    if options.custom_vocabulary:
        request["customVocabulary"] = list(options.custom_vocabulary)
    if options.trackers:
        request["trackers"] = [dict(t) for t in options.trackers]
    if options.name:
        request["meetingTitle"] = options.name
    if speaker is not None:
        request["speaker"] = {
            k: v for k, v in (("name", speaker.name), ("userId", speaker.email)) if v
        }
    return json.dumps(request)


@dataclass(frozen=True, slots=True)
class Recognition:
    """What recognises a job's audio: the mock's engines, and the ids and name to use.

    `connection_id` picks the engine as a streaming connection's id does (a transcript by
    that name, a recording named so).
    """

    engines: EngineFactory
    ids: IdSource
    connection_id: str
    # The app's Management API trackers, for `enableAllTrackers`.
    account_trackers: Callable[[], Sequence[StoredTracker]] = lambda: ()


class AudioRecognition:
    """A whole file's audio, recognised as a streamed conversation's would be, a stretch at
    a time (`feed`), so a long file shares the recognition threads with live streams."""

    def __init__(
        self,
        samples: NDArray[np.int16],
        rate: int,
        options: JobOptions,
        conversation: JobConversation,
        recognition: Recognition,
    ) -> None:
        self._samples = samples
        self._options = options
        self._conversation = conversation
        self._built = Built(seconds=samples.size / rate)
        self._session = _session(conversation, recognition, self._built.seconds)
        self._built.outputs += _run(self._session, _start_request(options, rate, None))
        self._position = 0

    @property
    def done(self) -> bool:
        """Whether every sample has been heard."""
        return self._position >= self._samples.size

    def feed(self, frames: int) -> None:
        """Hear up to `frames` more frames of FRAME_SAMPLES."""
        end = min(self._position + frames * FRAME_SAMPLES, self._samples.size)
        for start in range(self._position, end, FRAME_SAMPLES):
            frame = self._samples[start : min(start + FRAME_SAMPLES, end)]
            data = frame.astype("<i2", copy=False).tobytes()
            self._built.outputs += _checked(self._session.receive_audio(data))
        self._position = end

    def finish(self) -> Built:
        """End the audio: the records the job stores."""
        self._built.outputs += _run(self._session, '{"type": "stop_request"}')
        return _settled(self._built, self._options, self._conversation)


def recognise_text(
    messages: Sequence[TextMessage],
    options: JobOptions,
    conversation: JobConversation,
    recognition: Recognition,
) -> Built:
    """Text messages as a conversation: each sentence a message, then insights and topics.

    Dated messages keep their times on the conversation's timeline; undated ones follow
    the one before at SECONDS_PER_WORD a word.
    """
    state = conversation.state
    clock = 0.0
    timed: list[tuple[Member | None, list[Hypothesis]]] = []
    for message in messages:
        sentences = [s for s in _SENTENCE_END.split(message.content.strip()) if s.strip()]
        count = sum(len(s.split()) for s in sentences)
        if message.start is not None and message.end is not None:
            at = (message.start - state.started).total_seconds()
            step = (message.end - message.start).total_seconds() / count
        else:
            at, step = clock, SECONDS_PER_WORD
        phrases = []
        for text in sentences:
            words = []
            for word in text.split():
                words.append(Word(word, round(at, 3), round(at + step, 3)))
                at += step
            phrases.append(Hypothesis(tuple(words), is_final=True))
        clock = max(clock, at)
        if timed and timed[-1][0] == message.sender:
            timed[-1][1].extend(phrases)
        else:
            timed.append((message.sender, phrases))
    built = Built(seconds=clock)
    for sender, phrases in timed:
        given = dataclasses.replace(recognition, engines=_given(phrases))
        session = _session(conversation, given, built.seconds)
        built.outputs += _run(session, _start_request(options, 16000, sender))
        built.outputs += _run(session, '{"type": "stop_request"}')
    return _settled(built, options, conversation)


def _given(phrases: Sequence[Hypothesis]) -> EngineFactory:
    def engine(_request: StartRequest, _connection_id: str) -> Recognizer:
        return GivenPhrases(phrases)

    return engine


def _session(
    conversation: JobConversation, recognition: Recognition, seconds: float
) -> StreamingSession:
    """A session joined to the job's conversation (never one it would make itself)."""
    state = conversation.state
    key = (state.app_key, recognition.connection_id)
    end = state.started + timedelta(seconds=seconds)
    return StreamingSession(
        connection_id=recognition.connection_id,
        app_key=state.app_key,
        conversations={key: state},
        engines=recognition.engines,
        ids=recognition.ids,
        now=lambda: end,
        account_trackers=recognition.account_trackers,
    )


def _run(session: StreamingSession, text: str) -> list[Store]:
    return _checked(session.receive_text(text))


def _checked(outputs: Sequence[Output]) -> list[Store]:
    """The records to store; an error the session answered fails the job."""
    for output in outputs:
        if isinstance(output, Send) and isinstance(output.message, Mapping):
            inner = output.message.get("message")
            if isinstance(inner, Mapping) and inner.get("type") == "error":
                raise JobFailedError(f"{inner.get('message')}: {inner.get('details')}")
    return [output for output in outputs if isinstance(output, Store)]


def _settled(built: Built, options: JobOptions, conversation: JobConversation) -> Built:
    """The records as the job stores them: times on the conversation's timeline, one
    member per speaker, and insights and topics under the threshold asked for left out."""
    shift = conversation.offset_s
    members = conversation.members
    renamed: dict[str, Member] = {}

    def same(member: Member) -> Member:
        if member.id in renamed:
            return renamed[member.id]
        known = next((m for m in members if (m.name, m.email) == (member.name, member.email)), None)
        renamed[member.id] = known or member
        if known is None:
            members.append(member)
        return renamed[member.id]

    threshold = options.confidence_threshold
    kept: list[Store] = []
    for output in built.outputs:
        record = output.record
        if isinstance(record, Member):
            if same(record) is not record:
                continue
        elif isinstance(record, StoredMessage):
            record = _shifted(dataclasses.replace(record, sender=same(record.sender)), shift)
        elif isinstance(record, StoredInsight):
            if threshold is not None and record.score < threshold:
                continue
            assignee = same(record.assignee) if record.assignee else None
            record = dataclasses.replace(record, sender=same(record.sender), assignee=assignee)
        elif isinstance(record, tuple) and threshold is not None:
            record = tuple(t for t in record if t.score >= threshold)
        kept.append(Store(record, output.conversation_id))
    built.outputs = kept
    return built


def _shifted(message: StoredMessage, seconds: float) -> StoredMessage:
    if not seconds:
        return message
    words = tuple(
        dataclasses.replace(w, time_offset=round(w.time_offset + seconds, 2)) for w in message.words
    )
    return dataclasses.replace(
        message, time_offset=round(message.time_offset + seconds, 2), words=words
    )
