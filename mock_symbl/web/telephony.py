"""The Telephony API: `POST /v1/endpoint:connect`, `POST /v1/event/{connectionId}`, the
subscribe socket `/session/subscribe/{connectionId}` and the events socket
`/events/{connectionId}`.

A call's far end is a recording (session/telephony.py says how a number names one). Its
audio runs through a StreamingSession at the recording's own pace, as a streaming client's
would, so the conversation it makes is stored and answered for like any streamed one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import soundfile as sf
from fastapi import APIRouter, Depends, FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse
from numpy.typing import NDArray

from harness.audio.pcm import resample
from harness.protocol import StartRequest
from mock_symbl.engines.select import EngineChoice
from mock_symbl.session.conversation import Output, Send, Store
from mock_symbl.session.streaming import StreamingSession
from mock_symbl.session.telephony import (
    CallEndedError,
    CallStart,
    CallState,
    CallStop,
    CallTrigger,
    SpeakerEvent,
    StopEvent,
    TelephonyRequestError,
    attribute,
    connect_answer,
    next_call_state,
    parse_connect,
    parse_event,
    subscriber_frames,
)
from mock_symbl.store import Member
from mock_symbl.web.auth import INVALID_TOKEN, App, AuthError
from mock_symbl.web.config import MockConfig
from mock_symbl.web.outbox import Outbox
from mock_symbl.web.rest import ApiError, current_app, json_object
from mock_symbl.web.ws import RECOGNITION, LockedSession, StreamingEndpoint, persist, token_of

log = logging.getLogger("mock_symbl")
Key = tuple[str, str]
# Audio goes to recognition in frames of this length, as a phone line's packets would.
FRAME_S = 0.02
OUTBOX_LIMIT = 5000
# Symbl: "PSTN captures audio quality at 8KHz max"; a SIP call keeps the recording's rate.
PSTN_RATE = 8000
NO_CONNECTION = "The connectionId is either invalid or does not exist."
ENDED = "call ended"
TOO_MANY_CALLS = "Maximum number of concurrent calls reached for this app."
# Ended calls remembered for a late stop: the most recent ones, so that a server taking
# calls all day holds a bounded number.
MAX_ENDED_CALLS = 1000

telephony = APIRouter()


@dataclass(eq=False)
class Call:
    """One connected call: its session, its listeners, the speaker events announced."""

    key: Key
    session: LockedSession
    audio: NDArray[np.int16]
    sample_rate: int
    state: CallState = CallState.CONNECTED
    speaker: Member | None = None
    # The speakers announced so far, by userId: one member each, however often announced.
    members: dict[str, Member] = field(default_factory=dict)
    listeners: set[Outbox] = field(default_factory=set)
    feeder: asyncio.Task[None] | None = None

    @property
    def live(self) -> bool:
        """Whether the call is still connected (it may end while a socket awaits)."""
        return self.state is CallState.CONNECTED

    @property
    def conversation_id(self) -> str:
        """The conversation the call makes."""
        return self.session.inner.conversation_id or ""


def far_end(engines: EngineChoice, config: MockConfig, name: str) -> Path | None:
    """The recording folder that answers calls to `name`: one `--phone` maps it to, or a
    recording or transcript the mock knows by that name."""
    mapped = config.phones.get(name)
    if mapped is not None:
        engines.learn(mapped, name)
        return mapped
    named = engines.library.named(name)
    if len(named) == 1:
        return named[0].folder
    for path in config.transcripts:
        folder = path if path.is_dir() else path.parent
        if folder.name == name:
            return folder
    return None


def error_details(outputs: Iterable[Output]) -> list[str]:
    """The details of the errors among a session's outputs."""
    return [
        str(output.message["message"].get("details", ""))
        for output in outputs
        if isinstance(output, Send)
        and isinstance(output.message, Mapping)
        and isinstance(output.message.get("message"), dict)
        and output.message["message"].get("type") == "error"
    ]


def read_audio(folder: Path, ceiling: int | None = None) -> tuple[NDArray[np.int16], int]:
    """A recording's audio, mono Int16, and its rate (brought down to `ceiling` if above)."""
    samples, rate = sf.read(str(folder / "audio.wav"), dtype="int16", always_2d=True)
    mono = np.ascontiguousarray(samples[:, 0])
    if ceiling is not None and rate > ceiling:
        return np.asarray(resample(mono, int(rate), ceiling), dtype=np.int16), ceiling
    return mono, int(rate)


