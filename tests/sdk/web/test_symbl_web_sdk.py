"""Symbl's official web SDK, `@symblai/symbl-web-sdk` 1.0.10 unmodified, in headless Chromium
against the mock, with a fixture's speech as the fake microphone.

npm ships no browser build of the SDK, so the module bundles the installed package with esbuild
into a temporary folder, exposing its exports on `window` as the SDK's CDN build does (webpack's
`libraryTarget: "global"`), and serves it with page.html from loopback. The page calls the SDK's
documented API only: `new Symbl({appId, appSecret | accessToken, basePath})`, `createConnection`,
`startProcessing`, `stopProcessing`, `disconnect`, `subscribeToConnection`, `connection.on`.

The SDK reaches outside in two places, both answered here so that nothing leaves 127.0.0.1:
its NetworkConnectivityDetector fetches the root of its CDN bucket every 3 s until one answer is
ok, and its Opus encoder (symbl-opus-encdec 0.1.2) loads its worker and codec from the same
bucket. Playwright answers the first with an empty 200 and the second with the files of the
installed package; every other request off loopback is aborted and counted as an escape.

The connection ids are `hot--<uuid>`, which the mock answers with the `hot` fixture's
transcript, so every word is known in advance.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    WebSocket,
    sync_playwright,
)
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route as PageRoute

from harness.serve import RunningServer, running
from mock_symbl import RunningMock

from helpers import APP_ID, APP_SECRET, FIXTURES, token

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
ESBUILD = MODULES / ".bin" / "esbuild"
SDK = MODULES / "@symblai" / "symbl-web-sdk" / "package.json"
OPUS_DIST = MODULES / "symbl-opus-encdec" / "dist"
INSTALL = "cd tests/sdk/web && npm ci --ignore-scripts --no-audit --no-fund"
SPEECH = FIXTURES / "hot"  # 6 s: a statement, then a question
TRANSCRIPT = json.loads((SPEECH / "transcript.json").read_text())
PHRASES: list[dict[str, Any]] = TRANSCRIPT["phrases"]

CDN = "https://symbl-sdk-cdn-bucket.storage.googleapis.com"
# What NetworkConnectivityDetector fetches (`fetch(CDN)`, normalised with a trailing slash).
CONNECTIVITY = f"{CDN}/"
# symbl-opus-encdec's default `encoderPath`; the worker it loads imports the codec from there too.
OPUS_FILES = f"{CDN}/js/ga/symbl-opus-encdec/0.1.2/dist/"

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    f"--use-file-for-fake-audio-capture={SPEECH / 'audio.wav'}%noloop",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
    # No name resolves but loopback: whatever Playwright's routing would miss cannot leave.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
# Only guards against a hang: the fake microphone plays in real time and stalls under load.
GUARD_MS = 180_000

SPEAKER = {"userId": "jane@example.com", "name": "Jane"}
TRACKER = {"name": "Loudness", "vocabulary": ["loud"]}
START = {
    "insightTypes": ["question", "action_item", "follow_up"],
    "config": {"meetingTitle": "Web SDK under test", "confidenceThreshold": 0.5},
    "speaker": SPEAKER,
    "trackers": [TRACKER],
}
# The SDK's own OpusAudioStream defaults (OpusAudioStream.ts), but Ogg pages instead of raw
# packets: the stream type's documented `rawOpus` option (OpusConfig).
OGG_OPUS = {
    "encoderComplexity": 6,
    "encoderFrameSize": 20,
    "encoderSampleRate": 48000,
    "maxFramesPerPage": 40,
    "numberOfChannels": 1,
    "rawOpus": False,
    "streamPages": True,
}
LIFECYCLE = ("conversation_created", "started_listening", "processing_started")
INSIGHTS = ("question", "action_item", "follow_up")

Event = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# The SDK's bundle, the page's server, the browser


@pytest.fixture(scope="module")
def bundle(
    require: Callable[[str, bool, str], None], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The SDK bundled for the browser (never committed: built from node_modules each run)."""
    node = shutil.which("node")
    installed = SDK.is_file() and ESBUILD.is_file()
    require("the web SDK's npm packages (node and node_modules)", bool(node) and installed, INSTALL)
    out = tmp_path_factory.mktemp("web-sdk") / "symbl-web-sdk.js"
    built = subprocess.run(
        [str(ESBUILD), "--bundle", "--format=iife", "--platform=browser",
         f"--outfile={out}", "--log-level=warning"],
        input='Object.assign(globalThis, require("@symblai/symbl-web-sdk"));',
        capture_output=True, text=True, cwd=HERE, timeout=120, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return out


@pytest.fixture(scope="module")
def site(bundle: Path) -> Iterator[RunningServer]:
    """page.html and the bundle, served from loopback."""
    app = Starlette(
        routes=[
            PageRoute("/", lambda _: FileResponse(HERE / "page.html")),
            PageRoute("/symbl-web-sdk.js", lambda _: FileResponse(bundle)),
        ]
    )
    with running(app) as server:
        yield server


@pytest.fixture(scope="module")
def chromium(require: Callable[[str, bool, str], None]) -> str:
    path = shutil.which("chromium")
    require("Chromium", path is not None, "apt-get install chromium")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium: str) -> Iterator[Browser]:
    """One headless Chromium for the module; the fixture's speech is every page's microphone."""
    launched = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
    yield launched
    launched.close()


