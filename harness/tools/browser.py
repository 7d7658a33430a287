"""Run a real browser client: a page in headless Chromium, a WAV as its microphone.

The page is served on loopback with its Symbl host and token placeholders pointed at a
recording proxy in front of the endpoint; Chromium (Debian's, driven by Playwright, no
browser download) hears the WAV through its fake capture device. When the audio has
played, the harness does what the tutorial tells its reader to do by hand: it sends a
`stop_request` on the page's socket. The session folder, the page's console and the
client's conformance report are kept in the output folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from harness.client.auth import http_base
from harness.conformance.check import CONFORMANCE_FILE
from harness.errors import EndpointError, HarnessError
from harness.serve import RunningServer, running
from harness.session_folder.redact import Redactor
from harness.tools.proxy import create_proxy, tell
from harness.tools.targets import Target

SYMBL_HOST = "api.symbl.ai"
TOKEN_PLACEHOLDER = "{{SYMBL_ACCESS_TOKEN}}"
# The tutorial's `const accessToken = ""`: an empty token for the reader to fill in.
EMPTY_TOKEN = re.compile(r"""\b(accessToken\s*=\s*)(["'])\2""")
INSTALL_CHROMIUM = "apt-get install chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
)
# Most audio hardware runs at 48 kHz, and an AudioContext takes the hardware's rate;
# headless Chromium alone would run at 44100 Hz and hide a hard-coded 44100.
DEVICE_RATE = 48000
OPEN_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 30.0
REST_GRACE_S = 2.0
# What Playwright's connection says when its driver process has exited.
DRIVER_GONE = "Connection closed while reading from the driver"
# Before the page's own code runs: note every socket it opens (so the harness can send the
# stop the tutorial's reader would type), and give AudioContexts the device's rate.
INIT_SCRIPT = """
(() => {
  const Native = window.WebSocket;
  window.__symblHarnessSockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__symblHarnessSockets.push(this); }
  };
  const rate = %s;
  if (rate) {
    const NativeContext = window.AudioContext;
    window.AudioContext = class extends NativeContext {
      constructor(options) { super({ sampleRate: rate, ...(options || {}) }); }
    };
  }
})();
"""
STOP_SCRIPT = """
() => window.__symblHarnessSockets
  .filter((socket) => socket.readyState === WebSocket.OPEN)
  .map((socket) => socket.send(JSON.stringify({ type: "stop_request" })))
  .length
"""


class BrowserError(HarnessError):
    """The browser run could not happen or went wrong; the message is one line."""


@dataclass
class BrowserRun:
    """What one page did: its session folder, its console, and its conformance report."""

    out: Path
    session: Path | None = None
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    conformance: dict[str, Any] | None = None
    stopped_by_harness: int = 0

    def to_json(self) -> dict[str, Any]:
        """The run as `browser.json` holds it."""
        return {
            "session": str(self.session) if self.session else None,
            "console_lines": len(self.console),
            "page_errors": self.page_errors,
            "stopped_by_harness": self.stopped_by_harness,
            "conformance": self.conformance,
        }


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium executable to drive; a clear error naming the package if there is none."""
    if explicit:
        found = shutil.which(explicit)
        if found is None:
            raise BrowserError(f"{explicit!r} is not an executable (install: {INSTALL_CHROMIUM})")
        return found
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise BrowserError(f"Chromium is not installed (install it: {INSTALL_CHROMIUM})")
    return found


def prepare_audio(wav: Path, out: Path) -> float:
    """Copy the WAV as 16-bit PCM (what the fake capture device reads) to `out`; its seconds."""
    try:
        audio, rate = sf.read(wav, dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise BrowserError(f"{wav}: not audio the browser can play ({error})") from None
    if audio.shape[0] == 0:
        raise BrowserError(f"{wav}: the file holds no audio")
    sf.write(out, audio, rate, subtype="PCM_16", format="WAV")
    return float(audio.shape[0] / rate)


def point_at(html: str, proxy: RunningServer, token: str) -> str:
    """The page with its Symbl host and token placeholders pointed at the proxy and token."""
    if f"wss://{SYMBL_HOST}" not in html and "{{SYMBL_WS_BASE}}" not in html:
        raise BrowserError(
            f"the page has no Symbl endpoint to point at the mock "
            f"(expected wss://{SYMBL_HOST}/… or {{{{SYMBL_WS_BASE}}}})"
        )
    html = html.replace(f"wss://{SYMBL_HOST}", proxy.ws_url)
    html = html.replace(f"https://{SYMBL_HOST}", proxy.base_url)
    html = html.replace("{{SYMBL_WS_BASE}}", proxy.ws_url)
    html = html.replace("{{SYMBL_HTTP_BASE}}", proxy.base_url)
    html = html.replace(TOKEN_PLACEHOLDER, token)
    return EMPTY_TOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)}{token}{m.group(2)}", html)


@contextlib.contextmanager
def serving_page(html: str) -> Iterator[RunningServer]:
    """Serve one page at `/` on loopback."""

    async def page(_: Any) -> HTMLResponse:
        return HTMLResponse(html)

    with running(Starlette(routes=[Route("/", page)])) as server:
        yield server


def _unless_the_driver_left(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Report what the loop reports, except that the Playwright driver has gone: Ctrl-C in a
    terminal reaches the driver too (it runs in our process group) and it exits at once,
    while the run, interrupted, no longer awaits it."""
    if str(context.get("exception")) == DRIVER_GONE:
        return
    loop.default_exception_handler(context)