class Telephony:
    """The calls of every app, and what carries out their sessions' outputs."""

    def __init__(self, streaming: StreamingEndpoint, config: MockConfig) -> None:
        self.streaming = streaming
        self.config = config
        self.calls: dict[Key, Call] = {}
        # Ended calls by key: their conversation, for a stop that comes after the end (the
        # Node SDK pushes a stop event, then asks to stop).
        self.ended: OrderedDict[Key, str] = OrderedDict()

    def call_of(self, app: App, connection_id: str) -> Call:
        """The app's live call with this id (404 for another app's, or one that ended)."""
        call = self.calls.get((app.key, connection_id))
        if call is None or call.state is CallState.ENDED:
            raise ApiError(404, NO_CONNECTION)
        return call

    async def start(self, app: App, start: CallStart, bases: tuple[str, str]) -> dict[str, str]:
        """Dial: connect to the recording the number names and start feeding its audio."""
        dial = start.dial
        field_name = "endpoint.phoneNumber" if dial.type == "pstn" else "endpoint.uri"
        engines = self.streaming.engines
        folder = far_end(engines, self.config, dial.far_end)
        if folder is None or not (folder / "audio.wav").is_file():
            raise ApiError(
                400,
                f"{field_name}: {dial.address!r} does not answer: no recording is named "
                f"{dial.far_end!r} (map one with `mock --phone {dial.far_end}=FOLDER`).",
            )
        ceiling = PSTN_RATE if dial.type == "pstn" else None
        try:
            # Reading and resampling a whole recording: off the event loop.
            audio, rate = await asyncio.get_running_loop().run_in_executor(
                RECOGNITION, read_audio, folder, ceiling
            )
        except (OSError, RuntimeError, sf.LibsndfileError) as error:
            raise ApiError(
                500, f"The recording for {dial.far_end!r} cannot be read: {error}."
            ) from None
        # A call is a stream: it counts against the app's concurrent streams while it lasts.
        if not self.streaming.streams.acquire(app.key):
            raise ApiError(429, TOO_MANY_CALLS)
        try:
            call = self._connect(app, dial.far_end, audio, rate, start, bases[0])
        except ApiError:
            self.streaming.streams.release(app.key)
            raise
        call.feeder = asyncio.create_task(self.feed(call))
        return connect_answer(call.key[1], call.conversation_id, *bases)

    def _connect(
        self,
        app: App,
        far_end: str,
        audio: NDArray[np.int16],
        rate: int,
        start: CallStart,
        api_base: str,
    ) -> Call:
        """A connected call: its streaming session has started the conversation."""
        connection_id = self.streaming.ids.uuid()
        engines = self.streaming.engines
        session = StreamingSession(
            connection_id=connection_id,
            app_key=app.key,
            conversations=self.streaming.conversations,
            engines=lambda request, _: engines.for_request(request, far_end),
            ids=self.streaming.ids,
            now=lambda: datetime.now(UTC),
            api_base=api_base,
            account_trackers=lambda: self.streaming.store.trackers(app.key),
        )
        request: StartRequest = start.start_request(rate, datetime.now(UTC))
        outputs = session.receive_text(request.encode())
        if session.conversation_id is None:
            # The engine could not be had (the session answered with an error saying why).
            refusal = next(iter(error_details(outputs)), "no engine answers it")
            raise ApiError(500, f"The call to {far_end!r} could not connect: {refusal}")
        call = Call((app.key, connection_id), LockedSession(session, threading.Lock()), audio, rate)
        self.calls[call.key] = call
        self.deliver(call, outputs)
        return call

    async def feed(self, call: Call) -> None:
        """Play the far end's audio into the session at its own pace; once it has said
        everything, the line stays open until a stop or the silence timeout."""
        step = max(1, round(call.sample_rate * FRAME_S))
        loop = asyncio.get_running_loop()
        began = loop.time()
        for sent in range(0, call.audio.size, step):
            # Against absolute deadlines: relative sleeps drift behind the recording's pace.
            wait = began + sent / call.sample_rate - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            frame = call.audio[sent : sent + step].tobytes()
            self.deliver(call, await self._call(call, call.session.receive_audio, frame))
        await asyncio.sleep(self.config.silence_timeout_s)
        await self.end(call, CallTrigger.SILENCE)

    async def end(self, call: Call, trigger: CallTrigger) -> None:
        """End the call: the conversation completes; listeners hear the last results."""
        call.state = next_call_state(call.state, trigger)
        if call.feeder is not None and call.feeder is not asyncio.current_task():
            call.feeder.cancel()
            await asyncio.gather(call.feeder, return_exceptions=True)
        session = call.session
        if trigger is CallTrigger.SILENCE:
            outputs = await self._call(call, session.end_for_silence, self.config.silence_timeout_s)
        else:
            outputs = await self._call(call, session.receive_text, '{"type":"stop_request"}')
        self.deliver(call, outputs)
        for outbox in call.listeners:
            outbox.close(1000, ENDED)
        if self.calls.pop(call.key, None) is not None:
            self.streaming.streams.release(call.key[0])
        self.ended[call.key] = call.conversation_id
        while len(self.ended) > MAX_ENDED_CALLS:
            self.ended.popitem(last=False)

    async def stop(self, app: App, connection_id: str) -> dict[str, str]:
        """End a call (again: stopping an ended call answers as the first stop did)."""
        key = (app.key, connection_id)
        call = self.calls.get(key)
        if call is not None and call.state is CallState.CONNECTED:
            await self.end(call, CallTrigger.STOP)
        if key not in self.ended:
            raise ApiError(404, NO_CONNECTION)
        return {"connectionId": connection_id, "conversationId": self.ended[key]}

    def speaker(self, call: Call, event: SpeakerEvent) -> None:
        """A speaker event: what is said next is that speaker's."""
        call.state = next_call_state(call.state, CallTrigger.SPEAKER_EVENT)
        if event.type not in ("started_speaking", "joined"):
            # The last speaker announced keeps what follows until another one starts.
            return
        user_id = event.user.email or event.user.id
        member = call.members.get(user_id)
        if member is None:
            member = call.members[user_id] = event.user
            persist(self.streaming.store, Store(member, call.conversation_id))
        call.speaker = member

    async def event(self, call: Call, text: str) -> None:
        """Carry out one pushed event (TelephonyRequestError if it is none)."""
        event = parse_event(text, self.streaming.ids.uuid())
        if isinstance(event, StopEvent):
            await self.end(call, CallTrigger.STOP)
        else:
            self.speaker(call, event)

    def deliver(self, call: Call, outputs: Iterable[Output]) -> None:
        """Store what the session stores, said by the announced speaker; tell the listeners."""
        said = attribute(list(outputs), call.speaker)
        for output in said:
            if isinstance(output, Store):
                persist(self.streaming.store, output)
        for frame in subscriber_frames(said):
            text = _json(frame)
            for outbox in call.listeners:
                outbox.send(text)

    @staticmethod
    async def _call(call: Call, method: Callable[..., Any], *args: Any) -> Any:
        # Recognition may be CPU work, and the lock may be held by a thread doing it.
        session = call.session
        if session.cpu_bound or session.busy:
            return await asyncio.get_running_loop().run_in_executor(RECOGNITION, method, *args)
        return method(*args)

    async def listen(self, socket: WebSocket, connection_id: str, *, events: bool) -> None:
        """A subscribe socket (results out) or an events socket (events in, results out)."""
        try:
            app = self.streaming.authority.verify(token_of(socket))
        except AuthError:
            await _refuse(socket, 401, INVALID_TOKEN)
            return
        call = self.calls.get((app.key, connection_id))
        if call is None or call.state is CallState.ENDED:
            await _refuse(socket, 404, NO_CONNECTION)
            return
        offered = list(socket.scope.get("subprotocols") or [])
        await socket.accept(subprotocol=offered[0] if offered else None)
        task = asyncio.current_task()
        assert task is not None
        outbox = Outbox(
            socket, limit=OUTBOX_LIMIT, timeout_s=self.config.send_timeout_s, on_stall=task.cancel
        )
        call.listeners.add(outbox)
        try:
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if not events or text is None or not call.live:
                    continue
                try:
                    await self.event(call, text)
                except (TelephonyRequestError, CallEndedError) as error:
                    outbox.send(_json({"type": "error", "message": f"Invalid event: {error}"}))
        except asyncio.CancelledError:
            if not outbox.stalled:
                raise
        finally:
            call.listeners.discard(outbox)
            await outbox.finish()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


