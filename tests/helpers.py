"""Test helpers: a minimal streaming client and token generation against a running mock."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import websockets

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
