"""Targets: the bundled mock with throwaway credentials, or an endpoint with the user's."""

from __future__ import annotations

import httpx
import pytest

from harness.client.auth import AuthError
from harness.errors import HarnessError
from harness.tools.targets import bundled_mock, bundled_session, endpoint_target, target

from helpers import FIXTURES


def test_the_bundled_mock_hands_out_a_token_it_accepts() -> None:
    with bundled_mock() as where:
        assert where.mock is not None
        destination = where.destination("standup")
        assert destination.endpoint == where.mock.ws_url
        assert destination.connection_id == "standup"
        assert destination.token in destination.secrets
        url = f"{where.mock.base_url}/v1/conversations/1234567890123456"

        def status(token: str) -> int:
            return httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code

        assert status("not-a-token") == 401
        assert status(destination.token) == 404


def test_no_endpoint_means_the_bundled_mock_and_it_stops_afterwards() -> None:
    with target(None) as where:
        assert where.mock is not None
        base = where.mock.base_url
        assert httpx.get(base).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(base)


def test_an_endpoint_without_credentials_is_an_endpoint_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SYMBL_ACCESS_TOKEN", "SYMBL_APP_ID", "SYMBL_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AuthError, match="no credentials") as caught:
        endpoint_target("ws://127.0.0.1:9")
    assert caught.value.exit_code == 1


def test_a_bundled_session_is_found_by_name_and_an_unknown_one_lists_the_known() -> None:
    assert bundled_session("standup") == FIXTURES / "standup"
    with pytest.raises(HarnessError, match=r"no fixture or folder named 'nope' \(bundled: .*hot"):
        bundled_session("nope")
