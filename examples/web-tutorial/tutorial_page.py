"""Open the live sentiment tutorial's page in headless Chromium with a WAV as its microphone.

    python tutorial_page.py speech.wav --api-host 127.0.0.1:8080 --token TOKEN [--json]

The page (index.html beside this file: the tutorial's full code sample, unchanged, in a page
that shows what it logs) is served on loopback with the values a reader of the tutorial fills
in: the host it calls instead of api.symbl.ai, the access token, and the e-mail its meeting id
is made from (`btoa("user@example.com")`; the tutorial's id is "any string of your choosing",
and a fresh one a run keeps runs apart). Chromium (Debian's /usr/bin/chromium, driven by
Playwright; no browser is downloaded) hears the WAV through its fake capture device in real
time. When the audio has played, or the page has logged an error from the server, the driver
does what the tutorial tells its reader to do: it sends a `stop_request` on the page's socket
from the console. It then waits for the socket to close and for the sentiment request the
page makes when the conversation completes, and prints what the page showed as JSON.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import secrets
import shutil
import sys
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().parent / "index.html"
SYMBL_HOST = "api.symbl.ai"
TUTORIAL_EMAIL = "user@example.com"
EMPTY_TOKEN = 'const accessToken = ""'
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
]
# Before the page's own code runs, keep its sockets where the console can reach them (the
# tutorial's `const ws` is module-scoped): the stop below is what its reader types by hand.
REMEMBER_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__tutorialSockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__tutorialSockets.push(this); }
  };
})();
"""
STOP = """
() => window.__tutorialSockets
  .filter((socket) => socket.readyState === WebSocket.OPEN)
  .map((socket) => socket.send(JSON.stringify({ type: "stop_request" })))
  .length
"""
LINES = """
() => Array.from(document.querySelectorAll("#console li"))
  .map((li) => ({ level: li.dataset.level, text: li.textContent }))
"""
TRANSCRIPT = "Transcript (more accurate): "
LIVE = "Live transcript (less accurate): "
RESPONSE = "Response type: "
CLOSED = "Connection to websocket closed"


@dataclass
class PageRun:
    """What the page showed, line by line, and what that means."""

    connection_id: str
    sockets: list[str] = field(default_factory=list)
    lines: list[dict[str, str]] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)
    live: list[str] = field(default_factory=list)
    # The last answer of the page's sentiment request: the conversation's messages.
    sentiment: list[dict[str, Any]] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    stopped: int = 0
    closed: bool = False
    page_errors: list[str] = field(default_factory=list)


def meeting_email() -> str:
    """A fresh e-mail whose `btoa` is a path-safe meeting id (no `+` or `/`)."""
    while True:
        email = f"user-{secrets.token_hex(6)}@example.com"
        encoded = base64.b64encode(email.encode()).decode()
        if "+" not in encoded and "/" not in encoded:
            return email


def configure(html: str, *, api_host: str, token: str, email: str) -> str:
    """The tutorial's page with its host, token and meeting e-mail filled in (plain ws/http:
    the host is a loopback server)."""
    for needed in (f"wss://{SYMBL_HOST}", EMPTY_TOKEN, f'btoa("{TUTORIAL_EMAIL}")'):
        if needed not in html:
            raise SystemExit(f"{PAGE.name}: expected the tutorial's {needed!r}")
    html = html.replace(f"wss://{SYMBL_HOST}", f"ws://{api_host}")
    html = html.replace(f"https://{SYMBL_HOST}", f"http://{api_host}")
    html = html.replace(EMPTY_TOKEN, f"const accessToken = {json.dumps(token)}")
    return html.replace(f'btoa("{TUTORIAL_EMAIL}")', f"btoa({json.dumps(email)})")


@contextlib.contextmanager
def serving(html: str) -> Iterator[str]:
    """Serve `html` at `/` on a loopback port; yields the page's URL."""
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def wav_seconds(path: Path) -> float:
    """How long the microphone plays."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def read_lines(run: PageRun, lines: list[dict[str, str]]) -> None:
    """What the page's lines say: transcripts, errors from the server, the sentiment answer."""
    run.lines = lines
    run.transcripts = [ln["text"][len(TRANSCRIPT) :].strip() for ln in lines
                       if ln["text"].startswith(TRANSCRIPT)]  # fmt: skip
    run.live = [ln["text"][len(LIVE) :].strip() for ln in lines if ln["text"].startswith(LIVE)]
    run.closed = any(ln["text"] == CLOSED for ln in lines)
    run.errors = []
    for line in lines:
        text = line["text"]
        if text.startswith(RESPONSE) and "Object: " in text:
            data = _json(text.split("Object: ", 1)[1])
            message = data.get("message") if data.get("type") == "message" else data
            if isinstance(message, dict) and message.get("type") == "error":
                run.errors.append(message)
        elif text.startswith("{"):
            answer = _json(text)
            if isinstance(answer.get("messages"), list):
                run.sentiment = answer["messages"]


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def run_page(
    wav: Path, *, api_host: str, token: str, chromium: str, settle_s: float = 20.0
) -> PageRun:
    """Run the page against `api_host` with `wav` as its microphone; see the module's doc."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  (only when a page runs)

    email = meeting_email()
    run = PageRun(connection_id=base64.b64encode(email.encode()).decode())
    html = configure(PAGE.read_text(encoding="utf-8"), api_host=api_host, token=token, email=email)
    with serving(html) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}%noloop"],
        )
        try:
            page = browser.new_page()
            # The sockets the page opened, without their query (the token).
            page.on("websocket", lambda socket: run.sockets.append(socket.url.split("?")[0]))
            page.on("pageerror", lambda error: run.page_errors.append(str(error)))
            page.add_init_script(REMEMBER_SOCKETS)
            page.goto(url)
            # The microphone plays in real time; stop when it has, or on an error.
            until = time.monotonic() + wav_seconds(wav) + 1.5
            while time.monotonic() < until:
                read_lines(run, page.evaluate(LINES))
                if run.errors or run.closed:
                    break
                page.wait_for_timeout(250)
            run.stopped = page.evaluate(STOP)
            # Then the socket closes, and the sentiment request made when the conversation
            # completed (the tutorial asks on every message that carries a conversation id)
            # answers.
            until = time.monotonic() + settle_s
            while time.monotonic() < until:
                read_lines(run, page.evaluate(LINES))
                if run.closed and _sentiment_settled(run):
                    break
                page.wait_for_timeout(250)
            page.wait_for_timeout(500)
            read_lines(run, page.evaluate(LINES))
        finally:
            browser.close()
    return run


def _sentiment_settled(run: PageRun) -> bool:
    """The page's last sentiment request has logged a complete answer."""
    texts = [ln["text"] for ln in run.lines]
    asked = [i for i, text in enumerate(texts) if text.startswith("conversationId ")]
    return bool(asked) and any(
        _json(text).get("messages") is not None for text in texts[asked[-1] + 1 :]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", type=Path, help="the microphone: a WAV file")
    parser.add_argument("--api-host", required=True, help="HOST:PORT serving Symbl's API")
    parser.add_argument("--token", required=True, help="an access token for that host")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to wait after stop")
    args = parser.parse_args(argv)
    run = run_page(
        args.wav.resolve(),
        api_host=args.api_host,
        token=args.token,
        chromium=args.chromium,
        settle_s=args.settle,
    )
    json.dump(asdict(run), sys.stdout)
    sys.stdout.write("\n")
    return 0 if run.sentiment is not None and not run.errors else 1


if __name__ == "__main__":
    sys.exit(main())
