"""The Insights UI: `GET /v1/conversations/experiences/insights/details/{conversationId}` answers
the URL of the mock's page of a conversation, which opens without authorization, shows the
conversation's messages and insights, escapes their text, loads nothing else, and is gone once
the conversation is deleted."""

from __future__ import annotations

import html
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from harness.session_folder.log import TextFrame, read_session
from mock_symbl import MockConfig, RunningMock, running_mock
from mock_symbl.session.messages import iso
from mock_symbl.store import Conversation, Member, Store, StoredMessage
from mock_symbl.web.auth import app_key

from helpers import (
    APP_ID,
    APP_SECRET,
    FIXTURES,
    conversation_id,
    headless_page,
    kind,
    stream_fixture,
)
from helpers import token as fresh_token

OTHER_ID, OTHER_SECRET = "x" * 64, "y" * 128
DETAILS = "/v1/conversations/experiences/insights/details"
HOSTILE_TITLE = 'Q3 <b>review</b> & "plans"'
HOSTILE = "<script>document.title='owned'</script> is what she typed into the chat."
FILLER = "We went through the budget, the hiring plan and the office move in some detail today."


@dataclass(frozen=True)
class Ui:
    mock: RunningMock
    db: Any
    access: str
    headers: dict[str, str]
    theirs: dict[str, str]
    standup: str
    short: str
    hostile: str

    def details(
        self, conversation: str, headers: dict[str, str] | None = None, **params: Any
    ) -> Any:
        return httpx.get(
            f"{self.mock.base_url}{DETAILS}/{conversation}",
            headers=self.headers if headers is None else headers,
            params=params,
        )

    def url(self, conversation: str, **params: Any) -> str:
        reply = self.details(conversation, **params)
        assert reply.status_code == 200, reply.text
        assert set(reply.json()) == {"url"}
        return str(reply.json()["url"])

    def ok(self, path: str, **params: Any) -> Any:
        reply = httpx.get(f"{self.mock.base_url}{path}", headers=self.headers, params=params)
        assert reply.status_code == 200, reply.text
        return reply.json()


def _stream(mock: RunningMock, name: str, access: str, connection: str | None = None) -> str:
    return conversation_id(stream_fixture(mock, name, access, connection))