async def _refuse(socket: WebSocket, status: int, message: str) -> None:
    if "websocket.http.response" in socket.scope.get("extensions", {}):
        await socket.send_denial_response(JSONResponse({"message": message}, status_code=status))
    else:
        await socket.close(code=1008, reason=message)


def _telephony(request: Request) -> Telephony:
    calls: Telephony = request.app.state.telephony
    return calls


Caller = Annotated[App, Depends(current_app)]
Calls = Annotated[Telephony, Depends(_telephony)]


@telephony.post("/v1/endpoint:connect", status_code=201)
async def endpoint_connect(request: Request, app: Caller, calls: Calls) -> dict[str, str]:
    """Start a call to a number or SIP URI, or stop one."""
    try:
        operation = parse_connect(await json_object(request))
    except TelephonyRequestError as error:
        raise ApiError(400, str(error)) from None
    if isinstance(operation, CallStop):
        return await calls.stop(app, operation.connection_id)
    http = f"{request.url.scheme}://{request.url.netloc}"
    ws = http.replace("http", "ws", 1)
    return await calls.start(app, operation, (http, ws))


@telephony.post("/v1/event/{connection_id}")
async def push_event(
    connection_id: str, request: Request, app: Caller, calls: Calls
) -> dict[str, str]:
    """Push a speaker or stop event on a call (the webhook twin of the events socket)."""
    call = calls.call_of(app, connection_id)
    body = await request.body()
    try:
        await calls.event(call, body.decode("utf-8", "replace"))
    except TelephonyRequestError as error:
        raise ApiError(400, str(error)) from None
    except CallEndedError:
        raise ApiError(404, NO_CONNECTION) from None
    return {"connectionId": connection_id}


def install(app: FastAPI, streaming: StreamingEndpoint, config: MockConfig) -> None:
    """Serve the Telephony API on the app."""
    calls = Telephony(streaming, config)
    app.state.telephony = calls
    app.include_router(telephony)

    async def subscribe(socket: WebSocket, connection_id: str) -> None:
        await calls.listen(socket, connection_id, events=False)

    async def events(socket: WebSocket, connection_id: str) -> None:
        await calls.listen(socket, connection_id, events=True)

    app.add_api_websocket_route("/session/subscribe/{connection_id}", subscribe)
    app.add_api_websocket_route("/events/{connection_id}", events)
