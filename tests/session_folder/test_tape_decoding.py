"""A tape records what a client sent in any encoding as PCM, and notes the encoding."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf
from opus_audio import fixture_audio, ogg_frames, ogg_opus, opus_start

from harness.audio.fingerprint import compare_audio
from harness.session_folder.log import ErrorRecord, read_session
from harness.session_folder.redact import Redactor
from harness.session_folder.tape import SessionTape

SAMPLES, RATE = fixture_audio("standup")
SPEECH = SAMPLES[: RATE * 3]


def tape_of(folder: Path, start: dict[str, object], frames: list[bytes]) -> list[str]:
    """Tape a connection that sent `start` then `frames`; what the tape reported."""
    reported: list[str] = []
    tape = SessionTape(
        folder,
        "ws://127.0.0.1/v1/streaming/x",
        redactor=Redactor(),
        report=reported.append,
        header={},
    )
    tape.add("open", ("ws://127.0.0.1/v1/streaming/x", []))
    tape.add("send_text", json.dumps(start))
    for frame in frames:
        tape.add("send_audio", frame)
    tape.add("close", (1000, ""))
    assert tape.close()
    return reported


def start_for(encoding: str, rate: int) -> dict[str, object]:
    """A start request for `encoding` at `rate`."""
    return {
        "type": "start_request",
        "config": {"speechRecognition": {"encoding": encoding, "sampleRateHertz": rate}},
    }


def test_ogg_opus_is_taped_as_pcm_with_its_wire_encoding_noted(tmp_path: Path) -> None:
    frames = ogg_frames(ogg_opus(SPEECH, RATE))
    assert tape_of(tmp_path / "s", opus_start(RATE), frames) == []
    log = read_session(tmp_path / "s")
    assert log.complete
    assert (log.header["encoding"], log.header["wire_encoding"]) == ("LINEAR16", "Opus")
    assert log.sample_rate == RATE
    # A record per frame, and one for the resampler's tail at the close.
    assert len(log.audio_frames()) == len(frames) + 1
    match = compare_audio(log.audio, RATE, SPEECH, RATE, 0.0)
    assert abs(match.offset_s) < 0.005
    assert abs(match.level_db) < 1.0
    assert match.correlation > 0.9


def test_mulaw_is_taped_as_the_pcm_it_stands_for(tmp_path: Path) -> None:
    out = io.BytesIO()
    sf.write(out, SPEECH[:8000], 8000, format="RAW", subtype="ULAW")
    mulaw = out.getvalue()
    tape_of(tmp_path / "m", start_for("MULAW", 8000), [mulaw[:3000], mulaw[3000:]])
    log = read_session(tmp_path / "m")
    expected, _ = sf.read(
        io.BytesIO(mulaw), format="RAW", subtype="ULAW", samplerate=8000, channels=1, dtype="int16"
    )
    assert log.header["wire_encoding"] == "MULAW"
    assert np.array_equal(log.audio, expected)
    assert [f.samples for f in log.audio_frames()] == [3000, len(mulaw) - 3000]


def test_a_broken_stream_is_taped_up_to_the_break_and_named_there(tmp_path: Path) -> None:
    frames = ogg_frames(ogg_opus(SPEECH, RATE))
    broken = bytearray(frames[-2])
    broken[40] ^= 0xFF
    tape_of(tmp_path / "b", opus_start(RATE), [*frames[:-2], bytes(broken), frames[-1]])
    log = read_session(tmp_path / "b")
    assert log.complete
    (error,) = [r for r in log.records if isinstance(r, ErrorRecord)]
    assert "not Ogg/Opus" in error.message
    assert "bad checksum" in error.message
    audio = log.audio_frames()
    # Every frame has its record; those from the break on hold no samples.
    assert len(audio) == len(frames)
    assert [f.samples for f in audio[-2:]] == [0, 0]
    assert 0 < log.audio.size < SPEECH.size


def test_linear16_is_taped_byte_for_byte_without_a_note(tmp_path: Path) -> None:
    pcm = SPEECH[:1000].astype("<i2").tobytes()
    tape_of(tmp_path / "l", start_for("LINEAR16", RATE), [pcm[:501], pcm[501:]])
    log = read_session(tmp_path / "l")
    assert "wire_encoding" not in log.header
    assert log.header["encoding"] == "LINEAR16"
    # Each frame's odd byte stays with the frame that carried it, as before.
    assert [f.odd_byte for f in log.audio_frames()] == [pcm[500:501], pcm[-1:]]