# ---------------------------------------------------------------------------------------------
# What the pages did


@dataclass
class Outside:
    """Every request a browser context made, and how it was answered."""

    continued: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        if re.match(r"(http|ws)s?://127\.0\.0\.1[:/]", url):
            self.continued.append(url)
            route.continue_()
        elif url == CONNECTIVITY:
            self.answered.append(url)
            route.fulfill(status=200, body="", headers={"Access-Control-Allow-Origin": "*"})
        elif url.startswith(OPUS_FILES) and (OPUS_DIST / url[len(OPUS_FILES) :]).is_file():
            self.answered.append(url)
            route.fulfill(
                status=200,
                body=(OPUS_DIST / url[len(OPUS_FILES) :]).read_bytes(),
                headers={"Content-Type": "text/javascript", "Access-Control-Allow-Origin": "*"},
            )
        else:
            self.escaped.append(url)
            route.abort()


@dataclass
class SdkPage:
    """page.html in a tab: its calls into the SDK, and what the SDK gave it."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def call(self, name: str, argument: Any = None) -> Any:
        """One of the page's calls; its value, or AssertionError with the SDK's message."""
        handle = self.page.evaluate("([name, argument]) => begin(name, argument)", [name, argument])
        self.page.wait_for_function("(id) => outcome(id).done", arg=handle, timeout=GUARD_MS)
        outcome: dict[str, Any] = self.page.evaluate("(id) => outcome(id)", handle)
        assert "error" not in outcome, f"{name}: {outcome['error']}"
        return outcome["value"]

    def wait_until(self, condition: str) -> None:
        """Wait until `condition` (JavaScript over `received`) holds, or an error came."""
        self.page.wait_for_function(
            f"() => ({condition}) || errorsSeen().length > 0", timeout=GUARD_MS
        )

    def received(self) -> list[Event]:
        events: list[Event] = self.page.evaluate("() => received")
        return events

    def sdk_errors(self) -> list[str]:
        """Errors the server sent (the SDK's `error` event), the SDK's own, the page's."""
        errors: list[str] = self.page.evaluate("() => errorsSeen()")
        return errors + self.errors


@dataclass
class Run:
    """One streaming connection through the SDK, and what everyone saw of it."""

    connection_id: str
    speaker: list[Event] = field(default_factory=list)
    subscriber: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Every frame the SDK sent on its streaming socket, as it sent it.
    sent: list[str | bytes] = field(default_factory=list)
    outside: Outside = field(default_factory=Outside)
    conversation_id: str | None = None
    conformance: dict[str, Any] = field(default_factory=dict)
    rest_messages: list[dict[str, Any]] = field(default_factory=list)

    def events(self, name: str, of: str = "speaker") -> list[Event]:
        return [e["data"] for e in getattr(self, of) if e["name"] == name]

    def names(self, of: str = "speaker") -> list[str]:
        return [e["name"] for e in getattr(self, of)]

    def start_request(self) -> dict[str, Any]:
        request: dict[str, Any] = json.loads(next(f for f in self.sent if isinstance(f, str)))
        return request

    def audio_frames(self) -> list[bytes]:
        return [f for f in self.sent if isinstance(f, bytes)]


def open_page(context: BrowserContext, site: RunningServer, run: Run) -> SdkPage:
    tab = SdkPage(context.new_page())
    tab.page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))

    def socket_opened(socket: WebSocket) -> None:
        run.outside.sockets.append(socket.url)
        if "/v1/realtime/insights/" in socket.url:
            # A function, not the bound `append`: Playwright cannot wrap built-in methods.
            socket.on("framesent", lambda frame: run.sent.append(frame))  # noqa: PLW0108

    tab.page.on("websocket", socket_opened)
    tab.page.goto(site.base_url + "/")
    return tab


