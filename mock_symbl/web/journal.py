"""The journal: every streaming connection the mock served, and what it made of it.

For each connection: which recording answered it and how well its audio matched (or which
came closest), the client's start request, how its audio compares with the recording's,
its conformance findings, and the REST calls made on its conversation (answered from the
recording's `rest.jsonl` when one holds the call). Tests read it through
`GET /v1/mock/sessions` or `RunningMock.journal()`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.conformance.monitor import ConformanceMonitor
from harness.protocol import StartRequest
from harness.protocol.bounded_json import loads
from harness.session_folder.redact import Redactor
from mock_symbl.engines.base import Verdict
from mock_symbl.session.streaming import StreamingSession

REST_LOG = "rest.jsonl"
# Connections kept (oldest forgotten first): a long-running mock must not grow without end.
KEEP_ENTRIES = 1000
_CONVERSATION_PATH = re.compile(r"^/v1/conversations/([^/]+)(/[^?]*)?$")
# Query parameters that identify the caller, not the question.
_CREDENTIAL_PARAMS = frozenset({"access_token", "accesstoken", "token", "x-api-key"})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def conversation_path(path: str) -> tuple[str, str] | None:
    """(conversation id, the path after it) of a Conversation API path, else None."""
    match = _CONVERSATION_PATH.match(path)
    if match is None:
        return None
    return match.group(1), match.group(2) or ""


def _question(query: str) -> tuple[tuple[str, str], ...]:
    pairs = parse_qsl(query, keep_blank_values=True)
    return tuple(sorted((k, v) for k, v in pairs if k.lower() not in _CREDENTIAL_PARAMS))


@dataclass(frozen=True)
class RecordedCall:
    """One REST call of a recording's rest.jsonl."""

    method: str
    suffix: str
    question: tuple[tuple[str, str], ...]
    status: int
    response: Any


def read_rest_log(folder: Path) -> list[RecordedCall]:
    """The Conversation API calls recorded with a session (lines that are not calls, such
    as the last one of a cut log, are passed over)."""
    calls = []
    try:
        lines = (folder / REST_LOG).read_bytes().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            record = loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        where = conversation_path(str(record.get("path", "")))
        status = record.get("status")
        if where is None or not isinstance(status, int):
            continue
        calls.append(
            RecordedCall(
                method=str(record.get("method", "GET")).upper(),
                suffix=where[1],
                question=_question(str(record.get("query", ""))),
                status=status,
                response=record.get("response"),
            )
        )
    return calls


@dataclass
class LiveEntry:
    """One connection: live while it streams, fixed when it ends."""

    app: str
    connection_id: str
    opened: str
    monitor: ConformanceMonitor
    session: StreamingSession | None = None
    closed: str | None = None
    conversation_id: str | None = None
    start_request: dict[str, Any] | None = None
    verdict: Verdict | None = None
    recorded_to: Path | None = None
    rest: list[dict[str, Any]] = field(default_factory=list)
    # Taped as a possible new recording: its REST calls are held until it is kept or not.
    taped: bool = False
    held_rest: list[RestRecord] = field(default_factory=list)
    _request_seen: StartRequest | None = field(default=None, repr=False)
    # How many times each recorded call was served, so repeats go through them in order.
    _served: dict[tuple[str, str, tuple[tuple[str, str], ...]], int] = field(default_factory=dict)

    def refresh(self) -> None:
        """Take what the session knows now (its conversation, request and verdict)."""
        session = self.session
        if session is None:
            return
        self.conversation_id = session.conversation_id or self.conversation_id
        # Redacted once per request (a modify_request replaces it): entries are refreshed
        # for every REST call and every listing.
        if session.request is not None and session.request is not self._request_seen:
            self._request_seen = session.request
            self.start_request = Redactor().json(session.request.to_json())
        self.verdict = session.verdict or self.verdict

    def end(self) -> None:
        """The connection is over: keep what it was, and let the session go."""
        self.refresh()
        self.session = None
        self.closed = _now()

    def to_json(self) -> dict[str, Any]:
        """The entry as `GET /v1/mock/sessions` lists it."""
        self.refresh()
        verdict = self.verdict
        report = self.monitor.report()
        return {
            "connectionId": self.connection_id,
            "conversationId": self.conversation_id,
            "opened": self.opened,
            "closed": self.closed,
            "clientLeft": self.monitor.closed,
            "startRequest": self.start_request,
            "answer": _answer_json(verdict),
            "audio": dict(verdict.audio) if verdict and verdict.audio else None,
            "conformance": {
                "findings": [finding["code"] for finding in report.get("findings", [])],
                "report": report,
            },
            "rest": list(self.rest),
            "recordedTo": str(self.recorded_to) if self.recorded_to else None,
        }


