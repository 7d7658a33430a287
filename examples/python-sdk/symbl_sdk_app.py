"""A tiny client of Symbl's Streaming and Conversation APIs on the official Python SDK.

    python symbl_sdk_app.py speech.wav [--speed 1] [--stop-timeout 30]

It streams a 16-bit PCM mono WAV through `symbl.Streaming` as if it were a microphone,
prints every event the SDK hands it, stops, and then reads the conversation's messages with
their sentiment through `symbl.Conversations`. Output is one JSON object a line on stdout
(`event` says which); the SDK's own log goes to stderr.

Where and who: SYMBL_BASE_URL (default https://api.symbl.ai), SYMBL_APP_ID and
SYMBL_APP_SECRET. The SDK (symbl 2.0.6) is used unmodified; only its host is configured, as
the SDK itself keeps it: the REST client's default `symbl_rest.Configuration` (set before
`symbl` is imported, because `symbl` builds its REST clients on import) and the streaming
URL format in `symbl.streaming_api.StreamingApi`.

Exit status: 0 when the stream ended (stopped, or ended by an error message from the server)
and the messages were read, 2 when the SDK could not connect, 3 when the stop did not
complete in time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import wave
from pathlib import Path
from typing import Any

FRAME_SAMPLES = 2048  # 4096 bytes of LINEAR16 a frame, within the API's 8192
INSIGHT_TYPES = ["question", "action_item", "follow_up"]
SPEAKER = {"userId": "jane.doe@example.com", "name": "Jane"}
# Lifecycle messages after a stop request; either means the server is done with the stream.
STOP_TYPES = {"conversation_completed", "recognition_stopped"}
# How long the socket's thread may take to end once the stop has been answered.
CLOSE_WAIT_S = 5.0

_output_lock = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stdout (the SDK calls back on its socket's thread)."""
    line = json.dumps({"event": event, **fields}, default=str)
    with _output_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def read_wav(path: Path) -> tuple[int, bytes]:
    """The sample rate and LINEAR16 bytes of a 16-bit PCM mono WAV."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise SystemExit(f"{path}: need 16-bit PCM mono")
        return wav.getframerate(), wav.readframes(wav.getnframes())


def configure_sdk(base_url: str) -> Any:
    """Point the SDK at `base_url` and import it; returns the `symbl` module."""
    import symbl_rest  # noqa: PLC0415  (configured before `symbl` builds its clients)

    # `Configuration()` hands out copies of one default: the default is what to change.
    rest = symbl_rest.Configuration()
    rest.host = base_url
    symbl_rest.Configuration.set_default(rest)

    import symbl  # noqa: PLC0415

    # StreamingApi formats its URL from the module-level name it imported from symbl.configs.
    streaming = sys.modules["symbl.streaming_api.StreamingApi"]
    ws_base = "ws" + base_url.removeprefix("http")
    url_format = ws_base + "/v1/realtime/insights/{}?source=python_sdk"
    vars(streaming)["SYMBL_STREAMING_API_FORMAT"] = url_format
    return symbl


class Events:
    """What the SDK hands the app, kept for the summary and printed as it comes."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.errors: list[Any] = []
        self.messages: list[str] = []

    def callbacks(self) -> dict[str, Any]:
        """The SDK's `subscribe` table: one callback per top-level message type."""
        return {
            "message": self.on_message,
            "message_response": self.on_message_response,
            "insight_response": lambda data: emit("insights", insights=data.get("insights")),
            "topic_response": lambda data: emit("topics", topics=data.get("topics")),
            "tracker_response": lambda data: emit("trackers", trackers=data.get("trackers")),
        }

    def on_message(self, data: dict[str, Any]) -> None:
        message = data.get("message") or {}
        kind = message.get("type")
        if kind == "recognition_result":
            punctuated = message.get("punctuated") or {}
            emit("speech", transcript=punctuated.get("transcript"), isFinal=message.get("isFinal"))
        elif kind == "error":
            self.errors.append(message)
            emit("error", error=message)
        else:
            emit("lifecycle", type=kind, message=message)
        if kind in STOP_TYPES or kind == "error":
            self.stopped.set()

    def on_message_response(self, data: dict[str, Any]) -> None:
        messages = data.get("messages") or []
        self.messages += [m.get("payload", {}).get("content", "") for m in messages]
        emit("messages", messages=messages)