# Development credentials, as the SDK's README shows them.
CREDENTIALS = {"appId": APP_ID, "appSecret": APP_SECRET}
# The stop's answer. The SDK closes its socket on whichever of `conversation_completed` and
# `recognition_stopped` (its `processing_stopped`) comes first, so either ends the wait.
STOPPED = "received.some((e) => ['conversation_completed', 'processing_stopped'].includes(e.name))"


def finals_of(count: int) -> str:
    """JavaScript: the page has the messages of `count` phrases."""
    return f"received.filter((e) => e.name === 'message').flatMap((e) => e.data).length >= {count}"


def stream(
    browser: Browser,
    site: RunningServer,
    mock: RunningMock,
    *,
    opus: dict[str, Any] | None = None,
    encoding: str | None = None,
    subscribe: bool = False,
) -> Run:
    """Stream the fixture's speech through the SDK until every phrase is final, then stop.

    An error from the server or the SDK ends the run early; the tests read it in `errors`."""
    run = Run(f"hot--{uuid.uuid4()}")
    context = browser.new_context()
    context.route("**/*", run.outside.route)
    try:
        speaker = open_page(context, site, run)
        where = {"basePath": mock.base_url, "id": run.connection_id}
        opened = speaker.call("openStreaming", {"auth": CREDENTIALS, "opus": opus, **where})
        assert opened == run.connection_id
        tabs = [speaker]
        if subscribe:
            # Listen-only, with an access token as a production page would.
            tabs.append(open_page(context, site, run))
            access = {"accessToken": token(mock.base_url)}
            assert tabs[1].call("subscribe", {"auth": access, **where}) is True
        options = json.loads(json.dumps(START))
        if encoding:
            options["config"]["encoding"] = encoding
        speaker.call("startProcessing", options)
        # The subscriber has every phrase too before the speaker stops: it heard them live.
        for tab in tabs:
            tab.wait_until(finals_of(len(PHRASES)))
        if not any(tab.sdk_errors() for tab in tabs):
            speaker.call("stopProcessing")
            for tab in tabs:
                tab.wait_until(STOPPED)
            run.conversation_id = speaker.call("disconnect")
            if subscribe:
                tabs[1].call("unsubscribe")
            # Its detector polls every 3 s until answered: wait for the first poll, whenever.
            deadline = time.monotonic() + GUARD_MS / 1000
            while CONNECTIVITY not in run.outside.answered and time.monotonic() < deadline:
                speaker.page.wait_for_timeout(100)  # lets Playwright run the route handler
        run.speaker = speaker.received()
        run.subscriber = tabs[1].received() if subscribe else []
        run.errors = [error for tab in tabs for error in tab.sdk_errors()]
    finally:
        context.close()
    # The journal waits for the server to finish with the connection; then its report.
    assert [e for e in mock.journal(settle_s=30) if e.connection_id == run.connection_id]
    run.conformance = conformance(mock, run.connection_id)
    if run.conversation_id:
        run.rest_messages = rest_messages(mock, run.conversation_id)
    return run


def bearer(mock: RunningMock) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(mock.base_url)}"}


def conformance(mock: RunningMock, connection_id: str) -> dict[str, Any]:
    reply = httpx.get(
        f"{mock.base_url}/v1/mock/sessions/{connection_id}/conformance", headers=bearer(mock)
    )
    reply.raise_for_status()
    report: dict[str, Any] = reply.json()
    return report