def _answer_json(verdict: Verdict | None) -> dict[str, Any]:
    if verdict is None:
        return {"recording": None, "by": None, "matched": False, "score": None}
    nearest = verdict.nearest
    return {
        "recording": verdict.recording,
        "by": verdict.by or None,
        "matched": verdict.recording is not None,
        "score": round(verdict.score, 4),
        "offsetS": round(verdict.offset_s, 4),
        "fallback": verdict.fallback,
        "error": verdict.refusal,
        "nearest": None
        if nearest is None
        else {
            "recording": nearest.recording,
            "score": round(nearest.score, 4),
            "offsetS": round(nearest.offset_s, 4),
        },
    }


@dataclass(frozen=True)
class AudioMatch:
    """How a client's first seconds compare with the recording that answered it."""

    offset_s: float
    level_db: float
    correlation: float
    overlap_s: float


@dataclass(frozen=True)
class JournalEntry:
    """One connection as the journal lists it (`GET /v1/mock/sessions`), for tests."""

    connection_id: str
    conversation_id: str | None
    recording: Path | None
    matched: bool
    by: str | None
    score: float | None
    offset_s: float | None
    error: str | None
    fallback: str | None
    nearest: Path | None
    nearest_score: float | None
    start_request: dict[str, Any] | None
    audio: AudioMatch | None
    findings: list[str]
    rest: list[dict[str, Any]]
    recorded_to: Path | None
    opened: str
    closed: str | None
    # The client's socket is gone (the entry closes once the server has finished with it).
    client_left: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> JournalEntry:
        """An entry of `GET /v1/mock/sessions`."""
        answer = entry.get("answer") or {}
        nearest = answer.get("nearest") or {}
        audio = entry.get("audio")
        return cls(
            connection_id=entry["connectionId"],
            conversation_id=entry.get("conversationId"),
            recording=_path(answer.get("recording")),
            matched=bool(answer.get("matched")),
            by=answer.get("by"),
            score=answer.get("score"),
            offset_s=answer.get("offsetS"),
            error=answer.get("error"),
            fallback=answer.get("fallback"),
            nearest=_path(nearest.get("recording")),
            nearest_score=nearest.get("score"),
            start_request=entry.get("startRequest"),
            audio=None
            if not audio
            else AudioMatch(
                audio["offsetS"], audio["levelDb"], audio["correlation"], audio["overlapS"]
            ),
            findings=list((entry.get("conformance") or {}).get("findings") or []),
            rest=list(entry.get("rest") or []),
            recorded_to=_path(entry.get("recordedTo")),
            opened=entry.get("opened", ""),
            closed=entry.get("closed"),
            client_left=bool(entry.get("clientLeft")),
            raw=entry,
        )


def _path(value: object) -> Path | None:
    return Path(value) if isinstance(value, str) and value else None


