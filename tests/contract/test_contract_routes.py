"""The mock's REST answers against Symbl's models, route by route, over real sockets.

A real conversation is streamed to a mock on loopback (the `standup` fixture, whose talk has
questions, action items and follow-ups); each served route is called over HTTP and its answer
validated against the model the route's table entry names. Drift (fields a model has that the
mock never sends) and extensions (fields the mock sends that the model lacks) must be exactly
those drift.json lists, each with its reason.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import http.server
import itertools
import json
import re
import string
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from contract_models import (
    INSTALL,
    SYMBL_REST,
    Report,
    Validator,
    model_names,
    symbl_rest_installed,
)
from contract_routes import BY_KEY, ROUTES, SERVED, Route, text_body
from starlette.routing import Match

from harness.serve import RunningServer
from harness.session_folder.transcript import read_transcript
from mock_symbl import MockConfig, create_app

from helpers import (
    APP_ID,
    APP_SECRET,
    FIXTURES,
    conversation_id,
    stream_fixture,
    token,
)

DRIFT_FILE = Path(__file__).with_name("drift.json")
SHARED = "standup"  # the conversation read-only routes are called on
FRESH = "hot"  # streamed anew for each route that changes its conversation
TRACKERS = [{"name": "Budget", "vocabulary": ["budget", "quarterly report"]}]
PLACEHOLDER = "0000000000000000"
_FORMATTER = string.Formatter()
NOT_SERVED = (404, 405)


@pytest.fixture(scope="module", autouse=True)
def _symbl_rest(require: Any) -> None:
    require(SYMBL_REST, symbl_rest_installed(), INSTALL)


def stream(mock: RunningServer, name: str, access: str) -> str:
    """Stream a fixture as one conversation; its id."""
    messages = stream_fixture(
        mock, name, access, f"{name}--contract", trackers=TRACKERS, meetingTitle=f"Contract {name}"
    )
    return conversation_id(messages)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test's output to its findings."""


class Live:
    """The running test's side of a request: real conversations, ids, files and tokens."""

    def __init__(self, mock: RunningServer) -> None:
        self.mock = mock
        self.app_id = APP_ID
        self.app_secret = APP_SECRET
        # Conversations are streamed as the main app, whichever app a route is called as.
        self.access = token(mock.base_url)
        self.headers = {"Authorization": f"Bearer {self.access}"}
        self.conversation = ""
        self._shared: str | None = None
        self._media: list[http.server.ThreadingHTTPServer] = []
        self._names = itertools.count(1)

    def use_app(self, app_id: str, app_secret: str) -> None:
        """Call as this app from now on."""
        self.app_id, self.app_secret = app_id, app_secret
        self.headers = {"Authorization": f"Bearer {token(self.mock.base_url, app_id, app_secret)}"}

    def shared(self) -> str:
        if self._shared is None:
            self._shared = stream(self.mock, SHARED, self.access)
        return self._shared

    def fresh(self) -> str:
        return stream(self.mock, FRESH, self.access)

    def get(self, path: str) -> Any:
        reply = httpx.get(self.mock.base_url + path, headers=self.headers)
        assert reply.is_success, f"GET {path} (needed by the request) answered {reply.status_code}"
        return reply.json()

    def post(self, path: str, body: Any) -> Any:
        reply = httpx.post(self.mock.base_url + path, json=body, headers=self.headers)
        assert reply.is_success, f"POST {path} (needed by the request) answered {reply.status_code}"
        return reply.json()

    def member(self) -> dict[str, Any]:
        members = self.get(f"/v1/conversations/{self.conversation}/members")["members"]
        assert members, "the conversation has no member"
        return dict(members[0])

    def media_url(self, path: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(path.parent))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._media.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/{path.name}"

    def phrases(self, name: str) -> list[str]:
        return [p.text for p in read_transcript(FIXTURES / name / "transcript.json").phrases]

    def refresh_token(self) -> str:
        answer = self.post(
            "/oauth2/token:generate",
            {"type": "application", "appId": self.app_id, "appSecret": self.app_secret},
        )
        # symbl_rest's Token spells it `refershToken`; Symbl's answers carried no refresh token.
        return str(
            answer.get("refreshToken") or answer.get("refershToken") or answer["accessToken"]
        )

    def parameter(self, name: str) -> str:
        """A path parameter's value, made for real by the routes that make it."""
        if name == "conversationId":
            return self.conversation
        if name == "id":
            return str(self.member()["id"])
        if name == "jobId":
            answer = self.post("/v1/process/text", text_body(self).json)
            return str(answer["jobId"])
        if name == "trackerId":
            tracker = {"name": f"Contract tracker {next(self._names)}", "vocabulary": ["budget"]}
            return str(self.post("/v1/manage/tracker", tracker)["tracker"]["id"])
        if name == "connectionId":
            start = BY_KEY["POST /v1/endpoint:connect"].body
            assert start is not None
            call = self.post("/v1/endpoint:connect", start(self).json)
            return str(call["connectionId"])
        return f"contract-{name}"

    def close(self) -> None:
        for server in self._media:
            server.shutdown()
            server.server_close()