def rest_messages(mock: RunningMock, conversation_id: str) -> list[dict[str, Any]]:
    reply = httpx.get(
        f"{mock.base_url}/v1/conversations/{conversation_id}/messages", headers=bearer(mock)
    )
    reply.raise_for_status()
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


@pytest.fixture(scope="module")
def linear16(browser: Browser, site: RunningServer, mock_server: RunningMock) -> Run:
    """The SDK's default: LINEAR16 from the default microphone, and a subscriber listening."""
    run = stream(browser, site, mock_server, subscribe=True)
    assert run.errors == [], run.errors
    return run


# ---------------------------------------------------------------------------------------------
# Reading what the SDK handed the page


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def spoken(phrase: dict[str, Any]) -> list[str]:
    return [w["word"] for w in phrase["words"]]


def recognised(result: Event) -> list[str]:
    return [w["word"] for w in result["payload"]["raw"]["alternatives"][0]["words"]]


def phrases_heard(results: list[Event]) -> list[list[Event]]:
    """Captions grouped by phrase: partials, then the phrase's final."""
    groups: list[list[Event]] = [[]]
    for result in results:
        groups[-1].append(result)
        if result["isFinal"]:
            groups.append([])
    assert groups[-1] == [], "captions after the last final"
    return groups[:-1]


def messages(run: Run, of: str = "speaker") -> list[Event]:
    return [m for batch in run.events("message", of) for m in batch]


def index(events: list[Event], name: str, predicate: Callable[[Any], bool] = bool) -> int:
    """The position of the first `name` event whose data satisfies `predicate`."""
    return next(i for i, e in enumerate(events) if e["name"] == name and predicate(e["data"]))


def assert_hears_the_transcript(run: Run) -> None:
    """Captions grow into finals with exactly the transcript's words; one message each."""
    assert run.errors == [], run.errors
    heard = phrases_heard(run.events("speech_recognition"))
    assert [recognised(group[-1]) for group in heard] == [spoken(p) for p in PHRASES]
    for group in heard:
        final = recognised(group[-1])
        sizes = [len(recognised(partial)) for partial in group[:-1]]
        assert sizes == sorted(sizes), "a partial lost words"
        for partial in group[:-1]:
            assert recognised(partial) == final[: len(recognised(partial))]
    assert [words(m["payload"]["content"]) for m in messages(run)] == [
        [w.lower() for w in spoken(p)] for p in PHRASES
    ]


# ---------------------------------------------------------------------------------------------
# LINEAR16 from the microphone


def test_the_connection_events_come_in_the_documented_order(linear16: Run) -> None:
    names = linear16.names()
    assert names[0] == "connected"
    lifecycle = [n for n in names if n in LIFECYCLE]
    assert lifecycle == list(LIFECYCLE)
    assert names.index("processing_started") < names.index("speech_recognition")
    # `stopProcessing` sends the stop; the documented `conversation_completed` comes after
    # everything the conversation said, and `disconnect()` closes the connection after it.
    # (The SDK closes its socket on `conversation_completed`, so the `recognition_stopped`
    # the server sends next rarely reaches it as `processing_stopped`.)
    assert "conversation_completed" in names, "the stop was answered without it"
    completed = names.index("conversation_completed")
    assert [n for n in names[completed:] if n != "processing_stopped"] == [
        "conversation_completed",
        "disconnected",
    ]
    assert names.count("conversation_completed") == 1
    ids = {
        linear16.events("conversation_created")[0]["data"]["conversationId"],
        linear16.events("processing_started")[0]["data"]["conversationId"],
        linear16.events("conversation_completed")[0]["conversationId"],
        linear16.conversation_id,  # connection.getConversationId()
    }
    assert ids == {linear16.conversation_id}
    assert re.fullmatch(r"\d{16}", linear16.conversation_id)
    summary = linear16.events("conversation_completed")[0]["summaryUrl"]
    assert summary.startswith("http://127.0.0.1:"), summary


def test_captions_grow_into_finals_with_the_spoken_words(linear16: Run) -> None:
    assert_hears_the_transcript(linear16)
    for result in linear16.events("speech_recognition"):
        assert result["user"]["name"] == SPEAKER["name"]
        assert result["user"]["userId"] == SPEAKER["userId"]


