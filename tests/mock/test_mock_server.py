"""The mock over real sockets on loopback: auth, streaming, the Conversation API, storage."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import websockets

from harness.protocol import Dispatcher, ProtocolError
from harness.serve import RunningServer
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from mock_symbl import MockConfig, running_mock

from helpers import (
    APP_ID,
    APP_SECRET,
    FIXTURES,
    conversation_id,
    kind,
    start_request,
    stream_session,
    token,
)


def run_fixture(
    mock: RunningServer, name: str, path: str = "/v1/streaming", **options: Any
) -> tuple[list[dict[str, Any]], int | None, str | None]:
    audio = read_pcm16(FIXTURES / name / "audio.wav")
    url = f"{mock.ws_url}{path}/{name}"
    if "headers" not in options and "subprotocols" not in options:
        url += f"?access_token={token(mock.base_url)}"
    return asyncio.run(
        stream_session(url, start_request(audio.sample_rate), audio.samples, **options)
    )


def auth(mock: RunningServer, app_id: str = APP_ID, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(mock.base_url, app_id, secret)}"}


def test_health_check_names_the_server(mock_server: RunningServer) -> None:
    reply = httpx.get(mock_server.base_url + "/")
    assert reply.status_code == 200
    assert reply.json()["name"] == "mock_symbl"


def test_tokens_are_jwts_with_an_expiry_and_are_reused_while_valid(
    mock_server: RunningServer,
) -> None:
    first = httpx.post(
        f"{mock_server.base_url}/oauth2/token:generate",
        json={"type": "application", "appId": APP_ID, "appSecret": APP_SECRET},
    ).json()
    claims = jwt.decode(first["accessToken"], options={"verify_signature": False})
    assert claims["exp"] > time.time() + 86000
    assert 0 < first["expiresIn"] <= 86400
    assert token(mock_server.base_url) == first["accessToken"]


@pytest.mark.parametrize(
    "body", [{"appId": "", "appSecret": "x"}, {"appId": "x"}, {"type": "user", "appId": "a"}]
)
def test_bad_credentials_are_refused(mock_server: RunningServer, body: dict[str, str]) -> None:
    reply = httpx.post(f"{mock_server.base_url}/oauth2/token:generate", json=body)
    assert reply.status_code in (400, 401)
    assert "message" in reply.json()


def test_the_lifecycle_over_a_real_socket(mock_server: RunningServer) -> None:
    messages, code, _ = run_fixture(mock_server, "standup")
    kinds = [kind(m) for m in messages]
    assert kinds[:3] == ["conversation_created", "started_listening", "recognition_started"]
    assert kinds[-2:] == ["conversation_completed", "recognition_stopped"]
    assert code == 1000
    dispatcher = Dispatcher()
    for message in messages:
        (event,) = dispatcher.feed(json.dumps(message))
        assert not isinstance(event, ProtocolError)
    expected = [
        p.text.replace(",", "")
        for p in read_transcript(FIXTURES / "standup" / "transcript.json").phrases
    ]
    assert dispatcher.final_transcripts == expected


@pytest.mark.parametrize("carrier", ["access_token", "accessToken", "x-api-key", "subprotocol"])
def test_the_token_may_travel_every_documented_way(
    mock_server: RunningServer, carrier: str
) -> None:
    access = token(mock_server.base_url)
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav")
    url = f"{mock_server.ws_url}/v1/realtime/insights/hot"
    options: dict[str, Any] = {}
    if carrier in ("access_token", "accessToken"):
        url += f"?{carrier}={access}&source=js_sdk"
    elif carrier == "x-api-key":
        options["headers"] = {"X-API-KEY": access}
    else:
        options["subprotocols"] = [access]
    messages, code, subprotocol = asyncio.run(
        stream_session(url, start_request(audio.sample_rate), audio.samples, **options)
    )
    assert code == 1000
    assert any(kind(m) == "message_response" for m in messages)
    if carrier == "subprotocol":
        assert subprotocol == access


@pytest.mark.parametrize("bad", ["", "?access_token=nonsense", "?access_token=EXPIRED"])
def test_a_missing_unknown_or_expired_token_is_refused_at_the_handshake(bad: str) -> None:
    with running_mock(MockConfig(token_lifetime_s=1)) as mock:
        if bad.endswith("EXPIRED"):
            bad = "?access_token=" + token(mock.base_url)
            time.sleep(1.1)

        async def connect() -> None:
            async with websockets.connect(f"{mock.ws_url}/v1/streaming/x{bad}"):
                pass

        with pytest.raises(websockets.InvalidStatus) as refused:
            asyncio.run(connect())
        assert refused.value.response.status_code == 401
        assert b"Token validation failed" in refused.value.response.body


def test_only_configured_apps_get_tokens() -> None:
    with running_mock(MockConfig(apps={"app1": "secret1"})) as mock:
        ok = httpx.post(
            f"{mock.base_url}/oauth2/token:generate", json={"appId": "app1", "appSecret": "secret1"}
        )
        assert ok.status_code == 200
        wrong = httpx.post(
            f"{mock.base_url}/oauth2/token:generate", json={"appId": "app1", "appSecret": "nope"}
        )
        assert wrong.status_code == 401


def test_every_conversation_route(mock_server: RunningServer) -> None:
    messages, _, _ = run_fixture(mock_server, "standup")
    conversation = conversation_id(messages)
    base = f"{mock_server.base_url}/v1/conversations/{conversation}"
    headers = auth(mock_server)
    summary = httpx.get(base, headers=headers).json()
    assert summary["id"] == conversation
    assert summary["members"][0]["email"] == "jane@example.com"
    assert summary["endTime"] is not None
    plain = httpx.get(f"{base}/messages", headers=headers).json()["messages"]
    assert len(plain) == 6
    assert "sentiment" not in plain[0]
    assert "words" not in plain[0]
    rich = httpx.get(f"{base}/messages?sentiment=True&verbose=true", headers=headers).json()[
        "messages"
    ]
    assert rich[0]["sentiment"]["suggested"] in ("positive", "neutral", "negative")
    assert rich[0]["words"][0]["word"] == "Good"
    assert rich[1]["timeOffset"] == pytest.approx(5.15, abs=0.01)
    questions = httpx.get(f"{base}/questions", headers=headers).json()["questions"]
    assert {q["text"] for q in questions} >= {"Can you send me the quarterly report by Friday?"}
    actions = httpx.get(f"{base}/action-items", headers=headers).json()["actionItems"]
    assert any("dashboard" in a["text"] for a in actions)
    follow_ups = httpx.get(f"{base}/follow-ups", headers=headers).json()["followUps"]
    assert any("follow up" in f["text"] for f in follow_ups)
    topics = httpx.get(f"{base}/topics?sentiment=true", headers=headers).json()["topics"]
    assert topics
    assert all("sentiment" in t and t["messageIds"] for t in topics)
    assert httpx.get(f"{base}/members", headers=headers).json()["members"][0]["name"] == "Jane"
    deleted = httpx.delete(base, headers=headers)
    assert deleted.json() == {"message": "successfully deleted the conversation"}
    assert httpx.get(f"{base}/messages", headers=headers).status_code == 404


def test_sentiment_labels_on_the_feedback_fixture(mock_server: RunningServer) -> None:
    messages, _, _ = run_fixture(mock_server, "feedback")
    base = f"{mock_server.base_url}/v1/conversations/{conversation_id(messages)}"
    found = httpx.get(f"{base}/messages?sentiment=true", headers=auth(mock_server)).json()[
        "messages"
    ]
    labels = [m["sentiment"]["suggested"] for m in found]
    expected = [
        p.labels[0] for p in read_transcript(FIXTURES / "feedback" / "transcript.json").phrases
    ]
    assert labels == expected
    for message in found:
        score = message["sentiment"]["polarity"]["score"]
        assert -1 <= score <= 1
        assert message["sentiment"]["suggested"] == (
            "negative" if score < -0.3 else "positive" if score > 0.3 else "neutral"
        )


def test_apps_do_not_see_each_others_conversations(mock_server: RunningServer) -> None:
    messages, _, _ = run_fixture(mock_server, "hot")
    url = f"{mock_server.base_url}/v1/conversations/{conversation_id(messages)}/messages"
    assert httpx.get(url, headers=auth(mock_server)).status_code == 200
    other = httpx.get(url, headers=auth(mock_server, APP_ID, "another-secret"))
    assert other.status_code == 404
    assert other.json() == {"message": "The conversationId is either invalid or does not exist."}
    nobody = httpx.get(url)
    assert nobody.status_code == 401
    assert nobody.json() == {"message": "Token validation failed for provided token."}
    legacy = httpx.get(url, headers={"x-api-key": token(mock_server.base_url)})
    assert legacy.status_code == 200


def test_browsers_get_cors_preflight_answers(mock_server: RunningServer) -> None:
    reply = httpx.options(
        f"{mock_server.base_url}/v1/conversations/1/messages",
        headers={
            "Origin": "http://127.0.0.1:9999",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert reply.status_code == 200
    assert "authorization" in reply.headers["access-control-allow-headers"].lower()


def test_an_openapi_document_lists_the_routes(mock_server: RunningServer) -> None:
    paths = httpx.get(f"{mock_server.base_url}/openapi.json").json()["paths"]
    assert "/v1/conversations/{conversation_id}/messages" in paths
    assert "/oauth2/token:generate" in paths


def test_conversations_survive_a_restart_with_a_database_file(tmp_path: Path) -> None:
    config = MockConfig(db=tmp_path / "mock.db", transcripts=(FIXTURES / "hot",))
    with running_mock(config) as mock:
        messages, _, _ = run_fixture(mock, "hot")
        access = token(mock.base_url)
    with running_mock(config) as mock:
        url = f"{mock.base_url}/v1/conversations/{conversation_id(messages)}/messages"
        found = httpx.get(url, headers={"Authorization": f"Bearer {access}"}).json()["messages"]
    assert [m["text"] for m in found] == [
        "Testing the microphone one two three.",
        "Is this too loud?",
    ]


SECOND_PROCESS = """
import sys, time
from pathlib import Path
from mock_symbl import MockConfig
from mock_symbl import running_mock
with running_mock(MockConfig(db=Path(sys.argv[1]))) as mock:
    print(mock.base_url, flush=True)
    sys.stdin.read()
