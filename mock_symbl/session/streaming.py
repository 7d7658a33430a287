"""One streaming connection, sans I/O: control messages and audio in, outputs out.

`StreamingSession.receive_text()` / `receive_audio()` / `connection_lost()` return the
frames to send (`Send`), when to close (`Close`), what to store (`Store`) and when to ask
again whether a stopped socket kept open should close (`StopTimeout`, answered by
`stop_timeout_elapsed()`); the ASGI layer carries them out. A session moves between its
`State`s only along `TRANSITIONS`, the one table of what each `Trigger` may do in each
state. Several sockets with the same connection id share one `ConversationState` (one per
speaker), and messages and insights go to all of them. Nothing here locks: a caller that
runs one conversation's sessions in several threads makes its calls into them one at a
time (the web layer holds a lock per conversation).
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np

from harness.protocol import PING, PONG, StartRequest, StartRequestError
from harness.protocol.bounded_json import JsonTooDeepError, loads
from harness.protocol.requests import canonical_encoding, check_sample_rate
from harness.protocol.wire_audio import WireAudioDecoder, WireAudioError, default_rate
from harness.session_folder.wavfile import MAX_SAMPLE_RATE
from mock_symbl.engines.base import (
    Bindable,
    Hypothesis,
    Pace,
    Paced,
    Recognised,
    Recognizer,
    Replayed,
    Verdict,
    Word,
)
from mock_symbl.engines.select import EngineUnavailableError
from mock_symbl.engines.vocabulary import Vocabulary
from mock_symbl.session import insights, messages, redaction, trackers
from mock_symbl.session.backlog import STOP_TYPES, asks_to_stop, audio_seconds
from mock_symbl.session.conversation import (
    Close,
    ConversationState,
    Linger,
    Output,
    Send,
    StopTimeout,
    Store,
)
from mock_symbl.session.entities import GENERAL_TYPES
from mock_symbl.session.ids import IdSource
from mock_symbl.session.replayed import replayed_insight, replayed_message, replayed_topic
from mock_symbl.store import (
    Conversation,
    ConversationTrackers,
    Member,
    StoredEntity,
    StoredInsight,
    StoredMessage,
    StoredTopic,
    StoredTracker,
    StoredWord,
)

MAX_FRAME_BYTES = 8192
NOT_AN_OBJECT = "Text frames must be JSON objects with a type."
# What every socket of a conversation receives, not only the speaker's.
SHARED_KINDS = frozenset(
    {
        "message_response",
        "entity_response",
        "insight_response",
        "topic_response",
        "tracker_response",
    }
)
NO_MATCH = "No matching recording"
# How long a socket kept open after a stop waits for a new start_request (the reference's
# default for disconnectOnStopRequestTimeout).
STOPPED_TIMEOUT_S = 1800
# The close reason then; the code is 1000, as for any close the client asked for.
STOPPED_TOO_LONG = "disconnectOnStopRequestTimeout: no start_request within {seconds:g} s"
EngineFactory = Callable[[StartRequest, str], Recognizer]


class State(enum.Enum):
    """Where one streaming socket is in its life."""

    AWAITING_START = "awaiting_start"  # connected; no start_request served yet
    STREAMING = "streaming"  # audio goes to the engine; results come back
    STOPPED = "stopped"  # recognition ended, socket kept (disconnectOnStopRequest: false)
    CLOSED = "closed"  # the socket is closing or gone; nothing more is read


class Trigger(enum.Enum):
    """What moves a session: a frame from the client, or news from the socket layer."""

    START_REQUEST = "start_request"
    MODIFY_REQUEST = "modify_request"
    STOP_REQUEST = "stop_request"  # JSON, or the Python SDK's str(dict)
    AUDIO = "audio"  # a binary frame
    PING = "ping"  # the heartbeat text frame
    BAD_MESSAGE = "bad_message"  # a text frame that is no message the mock knows
    SILENCE = "silence"  # no audio for the silence timeout: ends as a stop_request would
    HANG_UP = "hang_up"  # the server closes the socket after recognition ended
    CONNECTION_LOST = "connection_lost"  # the socket is gone


TRANSITIONS: Final[Mapping[tuple[State, Trigger], State]] = {
    (State.AWAITING_START, Trigger.START_REQUEST): State.STREAMING,
    (State.AWAITING_START, Trigger.PING): State.AWAITING_START,
    (State.AWAITING_START, Trigger.BAD_MESSAGE): State.AWAITING_START,
    (State.AWAITING_START, Trigger.CONNECTION_LOST): State.CLOSED,
    (State.STREAMING, Trigger.AUDIO): State.STREAMING,
    (State.STREAMING, Trigger.MODIFY_REQUEST): State.STREAMING,
    (State.STREAMING, Trigger.PING): State.STREAMING,
    (State.STREAMING, Trigger.BAD_MESSAGE): State.STREAMING,
    (State.STREAMING, Trigger.STOP_REQUEST): State.STOPPED,
    (State.STREAMING, Trigger.SILENCE): State.STOPPED,
    # A dropped socket's conversation may linger for a rejoin (noConnectionTimeout).
    (State.STREAMING, Trigger.CONNECTION_LOST): State.CLOSED,
    (State.STOPPED, Trigger.HANG_UP): State.CLOSED,
    # With disconnectOnStopRequest: false, a new start resumes the same conversation.
    (State.STOPPED, Trigger.START_REQUEST): State.STREAMING,
    (State.STOPPED, Trigger.MODIFY_REQUEST): State.STOPPED,
    (State.STOPPED, Trigger.PING): State.STOPPED,
    (State.STOPPED, Trigger.BAD_MESSAGE): State.STOPPED,
    (State.STOPPED, Trigger.CONNECTION_LOST): State.CLOSED,
    # The socket layer reports every connection's end, also after the server closed it.
    (State.CLOSED, Trigger.CONNECTION_LOST): State.CLOSED,
}

# What a client hears when a request is not allowed in the session's state (not closed).
REFUSALS: Final[Mapping[Trigger, tuple[str, str]]] = {
    Trigger.START_REQUEST: ("Already started", "A start_request was already received."),
    Trigger.MODIFY_REQUEST: ("Not started", "modify_request needs a start_request first."),
    Trigger.STOP_REQUEST: ("Not started", "stop_request before start_request."),
}


class IllegalTransitionError(Exception):
    """A trigger that TRANSITIONS does not allow in a state; the session answers it itself."""

    def __init__(self, state: State, trigger: Trigger) -> None:
        super().__init__(f"{trigger.value} is not allowed in state {state.value}")
        self.state = state
        self.trigger = trigger


def next_state(state: State, trigger: Trigger) -> State:
    """The state `trigger` leads to from `state`; IllegalTransitionError if it may not occur."""
    try:
        return TRANSITIONS[state, trigger]
    except KeyError:
        raise IllegalTransitionError(state, trigger) from None


class StreamingSession:
    """One socket's session: what the client sends moves it through TRANSITIONS."""

    # Keyword-only, each read once: an options object would add a type and nothing else.
    def __init__(  # noqa: PLR0913
        self,
        *,
        connection_id: str,
        app_key: str,
        conversations: dict[tuple[str, str], ConversationState],
        engines: EngineFactory,
        ids: IdSource,
        now: Callable[[], datetime],
        api_base: str = "",
        account_trackers: Callable[[], Sequence[StoredTracker]] = lambda: (),
    ) -> None:
        """`api_base`: where the client reaches the Conversation API (`http://host:port`):
        `conversation_completed` links the conversation there. `account_trackers`: the
        app's Management API trackers, asked for when a start request enables them all."""
        self.connection_id = connection_id
        self._api_base = api_base
        self.app_key = app_key
        self._key = (app_key, connection_id)
        self._conversations = conversations
        self._engines = engines
        self._ids = ids
        self._now = now
        self.state = State.AWAITING_START
        self.request: StartRequest | None = None
        self.conversation: ConversationState | None = None
        # Kept after the session leaves its conversation (the journal names it).
        self.conversation_id: str | None = None
        self.member: Member | None = None
        self._engine: Recognizer | None = None
        self._vocabulary = Vocabulary(())
        self._decoder: WireAudioDecoder | None = None
        self.ignored_audio_bytes = 0
        self.oversized_frames = 0
        self.samples_received = 0
        # Audio let pass unrecognised because recognition was too far behind.
        self.seconds_skimmed = 0.0
        # Errors answered, by message: the socket layer logs them once per session.
        self.errors: Counter[str] = Counter()
        # Which recording answered (matching engine), for the journal.
        self.verdict: Verdict | None = None
        self._account_trackers = account_trackers
        self._tracking = trackers.TrackerOptions()
        self._interim = trackers.InterimMatches()
        # The id the phrase being spoken gets when final, once an interim tracker match
        # has named it (so interim and final matches point at the same message).
        self._phrase_message_id: str | None = None
        # Stop requests served so far: a stopped socket's timeout belongs to one of them.
        self._stops = 0
        # Seconds of audio taken, and where the engine's clock starts: a start after a stop
        # builds a new engine, whose words are timed from the audio before it.
        self._audio_s = 0.0
        self._offset_s = 0.0

    def _error(self, message: str, details: str) -> Send:
        self.errors[message] += 1
        return Send(messages.error(message, details))

    def _move(self, trigger: Trigger) -> None:
        """Take `trigger`'s transition; IllegalTransitionError if the table has none."""
        self.state = next_state(self.state, trigger)

    def receive_text(self, text: str) -> list[Output]:
        """Take a text frame from the client."""
        try:
            return self._text(text)
        except IllegalTransitionError as illegal:
            if illegal.state is State.CLOSED:
                # Frames still in flight after the close get no answer, not even a pong.
                return []
            return [self._error(*REFUSALS[illegal.trigger])]

    def _text(self, text: str) -> list[Output]:
        if text == PING:
            self._move(Trigger.PING)
            return [Send(PONG)]
        try:
            message = loads(text)
        except JsonTooDeepError as error:
            self._move(Trigger.BAD_MESSAGE)
            return [self._error("Invalid message", f"{NOT_AN_OBJECT} This one is {error}.")]
        except ValueError:
            if asks_to_stop(text):
                return self._stop_request()
            self._move(Trigger.BAD_MESSAGE)
            return [Send(messages.error("Invalid message", NOT_AN_OBJECT))]
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self._move(Trigger.BAD_MESSAGE)
            return [Send(messages.error("Invalid message", NOT_AN_OBJECT))]
        kind = message["type"]
        if kind == "start_request":
            return self._start(message)
        if kind in STOP_TYPES:
            return self._stop_request()
        if kind == "modify_request":
            return self._modify(message)
        self._move(Trigger.BAD_MESSAGE)
        return [self._error("Unsupported type", f"Message type {kind!r} is not supported.")]

    def receive_audio(self, data: bytes, pace: Pace = Pace.NORMAL) -> list[Output]:
        """Take a binary (audio) frame from the client; `pace` says how much recognition
        work it may cost (an engine that cannot do less ignores it)."""
        try:
            self._move(Trigger.AUDIO)
        except IllegalTransitionError:
            self.ignored_audio_bytes += len(data)
            return []
        assert self._engine is not None and self.request is not None
        if len(data) > MAX_FRAME_BYTES:
            self.oversized_frames += 1
            if self.oversized_frames > 1:
                return []
            # Said once per session; the count goes on in `oversized_frames`.
            details = f"A frame of {len(data)} bytes was ignored: frames over {MAX_FRAME_BYTES}"
            return [self._error("Audio frame too large", f"{details} bytes are ignored.")]
        if self._decoder is None:
            # Every encoding a start request may name is decodable (`DECODABLE`).
            self._decoder = WireAudioDecoder(self.request.encoding, self._rate())
        try:
            samples = self._decoder.decode(data)
        except WireAudioError as error:
            # Said once; the audio decoded so far stays recognised, later frames are ignored.
            return [self._error("Invalid audio", str(error))]
        if not samples.size:
            return []
        self.samples_received += samples.size
        rate = self._rate()
        self._audio_s += samples.size / rate
        engine = self._engine
        if isinstance(engine, Paced):
            if pace is Pace.SKIM:
                self.seconds_skimmed += samples.size / rate
                return self._recognised(engine.skim(samples, rate))
            engine.set_pace(pace)
        return self._recognised(engine.accept(samples, rate))

    def skim_audio(self, frames: Sequence[bytes]) -> list[Output]:
        """Take binary frames that recognition is too far behind to hear (`Pace.SKIM`)."""
        outputs: list[Output] = []
        for data in frames:
            outputs.extend(self.receive_audio(data, Pace.SKIM))
        return outputs

    def connection_lost(self) -> list[Output]:
        """The socket went away: finalise and store what was recognised.

        With `noConnectionTimeout`, a conversation dropped without a stop request stays
        joinable by the same connection id for that long (a `Linger` output).
        """
        was = self.state
        self._move(Trigger.CONNECTION_LOST)
        outputs: list[Output] = []
        if was is State.STREAMING:
            outputs = self._finish_recognition()
            linger = self.request.no_connection_timeout if self.request else None
            outputs.extend(self._leave(linger_s=linger or 0))
        elif was is State.STOPPED:
            outputs = self._leave()
        return [o for o in outputs if isinstance(o, Store | Linger)]

    def end_for_silence(self, seconds: float) -> list[Output]:
        """No audio for `seconds`: end the conversation as a stop request would."""
        try:
            outputs = self._stop(Trigger.SILENCE)
        except IllegalTransitionError:
            return []
        return outputs + self._hang_up(f"no audio for {seconds:g} s")

    def _rate(self) -> int:
        assert self.request is not None
        return self.request.sample_rate_hertz or default_rate(self.request.encoding)

    def _start(self, message: Mapping[str, Any]) -> list[Output]:
        # Asked before the request is read: a started session answers "Already started"
        # whatever the request says, and builds no engine for it.
        next_state(self.state, Trigger.START_REQUEST)
        try:
            request = StartRequest.from_json(message)
            _check_rate_ceiling(
                request.sample_rate_hertz, "config.speechRecognition.sampleRateHertz"
            )
            tracking = trackers.options(request.config_extra)
            engine = self._engines(request, self.connection_id)
        except StartRequestError as error:
            return [self._error("Invalid start_request", str(error))]
        except EngineUnavailableError as error:
            return [self._error("No recognition engine", str(error))]
        self.request = request
        self._engine = engine
        self._offset_s = self._audio_s
        self._vocabulary = Vocabulary(request.custom_vocabulary)
        outputs: list[Output] = []
        conversation = self._conversations.get(self._key)
        if conversation is None:
            conversation = ConversationState(
                id=self._ids.conversation_id(),
                app_key=self.app_key,
                connection_id=self.connection_id,
                started=self._now(),
            )
            self._conversations[self._key] = conversation
            outputs.append(
                Store(
                    Conversation(
                        id=conversation.id,
                        app_key=self.app_key,
                        connection_id=self.connection_id,
                        name=request.meeting_title,
                        start_time=messages.iso(conversation.started),
                        end_time=None,
                    ),
                    conversation.id,
                )
            )
        if self.conversation is None:
            conversation.sockets += 1
        self.conversation = conversation
        self.conversation_id = conversation.id
        if isinstance(engine, Bindable):
            engine.bind(conversation.id, conversation.started, self._ids.uuid)
        speaker = request.speaker
        name = (speaker.name if speaker else None) or "Speaker"
        email = speaker.user_id if speaker else None
        # A start after a stop on the same socket resumes the same speaker.
        if self.member is None or (self.member.name, self.member.email) != (name, email):
            self.member = Member(id=self._ids.uuid(), name=name, email=email)
            outputs.append(Store(self.member, conversation.id))
        outputs.extend(self._run_trackers(tracking))
        self._decoder = None
        self._move(Trigger.START_REQUEST)
        outputs += [
            Send(messages.lifecycle("conversation_created", conversation.id)),
            Send(messages.lifecycle("started_listening")),
            Send(messages.lifecycle("recognition_started", conversation.id)),
        ]
        return outputs

    def _modify(self, message: Mapping[str, Any]) -> list[Output]:
        self._move(Trigger.MODIFY_REQUEST)
        assert self.request is not None
        speech = message.get("speechRecognition")
        if not isinstance(speech, dict):
            return [self._error("Invalid modify_request", "speechRecognition: expected object")]
        try:
            encoding = canonical_encoding(
                str(speech.get("encoding", self.request.encoding)), "speechRecognition.encoding"
            )
            rate = speech.get("sampleRateHertz", self.request.sample_rate_hertz)
            if not isinstance(rate, int) or isinstance(rate, bool):
                raise StartRequestError("speechRecognition.sampleRateHertz", "expected integer")
            check_sample_rate(encoding, rate, "speechRecognition.sampleRateHertz")
            _check_rate_ceiling(rate, "speechRecognition.sampleRateHertz")
        except StartRequestError as error:
            return [self._error("Invalid modify_request", str(error))]
        self.request = dataclasses.replace(self.request, encoding=encoding, sample_rate_hertz=rate)
        self._decoder = None
        return []

    def _stop_request(self) -> list[Output]:
        outputs = self._stop(Trigger.STOP_REQUEST)
        assert self.request is not None
        self._stops += 1
        timeout = self.request.disconnect_on_stop_request_timeout
        timeout = STOPPED_TIMEOUT_S if timeout is None else timeout
        # A timeout of 0 drops the socket at the stop, as if it was never to be kept.
        if self.request.disconnect_on_stop_request is False and timeout > 0:
            return [*outputs, StopTimeout(timeout, self._stops)]
        return outputs + self._hang_up("stop_request processed")

    def stop_timeout_elapsed(self, timeout: StopTimeout) -> list[Output]:
        """A kept socket's `disconnectOnStopRequestTimeout` ran out: close it, unless a new
        start_request came meanwhile (or another stop began its own timeout)."""
        if self.state is not State.STOPPED or timeout.stop != self._stops:
            return []
        return self._hang_up(STOPPED_TOO_LONG.format(seconds=timeout.seconds))

    def _stop(self, trigger: Trigger) -> list[Output]:
        """End recognition (a stop request or silence) and say that the conversation is over."""
        self._move(trigger)
        outputs = self._finish_recognition()
        assert self.conversation is not None
        # conversation_completed first: the JS SDKs close their socket on the first of the
        # two, and `await connection.stop()` resolves only on conversation_completed.
        conversation_id = self.conversation.id
        outputs.append(
            Send(messages.conversation_completed(conversation_id, self._summary(conversation_id)))
        )
        outputs.append(Send(messages.lifecycle("recognition_stopped")))
        return outputs

    def _summary(self, conversation_id: str) -> str:
        return f"{self._api_base}/v1/conversations/{conversation_id}"

    def _hang_up(self, reason: str) -> list[Output]:
        self._move(Trigger.HANG_UP)
        return [*self._leave(), Close(1000, reason)]

    def _finish_recognition(self) -> list[Output]:
        assert self._engine is not None
        outputs: list[Output] = []
        decoder, self._decoder = self._decoder, None
        tail = decoder.flush() if decoder is not None else None
        if tail is not None and tail.size:
            # What a compressed stream's decoder held back belongs to the audio too.
            self.samples_received += tail.size
            outputs = self._recognised(self._engine.accept(tail, self._rate()))
        outputs.extend(self._recognised(self._engine.finish()))
        self._engine = None
        return outputs

    def _leave(self, linger_s: float = 0) -> list[Output]:
        conversation = self.conversation
        if conversation is None:
            return []
        self.conversation = None
        conversation.sockets -= 1
        if conversation.sockets > 0:
            return []
        if linger_s > 0:
            return [Linger(linger_s, self._key, conversation.id)]
        self._conversations.pop(self._key, None)
        return [Store(messages.iso(self._now()), conversation.id)]

    def audio_seconds(self, size: int) -> float | None:
        """How much audio a frame of `size` bytes holds, if known before decoding it."""
        if self.request is None:
            return None
        return audio_seconds(size, self.request.encoding, self._rate())

    @property
    def cpu_bound(self) -> bool:
        """Whether audio handling is heavy enough to run off the event loop."""
        return bool(getattr(self._engine, "cpu_bound", False))

    def _recognised(self, items: Sequence[Recognised]) -> list[Output]:
        outputs: list[Output] = []
        for hypothesis in items:
            if isinstance(hypothesis, Verdict):
                self.verdict = hypothesis
                if hypothesis.refusal:
                    outputs.append(self._error(NO_MATCH, hypothesis.refusal))
                continue
            if isinstance(hypothesis, Replayed):
                outputs.extend(self._replayed(hypothesis))
                continue
            if not hypothesis.words:
                continue
            heard = Hypothesis(self._vocabulary.snap(self._timed(hypothesis)), hypothesis.is_final)
            prepared = self._prepare(heard)
            shown = Hypothesis(prepared.words, hypothesis.is_final)
            outputs.append(Send(messages.recognition_result(shown, self._user())))
            if hypothesis.is_final:
                outputs.extend(self._finalise(shown, prepared.entities))
            elif self._tracking.interim_results:
                outputs.extend(self._interim_trackers(shown))
        return outputs

    def _timed(self, hypothesis: Hypothesis) -> tuple[Word, ...]:
        """The words timed from the start of the socket's audio, across resumed starts."""
        if not self._offset_s:
            return hypothesis.words
        shift = self._offset_s
        return tuple(
            dataclasses.replace(w, start=round(w.start + shift, 3), end=round(w.end + shift, 3))
            for w in hypothesis.words
        )

    def _prepare(self, hypothesis: Hypothesis) -> redaction.Prepared:
        """The words to show (redacted as asked) and, for a final, their entities."""
        request, conversation = self.request, self.conversation
        assert request is not None and conversation is not None
        speaker = request.speaker.name if request.speaker else None
        return redaction.prepare(
            hypothesis.words,
            request,
            final=hypothesis.is_final,
            today=conversation.started.date(),
            speakers=(speaker,) if speaker else (),
        )

    def _user(self) -> dict[str, Any]:
        assert self.member is not None and self.request is not None
        user = dict(self.request.speaker.extra) if self.request.speaker else {}
        user.update(self.member.to_json())
        return user

    def _finalise(
        self, hypothesis: Hypothesis, entities: tuple[StoredEntity, ...] = ()
    ) -> list[Output]:
        conversation, request, member = self.conversation, self.request, self.member
        assert conversation is not None and request is not None and member is not None
        text = insights.sentence([w.word for w in hypothesis.words])
        start, end = hypothesis.words[0].start, hypothesis.words[-1].end
        at = conversation.started
        words = tuple(
            StoredWord(
                word=w.word,
                start_time=messages.iso(at + timedelta(seconds=w.start)),
                end_time=messages.iso(at + timedelta(seconds=w.end)),
                time_offset=round(w.start, 2),
                duration=round(w.end - w.start, 2),
                score=round(w.confidence, 3),
            )
            for w in hypothesis.words
        )
        score = insights.polarity(text)
        stored = StoredMessage(
            id=self._phrase_message_id or self._ids.uuid(),
            conversation_id=conversation.id,
            text=text,
            sender=member,
            start_time=messages.iso(at + timedelta(seconds=start)),
            end_time=messages.iso(at + timedelta(seconds=end)),
            time_offset=round(start, 2),
            duration=round(end - start, 2),
            sentiment=score,
            words=words,
            entities=entities,
        )
        conversation.messages.append(stored)
        outputs: list[Output] = [Store(stored, conversation.id), self._message_response(stored)]
        outputs.extend(self._entities(stored))
        outputs.extend(self._insights(stored))
        outputs.extend(self._topics())
        outputs.extend(self._trackers(stored))
        return outputs

    def _message_response(self, message: StoredMessage) -> Send:
        conversation, request = self.conversation, self.request
        assert conversation is not None and request is not None
        sequence = conversation.message_seq
        conversation.message_seq += 1
        body = messages.message_response(
            message, self._user(), request.timezone_offset or 0, request.sentiment, sequence
        )
        return Send(body, everyone=True)

    def _entities(self, message: StoredMessage) -> list[Output]:
        """`entity_response` after the message, when detectEntities found any in it."""
        conversation, request = self.conversation, self.request
        assert conversation is not None and request is not None
        general = [e for e in message.entities if e.type in GENERAL_TYPES]
        if not request.detect_entities or not general:
            return []
        ids = [
            conversation.entity_ids.setdefault((e.type, e.value.lower()), self._ids.uuid())
            for e in general
        ]
        sequence = conversation.entity_seq
        conversation.entity_seq += 1
        only = dataclasses.replace(message, entities=tuple(general))
        return [Send(messages.entity_response(only, ids, sequence), everyone=True)]

    def _insights(self, message: StoredMessage) -> list[Output]:
        conversation, request, member = self.conversation, self.request, self.member
        assert conversation is not None and request is not None and member is not None
        wanted = set(request.known_insight_types)
        outputs: list[Output] = []
        found = []
        for finding in insights.find_insights(message.text):
            stored = StoredInsight(
                id=self._ids.uuid(),
                conversation_id=conversation.id,
                type=finding.type,
                text=finding.text,
                score=finding.confidence,
                message_ids=(message.id,),
                sender=member,
                assignee=member if finding.type != "question" else None,
            )
            # Stored whatever was asked, so REST answers for every type.
            outputs.append(Store(stored, conversation.id))
            if finding.type in wanted and finding.confidence >= request.confidence_threshold:
                found.append(stored)
        if found:
            sequence = conversation.insight_seq
            conversation.insight_seq += 1
            body = messages.insight_response(found, self._user(), sequence, message.entities)
            outputs.append(Send(body, everyone=True))
        return outputs

    def _topics(self) -> list[Output]:
        conversation = self.conversation
        assert conversation is not None
        said = conversation.messages
        current = insights.topics([self._unmasked(m.text) for m in said])
        changed = []
        for phrase in current:
            ids = tuple(said[i].id for i in phrase.message_indexes)
            known = conversation.topics.get(phrase.text)
            if known is not None and known.message_ids == ids:
                continue
            sentiment = float(np.mean([said[i].sentiment for i in phrase.message_indexes] or [0.0]))
            topic = StoredTopic(
                id=known.id if known else self._ids.uuid(),
                conversation_id=conversation.id,
                text=phrase.text,
                score=phrase.score,
                message_ids=ids,
                sentiment=sentiment,
            )
            conversation.topics[phrase.text] = topic
            changed.append(topic)
        if not changed:
            return []
        best = tuple(sorted(conversation.topics.values(), key=lambda t: -t.score)[:10])
        return [
            Store(best, conversation.id),
            Send(messages.topic_response(changed), everyone=True),
        ]

    def _unmasked(self, text: str) -> str:
        """The text without its redaction marks: what was hidden is no topic."""
        redacting = self.request.redaction if self.request else None
        if redacting is None or not redacting.redact_content:
            return text
        return " ".join(text.replace(redacting.redaction_string, " ").split())

    def _run_trackers(self, tracking: trackers.TrackerOptions) -> list[Output]:
        """Join the start request's trackers (and the account's, if it enables them all) to
        the conversation's; record those it did not have."""
        conversation, request = self.conversation, self.request
        assert conversation is not None and request is not None
        self._tracking = tracking
        account = self._account_trackers() if tracking.enable_all_trackers else ()
        joining = [
            t
            for t in trackers.conversation_trackers(conversation.id, request.trackers, account)
            if t.name not in conversation.trackers
        ]
        conversation.trackers.update((t.name, t) for t in joining)
        if not joining:
            return []
        return [Store(ConversationTrackers(tuple(joining)), conversation.id)]

    def _interim_trackers(self, hypothesis: Hypothesis) -> list[Output]:
        """Matches in an interim hypothesis (`interimResults`), each once per phrase, with
        `isFinal: false` and the id the phrase's message will have."""
        conversation = self.conversation
        assert conversation is not None
        text = insights.sentence([w.word for w in hypothesis.words])
        found = self._interim.new(list(conversation.trackers.values()), text)
        if not found:
            return []
        if self._phrase_message_id is None:
            self._phrase_message_id = self._ids.uuid()
        sequence = conversation.tracker_seq
        conversation.tracker_seq += 1
        body = messages.tracker_response(
            found, self._phrase_message_id, text, sequence, is_final=False
        )
        return [Send(body, everyone=True)]

    def _trackers(self, message: StoredMessage) -> list[Output]:
        conversation = self.conversation
        assert conversation is not None
        self._interim.phrase_ended()
        self._phrase_message_id = None
        found = trackers.hits(conversation.trackers.values(), [message.text])
        if not found:
            return []
        sequence = conversation.tracker_seq
        conversation.tracker_seq += 1
        body = messages.tracker_response(found, message.id, message.text, sequence)
        return [Send(body, everyone=True)]

    def _replayed(self, item: Replayed) -> list[Output]:
        """Send a recorded message, keeping what it carries for the Conversation API."""
        conversation = self.conversation
        assert conversation is not None
        message = dict(item.message)
        outputs: list[Output] = []
        if item.kind == "message_response":
            message["sequenceNumber"] = conversation.message_seq
            conversation.message_seq += 1
            for body in message.get("messages") or []:
                stored = replayed_message(body, conversation.id, conversation.started)
                if stored is not None:
                    conversation.messages.append(stored)
                    outputs.append(Store(stored, conversation.id))
        elif item.kind == "insight_response":
            message["sequenceNumber"] = conversation.insight_seq
            conversation.insight_seq += 1
            for body in message.get("insights") or []:
                insight = replayed_insight(body, conversation.id)
                if insight is not None:
                    outputs.append(Store(insight, conversation.id))
        elif item.kind == "topic_response":
            for body in message.get("topics") or []:
                topic = replayed_topic(body, conversation.id)
                if topic is not None:
                    conversation.topics[topic.text] = topic
            best = sorted(conversation.topics.values(), key=lambda t: -t.score)[:10]
            outputs.append(Store(tuple(best), conversation.id))
        outputs.append(Send(message, everyone=item.kind in SHARED_KINDS))
        return outputs


def _check_rate_ceiling(rate: int | None, path: str) -> None:
    """Refuse a rate no audio has: FLAC documents no ceiling, yet past MAX_SAMPLE_RATE a
    rate overflows the WAV a session is recorded in, and means a mistake or an attack."""
    if rate is not None and rate > MAX_SAMPLE_RATE:
        raise StartRequestError(
            path, f"{rate} Hz is above the highest rate this server takes ({MAX_SAMPLE_RATE} Hz)"
        )