def test_each_message_follows_the_final_caption_of_its_phrase(linear16: Run) -> None:
    events = linear16.speaker
    for number, message in enumerate(messages(linear16)):
        final = index(
            events,
            "speech_recognition",
            lambda r, n=number: r["isFinal"] and recognised(r) == spoken(PHRASES[n]),
        )
        shown = index(events, "message", lambda batch, m=message: m in batch)
        assert final < shown
        assert message["from"]["name"] == SPEAKER["name"]
        said = [w["word"] for w in json.loads(message["metadata"]["words"])]
        assert said == spoken(PHRASES[number])


def test_insights_topics_and_trackers_refer_to_messages_already_received(linear16: Run) -> None:
    events = linear16.speaker
    received = messages(linear16)

    def known_before(position: int) -> set[str]:
        return {m["id"] for e in events[:position] if e["name"] == "message" for m in e["data"]}

    # The question the transcript labels, as the SDK's `question` event, and nothing else.
    expected = [(label, p) for p in PHRASES for label in p["labels"] if label in INSIGHTS]
    found = [(e["name"], e["data"]) for e in events if e["name"] in INSIGHTS]
    assert [(name, words(d["payload"]["content"])) for name, d in found] == [
        (label, [w.lower() for w in spoken(p)]) for label, p in expected
    ]
    for position, event in enumerate(events):
        if event["name"] in INSIGHTS:
            assert event["data"]["messageReference"]["id"] in known_before(position)
        elif event["name"] == "topic":
            for topic in event["data"]:
                refs = {r["id"] for r in topic["messageReferences"]}
                assert refs and refs <= known_before(position)
                held = [m["payload"]["content"].lower() for m in received if m["id"] in refs]
                assert all(topic["phrases"] in text for text in held)
    assert linear16.events("topic"), "no topic event"

    # The tracker asked for, matched where its word was said, after that message.
    (tracker_event,) = linear16.events("tracker")
    (tracker,) = tracker_event
    assert tracker["name"] == TRACKER["name"]
    (match,) = tracker["matches"]
    (ref,) = match["messageRefs"]
    (said,) = [m for m in received if m["id"] == ref["id"]]
    assert match["value"] == "loud"
    assert ref["text"] == said["payload"]["content"]
    assert ref["offset"] == said["payload"]["content"].lower().index("loud")
    assert ref["id"] in known_before(index(events, "tracker"))


def test_the_conversation_api_holds_what_the_sdk_received(linear16: Run) -> None:
    # The web SDK makes no Conversation API call: its Conversation object only keeps the id
    # (`connection.getConversationId()`), with which a page calls the REST API itself.
    assert [(m["id"], m["text"]) for m in linear16.rest_messages] == [
        (m["id"], m["payload"]["content"]) for m in messages(linear16)
    ]


def test_the_sdk_drops_the_first_sample_of_every_buffer(linear16: Run) -> None:
    # The SDK's own bug: LINEAR16AudioStream.processAudio converts each 1024-sample buffer with
    # `for (index = length; index > 0; index -= 1) target[index] = 32767 * min(1, input[index])`,
    # so sample 0 of every frame stays 0 (and the write at `length` falls off the end).
    frames = linear16.audio_frames()
    assert frames and {len(frame) for frame in frames} == {2048}
    assert {frame[:2] for frame in frames} == {b"\0\0"}
    # The mock's conformance report for the connection flags it, on every frame that shows it.
    report = linear16.conformance
    (finding,) = [f for f in report["findings"] if f["code"] == "first_sample_zero"]
    assert finding["evidence"]["frames"] == finding["evidence"]["of"] > 0
    assert report["samples"] == 1024 * report["frames"]


def test_the_start_request_carries_the_documented_options(linear16: Run) -> None:
    request = linear16.start_request()
    # The rate its AudioContext runs at (the capture track's), which the audio really has.
    rate = request["config"]["speechRecognition"]["sampleRateHertz"]
    assert request == {
        "type": "start_request",
        "insightTypes": START["insightTypes"],
        "config": {
            **START["config"],
            "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": rate},
        },
        "speaker": SPEAKER,
        "trackers": [TRACKER],
    }
    assert linear16.conformance["declared"] == {"encoding": "LINEAR16", "sample_rate": rate}
    codes = {f["code"] for f in linear16.conformance["findings"]}
    assert "sample_rate_mismatch" not in codes


