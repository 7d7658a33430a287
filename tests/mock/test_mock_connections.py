"""Connections over time: silence ends a conversation, reconnection, listen-only sockets."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import websockets

from harness.session_folder.wavfile import read_pcm16
from mock_symbl import MockConfig, running_mock

from helpers import FIXTURES, kind, start_request, stream_session, token


def test_a_conversation_without_audio_for_the_silence_timeout_ends() -> None:
    with running_mock(MockConfig(silence_timeout_s=0.5)) as mock:
        url = f"{mock.ws_url}/v1/streaming/quiet?access_token={token(mock.base_url)}"

        async def scenario() -> tuple[list[str], int | None, str | None]:
            async with websockets.connect(url) as socket:
                await socket.send(json.dumps(start_request(16000)))
                await socket.send(bytes(2048))
                kinds = [kind(json.loads(m)) async for m in socket]
                return kinds, socket.close_code, socket.close_reason

        kinds, code, reason = asyncio.run(scenario())
    assert kinds[-2:] == ["conversation_completed", "recognition_stopped"]
    assert code == 1000
    assert reason == "no audio for 0.5 s"


def test_a_dropped_conversation_can_be_rejoined_within_no_connection_timeout() -> None:
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav").samples.astype("<i2")
    with running_mock(MockConfig(transcripts=(FIXTURES / "standup",))) as mock:
        access = token(mock.base_url)
        url = f"{mock.ws_url}/v1/streaming/standup?access_token={access}"
        start = start_request(16000, noConnectionTimeout=30)

        async def first_half() -> str:
            async with websockets.connect(url) as socket:
                await socket.send(json.dumps(start))
                created = json.loads(await socket.recv())
                for offset in range(0, audio.size // 2, 1024):
                    await socket.send(audio[offset : offset + 1024].tobytes())
                await asyncio.sleep(0.3)
                socket.transport.abort()
            return str(created["message"]["data"]["conversationId"])

        conversation = asyncio.run(first_half())
        time.sleep(0.3)
        headers = {"Authorization": f"Bearer {access}"}
        summary = httpx.get(f"{mock.base_url}/v1/conversations/{conversation}", headers=headers)
        assert summary.json()["endTime"] is None
        messages, code, _ = asyncio.run(stream_session(url, start, audio[:16000]))
        rejoined = next(m for m in messages if kind(m) == "conversation_created")
        assert rejoined["message"]["data"]["conversationId"] == conversation
        assert code == 1000
        summary = httpx.get(f"{mock.base_url}/v1/conversations/{conversation}", headers=headers)
        assert summary.json()["endTime"] is not None


def test_the_summary_url_is_the_conversations_absolute_rest_url() -> None:
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav").samples
    with running_mock(MockConfig()) as mock:
        access = token(mock.base_url)
        url = f"{mock.ws_url}/v1/streaming/summary?access_token={access}"
        received, _, _ = asyncio.run(stream_session(url, start_request(48000), audio[:48000]))
        (completed,) = [m["message"] for m in received if kind(m) == "conversation_completed"]
        assert completed["summaryUrl"] == (
            f"{mock.base_url}/v1/conversations/{completed['conversationId']}"
        )
        headers = {"Authorization": f"Bearer {access}"}
        assert httpx.get(completed["summaryUrl"], headers=headers).status_code == 200


def test_a_dropped_conversation_nobody_rejoins_ends_after_the_timeout() -> None:
    with running_mock(MockConfig()) as mock:
        access = token(mock.base_url)
        url = f"{mock.ws_url}/v1/streaming/gone?access_token={access}"

        async def drop() -> str:
            async with websockets.connect(url) as socket:
                await socket.send(json.dumps(start_request(16000, noConnectionTimeout=1)))
                created = json.loads(await socket.recv())
                socket.transport.abort()
            return str(created["message"]["data"]["conversationId"])

        conversation = asyncio.run(drop())
        summary_url = f"{mock.base_url}/v1/conversations/{conversation}"
        headers = {"Authorization": f"Bearer {access}"}
        time.sleep(0.3)
        assert httpx.get(summary_url, headers=headers).json()["endTime"] is None
        time.sleep(1.2)
        assert httpx.get(summary_url, headers=headers).json()["endTime"] is not None


def test_a_subscriber_gets_every_frame_the_speaker_gets() -> None:
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav")
    with running_mock(MockConfig(transcripts=(FIXTURES / "hot",))) as mock:
        access = token(mock.base_url)

        async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            heard: list[dict[str, Any]] = []
            listen = f"{mock.ws_url}/v1/subscribe/hot?access_token={access}"
            async with websockets.connect(listen) as subscriber:

                async def hear() -> None:
                    async for message in subscriber:
                        heard.append(json.loads(message))

                listener = asyncio.create_task(hear())
                speak = f"{mock.ws_url}/v1/streaming/hot?access_token={access}"
                said, _, _ = await stream_session(
                    speak, start_request(audio.sample_rate), audio.samples
                )
                # Until the speaker's last frame has reached the subscriber too (the bound
                # only guards against a hang).
                async with asyncio.timeout(120):
                    while not any(kind(m) == "recognition_stopped" for m in heard):
                        await asyncio.sleep(0.01)
                listener.cancel()
            return said, heard

        said, heard = asyncio.run(scenario())
    # Every frame the speaker got, captions and lifecycle included, in the same order.
    assert heard == said
    kinds = [kind(m) for m in heard]
    assert {"conversation_created", "recognition_result", "message_response"} <= set(kinds)