class Journal:
    """The latest connections' entries, by app, and the REST calls on their conversations."""

    def __init__(self, keep: int = KEEP_ENTRIES) -> None:
        self._keep = keep
        self._entries: OrderedDict[int, LiveEntry] = OrderedDict()
        self._next = 0
        self._rest_logs: dict[str, tuple[tuple[int, int], list[RecordedCall]]] = {}
        # Tests read the journal from their own thread while the server's loop writes it.
        self._lock = threading.Lock()

    def open(self, app: str, connection_id: str, monitor: ConformanceMonitor) -> LiveEntry:
        """A new entry for a connection that was just accepted."""
        entry = LiveEntry(app=app, connection_id=connection_id, opened=_now(), monitor=monitor)
        with self._lock:
            self._entries[self._next] = entry
            self._next += 1
            while len(self._entries) > self._keep:
                self._entries.popitem(last=False)
        return entry

    def entries(self, app: str | None = None) -> list[LiveEntry]:
        """Every entry kept, oldest first (of `app` only, if given)."""
        with self._lock:
            return [e for e in self._entries.values() if app in (None, e.app)]

    def to_json(self, app: str | None = None) -> dict[str, Any]:
        """`{"sessions": [...]}`, oldest first."""
        return {"sessions": [entry.to_json() for entry in self.entries(app)]}

    def clear(self, app: str | None = None) -> None:
        """Forget the entries of `app` (of every app if None)."""
        with self._lock:
            for key in [k for k, e in self._entries.items() if app in (None, e.app)]:
                del self._entries[key]

    def _of_conversation(self, app: str, conversation_id: str) -> LiveEntry | None:
        for entry in reversed(self.entries(app)):
            entry.refresh()
            if entry.conversation_id == conversation_id:
                return entry
        return None

    def _calls_of(self, folder: Path) -> list[RecordedCall]:
        """A recording's REST calls, read again whenever its rest.jsonl changes."""
        try:
            stat = (folder / REST_LOG).stat()
        except OSError:
            return []
        version = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._rest_logs.get(str(folder))
        if cached is not None and cached[0] == version:
            return cached[1]
        calls = read_rest_log(folder)
        with self._lock:
            self._rest_logs[str(folder)] = (version, calls)
        return calls

    def recorded_answer(
        self, app: str, conversation_id: str, method: str, suffix: str, query: str
    ) -> tuple[int, Any] | None:
        """The answer the recording that served this app's conversation got to the same
        call, with its ids and times moved to this conversation's; None when it holds no
        such call."""
        if method.upper() != "GET":
            # A recorded change (a DELETE) is not replayed: the mock's store must change too.
            return None
        entry = self._of_conversation(app, conversation_id)
        verdict = entry.verdict if entry else None
        if entry is None or verdict is None or verdict.recording is None:
            return None
        calls = self._calls_of(Path(verdict.recording))
        key = (method.upper(), suffix, _question(query))
        same = [c for c in calls if (c.method, c.suffix, c.question) == key]
        if not same:
            return None
        with self._lock:
            served = entry._served.get(key, 0)
            entry._served[key] = served + 1
        call = same[min(served, len(same) - 1)]
        rewrite: Callable[[Any], Any] = verdict.rewrite or (lambda value: value)
        return call.status, rewrite(call.response)

    def rest_call(  # noqa: PLR0913
        self,
        app: str,
        conversation_id: str,
        method: str,
        path: str,
        query: str,
        status: int,
        *,
        body: bytes,
        answered_by: str,
    ) -> None:
        """Note a REST call of an app on its conversation (and write it into the recording
        being made of it, if any: held until the recording is kept, when the connection
        has not ended yet). `answered_by`: `mock`, `recording`, or `fault` (an injected
        fault, never written into a recording)."""
        entry = self._of_conversation(app, conversation_id)
        if entry is None:
            return
        entry.rest.append(
            {
                "method": method,
                "path": path,
                "query": Redactor().text(query),
                "status": status,
                "answeredFrom": answered_by,
            }
        )
        if answered_by == "fault":
            return
        call = RestRecord(method, path, query, status, body)
        with self._lock:
            if entry.taped and entry.recorded_to is None and entry.closed is None:
                entry.held_rest.append(call)
                return
        if entry.recorded_to is not None:
            call.append_to(entry.recorded_to)

    def recorded(self, entry: LiveEntry, folder: Path | None) -> None:
        """The connection's recording was kept in `folder` (None: none was): write the
        REST calls made on it meanwhile, and the later ones as they come."""
        with self._lock:
            entry.recorded_to = folder
            held, entry.held_rest = entry.held_rest, []
        if folder is None:
            return
        for call in held:
            call.append_to(folder)


@dataclass(frozen=True)
class RestRecord:
    """A call on a conversation being recorded, as the recording's rest.jsonl keeps it."""

    method: str
    path: str
    query: str
    status: int
    body: bytes
    t: float = field(default_factory=time.time)

    def append_to(self, folder: Path) -> None:
        """Append it to the folder's rest.jsonl (the proxy's format), secrets redacted."""
        try:
            response: Any = loads(self.body)
        except ValueError:
            response = self.body[:2000].decode("utf-8", "replace")
        redactor = Redactor()
        record = {
            "t": self.t,
            "method": self.method,
            "path": self.path,
            "query": redactor.text(self.query),
            "status": self.status,
            "response": redactor.json(response),
        }
        try:
            with (folder / REST_LOG).open("a", encoding="utf-8") as rest:
                rest.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError:
            return


# The header of an answer that is an injected fault (rest.py), as ASGI spells it.
FAULT_HEADER = b"x-mock-fault"
# What a REST handler puts in the request's state when it answered from a recording.
FROM_RECORDING = "answered_from_recording"
# What it puts there once it knows the caller's app: a call is noted in that app's entries
# only (another app's call, or one without a valid token, is no call on the conversation).
CALLER = "journal_caller_app"


class JournalRest:
    """ASGI middleware: note every Conversation API call in its conversation's journal entry."""

    def __init__(self, app: ASGIApp, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = conversation_path(scope["path"]) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        status = 0
        fault = False
        body = bytearray()

        async def noting(message: Message) -> None:
            nonlocal status, fault
            if message["type"] == "http.response.start":
                status = message["status"]
                fault = any(name.lower() == FAULT_HEADER for name, _ in message["headers"])
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                state = scope.get("state", {})
                caller = state.get(CALLER)
                if not message.get("more_body", False) and caller is not None:
                    # Noted before the answer's end goes out: a client that reads the
                    # journal once it has its answer finds the call there.
                    self.journal.rest_call(
                        caller,
                        where[0],
                        scope["method"],
                        scope["path"],
                        scope.get("query_string", b"").decode("latin-1"),
                        status,
                        body=bytes(body),
                        answered_by="fault"
                        if fault
                        else "recording"
                        if state.get(FROM_RECORDING)
                        else "mock",
                    )
            await send(message)

        await self.app(scope, receive, noting)