"""


def test_processes_sharing_a_database_file_share_tokens_and_conversations(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    with running_mock(MockConfig(db=db, transcripts=(FIXTURES / "hot",))) as mock:
        messages, _, _ = run_fixture(mock, "hot")
        access = token(mock.base_url)
    with subprocess.Popen(
        [sys.executable, "-c", SECOND_PROCESS, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as other:
        assert other.stdout is not None and other.stdin is not None
        base_url = other.stdout.readline().strip()
        url = f"{base_url}/v1/conversations/{conversation_id(messages)}/messages"
        reply = httpx.get(url, headers={"Authorization": f"Bearer {access}"})
        other.stdin.close()
    assert reply.status_code == 200
    assert len(reply.json()["messages"]) == 2


def test_the_seed_connection_id_form_is_accepted(mock_server: RunningServer) -> None:
    seed_id = base64.b64encode(b"user@example.com").decode()
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav")
    url = f"{mock_server.ws_url}/v1/streaming/{seed_id}?access_token={token(mock_server.base_url)}"
    messages, code, _ = asyncio.run(
        stream_session(url, start_request(audio.sample_rate), audio.samples[:16000])
    )
    assert code == 1000
    assert kind(messages[0]) == "conversation_created"


def test_what_was_recognised_before_a_client_vanished_is_readable(
    mock_server: RunningServer,
) -> None:
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav")
    access = token(mock_server.base_url)
    url = f"{mock_server.ws_url}/v1/streaming/standup?access_token={access}"

    async def vanish() -> str:
        async with websockets.connect(url, max_size=None) as socket:
            await socket.send(json.dumps(start_request(16000)))
            created = json.loads(await socket.recv())
            half = audio.samples[: audio.samples.size // 2].astype("<i2")
            for offset in range(0, half.size, 1024):
                await socket.send(half[offset : offset + 1024].tobytes())
            await asyncio.sleep(0.5)
            socket.transport.abort()
            return str(created["message"]["data"]["conversationId"])

    conversation = asyncio.run(vanish())
    base = f"{mock_server.base_url}/v1/conversations/{conversation}"
    headers = {"Authorization": f"Bearer {access}"}
    for _ in range(50):
        if httpx.get(base, headers=headers).json()["endTime"]:
            break
        time.sleep(0.1)
    texts = [m["text"] for m in httpx.get(f"{base}/messages", headers=headers).json()["messages"]]
    assert texts[:3] == [
        "Good morning everyone let us start the daily standup.",
        "Can you send me the quarterly report by Friday?",
        "I will update the project dashboard tomorrow morning.",
    ]
