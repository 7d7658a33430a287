"""A real microphone path: PulseAudio's virtual source, fed from a fixture, recorded with --mic."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import pytest
from scipy import signal

from harness.audio.pcm import resample
from harness.session_folder.log import read_session
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16

from helpers import FIXTURES

RATE = 16000
INSTALL = "apt-get install pulseaudio libportaudio2 libasound2-plugins"


@dataclass
class VirtualMic:
    """A PulseAudio pipe source: what is written to `fifo` is what the microphone hears."""

    env: dict[str, str]
    fifo: Path


@pytest.fixture
def virtual_mic(require: Callable[[str, bool, str], None]) -> Iterator[VirtualMic]:
    require("pulseaudio", shutil.which("pulseaudio") is not None, INSTALL)
    runtime = Path(tempfile.mkdtemp(prefix="pulse-"))
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    fifo = runtime / "mic.fifo"
    pipe = f"source_name=vmic file={fifo} format=s16le rate={RATE} channels=1"
    started = subprocess.run(
        [
            "pulseaudio",
            "-D",
            "-n",
            "--exit-idle-time=-1",
            "--load=module-native-protocol-unix",
            f"--load=module-pipe-source {pipe}",
            "--load=module-always-sink",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    deadline = time.monotonic() + 10
    while not fifo.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    require("a PulseAudio daemon", fifo.exists(), f"{INSTALL} ({started.stderr.strip()[-200:]})")
    subprocess.run(["pactl", "set-default-source", "vmic"], env=env, check=False)
    try:
        yield VirtualMic(env, fifo)
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, check=False)
        shutil.rmtree(runtime, ignore_errors=True)


class Speaker(threading.Thread):
    """Writes silence into the microphone until told to speak, then the speech, then silence."""

    def __init__(self, fifo: Path, speech: np.ndarray) -> None:
        super().__init__(daemon=True)
        self.fifo = fifo
        self.speech = speech
        self.speak = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        # PulseAudio stopping (the fixture's end) closes the pipe: the speaker is done then.
        with contextlib.suppress(BrokenPipeError):
            self._speak()

    def _speak(self) -> None:
        step = RATE // 10
        with self.fifo.open("wb") as pipe:
            t0, written, spoken = time.monotonic(), 0, None
            while not self.done.is_set():
                if spoken is None and self.speak.is_set():
                    spoken = 0
                if spoken is not None and spoken < self.speech.size:
                    chunk = self.speech[spoken : spoken + step]
                    spoken += chunk.size
                else:
                    chunk = np.zeros(step, dtype=np.int16)
                pipe.write(chunk.astype("<i2").tobytes())
                pipe.flush()
                written += chunk.size
                time.sleep(max(0.0, t0 + written / RATE - time.monotonic()))


def test_record_a_live_microphone_against_the_mock(virtual_mic: VirtualMic, tmp_path: Path) -> None:
    fixture = read_pcm16(FIXTURES / "hot" / "audio.wav")
    speech = np.asarray(resample(fixture.samples, fixture.sample_rate, RATE), dtype=np.int16)
    speaker = Speaker(virtual_mic.fifo, speech)
    speaker.start()
    out = tmp_path / "mic"
    recorder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "record",
            str(out),
            "--mic",
            "pulse",
            "--rate",
            str(RATE),
            "--mock",
            "--duration",
            "9",
            "--json",
        ],
        env=virtual_mic.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Speak once the recorder is capturing, so the whole utterance is heard.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and recorder.poll() is None:
            events = out / "events.jsonl"
            if events.exists() and '"kind":"audio"' in events.read_text():
                speaker.speak.set()
                break
            time.sleep(0.02)
        stdout, stderr = recorder.communicate(timeout=90)
    finally:
        speaker.done.set()
        speaker.join(5)
    assert recorder.returncode == 0, stderr
    log = read_session(out)
    assert log.complete
    assert log.sample_rate == RATE
    recorded = log.audio.astype(np.float64)
    assert recorded.size >= 8.9 * RATE
    # Aligned, same content: the fed speech appears whole in the recording.
    correlation = signal.correlate(recorded, speech.astype(np.float64), mode="valid", method="fft")
    lag = int(np.argmax(correlation))
    heard = recorded[lag : lag + speech.size]
    assert np.corrcoef(heard, speech)[0, 1] > 0.999
    assert np.max(np.abs(heard - speech)) <= 2
    # And the mock recognised it.
    finals = [
        message["payload"]["content"]
        for line in stdout.splitlines()
        if (event := json.loads(line))["type"] == "message_response"
        for message in event["event"]["messages"]
    ]
    transcript = read_transcript(FIXTURES / "hot" / "transcript.json")
    assert len(finals) == len(transcript.phrases)

    def words(text: str) -> str:
        return re.sub(r"[^a-z' ]", " ", text.lower())

    assert jiwer.wer(words(transcript.text), words(" ".join(finals))) <= 0.8


def test_devices_lists_the_virtual_microphone(virtual_mic: VirtualMic) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "harness.cli", "devices", "--json"],
        env=virtual_mic.env,
        capture_output=True,
        text=True,
        check=True,
    )
    names = [device["name"] for device in json.loads(listed.stdout)]
    assert "pulse" in names