def stream(
    connection: Any, rate: int, pcm: bytes, speed: float, ended: threading.Event
) -> dict[str, Any]:
    """Send the audio in frames, paced as a microphone would deliver it (divided by speed),
    until it ends or the server has ended the stream."""
    frame_bytes = FRAME_SAMPLES * 2
    started = time.monotonic()
    frames = 0
    for at in range(0, len(pcm), frame_bytes):
        if ended.is_set():
            break
        try:
            connection.send_audio(pcm[at : at + frame_bytes])
        except Exception as error:  # the socket closed under the SDK (e.g. after an error)
            emit("send_failed", error=repr(error), frames=frames)
            break
        frames += 1
        due = started + (at + frame_bytes) / 2 / rate / speed
        time.sleep(max(0.0, due - time.monotonic()))
    return {"frames": frames, "seconds": min(frames * frame_bytes, len(pcm)) / 2 / rate}


def socket_threads() -> list[threading.Thread]:
    """The SDK runs its socket on a non-daemon thread (its REST pools and token timer are
    daemons); the ones still running."""
    return [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]


def run(args: argparse.Namespace) -> int:
    rate, pcm = read_wav(args.wav)
    base_url = os.environ.get("SYMBL_BASE_URL", "https://api.symbl.ai").rstrip("/")
    symbl = configure_sdk(base_url)
    credentials = {
        "app_id": os.environ.get("SYMBL_APP_ID"),
        "app_secret": os.environ.get("SYMBL_APP_SECRET"),
    }
    events = Events()
    try:
        connection = symbl.Streaming.start_connection(
            credentials=credentials,
            speaker=SPEAKER,
            insight_types=INSIGHT_TYPES,
            config={
                "meetingTitle": "symbl-harness python-sdk example",
                "sentiment": True,
                "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": rate},
            },
        )
    except AttributeError as error:
        # symbl 2.0.6 polls `self.connection.sock.connected` right after starting the socket's
        # thread; before that thread has created the socket, `sock` is None.
        emit("error", during="connect", sdk_bug="connect_race", error=repr(error))
        return 2
    except Exception as error:  # e.g. a refused handshake: the SDK then fails to send
        emit("error", during="connect", error=repr(error))
        return 2
    connection.subscribe(events.callbacks())
    emit(
        "started",
        connectionId=connection.connectionId,
        url=connection.url,
        startRequest=connection.start_request,
    )
    emit("audio_sent", **stream(connection, rate, pcm, args.speed, events.stopped))

    if not events.stopped.is_set():
        try:
            connection.stop()
        except Exception as error:  # the server closed the socket first
            emit("stop_failed", error=repr(error))
    if not events.stopped.wait(args.stop_timeout):
        emit("stop_unresolved", reason="timeout", stopTimeoutS=args.stop_timeout)
        connection.connection.close()
        return 3
    deadline = time.monotonic() + CLOSE_WAIT_S
    for thread in socket_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    closed = not socket_threads()
    emit("stopped", socketClosed=closed, errors=len(events.errors))
    if not closed:
        connection.connection.close()

    conversation_id = connection.conversation.get_conversation_id()
    emit("conversation", conversationId=conversation_id)
    if conversation_id is None:
        return 0 if events.errors else 2
    reply = connection.conversation.get_messages(parameters={"sentiment": True})
    result = reply.to_dict() if hasattr(reply, "to_dict") else reply
    emit("conversation_messages", conversationId=conversation_id, result=result)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", type=Path, help="16-bit PCM mono WAV to stream")
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time")
    parser.add_argument("--stop-timeout", type=float, default=30.0, help="seconds")
    status = run(parser.parse_args(argv))
    emit("done", status=status)
    if socket_threads():
        # A socket the SDK never closed (its connect race leaves one running) would keep the
        # interpreter alive: leave without waiting for it.
        os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