def test_a_subscriber_hears_the_captions_and_messages_live(linear16: Run) -> None:
    shared = ("speech_recognition", "message", "topic", "tracker", *LIFECYCLE, *INSIGHTS)
    heard = [e for e in linear16.subscriber if e["name"] in shared]
    said = [e for e in linear16.speaker if e["name"] in shared]
    assert heard == said
    assert linear16.subscriber[0]["name"] == "connected"
    assert linear16.subscriber[-1]["name"] == "disconnected"
    (completed,) = linear16.events("conversation_completed", of="subscriber")
    assert completed["conversationId"] == linear16.conversation_id


def test_no_request_leaves_loopback(linear16: Run) -> None:
    outside = linear16.outside
    assert outside.escaped == []
    # `basePath` moves the token call too (the SDK sets it on its OAuth client).
    assert any(url.endswith("/oauth2/token:generate") for url in outside.continued)
    assert CONNECTIVITY in outside.answered
    assert set(outside.answered) == {CONNECTIVITY}
    assert outside.sockets and all(
        re.match(r"ws://127\.0\.0\.1:\d+/v1/(realtime/insights|subscribe)/", url)
        for url in outside.sockets
    ), outside.sockets


# ---------------------------------------------------------------------------------------------
# Opus: the SDK's documented `encoding: "OPUS"` (raw Opus packets, one per frame), and Ogg pages

# RFC 6716 section 3.1: the TOC configurations of 20 ms frames (SILK, hybrid, CELT).
TWENTY_MS = {1, 5, 9, 13, 15, 19, 23, 27, 31}


def test_opus_from_the_microphone_is_heard_word_for_word(
    browser: Browser, site: RunningServer, mock_server: RunningMock
) -> None:
    run = stream(browser, site, mock_server, encoding="OPUS")
    # What the SDK sends: every frame one bare Opus packet (symbl-opus-encdec with its
    # `rawOpus: true`), a single 20 ms mono frame, encoded at 48 kHz.
    frames = run.audio_frames()
    assert frames
    for frame in frames:
        assert frame[0] >> 3 in TWENTY_MS and frame[0] & 0b111 == 0, frame[:8]
    declared = run.start_request()["config"]["speechRecognition"]
    assert declared["encoding"] == "OPUS"
    assert_hears_the_transcript(run)
    assert run.conformance["declared"]["sample_rate"] == declared["sampleRateHertz"]
    # The first-sample bug lives in the LINEAR16 conversion only.
    assert "first_sample_zero" not in {f["code"] for f in run.conformance["findings"]}
    assert run.outside.escaped == []


def test_ogg_opus_pages_from_an_opus_audio_stream_are_heard_word_for_word(
    browser: Browser, site: RunningServer, mock_server: RunningMock
) -> None:
    run = stream(browser, site, mock_server, opus=OGG_OPUS)
    # What the SDK sends: every frame one Ogg page of up to 40 packets (800 ms). It drops
    # whatever the encoder emits before the server's `started_listening` (RealtimeApi.sendAudio
    # sends only once a request has started). The encoder emits the OpusHead and OpusTags pages
    # (sequence 0 and 1) when it starts: on a quiet machine before the start request is
    # answered, so the stream the server gets begins with an audio page; on a busy one the
    # answer can come first and the stream carries its headers. The mock hears both.
    frames = run.audio_frames()
    assert frames and all(frame.startswith(b"OggS") for frame in frames)
    first = frames[0]
    sequence = int.from_bytes(first[18:22], "little")
    if first[5] & 0x02:
        assert sequence == 0 and b"OpusHead" in first
    else:
        assert sequence >= 1
        assert not any(b"OpusHead" in frame for frame in frames)
    assert run.start_request()["config"]["speechRecognition"]["encoding"] == "OPUS"
    assert_hears_the_transcript(run)
    assert run.outside.escaped == []