def _store_conversation(db: Any, cid: str, lines: list[str], ended: bool = True) -> str:
    """A conversation of our app whose title and messages hold HTML."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    alice = Member("a-1", "Alice <admin>", "alice@example.com")
    store = Store(db)
    try:
        store.create_conversation(
            Conversation(
                cid,
                app_key(APP_ID, APP_SECRET),
                f"conn-{cid}",
                HOSTILE_TITLE,
                iso(at),
                iso(at + timedelta(seconds=60)) if ended else None,
            )
        )
        store.add_member(cid, alice)
        for n, text in enumerate(lines):
            store.add_message(
                StoredMessage(
                    id=f"{cid}-m{n}",
                    conversation_id=cid,
                    text=text,
                    sender=alice,
                    start_time=iso(at + timedelta(seconds=5 * n)),
                    end_time=iso(at + timedelta(seconds=5 * n + 4)),
                    time_offset=5.0 * n,
                    duration=4.0,
                    sentiment=0.0,
                )
            )
    finally:
        store.close()
    return cid


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    db = tmp_path_factory.mktemp("experience") / "mock.db"
    transcripts = (FIXTURES / "standup", FIXTURES / "hot")
    with running_mock(MockConfig(db=db, transcripts=transcripts, seed=11)) as mock:
        access = fresh_token(mock.base_url)
        yield Ui(
            mock,
            db,
            access,
            {"Authorization": f"Bearer {access}"},
            {"Authorization": f"Bearer {fresh_token(mock.base_url, OTHER_ID, OTHER_SECRET)}"},
            _stream(mock, "standup", access),
            _stream(mock, "hot", access),
            _store_conversation(db, "hostile-1", [HOSTILE, FILLER, FILLER, FILLER]),
        )


def _texts(items: list[dict[str, Any]]) -> list[str]:
    return [str(i["text"]) for i in items]


def test_the_url_is_absolute_on_the_mock_and_carries_no_secret(ui: Ui) -> None:
    url = ui.url(ui.standup, includeCallScore="true")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == ui.mock.base_url
    assert parts.path.startswith(f"/v1/mock/insights-ui/{ui.standup}/")
    assert parts.query == "includeCallScore=true"
    for secret in (ui.access, APP_SECRET, APP_ID):
        assert secret not in url
    # Asked again, the same page.
    assert ui.url(ui.standup, includeCallScore="True") == url


def test_the_page_opens_without_authorization_and_shows_the_conversation(ui: Ui) -> None:
    page = httpx.get(ui.url(ui.standup, includeCallScore="true"))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    body = page.text
    conversation = ui.ok(f"/v1/conversations/{ui.standup}")
    messages = ui.ok(f"/v1/conversations/{ui.standup}/messages", sentiment="true")["messages"]
    assert messages
    shown = [html.escape(m["text"]) for m in messages]
    # Every message, in order, with its speaker and sentiment.
    positions = [body.index(text) for text in shown]
    assert positions == sorted(positions)
    rows = body.split('<div class="message">')[1:]
    assert len(rows) == len(messages)
    for row, message in zip(rows, messages, strict=True):
        assert html.escape(message["text"]) in row
        assert '<span class="speaker">Jane</span>' in row
        assert f'class="sentiment {message["sentiment"]["suggested"]}"' in row
    assert html.escape(conversation["name"]) in body
    for route, key in (
        ("topics", "topics"),
        ("questions", "questions"),
        ("action-items", "actionItems"),
        ("follow-ups", "followUps"),
        ("summary", "summary"),
    ):
        texts = _texts(ui.ok(f"/v1/conversations/{ui.standup}/{route}")[key])
        assert texts, route
        for text in texts:
            assert html.escape(text) in body, (route, text)
    score = ui.ok(f"/v1/conversations/{ui.standup}/callscore")
    assert f'<span class="score">{score["score"]}</span>' in body
    for criterion in score["criteria"]:
        assert html.escape(criterion["name"]) in body
        assert html.escape(criterion["summary"]) in body


def test_the_call_score_is_shown_only_when_asked_for(ui: Ui) -> None:
    body = httpx.get(ui.url(ui.standup)).text
    assert 'id="call-score"' not in body
    assert 'class="score"' not in body
    assert 'id="call-score"' in httpx.get(ui.url(ui.standup, includeCallScore="true")).text


def test_every_text_on_the_page_is_escaped(ui: Ui) -> None:
    body = httpx.get(ui.url(ui.hostile, includeCallScore="true")).text
    assert "<script" not in body.lower()
    assert "<b>review</b>" not in body
    assert "Alice <admin>" not in body
    assert html.escape(HOSTILE) in body
    assert html.escape(HOSTILE_TITLE) in body
    assert html.escape("Alice <admin>") in body


def test_an_open_conversation_shows_what_it_has_so_far(ui: Ui) -> None:
    _store_conversation(ui.db, "open-1", [FILLER] * 4, ended=False)
    body = httpx.get(ui.url("open-1", includeCallScore="true")).text
    assert body.count(html.escape(FILLER)) == 4
    assert "(in progress)" in body
    assert "The summary is ready once the conversation has ended." in body
    # The call score's own answer for an open conversation, in place of the score.
    assert "The call score is not available yet" in body
    assert 'class="score"' not in body


def test_a_wrong_key_is_a_404_naming_no_conversation(ui: Ui) -> None:
    url = ui.url(ui.standup)
    base, key = url.rsplit("/", 1)
    owner, mac = key.split(".")
    flipped = ("0" if mac[0] != "0" else "1") + mac[1:]
    theirs = app_key(OTHER_ID, OTHER_SECRET)
    wrongs = (f"{owner}.{flipped}", f"{theirs}.{mac}", owner, f"{owner}.{mac}x", f"{owner}.é")
    for wrong in wrongs:
        reply = httpx.get(f"{base}/{wrong}")
        assert reply.status_code == 404, wrong
        assert ui.standup not in reply.text
    # Another conversation's key does not open this one.
    other_key = ui.url(ui.hostile).rsplit("/", 1)[1]
    assert httpx.get(f"{base}/{other_key}").status_code == 404


def test_the_api_route_answers_the_documented_errors(ui: Ui) -> None:
    missing = ui.details(ui.standup, headers={})
    assert missing.status_code == 401
    assert missing.json() == {"message": "Token validation failed for provided token."}
    theirs = ui.details(ui.standup, headers=ui.theirs)
    assert theirs.status_code == 404
    assert theirs.json() == {"message": "The conversationId is either invalid or does not exist."}
    short = ui.details(ui.short, includeCallScore="true")
    assert short.status_code == 404
    assert short.json() == {
        "message": "The conversation has no Insights UI: its transcript has 10 words, and the "
        "Insights UI needs at least 50."
    }


def test_a_deleted_conversation_has_no_page(ui: Ui) -> None:
    _store_conversation(ui.db, "doomed-1", [FILLER] * 4)
    url = ui.url("doomed-1", includeCallScore="true")
    assert httpx.get(url).status_code == 200
    deleted = httpx.delete(f"{ui.mock.base_url}/v1/conversations/doomed-1", headers=ui.headers)
    assert deleted.status_code == 200
    gone = httpx.get(url)
    assert gone.status_code == 404
    assert "went through the budget" not in gone.text
    assert ui.details("doomed-1").status_code == 404


def test_chromium_renders_the_page_with_no_other_request(ui: Ui, require: Any) -> None:
    chromium = shutil.which("chromium")
    require("Chromium", chromium is not None, "apt-get install chromium")
    assert chromium is not None
    url = ui.url(ui.standup, includeCallScore="true")
    with headless_page(chromium, lambda requested: requested == url) as (page, requested):
        reply = page.goto(url, wait_until="load")
        assert reply is not None and reply.status == 200
        conversation = ui.ok(f"/v1/conversations/{ui.standup}")
        assert page.locator("h1").inner_text() == conversation["name"]
        messages = ui.ok(f"/v1/conversations/{ui.standup}/messages")["messages"]
        assert page.locator(".message").count() == len(messages)
        assert page.locator("#call-score .score").is_visible()
        # The inline style applied: the header is dark, not the default white.
        header = page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor")
        assert header == "rgb(38, 43, 58)"
    assert requested == [url]


def test_a_recorded_conversation_gets_its_own_page_not_a_recorded_answer(tmp_path: Path) -> None:
    # A recording answers the REST calls it holds under its conversation's path; the
    # Insights UI's route is elsewhere, so GET /v1/conversations/{id}'s recorded answer must
    # not be taken for it.
    recording = tmp_path / "meeting"
    shutil.copytree(FIXTURES / "standup", recording)
    (recording / "transcript.json").unlink()
    recorded_id = next(
        f.data["message"]["data"]["conversationId"]
        for f in read_session(recording).received()
        if isinstance(f, TextFrame) and kind(f.data) == "conversation_created"
    )
    call = {
        "t": 0, "method": "GET", "path": f"/v1/conversations/{recorded_id}", "query": "",
        "status": 200, "response": {"id": recorded_id, "name": "Recorded"},
    }  # fmt: skip
    (recording / "rest.jsonl").write_text(json.dumps(call) + "\n")
    with running_mock(MockConfig(recordings=(recording,))) as mock:
        access = fresh_token(mock.base_url)
        conversation = _stream(mock, "standup", access, str(uuid.uuid4()))
        headers = {"Authorization": f"Bearer {access}"}
        recorded = httpx.get(f"{mock.base_url}/v1/conversations/{conversation}", headers=headers)
        details = httpx.get(f"{mock.base_url}{DETAILS}/{conversation}", headers=headers)
    assert recorded.json()["name"] == "Recorded"
    assert details.status_code == 200, details.text
    assert set(details.json()) == {"url"}
    assert f"/v1/mock/insights-ui/{conversation}/" in details.json()["url"]
