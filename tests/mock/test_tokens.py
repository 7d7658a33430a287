"""Refresh and revoke over real HTTP: a refreshed token works, a revoked one works nowhere."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from harness.serve import RunningServer
from harness.session_folder.wavfile import read_pcm16
from mock_symbl import MockConfig, running_mock
from mock_symbl.web.experience import PAGE_PATH

from helpers import APP_ID, FIXTURES, conversation_id, start_request, stream_session


def generate(base_url: str, secret: str) -> dict[str, Any]:
    reply = httpx.post(
        f"{base_url}/oauth2/token:generate",
        json={"type": "application", "appId": APP_ID, "appSecret": secret},
    )
    assert reply.status_code == 200
    return dict(reply.json())


def refresh(base_url: str, secret: str, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/oauth2/token:refresh",
        json={"appId": APP_ID, "appSecret": secret, "refreshToken": refresh_token},
    )


def revoke(base_url: str, secret: str, access: str) -> httpx.Response:
    return httpx.request(
        "DELETE",
        f"{base_url}/oauth2/token:revoke",
        json={"appId": APP_ID, "appSecret": secret},
        headers={"Authorization": f"Bearer {access}"},
    )


def conversations_answer(base_url: str, access: str) -> int:
    return httpx.get(f"{base_url}/v1/manage/trackers", headers={"x-api-key": access}).status_code


def handshake_status(url: str) -> int:
    async def scenario() -> int:
        try:
            async with websockets.connect(url):
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    return asyncio.run(scenario())


def test_a_refresh_token_buys_one_new_token(mock_server: RunningServer) -> None:
    base = mock_server.base_url
    first = generate(base, "refresh")
    assert first["refreshToken"] == first["refershToken"]  # the REST client's Token model
    renewed = refresh(base, "refresh", first["refreshToken"])
    assert renewed.status_code == 200
    second = renewed.json()
    assert second["accessToken"] != first["accessToken"]
    assert second["expiresIn"] == 86400
    assert second["refreshToken"] != first["refreshToken"]
    assert conversations_answer(base, second["accessToken"]) == 200
    # The token it replaces still works until it expires; token:generate hands the new one.
    assert conversations_answer(base, first["accessToken"]) == 200
    assert generate(base, "refresh")["accessToken"] == second["accessToken"]

    spent = refresh(base, "refresh", first["refreshToken"])
    assert spent.status_code == 401
    assert "refresh token" in spent.json()["message"]
    assert refresh(base, "someone-else", second["refreshToken"]).status_code == 401
    assert refresh(base, "refresh", second["refreshToken"]).status_code == 200


def test_an_app_keeps_only_its_newest_refresh_tokens(
    mock_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mock_symbl.web.auth.MAX_REFRESH_TOKENS", 2)
    secret = "k" * 128
    oldest, older, newest = (generate(mock_server.base_url, secret) for _ in range(3))
    assert refresh(mock_server.base_url, secret, oldest["refreshToken"]).status_code == 401
    assert refresh(mock_server.base_url, secret, newest["refreshToken"]).status_code == 200
    assert refresh(mock_server.base_url, secret, older["refreshToken"]).status_code == 200


def test_refresh_without_a_refresh_token_is_a_bad_request(mock_server: RunningServer) -> None:
    reply = httpx.post(
        f"{mock_server.base_url}/oauth2/token:refresh",
        json={"appId": APP_ID, "appSecret": "no-refresh"},
    )
    assert reply.status_code == 400
    assert "refreshToken" in reply.json()["message"]


def _every_rest_route(base_url: str) -> list[tuple[str, str]]:
    """(method, path) of every token-guarded REST route the server serves (its OpenAPI):
    all under /v1/ but the Insights UI page, which its URL's key opens, as Symbl's does,
    without a token."""
    paths = httpx.get(f"{base_url}/openapi.json").json()["paths"]
    return [
        (method.upper(), path)
        for path, methods in paths.items()
        if path.startswith("/v1/") and not path.startswith(f"{PAGE_PATH}/")
        for method in methods
    ]


def test_a_revoked_token_is_refused_by_every_route_and_socket(
    mock_server: RunningServer,
) -> None:
    base, secret = mock_server.base_url, "revoked"
    access = generate(base, secret)["accessToken"]
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav")
    messages, _, _ = asyncio.run(
        stream_session(
            f"{mock_server.ws_url}/v1/streaming/hot?access_token={access}",
            start_request(audio.sample_rate),
            audio.samples,
        )
    )
    conversation = conversation_id(messages)
    auth = {"Authorization": f"Bearer {access}"}
    members = httpx.get(f"{base}/v1/conversations/{conversation}/members", headers=auth)
    ids = {"conversation_id": conversation, "member_id": members.json()["members"][0]["id"]}
    tracker = httpx.post(
        f"{base}/v1/manage/tracker", json={"name": "T", "vocabulary": ["t"]}, headers=auth
    )
    ids["tracker_id"] = tracker.json()["tracker"]["id"]

    assert revoke(base, secret, access).status_code == 200

    routes = _every_rest_route(base)
    assert ("PUT", "/v1/conversations/{conversation_id}/speakers") in routes
    assert ("GET", "/v1/manage/trackers") in routes
    with httpx.Client(base_url=base) as client:
        for method, path in routes:
            url = re.sub(r"\{(\w+)\}", lambda m: ids.get(m[1], "1"), path)
            for carrier in (auth, {"x-api-key": access}):
                reply = client.request(method, url, headers=carrier, json={})
                assert reply.status_code == 401, (method, path)
                assert reply.json() == {"message": "Token validation failed for provided token."}
    for path in ("/v1/streaming/hot", "/v1/realtime/insights/hot", "/v1/subscribe/hot"):
        assert handshake_status(f"{mock_server.ws_url}{path}?access_token={access}") == 401

    # The app's next token is a new one, and it works: the conversation is still there.
    fresh = generate(base, secret)["accessToken"]
    assert fresh != access
    url = f"{base}/v1/conversations/{conversation}"
    assert httpx.get(url, headers={"x-api-key": fresh}).status_code == 200


def test_revoking_takes_the_tokens_own_credentials(mock_server: RunningServer) -> None:
    base = mock_server.base_url
    access = generate(base, "owner")["accessToken"]
    refused = revoke(base, "not-the-owner", access)
    assert refused.status_code == 401
    assert conversations_answer(base, access) == 200
    nothing = httpx.post(
        f"{base}/oauth2/token:revoke", json={"appId": APP_ID, "appSecret": "owner"}
    )
    assert nothing.status_code == 400
    assert "No token to revoke" in nothing.json()["message"]


def test_revoking_a_token_named_in_the_body_also_kills_its_refresh_token(
    mock_server: RunningServer,
) -> None:
    base = mock_server.base_url
    grant = generate(base, "body-revoke")
    reply = httpx.post(
        f"{base}/oauth2/token:revoke",
        json={"appId": APP_ID, "appSecret": "body-revoke", "token": grant["accessToken"]},
    )
    assert reply.status_code == 200
    assert conversations_answer(base, grant["accessToken"]) == 401
    assert refresh(base, "body-revoke", grant["refreshToken"]).status_code == 401


def test_a_revoked_token_stays_revoked_after_a_restart(tmp_path: Path) -> None:
    config = MockConfig(db=tmp_path / "mock.db")
    with running_mock(config) as first:
        access = generate(first.base_url, "restart")["accessToken"]
        assert conversations_answer(first.base_url, access) == 200
        assert revoke(first.base_url, "restart", access).status_code == 200
    with running_mock(config) as second:
        assert conversations_answer(second.base_url, access) == 401
        assert generate(second.base_url, "restart")["accessToken"] != access


def test_the_generated_rest_client_refreshes_reads_trackers_and_revokes(
    mock_server: RunningServer, require: Callable[[str, bool, str], None]
) -> None:
    """`symbl_rest` 1.0.14, the official Python SDK's REST client, unmodified."""
    require(
        "symbl_rest",
        importlib.util.find_spec("symbl_rest") is not None,
        "pip install -r examples/python-sdk/requirements.txt",
    )
    import symbl_rest  # optional: only when installed
    from symbl_rest.api.authentication_api import AuthenticationApi
    from symbl_rest.api.trackers_api import TrackersApi
    from symbl_rest.models import Grant, RefreshTokenRequest, RevokeTokenRequest

    secret = "generated-client"
    config = symbl_rest.Configuration()
    config.host = mock_server.base_url
    auth = AuthenticationApi(symbl_rest.ApiClient(config))
    first = auth.generate_token(Grant(type="application", app_id=APP_ID, app_secret=secret))
    assert first.expires_in == 86400
    renewed = auth.refresh_token(
        RefreshTokenRequest(app_id=APP_ID, app_secret=secret, refresh_token=first.refersh_token)
    )
    assert renewed.access_token != first.access_token

    audio = read_pcm16(FIXTURES / "standup" / "audio.wav")
    start = start_request(
        audio.sample_rate, trackers=[{"name": "Report", "vocabulary": ["quarterly report"]}]
    )
    url = f"{mock_server.ws_url}/v1/streaming/standup?access_token={renewed.access_token}"
    messages, _, _ = asyncio.run(stream_session(url, start, audio.samples))
    config.api_key["x-api-key"] = renewed.access_token
    trackers = TrackersApi(symbl_rest.ApiClient(config))
    (report,) = trackers.get_trackers_by_conversation_id(conversation_id(messages))
    assert report.name == "Report"
    (match,) = report.matches
    (ref,) = match.message_refs
    assert ref.text[ref.offset :].startswith("quarterly report")

    auth.revoke_token(RevokeTokenRequest(app_id=APP_ID, app_secret=secret))
    with pytest.raises(symbl_rest.rest.ApiException) as refused:
        trackers.get_trackers_by_conversation_id(conversation_id(messages))
    assert refused.value.status == 401
