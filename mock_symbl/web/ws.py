"""The streaming WebSocket: authenticate, run a StreamingSession, carry out its outputs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket as sockets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import WebSocket
from fastapi.responses import JSONResponse

from harness.conformance.monitor import ConformanceMonitor, ConformanceReports
from harness.session_folder.tape import SessionTape
from mock_symbl.engines.base import Pace
from mock_symbl.engines.names import OnMiss
from mock_symbl.engines.select import EngineChoice
from mock_symbl.session import messages
from mock_symbl.session.backlog import DataRate, asks_to_stop
from mock_symbl.session.conversation import (
    Close,
    ConversationState,
    Linger,
    Output,
    Send,
    StopTimeout,
    end_if_abandoned,
)
from mock_symbl.session.conversation import Store as Persist
from mock_symbl.session.faults import (
    FAULT_MESSAGE,
    INJECTED,
    REFUSED,
    EventDelays,
    FaultBoard,
    FaultError,
    Faults,
    FrameTriggers,
    fired,
    plan_of_recording,
)
from mock_symbl.session.ids import IdSource
from mock_symbl.session.streaming import StreamingSession
from mock_symbl.store import (
    Conversation,
    ConversationTrackers,
    Member,
    Store,
    StoredInsight,
    StoredMessage,
)
from mock_symbl.web.auth import INVALID_TOKEN, App, AuthError, Authority
from mock_symbl.web.config import Answers, MockConfig
from mock_symbl.web.intake import END, SILENCE, Arrived, FaultsDue, Intake
from mock_symbl.web.journal import Journal
from mock_symbl.web.limits import StreamCounter
from mock_symbl.web.misses import MissRecorder
from mock_symbl.web.outbox import DROP_GRACE_S, TRANSPORT, Outbox

log = logging.getLogger("mock_symbl")
# A client that stops reading must not hold up the others: give up on it when this many
# frames wait for it (or one write waits MockConfig.send_timeout_s).
OUTBOX_LIMIT = 5000
Key = tuple[str, str]
TOO_MANY_STREAMS = "Too many concurrent streams for this app."
TOO_FAST = "data rate too high"
# Text frames waiting for their session beyond this are a flood, not a conversation.
TEXT_BACKLOG_BYTES = 8 << 20
TOO_MANY_MESSAGES = "Too many messages waiting."
# The close code uvicorn gives a socket when the server stops (RFC 6455: service restart).
SERVER_STOPPING = 1012
# Recognition of every session runs on these threads: their number, and the memory malloc
# keeps for each thread, stay bounded whatever the number of sessions.
RECOGNITION = ThreadPoolExecutor(len(os.sched_getaffinity(0)), thread_name_prefix="recognition")
# How often a stalled reader looks whether its client is still there.
STALL_CHECK_S = 0.2
# Linux TCP states (tcp_states.h) of a connection whose peer is still there.
_TCP_ESTABLISHED = 1


def persist(store: Store, output: Persist) -> None:
    """Write one `Store` output of a session to the database."""
    record = output.record
    if isinstance(record, Conversation):
        store.create_conversation(record)
    elif isinstance(record, Member):
        store.add_member(output.conversation_id, record)
    elif isinstance(record, StoredMessage):
        store.add_message(record)
    elif isinstance(record, StoredInsight):
        store.add_insight(record)
    elif isinstance(record, tuple):
        store.save_topics(output.conversation_id, record)
    elif isinstance(record, ConversationTrackers):
        store.add_conversation_trackers(output.conversation_id, record.trackers)
    else:
        store.end_conversation(output.conversation_id, record)


def token_of(socket: WebSocket) -> str | None:
    """The token wherever a client put it: query, `X-API-KEY` header, or subprotocol."""
    offered = list(socket.scope.get("subprotocols") or [])
    return (
        socket.query_params.get("access_token")
        or socket.query_params.get("accessToken")
        or socket.headers.get("x-api-key")
        or (offered[0] if offered else None)
    )


def end_by_fault(outbox: Outbox, faults: Faults, where: dict[str, float]) -> None:
    """End the connection as the plan says: a close frame with its code, or a TCP drop."""
    if faults.close_code is None:
        outbox.send(fired("drop", **where))
        outbox.drop()
    else:
        outbox.send(fired("close", code=faults.close_code, **where))
        outbox.close(faults.close_code, "Injected fault")


def said(session: StreamingSession) -> None:
    """Log, once per connection, the errors it was answered with and the audio it skimmed."""
    name = session.connection_id
    if session.errors:
        errors = ", ".join(f"{count} x {kind}" for kind, count in session.errors.items())
        log.warning("connection %s answered with errors: %s", name, errors)
    if session.seconds_skimmed:
        log.warning(
            "connection %s: recognition fell behind; %.1f s of audio passed unrecognised",
            name,
            session.seconds_skimmed,
        )


def too_fast(rate: DataRate, session: LockedSession, data: bytes) -> bool:
    """Whether one more frame puts the client over the plan's data rate."""
    seconds = session.audio_seconds(len(data))
    return seconds is not None and rate.too_fast(time.monotonic(), seconds)