def own_app(route: Route) -> tuple[str, str]:
    """Credentials of the route's own app, in the shape the web SDK checks (64 and 128
    alphanumerics)."""
    seed = route.key.encode()
    return hashlib.sha256(seed).hexdigest(), hashlib.sha512(seed).hexdigest()


def call(live: Live, route: Route) -> httpx.Response:
    """Make the route's request for real (fresh conversation where it changes one)."""
    live.use_app(*(own_app(route) if route.own_app else (APP_ID, APP_SECRET)))
    # The shared conversation exists before any route runs, so that a list has it to show.
    live.shared()
    if "{conversationId}" in route.path:
        live.conversation = live.fresh() if route.mutates else live.shared()
    names = [name for _, name, _, _ in _FORMATTER.parse(route.path) if name]
    path = route.path.format(**{name: live.parameter(name) for name in names})
    body = route.body(live) if route.body is not None else None
    headers = dict(live.headers)
    if body is not None and body.content_type is not None:
        headers["Content-Type"] = body.content_type
    return httpx.request(
        route.method,
        live.mock.base_url + path,
        params=route.query,
        headers=headers,
        json=body.json if body is not None and body.content is None else None,
        content=body.content if body is not None else None,
        timeout=60,
    )


@pytest.fixture(scope="module")
def live(mock_server: RunningServer) -> Iterator[Live]:
    context = Live(mock_server)
    yield context
    context.close()


@pytest.fixture(scope="module")
def answers(live: Live) -> dict[str, httpx.Response]:
    """Each served route's answer, made once per module and shared by its tests."""
    return {}


def answer_of(live: Live, answers: dict[str, httpx.Response], route: Route) -> Any:
    if route.key not in answers:
        answers[route.key] = call(live, route)
    reply = answers[route.key]
    assert reply.is_success, (
        f"{route.key} is marked served but answered {reply.status_code} {reply.text[:200]}"
    )
    return reply.json() if route.model is not None else None


def report_of(live: Live, answers: dict[str, httpx.Response], route: Route) -> Report:
    value = answer_of(live, answers, route)
    validator = Validator()
    if route.model is not None:
        validator.check_nullable(value, route.model, "", required=True)
    return validator.report


def mock_routes(method: str, path: str) -> bool:
    """Whether the mock's app has a route for this method and concrete path."""
    app = _bare_app()
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    return any(r.matches(scope)[0] == Match.FULL for r in app.router.routes)


@functools.cache
def _bare_app() -> Any:
    return create_app(MockConfig())


def expected() -> dict[str, dict[str, dict[str, str]]]:
    data: dict[str, dict[str, dict[str, str]]] = json.loads(DRIFT_FILE.read_text())
    return data


served = [BY_KEY[k] for k in sorted(SERVED)]


@pytest.mark.parametrize("route", ROUTES, ids=[r.key for r in ROUTES])
def test_the_route_is_served_exactly_when_the_table_says(live: Live, route: Route) -> None:
    concrete = route.path.format(
        **{name: PLACEHOLDER for _, name, _, _ in _FORMATTER.parse(route.path) if name}
    )
    has = mock_routes(route.method, concrete)
    if route.key in SERVED:
        assert has, f"{route.key} is marked served, but the mock has no such route"
        return
    assert not has, f"the mock serves {route.key}: add it to SERVED in contract_routes.py"
    reply = httpx.request(route.method, live.mock.base_url + concrete, headers=live.headers)
    assert reply.status_code in NOT_SERVED, (
        f"{route.key} is not in the mock's route table yet answered {reply.status_code}"
    )


