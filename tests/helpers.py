"""Test helpers: a minimal streaming client and token generation against a running mock."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import websockets

from harness.serve import RunningServer
from harness.session_folder.wavfile import read_pcm16

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "sessions"

APP_ID = "a" * 64
APP_SECRET = "b" * 128


def token(base_url: str, app_id: str = APP_ID, app_secret: str = APP_SECRET) -> str:
    """A fresh access token from the mock."""
    reply = httpx.post(
        f"{base_url}/oauth2/token:generate",
        json={"type": "application", "appId": app_id, "appSecret": app_secret},
    )
    reply.raise_for_status()
    return str(reply.json()["accessToken"])


def streaming_url(server: RunningServer, connection_id: str) -> str:
    """The streaming URL of a connection on a mock (or a proxy), with a fresh token."""
    return f"{server.streaming_url(connection_id)}?access_token={token(server.base_url)}"


def start_request(rate: int, **extra: Any) -> dict[str, Any]:
    """A start request for LINEAR16 at `rate` asking for every insight type and sentiment."""
    return {
        "type": "start_request",
        "insightTypes": ["question", "action_item", "follow_up"],
        "config": {
            "confidenceThreshold": 0.5,
            "sentiment": True,
            "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": rate},
        },
        "speaker": {"userId": "jane@example.com", "name": "Jane"},
        **extra,
    }


async def stream_session(
    url: str,
    start: dict[str, Any],
    audio: np.ndarray,
    *,
    frame: int = 1024,
    headers: dict[str, str] | None = None,
    subprotocols: Sequence[str] | None = None,
    wait_s: float = 120.0,
) -> tuple[list[dict[str, Any]], int | None, str | None]:
    """Run one session as fast as the socket takes it: received JSON, close code, subprotocol.

    `wait_s` only guards against a hang: how long the server may take to finish.
    """
    received: list[dict[str, Any]] = []
    async with websockets.connect(
        url,
        additional_headers=headers,
        subprotocols=[websockets.Subprotocol(s) for s in subprotocols] if subprotocols else None,
        max_size=None,
    ) as socket:

        async def read() -> None:
            async for message in socket:
                received.append(json.loads(message))

        reader = asyncio.create_task(read())
        await socket.send(json.dumps(start))
        pcm = audio.astype("<i2")
        for offset in range(0, pcm.size, frame):
            await socket.send(pcm[offset : offset + frame].tobytes())
        await socket.send(json.dumps({"type": "stop_request"}))
        await asyncio.wait_for(reader, wait_s)
        return received, socket.close_code, socket.subprotocol


def stream_fixture(
    server: RunningServer, name: str, access: str, connection: str | None = None, **extra: Any
) -> list[dict[str, Any]]:
    """Stream a fixture's audio as one session that ends cleanly (close code 1000), the start
    request with `extra`; everything received."""
    audio = read_pcm16(FIXTURES / name / "audio.wav")
    url = f"{server.streaming_url(connection or name)}?access_token={access}"
    start = start_request(audio.sample_rate, **extra)
    received, code, _ = asyncio.run(stream_session(url, start, audio.samples))
    assert code == 1000, f"streaming {name} closed with {code}"
    return received


def kind(message: dict[str, Any]) -> str:
    """The message type, the inner one for `message`-wrapped messages."""
    return str(message["message"]["type"] if message["type"] == "message" else message["type"])


def conversation_id(messages: list[dict[str, Any]]) -> str:
    """The conversation id from `conversation_created`."""
    return next(
        str(m["message"]["data"]["conversationId"])
        for m in messages
        if kind(m) == "conversation_created"
    )


def read_until_closed(raw: socket.socket, wait_s: float = 60.0) -> bytes:
    """Everything a server sends on a raw connection until it closes it (`wait_s` per read
    only guards against a hang)."""
    raw.settimeout(wait_s)
    answer = b""
    while chunk := raw.recv(65536):
        answer += chunk
    return answer


def encoded(wav: Path, container: str, codec: str, *, video: str | None = None) -> bytes:
    """A WAV's audio encoded with PyAV (and, for a video, a small moving picture)."""
    audio = read_pcm16(wav)
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as box:
        sound = box.add_stream(codec, rate=audio.sample_rate)
        sound.layout = "mono"
        picture = box.add_stream(video, rate=10) if video else None
        if picture is not None:
            picture.width = picture.height = 32
            picture.pix_fmt = "yuv420p"
            for index in range(int(audio.samples.size / audio.sample_rate * 10)):
                pixels = np.full((32, 32, 3), index * 7 % 256, dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts, frame.time_base = index, Fraction(1, 10)
                box.mux(picture.encode(frame))
            box.mux(picture.encode(None))
        chunk = 1024
        for start in range(0, audio.samples.size, chunk):
            piece = audio.samples[start : start + chunk].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(piece, format="s16", layout="mono")
            frame.sample_rate, frame.pts = audio.sample_rate, start
            frame.time_base = Fraction(1, audio.sample_rate)
            box.mux(sound.encode(frame))
        box.mux(sound.encode(None))
    return out.getvalue()


@contextmanager
def headless_page(chromium: str, allowed: Callable[[str], bool]) -> Iterator[tuple[Any, list[str]]]:
    """A page of headless Chromium that loads only the URLs `allowed` accepts (every other
    request is aborted), and the list of every URL it asked for."""
    from playwright.sync_api import Route, sync_playwright

    requested: list[str] = []

    def route(route: Route) -> None:
        requested.append(route.request.url)
        if allowed(route.request.url):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
            # Only guards against a hang: a loaded machine may start Chromium slowly.
            timeout=180_000,
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(180_000)
            page.route("**/*", route)
            yield page, requested
        finally:
            browser.close()