def end_too_fast(outbox: Outbox, faults: Faults) -> None:
    """Refuse a client that sends audio faster than the plan allows, as some providers do."""
    outbox.send(fired("max_data_rate", ratio=faults.max_data_rate or 0.0))
    outbox.close(1011, TOO_FAST)


def peer_gone(socket: WebSocket) -> bool:
    """Whether the client closed or reset its TCP connection, seen without reading it."""
    transport = socket.scope.get(TRANSPORT)
    if transport is None:
        return False
    if transport.is_closing():
        return True
    raw = transport.get_extra_info("socket")
    if raw is None or not hasattr(sockets, "TCP_INFO"):
        return False
    try:
        state = raw.getsockopt(sockets.IPPROTO_TCP, sockets.TCP_INFO, 1)[0]
    except OSError:
        return True
    return bool(state != _TCP_ESTABLISHED)


async def stall(socket: WebSocket, seconds: float) -> None:
    """Stop reading for `seconds`, or until the client leaves (a stalled socket is not read,
    so its leaving is seen in the TCP state)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0 and not peer_gone(socket):
        await asyncio.sleep(min(left, STALL_CHECK_S))


def fire(outbox: Outbox, faults: Faults, due: FaultsDue) -> bool:
    """Fire faults due after a frame, in order with what it caused; True once ending."""
    for fault in due.faults:
        if fault == "error":
            outbox.send(fired("error", frames=due.frames))
            error = messages.error(INJECTED, f"An error injected after {due.frames} frames.")
            outbox.send(json.dumps(error, separators=(",", ":")))
        else:
            end_by_fault(outbox, faults, {"frames": due.frames})
            return True
    return False


@dataclass(frozen=True, slots=True)
class Watchers:
    """What sees every frame a client sends: its conformance monitor, and a tape when the
    connection may become a new recording (a miss)."""

    monitor: ConformanceMonitor
    tape: SessionTape | None = None


class ConversationLocks:
    """A lock per connection key (app, connection id), kept while a socket with the key is open.

    Only the event loop enters and leaves `lock_for()`, so the map itself needs no lock.
    """

    def __init__(self) -> None:
        self._held: dict[Key, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def lock_for(self, key: Key) -> Iterator[threading.Lock]:
        """The key's lock, shared with every other socket that has the key, for the block."""
        lock, sockets = self._held.get(key, (threading.Lock(), 0))
        self._held[key] = (lock, sockets + 1)
        try:
            yield lock
        finally:
            lock, sockets = self._held[key]
            if sockets > 1:
                self._held[key] = (lock, sockets - 1)
            else:
                del self._held[key]