@pytest.mark.parametrize("route", served, ids=[r.key for r in served])
def test_the_answer_has_the_models_types_and_names(
    live: Live, answers: dict[str, httpx.Response], route: Route
) -> None:
    report = report_of(live, answers, route)
    assert not report.violations, f"{route.key} breaks {route.model}:\n" + "\n".join(
        f"  {v}" for v in report.violations
    )


@pytest.mark.parametrize("route", served, ids=[r.key for r in served])
def test_the_drift_is_what_drift_json_says(
    live: Live, answers: dict[str, httpx.Response], route: Route
) -> None:
    report = report_of(live, answers, route)
    recorded = expected()
    problems = []
    for kind, found in (("drift", set(report.drift())), ("extensions", report.extensions)):
        listed = set(recorded[kind].get(route.key, {}))
        problems += [f"  new {kind} (add it with a reason): {p}" for p in sorted(found - listed)]
        problems += [f"  {kind} gone (remove it): {p}" for p in sorted(listed - found)]
    assert not problems, f"{route.key} differs from {DRIFT_FILE.name}:\n" + "\n".join(problems)


def test_drift_json_speaks_only_of_served_routes_and_gives_reasons() -> None:
    recorded = expected()
    assert set(recorded) == {"about", "drift", "extensions"}
    for kind in ("drift", "extensions"):
        for key, paths in recorded[kind].items():
            assert key in SERVED, f"{DRIFT_FILE.name} {kind}: {key} is not a served route"
            for path, reason in paths.items():
                assert reason.strip(), f"{DRIFT_FILE.name} {kind}: {key} {path} has no reason"


def _symbl_rest_routes() -> set[tuple[str, str, str | None]]:
    """(method, path, response type) of every `call_api` in symbl_rest/api/*.py."""
    found = set()
    import symbl_rest

    for source in sorted((Path(symbl_rest.__file__).parent / "api").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "call_api"
            ):
                path, method = (a.value for a in node.args[:2] if isinstance(a, ast.Constant))
                kind = next(k.value for k in node.keywords if k.arg == "response_type")
                found.add((method, path, kind.value if isinstance(kind, ast.Constant) else None))
    return found


def test_the_table_has_every_route_symbl_rest_knows_with_its_model() -> None:
    table = {(r.method, r.path, r.model) for r in ROUTES if r.source.startswith("symbl_rest")}
    assert table == _symbl_rest_routes()


@pytest.mark.parametrize("route", ROUTES, ids=[r.key for r in ROUTES])
def test_every_model_the_table_names_exists(route: Route) -> None:
    if route.model is not None:
        assert model_names(route.model)


COVERAGE = Path(__file__).resolve().parents[2] / "docs" / "coverage.md"
MOCK_PAGE = COVERAGE.parent / "mock.md"
_ROW = re.compile(r"^\| `([A-Z]+ /[^`]*)` \|.*\| (yes|no) \|$")


def test_the_coverage_table_lists_every_route_and_says_which_are_served() -> None:
    rows = {
        match.group(1): match.group(2) == "yes"
        for line in COVERAGE.read_text().splitlines()
        if (match := _ROW.match(line))
    }
    assert set(rows) == set(BY_KEY), (
        f"docs/coverage.md lacks {sorted(set(BY_KEY) - set(rows))}, "
        f"has unknown {sorted(set(rows) - set(BY_KEY))}"
    )
    wrong = sorted(key for key, served in rows.items() if served != (key in SERVED))
    assert not wrong, f"docs/coverage.md's Served column disagrees with SERVED for {wrong}"


def _table_rows(text: str) -> list[tuple[str, str]]:
    """(first cell, Served as its first word) of every table row under a heading with
    `Served` (header and rule rows left out)."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 3 and cells[2] != "Served" and not cells[0].startswith("---"):
            rows.append((cells[0], cells[2].split(" (")[0]))
    return rows


def test_the_mock_pages_table_is_the_coverage_table() -> None:
    page = MOCK_PAGE.read_text()
    start = page.index("## What the official SDKs use, and what the mock serves")
    end = page.find("\n## ", start + 1)
    section = page[start : end if end >= 0 else None]
    assert _table_rows(section) == _table_rows(COVERAGE.read_text())