@dataclass
class _Unreachable:
    """What the proxy says: that it cannot reach the endpoint, which ends the run, and other
    problems, told as the proxy command tells them."""

    said: list[str] = field(default_factory=list)

    def heard(self, problem: str) -> None:
        if problem.startswith("cannot connect to "):
            self.said.append(problem)
        else:
            tell(problem)


async def _wait_for(condition: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return bool(condition())


@dataclass(frozen=True)
class BrowserOptions:
    """How the browser runs the page."""

    chromium: str
    # The rate AudioContexts get, as on audio hardware; None keeps the browser's own.
    device_rate: int | None = DEVICE_RATE
    # Send the page's sockets a stop_request once the audio has played.
    stop: bool = True
    open_timeout_s: float = OPEN_TIMEOUT_S


async def run_browser(
    page: Path, audio: Path, where: Target, out: Path, options: BrowserOptions
) -> BrowserRun:
    """Run `page` in headless Chromium with `audio` as its microphone, through a recording
    proxy in front of `where`; write everything under `out`."""
    from playwright.async_api import Error as PlaywrightError  # noqa: PLC0415
    from playwright.async_api import async_playwright  # noqa: PLC0415

    asyncio.get_running_loop().set_exception_handler(_unless_the_driver_left)

    try:
        html = page.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BrowserError(f"{page}: cannot read the page ({error})") from None
    out.mkdir(parents=True, exist_ok=True)
    seconds = prepare_audio(audio, out / "microphone.wav")
    sessions = out / "sessions"
    run = BrowserRun(out)
    upstream = http_base(where.endpoint)
    token = where.tokens.token()
    redactor = Redactor(where.tokens.secrets)
    unreachable = _Unreachable()
    with (
        running(create_proxy(upstream, sessions, unreachable.heard)) as proxy,
        serving_page(point_at(html, proxy, token)) as site,
    ):
        async with async_playwright() as playwright:
            try:
                browser = await playwright.chromium.launch(
                    executable_path=options.chromium,
                    args=[
                        *CHROMIUM_ARGS,
                        f"--use-file-for-fake-audio-capture={out / 'microphone.wav'}%noloop",
                    ],
                )
            except PlaywrightError as error:
                first = str(error).strip().splitlines()[0]
                raise BrowserError(f"Chromium did not start: {first}") from None
            try:
                tab = await browser.new_page()
                tab.on("console", lambda m: run.console.append(f"{m.type}: {m.text}"))
                tab.on("pageerror", lambda e: run.page_errors.append(str(e)))
                await tab.add_init_script(INIT_SCRIPT % (options.device_rate or "null"))
                await tab.goto(site.base_url + "/")
                opened = await _wait_for(
                    lambda: unreachable.said or (sessions.is_dir() and any(sessions.iterdir())),
                    options.open_timeout_s,
                )
                if unreachable.said:
                    raise EndpointError(unreachable.said[0])
                if not opened:
                    raise BrowserError(
                        f"the page opened no WebSocket to the endpoint within "
                        f"{options.open_timeout_s:g} s"
                        + (f" (page error: {run.page_errors[0]})" if run.page_errors else "")
                    )
                run.session = next(iter(sorted(sessions.iterdir())))
                await asyncio.sleep(seconds + 1.0)
                if options.stop:
                    run.stopped_by_harness = await tab.evaluate(STOP_SCRIPT)
                report = run.session / CONFORMANCE_FILE
                if await _wait_for(report.is_file, CLOSE_TIMEOUT_S):
                    await asyncio.sleep(REST_GRACE_S)
            finally:
                await browser.close()
    (out / "console.log").write_text(
        "".join(redactor.text(line) + "\n" for line in run.console), encoding="utf-8"
    )
    report = run.session / CONFORMANCE_FILE
    if report.is_file():
        run.conformance = json.loads(report.read_text())
    (out / "browser.json").write_text(json.dumps(run.to_json(), indent=1) + "\n")
    return run