class LockedSession:
    """A StreamingSession whose every call holds its conversation's lock.

    The sockets of one conversation share its messages, sequence numbers and topics, and
    the asr engine takes audio in worker threads while the event loop serves the others.
    """

    def __init__(self, session: StreamingSession, lock: threading.Lock) -> None:
        self._session = session
        self._lock = lock

    @property
    def inner(self) -> StreamingSession:
        """The session itself, for reading what it knows (the journal)."""
        return self._session

    @property
    def cpu_bound(self) -> bool:
        """Whether audio handling is heavy enough to run off the event loop."""
        return self._session.cpu_bound

    def receive_text(self, text: str) -> list[Output]:
        """`StreamingSession.receive_text`, holding the lock."""
        with self._lock:
            return self._session.receive_text(text)

    def receive_audio(self, data: bytes, pace: Pace = Pace.NORMAL) -> list[Output]:
        """`StreamingSession.receive_audio`, holding the lock."""
        with self._lock:
            return self._session.receive_audio(data, pace)

    def skim_audio(self, frames: list[bytes]) -> list[Output]:
        """`StreamingSession.skim_audio`, holding the lock."""
        with self._lock:
            return self._session.skim_audio(frames)

    @property
    def busy(self) -> bool:
        """Whether a thread holds the conversation's lock now."""
        return self._lock.locked()

    def audio_seconds(self, size: int) -> float | None:
        """`StreamingSession.audio_seconds` (it only reads the request, replaced whole)."""
        return self._session.audio_seconds(size)

    def connection_lost(self) -> list[Output]:
        """`StreamingSession.connection_lost`, holding the lock."""
        with self._lock:
            return self._session.connection_lost()

    def end_for_silence(self, seconds: float) -> list[Output]:
        """`StreamingSession.end_for_silence`, holding the lock."""
        with self._lock:
            return self._session.end_for_silence(seconds)

    def stop_timeout_elapsed(self, timeout: StopTimeout) -> list[Output]:
        """`StreamingSession.stop_timeout_elapsed`, holding the lock."""
        with self._lock:
            return self._session.stop_timeout_elapsed(timeout)


