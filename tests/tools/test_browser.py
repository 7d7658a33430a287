"""Real browser clients: the tutorial's page and a corrected one in headless Chromium, a fixture
as their microphone, against the mock through the recording proxy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from numpy.typing import NDArray

from harness.session_folder.transcript import read_transcript
from harness.text_norm import corpus_word_error_rates, word_error_rates
from mock_symbl.engines import whisper_model

from helpers import ROOT

PAGES = ROOT / "fixtures" / "browser"
HOT = ROOT / "fixtures" / "sessions" / "hot"


def run_browser(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "browser", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )


@pytest.fixture(scope="module")
def chromium(require: Callable[[str, bool, str], None]) -> str:
    path = shutil.which("chromium")
    require("Chromium", path is not None, "apt-get install chromium")
    assert path is not None
    return path


def page_run(page: str, out: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    done = run_browser(str(PAGES / page), "--audio", str(HOT / "audio.wav"), "--mock",
                       "--out", str(out), "--json")  # fmt: skip
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    console = (out / "console.log").read_text() if (out / "console.log").exists() else ""
    return done, report, console


@pytest.fixture(scope="module")
def tutorial(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return page_run("tutorial.html", tmp_path_factory.mktemp("tutorial"))


@pytest.fixture(scope="module")
def corrected(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return page_run("corrected.html", tmp_path_factory.mktemp("corrected"))


def codes(report: dict[str, Any]) -> set[str]:
    return {finding["code"] for finding in report["conformance"]["findings"]}


def clipped_phrases(report: dict[str, Any]) -> list[str]:
    """The fixture's phrases that the clipping finding's positions fall in, each found by
    lining up the received audio around it with the fixture: the page starts sending when it
    can, and a page starved of CPU loses stretches of what it heard, so no one offset holds for
    the whole stream."""
    (clipping,) = (f for f in report["conformance"]["findings"] if f["code"] == "clipping")
    received, _ = sf.read(Path(report["session"]) / "audio.wav", dtype="float64")
    sent, rate = sf.read(HOT / "audio.wav", dtype="float64")
    phrases = read_transcript(HOT / "transcript.json").phrases
    found = []
    for position in clipping["evidence"]["first_positions"]:
        # The device hears the fixture at its own rate, 48 kHz (both pages send it as it is).
        at = fixture_time(received, sent, position, rate)
        inside = [p.text for p in phrases if p.start - 0.05 <= at <= p.end]
        assert len(inside) == 1, (at, phrases)
        found.extend(inside)
    # In order, each once (a pause inside a phrase may start a second stretch in it).
    return list(dict.fromkeys(found))


def fixture_time(
    received: NDArray[np.float64], sent: NDArray[np.float64], position: int, rate: int
) -> float:
    """Where in the fixture the received sample at `position` was heard: the 0.3 s of received
    audio around it, cross-correlated with the whole fixture."""
    begin = max(0, position - int(0.15 * rate))
    piece = received[begin : position + int(0.15 * rate)]
    size = 1 << (piece.size + sent.size).bit_length()
    match = np.fft.irfft(np.fft.rfft(sent, size) * np.conj(np.fft.rfft(piece, size)), size)
    # The lag at which the piece best matches the fixture: where it starts in the fixture.
    start = int(np.argmax(match))
    start = start - size if start > size // 2 else start
    return (start + position - begin) / rate


def test_the_tutorial_page_gets_the_conversion_and_sample_rate_findings(tutorial: Any) -> None:
    done, report, _ = tutorial
    assert done.returncode == 1, done.stderr
    assert {"sample_rate_mismatch", "first_sample_zero", "clipping"} <= codes(report)
    # The page drops what it hears until its socket is open: the first phrase may be gone.
    assert "Is this too loud?" in clipped_phrases(report)
    rate = next(f for f in report["conformance"]["findings"] if f["code"] == "sample_rate_mismatch")
    assert rate["explanation"].startswith("declared 44100 Hz, audio arrives at ~48000 Hz")


@pytest.fixture
def saturated_cpu(require: Callable[[str, bool, str], None]) -> Iterator[None]:
    """Both cores busy (`stress-ng --cpu 2`) while the test runs."""
    path = shutil.which("stress-ng")
    require("stress-ng", path is not None, "apt-get install stress-ng")
    assert path is not None
    # Its own timeout ends the load even if this process dies before the `finally`.
    load = subprocess.Popen(
        [path, "--cpu", "2", "--timeout", "600", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        # stress-ng stops its workers when it is terminated.
        load.terminate()
        load.wait(timeout=60)


@pytest.mark.brings_load
def test_the_tutorial_page_on_a_saturated_cpu_still_gets_the_sample_rate_finding(
    chromium: str, saturated_cpu: None, tmp_path: Path
) -> None:
    # A page starting up on a busy machine stalls, then sends what it captured in bursts:
    # the rate is read from the frames that came soonest after capture, not from the average.
    done, report, _ = page_run("tutorial.html", tmp_path)
    assert done.returncode == 1, done.stderr
    findings = {f["code"]: f for f in report["conformance"]["findings"]}
    assert "sample_rate_mismatch" in findings, findings
    rate = findings["sample_rate_mismatch"]
    assert rate["explanation"].startswith("declared 44100 Hz, audio arrives at ~48000 Hz")
    assert rate["evidence"]["likely_hz"] == 48000
    assert "Is this too loud?" in clipped_phrases(report)


def test_the_corrected_page_gets_only_the_clipping_of_the_hot_microphone(corrected: Any) -> None:
    done, report, _ = corrected
    assert done.returncode == 1, done.stderr + done.stdout
    # Clipping is the audio's, not the page's: both phrases of `hot` are clipped.
    assert codes(report) == {"clipping"}
    assert clipped_phrases(report) == [
        "Testing the microphone, one two three.",
        "Is this too loud?",
    ]
    assert report["conformance"]["declared"] == {"encoding": "LINEAR16", "sample_rate": 48000}


@pytest.mark.parametrize("which", ["tutorial", "corrected"])
def test_both_pages_receive_the_conversation_transcripts_insights_and_sentiment(
    which: str, request: pytest.FixtureRequest
) -> None:
    _, report, console = request.getfixturevalue(which)
    assert "log: conversationId " in console
    assert "Transcript (more accurate):  Testing the microphone one two three." in console
    assert "Insight detected:  Is this too loud?" in console
    assert '"sentiment":{"polarity":{"score":' in console
    session = Path(report["session"])
    assert (session / "audio.wav").is_file()
    assert (session / "rest.jsonl").is_file()


def test_the_token_never_lands_on_disk(tutorial: Any) -> None:
    _, report, _ = tutorial
    out = Path(report["session"]).parents[1]
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".log", ".json", ".jsonl"):
            assert "eyJ" not in path.read_text(), path


def test_a_page_that_never_opens_a_socket_is_named(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "silent.html"
    page.write_text("<!-- wss://api.symbl.ai is never used --><p>nothing here</p>")
    done = run_browser(str(page), "--audio", str(HOT / "audio.wav"), "--mock",
                       "--open-timeout", "2", "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 2
    assert "the page opened no WebSocket to the endpoint within 2 s" in done.stderr


def test_a_wav_the_browser_cannot_play_is_refused(chromium: str, tmp_path: Path) -> None:
    wav = tmp_path / "broken.wav"
    wav.write_bytes(b"RIFF\x00\x00not really a wave file")
    done = run_browser(str(PAGES / "tutorial.html"), "--audio", str(wav), "--mock")
    assert done.returncode == 2
    # What it was about to do (the one status line), then one line naming the problem.
    status, *error = done.stderr.strip().splitlines()
    assert status.startswith(f"running {PAGES / 'tutorial.html'} in headless Chromium")
    assert len(error) == 1 and error[0].startswith("error: ")
    assert "not audio the browser can play" in error[0]


def test_a_missing_chromium_names_the_package(tmp_path: Path) -> None:
    bare_path = str(Path(sys.executable).parent)
    done = run_browser(str(PAGES / "tutorial.html"), "--audio", str(HOT / "audio.wav"), "--mock",
                       env={**os.environ, "PATH": bare_path})  # fmt: skip
    assert done.returncode == 2
    assert "Chromium is not installed (install it: apt-get install chromium)" in done.stderr


def test_a_page_with_no_symbl_endpoint_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "elsewhere.html"
    page.write_text("<script>new WebSocket('ws://example.invalid/')</script>")
    done = run_browser(str(page), "--audio", str(HOT / "audio.wav"), "--mock",
                       "--chromium", sys.executable)  # fmt: skip
    assert done.returncode == 2
    assert "the page has no Symbl endpoint" in done.stderr


# Seconds of quiet before the first sentence.
LEAD_S = 5
# Three sentences, each its own sentiment; the third a request put as a question.
SPOKEN = (
    "I am really happy with how the launch went this week.",
    "Unfortunately the payment page crashed twice last night and customers are angry.",
    "Could you send me the incident report by Friday?",
)


def test_the_tutorial_page_speaking_three_sentences_gets_a_message_each(
    chromium: str, espeak_ng: str, require: Callable[[str, bool, str], None], tmp_path: Path
) -> None:
    # No recording or transcript for this audio: `--mock` recognises it, with the whisper
    # engine (CI installs its extra).
    require("the whisper extra", whisper_model.available(), whisper_model.INSTALL)
    said = tmp_path / "said.wav"
    subprocess.run([espeak_ng, "-v", "en-us", "-s", "160", "-w", str(said), " ".join(SPOKEN)],
                   check=True, capture_output=True)  # fmt: skip
    # The page drops what its microphone hears until its socket is open, which on a loaded
    # machine takes seconds (a run lost "I am really happy with"): the speaker waits, as a
    # person would.
    speech, rate = sf.read(said, dtype="int16")
    sf.write(said, np.concatenate([np.zeros(LEAD_S * rate, dtype=np.int16), speech]), rate)
    done = run_browser(str(PAGES / "tutorial.html"), "--audio", str(said), "--mock",
                       "--out", str(tmp_path / "out"), "--json")  # fmt: skip
    # Exit 1: the tutorial's own conversion and sample-rate findings.
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    rest = Path(report["session"]) / "rest.jsonl"
    answers = [json.loads(line) for line in rest.read_text().splitlines()]
    # What the page fetched last, once the stream stopped: GET …/messages?sentiment=true.
    fetched = [a for a in answers if a["method"] == "GET" and a["path"].endswith("/messages")]
    messages = fetched[-1]["response"]["messages"]
    assert len(messages) == len(SPOKEN), [m["text"] for m in messages]
    # The right words, nearly all: the page declares 44.1 kHz and sends 48 kHz, so the mock
    # hears the speech 9 % slower and lower, and a word or two may go.
    pairs = [(sentence, m["text"]) for sentence, m in zip(SPOKEN, messages, strict=True)]
    assert corpus_word_error_rates(pairs).normalised <= 0.2, pairs
    assert all(word_error_rates(*pair).normalised <= 0.4 for pair in pairs), pairs
    labels = [m["sentiment"]["suggested"] for m in messages]
    assert labels[:2] == ["positive", "negative"]
    console = (tmp_path / "out" / "console.log").read_text()
    assert f"Transcript (more accurate):  {messages[0]['text']}" in console
    assert f"Insight detected:  {messages[2]['text']}" in console