class StreamingEndpoint:
    """Serves `/v1/streaming/{id}` and `/v1/realtime/insights/{id}`."""

    def __init__(
        self, store: Store, authority: Authority, config: MockConfig, faults: FaultBoard
    ) -> None:
        self.faults = faults
        self.conformance = ConformanceReports()
        self.stamp_send_times = config.stamp_send_times
        self.streams = StreamCounter(config.max_streams)
        self.send_timeout_s = config.send_timeout_s
        self.silence_timeout_s = config.silence_timeout_s
        self.backlog = config.backlog
        self.store = store
        self.authority = authority
        answers = config.answers
        self.engines = EngineChoice(
            config.engine,
            config.recordings,
            config.transcripts,
            answers.on_miss,
            answers.min_score,
            upstream=answers.upstream_endpoint(),
            whisper_model=config.whisper_model,
        )
        self.journal = Journal()
        self.misses = self._miss_recorder(answers)
        self.ids = IdSource(config.seed)
        self.outboxes: dict[Key, set[Outbox]] = {}
        # The listen-only sockets among them: they get every frame a speaker gets.
        self.subscribers: dict[Key, set[Outbox]] = {}
        # Only the event loop starts, leaves or ends conversations; worker threads take audio.
        self.conversations: dict[Key, ConversationState] = {}
        self.locks = ConversationLocks()

    def _miss_recorder(self, answers: Answers) -> MissRecorder | None:
        if answers.on_miss is not OnMiss.RECORD or answers.record_to is None:
            return None
        return MissRecorder(answers.record_to, self.engines.library, answers.expires_days)

    def answer_from(self, recordings: Sequence[Path], answers: Answers) -> None:
        """Answer new connections from these recordings (instead of those loaded before);
        the transcripts known and the connections streaming now are left as they are."""
        engines = EngineChoice(
            self.engines.engine,
            recordings,
            (),
            answers.on_miss,
            answers.min_score,
            matching=True,
            upstream=answers.upstream_endpoint(),
            whisper_model=self.engines.whisper_model,
        )
        engines.transcripts = self.engines.transcripts
        self.engines = engines
        self.misses = self._miss_recorder(answers)

    async def __call__(self, socket: WebSocket, connection_id: str) -> None:
        """Handle one streaming connection from handshake to close."""
        app = await self._authenticate(socket)
        if app is None:
            return
        recording = self.engines.recording(connection_id)
        try:
            faults = self.faults.for_connection(
                connection_id,
                socket.query_params,
                plan_of_recording(recording.records) if recording else None,
                app.key,
            )
        except FaultError as error:
            await self._refuse(socket, 400, f"Invalid fault: {error}")
            return
        if faults.refuse_status is not None:
            await self._refuse(
                socket, faults.refuse_status, REFUSED, {FAULT_MESSAGE: faults.to_json()}
            )
            return
        if not self.streams.acquire(app.key):
            await self._refuse(socket, 429, TOO_MANY_STREAMS)
            return
        try:
            await self._accept(socket)
            key = (app.key, connection_id)
            session = self._session(key, socket)
            with self.locks.lock_for(key) as lock:
                await self._stream(socket, key, LockedSession(session, lock), faults)
            said(session)
        except asyncio.CancelledError:
            # Only the server cancels a handler (a stop that outlasted its grace): what the
            # session recognised is stored; say so in one line, not in a traceback.
            log.warning("connection %s cut short: the server is stopping", connection_id)
        finally:
            self.streams.release(app.key)

    def _session(self, key: Key, socket: WebSocket) -> StreamingSession:
        app_key, connection_id = key
        # The REST base as this client reaches the server (its Host header, its scheme).
        scheme = "https" if socket.url.scheme == "wss" else "http"
        return StreamingSession(
            connection_id=connection_id,
            app_key=app_key,
            conversations=self.conversations,
            engines=self.engines.for_request,
            ids=self.ids,
            now=lambda: datetime.now(UTC),
            api_base=f"{scheme}://{socket.url.netloc}",
            account_trackers=lambda: self.store.trackers(app_key),
        )

    async def _stream(
        self, socket: WebSocket, key: Key, session: LockedSession, faults: Faults
    ) -> None:
        """Run an accepted connection's session until it ends; store what it leaves behind."""
        monitor = self.conformance.watch(*key)
        entry = self.journal.open(*key, monitor)
        entry.session = session.inner
        # The recorder that tapes the connection keeps or drops the tape, though a test may
        # have the mock answer from other recordings (and record elsewhere) meanwhile.
        misses = self.misses
        tape = misses.tape(socket, key[1]) if misses is not None else None
        entry.taped = tape is not None
        # A connection cut short (the server stopping) is no recording: its tape is dropped.
        verdict = None
        try:
            async with self._attached(socket, key, faults) as outbox:
                if tape is not None:
                    outbox.tap = functools.partial(tape.add, "recv_text")
                try:
                    await self._serve(
                        socket, key, session, outbox, faults=faults, seen=Watchers(monitor, tape)
                    )
                finally:
                    if not monitor.closed:
                        monitor.close(time.perf_counter_ns(), None)
                    self._carry_out(await self._call(session, session.connection_lost))
            verdict = session.inner.verdict
        finally:
            if tape is not None and misses is not None:
                tape.add("close", (monitor.close_code, ""))
                self.journal.recorded(entry, misses.keep_if_missed(tape, verdict))
            entry.end()

    async def subscribe(self, socket: WebSocket, connection_id: str) -> None:
        """`/v1/subscribe/{id}`: a listen-only socket on a live conversation's messages."""
        app = await self._authenticate(socket)
        if app is None:
            return
        await self._accept(socket)
        key = (app.key, connection_id)
        async with self._attached(socket, key) as outbox:
            listening = self.subscribers.setdefault(key, set())
            listening.add(outbox)
            try:
                while (await socket.receive())["type"] != "websocket.disconnect":
                    pass
            finally:
                listening.discard(outbox)
                if not listening:
                    self.subscribers.pop(key, None)

    async def _authenticate(self, socket: WebSocket) -> App | None:
        """The app of the socket's token; refuses the handshake (401) if there is none."""
        try:
            return self.authority.verify(token_of(socket))
        except AuthError:
            await self._refuse(socket, 401, INVALID_TOKEN)
            return None

    @staticmethod
    async def _accept(socket: WebSocket) -> None:
        offered = list(socket.scope.get("subprotocols") or [])
        # Browsers fail the handshake unless an offered subprotocol is echoed.
        await socket.accept(subprotocol=offered[0] if offered else None)

    @contextlib.asynccontextmanager
    async def _attached(
        self, socket: WebSocket, key: Key, faults: Faults | None = None
    ) -> AsyncIterator[Outbox]:
        """An outbox for the socket, in its conversation's group for the block's duration.

        If the client stops reading, the outbox cancels the handler; that ends this
        connection only, and the block's own cleanup still runs.
        """
        task = asyncio.current_task()
        assert task is not None
        outbox = Outbox(
            socket,
            limit=OUTBOX_LIMIT,
            timeout_s=self.send_timeout_s,
            on_stall=task.cancel,
            stamp=self.stamp_send_times,
            delays=EventDelays(faults)
            if faults and (faults.delay_ms or faults.jitter_ms)
            else None,
        )
        if faults is not None and faults.streaming:
            outbox.send(faults.announcement())
        self.outboxes.setdefault(key, set()).add(outbox)
        try:
            yield outbox
        except asyncio.CancelledError:
            if not outbox.stalled:
                raise
            task.uncancel()
        finally:
            group = self.outboxes.get(key, set())
            group.discard(outbox)
            if not group:
                self.outboxes.pop(key, None)
            await outbox.finish()

    async def _refuse(
        self, socket: WebSocket, status: int, message: str, extra: dict[str, object] | None = None
    ) -> None:
        if "websocket.http.response" in socket.scope.get("extensions", {}):
            await socket.send_denial_response(
                JSONResponse({"message": message, **(extra or {})}, status_code=status)
            )
        else:
            await socket.close(code=1008, reason=message)

    async def _serve(
        self,
        socket: WebSocket,
        key: Key,
        session: LockedSession,
        outbox: Outbox,
        *,
        faults: Faults,
        seen: Watchers,
    ) -> None:
        """Read the socket in one task and serve what it read in this one, in order."""
        loop = asyncio.get_running_loop()
        intake = Intake(loop.time)
        timer = None
        if faults.drop_after_s is not None:
            timer = loop.call_later(
                faults.drop_after_s, end_by_fault, outbox, faults, {"seconds": faults.drop_after_s}
            )
        reader = asyncio.create_task(
            self._read(socket, session, intake, outbox, faults=faults, seen=seen)
        )
        # A stopped socket's timeouts (disconnectOnStopRequestTimeout) come back through the
        # intake, in order with the frames, and are dropped with the connection.
        timeouts: list[asyncio.TimerHandle] = []
        try:
            await self._work(key, session, outbox, intake, faults, timeouts)
        finally:
            for handle in timeouts:
                handle.cancel()
            # The reader drops what the client still sends until it closes (or a grace
            # passes): a socket closed with unread data is reset, and the client would lose
            # what it had not read yet.
            intake.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), DROP_GRACE_S)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            if timer is not None:
                timer.cancel()

    async def _read(
        self,
        socket: WebSocket,
        session: LockedSession,
        intake: Intake,
        outbox: Outbox,
        *,
        faults: Faults,
        seen: Watchers,
    ) -> None:
        """Read every frame as it comes, whatever recognition's backlog: uvicorn stops
        reading a socket (pongs too) while its app has a frame it has not taken."""
        monitor, tape = seen.monitor, seen.tape
        loop = asyncio.get_running_loop()
        # Without faults, no per-frame fault bookkeeping at all.
        triggers = FrameTriggers(faults) if faults.streaming else None
        rate = DataRate(faults.max_data_rate) if faults.max_data_rate else None
        try:
            async with asyncio.timeout(self.silence_timeout_s) as silence:
                while True:
                    message = await socket.receive()
                    at = time.perf_counter_ns()
                    if message["type"] == "websocket.disconnect":
                        monitor.close(at, message.get("code"))
                        if message.get("code") == SERVER_STOPPING:
                            intake.hurry()
                        return
                    if intake.closed:
                        continue
                    if message.get("text") is not None:
                        if tape is not None:
                            tape.add("send_text", message["text"])
                        monitor.text(at, message["text"])
                        intake.text(message["text"], stop=asks_to_stop(message["text"]))
                        if intake.text_bytes > TEXT_BACKLOG_BYTES:
                            outbox.close(1008, TOO_MANY_MESSAGES)
                            intake.close()
                    elif message.get("bytes") is not None:
                        if tape is not None:
                            tape.add("send_audio", message["bytes"])
                        monitor.audio(at, message["bytes"])
                        silence.reschedule(loop.time() + self.silence_timeout_s)
                        if rate is not None and too_fast(rate, session, message["bytes"]):
                            end_too_fast(outbox, faults)
                            intake.close()
                            continue
                        intake.audio(message["bytes"])
                        if triggers is not None:
                            await self._triggered(socket, intake, outbox, faults, triggers)
        except TimeoutError:
            intake.put(SILENCE)
        finally:
            intake.put(END)

    @staticmethod
    async def _triggered(
        socket: WebSocket, intake: Intake, outbox: Outbox, faults: Faults, triggers: FrameTriggers
    ) -> None:
        """After one more audio frame: stall reading now, queue the other faults due."""
        frames = triggers.frames + 1
        due = triggers.frame()
        if "stall" in due:
            outbox.send(fired("stall", frames=frames, seconds=faults.stall_s))
            await stall(socket, faults.stall_s)
        rest = tuple(fault for fault in due if fault != "stall")
        if rest:
            intake.put(FaultsDue(rest, frames))

    async def _work(
        self,
        key: Key,
        session: LockedSession,
        outbox: Outbox,
        intake: Intake,
        faults: Faults,
        timeouts: list[asyncio.TimerHandle],
    ) -> None:
        """Serve the frames read, in order, until the connection ends or is closing."""
        backlog = self.backlog
        loop = asyncio.get_running_loop()
        while True:
            item = await intake.get()
            if item is END:
                return
            if isinstance(item, FaultsDue):
                if fire(outbox, faults, item):
                    return
                continue
            if isinstance(item, StopTimeout):
                outputs = await self._call(session, session.stop_timeout_elapsed, item)
            elif not isinstance(item, Arrived):
                outputs = await self._call(session, session.end_for_silence, self.silence_timeout_s)
            elif isinstance(item.frame, str):
                outputs = await self._call(session, session.receive_text, item.frame)
            else:
                waited = intake.waited(item)
                pace = backlog.pace(waited, intake.queued_bytes, intake.stopping_for())
                if pace is Pace.SKIM:
                    # Skimming is cheap: the whole run waiting goes in one call.
                    frames = [item.frame, *intake.audio_run()]
                    outputs = await self._call(session, session.skim_audio, frames)
                else:
                    outputs = await self._call(session, session.receive_audio, item.frame, pace)
            for output in outputs:
                if isinstance(output, StopTimeout):
                    # Only the latest stop's timeout can close the socket: the earlier ones
                    # go, so a socket stopped and started all day holds one timer.
                    for handle in timeouts:
                        handle.cancel()
                    timeouts[:] = [loop.call_later(output.seconds, intake.put, output)]
            if self._deliver(key, outbox, outputs):
                return

    @staticmethod
    async def _call(session: LockedSession, method: Callable[..., Any], *args: Any) -> Any:
        # Recognition is CPU work, and a conversation's lock may be held by a thread doing
        # it: either way, keep the event loop free for other sockets.
        if session.cpu_bound or session.busy:
            return await asyncio.get_running_loop().run_in_executor(RECOGNITION, method, *args)
        return method(*args)

    def _carry_out(self, outputs: list[Output]) -> None:
        """Store what is to be stored and schedule the end of lingering conversations."""
        for output in outputs:
            if isinstance(output, Persist):
                persist(self.store, output)
            elif isinstance(output, Linger):
                asyncio.get_running_loop().call_later(output.seconds, self._abandoned, output)

    def _abandoned(self, linger: Linger) -> None:
        self._carry_out(end_if_abandoned(self.conversations, linger, datetime.now(UTC)))

    def _deliver(self, key: Key, outbox: Outbox, outputs: list[Output]) -> bool:
        """Carry out a session's outputs without waiting; True once the socket is closing."""
        for output in outputs:
            if isinstance(output, Persist | Linger):
                self._carry_out([output])
            elif isinstance(output, Send):
                targets = (
                    self.outboxes.get(key, {outbox})
                    if output.everyone
                    else {outbox, *self.subscribers.get(key, ())}
                )
                for target in targets:
                    target.send(output.text)
            elif isinstance(output, Close):
                outbox.close(output.code, output.reason)
                return True
        return False
