"""The conformance monitor: each finding from traffic that has the fault, none from traffic
that has not; the same report live from the mock and from a recorded session."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.audio.pcm import float_to_int16, int16_to_float32, resample, seed_float_to_int16
from harness.client.record import Destination, record
from harness.client.session import Stream
from harness.conformance.check import CONFORMANCE_FILE, check_log
from harness.conformance.monitor import ConformanceMonitor
from harness.protocol import StartRequest
from harness.session_folder.log import read_session
from harness.session_folder.wavfile import read_pcm16
from mock_symbl import MockConfig, running_mock

from helpers import FIXTURES, token

FEEDBACK = read_pcm16(FIXTURES / "feedback" / "audio.wav")
SPEECH = int16_to_float32(FEEDBACK.samples)


def start(rate: int, encoding: str = "LINEAR16") -> str:
    config = {"speechRecognition": {"encoding": encoding, "sampleRateHertz": rate}}
    return json.dumps({"type": "start_request", "config": config})


def stream(
    frames: list[bytes],
    *,
    declared: int = 44100,
    seconds_per_frame: float | None = None,
    first: list[str] | None = None,
    stop: str | None = '{"type":"stop_request"}',
) -> ConformanceMonitor:
    """Feed a monitor: the start request (unless `first` replaces it), frames spaced
    `seconds_per_frame` apart (default: real time at the declared rate), the stop, a close."""
    monitor = ConformanceMonitor()
    for text in [start(declared)] if first is None else first:
        monitor.text(0, text)
    at = 0
    for frame in frames:
        at += round((seconds_per_frame or len(frame) / 2 / declared) * 1e9)
        monitor.audio(at, frame)
    if stop is not None:
        monitor.text(at, stop)
    monitor.close(at, 1000)
    return monitor


def framed(samples: np.ndarray, size: int = 4096) -> list[bytes]:
    return [samples[i : i + size].astype("<i2").tobytes() for i in range(0, samples.size, size)]


def seed_frames(signal: np.ndarray, size: int = 4096) -> list[bytes]:
    return [
        seed_float_to_int16(signal[i : i + size]).tobytes() for i in range(0, signal.size, size)
    ]


def test_a_correct_real_time_client_has_no_findings() -> None:
    assert stream(framed(float_to_int16(SPEECH))).findings() == []


def test_the_seed_conversion_zeroes_first_samples_and_wraps_loud_negative_peaks() -> None:
    report = stream(seed_frames(SPEECH * 2.0)).report()
    codes = [f["code"] for f in report["findings"]]
    assert {"first_sample_zero", "sign_flip"} <= set(codes)
    zero = next(f for f in report["findings"] if f["code"] == "first_sample_zero")
    assert zero["evidence"]["frames"] == zero["evidence"]["of"]
    assert all(position % 4096 == 0 for position in zero["evidence"]["first_positions"])


def test_audio_arriving_at_48k_against_a_declared_44k1_is_named() -> None:
    at_48k = resample(SPEECH, 44100, 48000)
    report = stream(framed(float_to_int16(at_48k)), declared=44100, seconds_per_frame=4096 / 48000)
    (finding,) = report.report()["findings"]
    assert finding["code"] == "sample_rate_mismatch"
    assert finding["explanation"].startswith("declared 44100 Hz, audio arrives at ~48000 Hz")
    assert finding["evidence"]["measured_hz"] == pytest.approx(48000, rel=0.01)


def test_a_replay_faster_than_real_time_is_that_and_not_a_rate_mismatch() -> None:
    monitor = stream(framed(float_to_int16(SPEECH)), seconds_per_frame=0.001)
    assert monitor.findings() == ["faster_than_real_time"]


def arrivals(
    frames: int, size: int, rate: int, *, pace: float, flush_s: float = 0.0, seed: int = 0
) -> list[int]:
    """Arrival stamps (ns) of frames sent at `pace` x real time after a flush of `flush_s`
    seconds of buffered audio, each late by up to 50 ms and every hundredth by 300 ms
    (a busy machine), never out of order."""
    lateness = np.random.default_rng(seed).uniform(0, 0.05, frames)
    lateness[::100] += 0.3
    flushed = round(flush_s * rate / size)
    stamps, last = [], 0.0
    for index in range(frames):
        due = max(index - flushed, 0) * size / rate / pace
        last = max(last, due + lateness[index])
        stamps.append(round(last * 1e9))
    return stamps


def fed(frames: list[bytes], stamps: list[int], declared: int) -> ConformanceMonitor:
    monitor = ConformanceMonitor()
    monitor.text(0, start(declared))
    for at, frame in zip(stamps, frames, strict=True):
        monitor.audio(at, frame)
    monitor.text(stamps[-1], '{"type":"stop_request"}')
    monitor.close(stamps[-1], 1000)
    return monitor


def stalled(frames: int, size: int, rate: int, seed: int) -> list[int]:
    """Arrival stamps (ns) of frames captured at `rate` by a page on a saturated CPU: each sent
    within 20 ms of its capture, except during stalls (three of 0.8-0.9 s in the first 2.8 s,
    as a page starting up, then one of 0.1-0.5 s every 0.5-2 s), when nothing is sent and what
    was captured goes at the stall's end in a burst. Late, never early: the browser under
    load."""
    rng = np.random.default_rng(seed)
    stalls = [(0.1, 0.9), (1.0, 1.9), (2.0, 2.8)]
    at = 3.2
    while at < frames * size / rate:
        at += rng.uniform(0.5, 2.0)
        length = rng.uniform(0.1, 0.5)
        stalls.append((at, at + length))
        at += length
    stamps, last = [], 0.0
    for index in range(frames):
        captured = (index + 1) * size / rate
        sent = next((end for begin, end in stalls if begin <= captured < end), captured)
        last = max(last, sent + rng.uniform(0, 0.02))
        stamps.append(round(last * 1e9))
    return stamps


# The arrival-rate estimate on stalled, bursty arrivals (a content bound on the estimate,
# not a timing bound on the test).
WITHIN = 0.005


# Seven seconds, as the tutorial page's run; two minutes, past the 16 s after which the
# envelope's blocks merge to keep its memory constant.
@pytest.mark.parametrize(("seed", "seconds"), [(0, 7), (1, 7), (2, 7), (3, 7), (4, 120)])
def test_48k_audio_declared_44k1_stalled_and_bursty_is_measured_at_48k_and_named(
    seed: int, seconds: int
) -> None:
    at_48k = np.tile(float_to_int16(resample(SPEECH, 44100, 48000)), 6)[: 48000 * seconds]
    frames = framed(at_48k, 1024)
    report = fed(frames, stalled(len(frames), 1024, 48000, seed), 44100).report()
    assert report["arrival_rate_hz"] == pytest.approx(48000, rel=WITHIN)
    findings = {finding["code"]: finding for finding in report["findings"]}
    rate = findings["sample_rate_mismatch"]
    assert rate["explanation"].startswith("declared 44100 Hz, audio arrives at ~48000 Hz")
    assert rate["evidence"]["measured_hz"] == pytest.approx(48000, rel=WITHIN)
    assert "faster_than_real_time" not in findings


@pytest.mark.parametrize("seed", range(4))
def test_44k1_audio_declared_44k1_stalled_and_bursty_is_real_time(seed: int) -> None:
    frames = framed(float_to_int16(SPEECH[: 44100 * 7]), 1024)
    report = fed(frames, stalled(len(frames), 1024, 44100, seed), 44100).report()
    codes = {finding["code"] for finding in report["findings"]}
    assert not codes & {"sample_rate_mismatch", "faster_than_real_time", "behind_real_time"}
    assert report["arrival_rate_hz"] == pytest.approx(44100, rel=WITHIN)


# At 30x the whole stream takes 0.7 s, so the busy machine's lateness weighs more.
@pytest.mark.parametrize(("pace", "within"), [(1.25, 0.02), (2.0, 0.02), (30.0, 0.25)])
def test_a_sender_that_does_not_pace_is_named_with_its_speed(pace: float, within: float) -> None:
    frames = framed(float_to_int16(SPEECH))
    report = fed(frames, arrivals(len(frames), 4096, 44100, pace=pace), 44100).report()
    (finding,) = report["findings"]
    assert finding["code"] == "faster_than_real_time"
    measured = finding["evidence"]["times_real_time"]
    assert measured == pytest.approx(pace, rel=within)
    assert finding["explanation"].startswith(f"audio arrives at {measured:.1f} x real time")


def test_a_buffer_flushed_at_the_start_then_real_time_on_a_busy_machine_is_not_faster() -> None:
    frames = framed(float_to_int16(SPEECH), 1024)
    # Four seconds ahead of the clock from the first second on: more than a sender that
    # does not pace needs to be named, yet the steady part after it is real time.
    stamps = arrivals(len(frames), 1024, 44100, pace=1.0, flush_s=4.0)
    findings = set(fed(frames, stamps, 44100).findings())
    assert not findings & {"faster_than_real_time", "sample_rate_mismatch", "behind_real_time"}


@given(
    pace=st.floats(0.5, 50),
    flush_s=st.floats(0, 2),
    declared=st.sampled_from([8000, 16000, 44100, 48000]),
    seed=st.integers(0, 2**16),
)
# Real-time senders of 48 kHz audio declared 44.1 kHz, and the reverse.
@example(pace=48000 / 44100, flush_s=0.5, declared=44100, seed=0)
@example(pace=44100 / 48000, flush_s=0.5, declared=48000, seed=0)
def test_a_rate_mismatch_and_a_sender_that_does_not_pace_are_never_both_named(
    pace: float, flush_s: float, declared: int, seed: int
) -> None:
    size = 1024
    frames = [bytes(2 * size)] * (10 * declared // size)
    stamps = arrivals(len(frames), size, declared, pace=pace, flush_s=flush_s, seed=seed)
    findings = set(fed(frames, stamps, declared).findings())
    assert {"sample_rate_mismatch", "faster_than_real_time"} - findings
    if pace >= 2:
        # Ten seconds of audio in five or less: five seconds ahead, beyond any buffer.
        assert "faster_than_real_time" in findings


@pytest.mark.parametrize(
    ("first", "stop", "frames", "code"),
    [
        ([], '{"type":"stop_request"}', None, "no_start_request"),
        ([start(44100)], "{'type': 'stop_request'}", None, "stop_request_not_json"),
        ([start(44100)], None, None, "no_stop_request"),
        ([start(44100)], '{"type":"stop_request"}', [b"\x01\x00" * 8192], "frame_too_large"),
        ([start(44100)], '{"type":"stop_request"}', [b"\x01\x00\x02"] * 3, "odd_frame_length"),
    ],
)
def test_protocol_mistakes_are_named(
    first: list[str], stop: str | None, frames: list[bytes] | None, code: str
) -> None:
    sent = frames if frames is not None else framed(float_to_int16(SPEECH[:44100]))
    assert code in stream(sent, first=first, stop=stop).findings()


def test_audio_before_the_start_request_is_counted() -> None:
    monitor = ConformanceMonitor()
    monitor.audio(0, b"\x00\x01" * 512)
    monitor.text(1, start(16000))
    monitor.text(2, '{"type":"stop_request"}')
    (finding,) = monitor.report()["findings"]
    assert finding["code"] == "audio_before_start"
    assert finding["evidence"] == {"frames": 1, "bytes": 1024}


@pytest.mark.parametrize(
    ("samples", "code"),
    [
        (np.zeros(44100 * 3, np.int16), "silence_only"),
        (float_to_int16(SPEECH * 0.01), "level_too_low"),
        ((float_to_int16(SPEECH * 0.5).astype(np.int32) + 3000).astype(np.int16), "dc_offset"),
        (float_to_int16(np.clip(SPEECH * 8, -1, 1)), "clipping"),
    ],
)
def test_level_defects_are_named(samples: np.ndarray, code: str) -> None:
    assert code in stream(framed(samples)).findings()


# Six seconds of speech 12 dB too hot, clipped at Float32 1.0.
HOT = np.clip(SPEECH[: 44100 * 6] * 4, -1, 1)


def limited(signal: np.ndarray, rate: int) -> np.ndarray:
    """A peak limiter as a browser's audio processing has: each half millisecond scaled down
    until its peak is at full scale and no further, so peaks touch it one sample at a time."""
    blocks = signal[: signal.size // (rate // 2000) * (rate // 2000)].reshape(-1, rate // 2000)
    peaks = np.abs(blocks).max(axis=1, keepdims=True)
    return (blocks / np.maximum(peaks, 1.0)).ravel()


def longest_run_at(samples: np.ndarray, level: int) -> int:
    edges = np.diff(np.r_[0, (np.abs(samples.astype(np.int32)) >= level).astype(np.int8), 0])
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max(initial=0))


# Float32 1.0 is 32767 through `x * 0x7FFF` and 32766 through a gain a rounding step below 1
# (the tutorial's page); resampled, the flat tops ring; limited, they touch full scale one
# sample at a time, as the fixture `hot` arrives from Chromium.
@pytest.mark.parametrize(
    ("samples", "rate"),
    [
        (float_to_int16(HOT), 44100),
        (np.round(HOT * 32766).astype(np.int16), 44100),
        (float_to_int16(resample(HOT, 44100, 48000)), 48000),
        (float_to_int16(resample(HOT, 44100, 16000)), 16000),
        (np.round(limited(resample(HOT, 44100, 48000), 48000) * 32766).astype(np.int16), 48000),
        (np.round(limited(resample(HOT, 44100, 16000), 16000) * 32766).astype(np.int16), 16000),
    ],
    ids=[
        "runs-32767",
        "runs-32766",
        "resampled-48k",
        "resampled-16k",
        "isolated-48k",
        "isolated-16k",
    ],
)
def test_clipped_speech_is_clipping_however_its_flat_tops_arrive(
    samples: np.ndarray, rate: int, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.id.startswith("isolated"):
        # No runs to find: full scale is touched one sample at a time, time and again.
        assert longest_run_at(samples, 32766) < 3
        assert np.count_nonzero(samples >= 32766) > 100
    report = stream(framed(samples), declared=rate).report()
    findings = {finding["code"]: finding for finding in report["findings"]}
    assert "clipping" in findings, report["findings"]
    evidence = findings["clipping"]["evidence"]
    assert 0 < evidence["clipped_seconds"] <= evidence["audio_seconds"] == 6.0
    # Each stretch named begins within 20 ms of a clipped sample of the speech.
    clipped_at = np.flatnonzero(np.abs(HOT) >= 1) / 44100
    for position in evidence["first_positions"]:
        assert np.abs(clipped_at - position / rate).min() < 0.02, position


# Clean speech peak-normalised to 0 or -0.1 dBFS reaches full scale but does not crowd there.
@pytest.mark.parametrize("level_db", [0.0, -0.1])
@pytest.mark.parametrize("rate", [44100, 48000, 16000])
def test_unclipped_speech_normalised_to_full_scale_is_not_clipping(
    level_db: float, rate: int
) -> None:
    speech = resample(SPEECH[: 44100 * 6], 44100, rate)
    samples = float_to_int16(speech / np.abs(speech).max() * 10 ** (level_db / 20))
    assert np.abs(samples.astype(np.int32)).max() >= 32390
    assert "clipping" not in stream(framed(samples), declared=rate).findings()


def test_isolated_full_scale_clicks_in_speech_are_not_clipping() -> None:
    samples = float_to_int16(SPEECH[: 44100 * 6])
    # A click of one sample at full scale every tenth of a second, alternating in sign.
    clicks = np.arange(0, samples.size, 4410)
    samples[clicks] = np.where(np.arange(clicks.size) % 2, -32767, 32767)
    assert "clipping" not in stream(framed(samples)).findings()


def test_gaps_bursts_and_falling_behind_are_named() -> None:
    frames = framed(float_to_int16(SPEECH[: 44100 * 6]), 1024)
    monitor = ConformanceMonitor()
    monitor.text(0, start(44100))
    at = 0
    for index, frame in enumerate(frames):
        # Ten frames at once, then a pause of ten frames' time plus a third: bursty and slow.
        if index % 10 == 0:
            at += round(10 * 1024 / 44100 * 1.33 * 1e9)
        monitor.audio(at, frame)
        if index == 100:
            at += round(1.5e9)
    monitor.text(at, '{"type":"stop_request"}')
    codes = monitor.findings()
    assert {"gaps", "bursts", "behind_real_time"} <= set(codes)


@given(
    tones=st.lists(st.tuples(st.floats(50, 4000), st.floats(0.01, 0.2)), min_size=1, max_size=4),
    frame=st.sampled_from([256, 1024, 2048, 4096]),
)
# A tone whose period divides the frame: every frame starts on a true zero crossing.
@example(tones=[(125.0, 0.125)], frame=256)
def test_band_limited_audio_converted_correctly_has_no_conversion_findings(
    tones: list[tuple[float, float]], frame: int
) -> None:
    t = np.arange(16000 * 3) / 16000
    signal = sum(amplitude * np.sin(2 * np.pi * f * t) for f, amplitude in tones)
    findings = set(stream(framed(float_to_int16(signal), frame), declared=16000).findings())
    assert not findings & {"first_sample_zero", "sign_flip", "clipping", "dc_offset"}


@given(frame=st.sampled_from([256, 1024, 2048, 4096]), gain=st.floats(1.5, 4))
def test_the_seed_loop_is_always_caught_by_its_zero_first_samples(frame: int, gain: float) -> None:
    codes = stream(seed_frames(SPEECH[: 44100 * 4] * gain, frame)).findings()
    assert "first_sample_zero" in codes


def test_the_mock_serves_the_report_of_a_live_session_and_check_agrees(tmp_path: Path) -> None:
    with running_mock(MockConfig(transcripts=(FIXTURES / "feedback",))) as mock:
        signal = SPEECH * 2.0
        frames = [seed_float_to_int16(signal[i : i + 4096]) for i in range(0, signal.size, 4096)]
        folder = tmp_path / "seeded"
        asyncio.run(
            record(
                folder,
                Stream(StartRequest(sample_rate_hertz=44100), frames, speed=None),
                Destination(mock.ws_url, token(mock.base_url), "feedback"),
            )
        )
        headers = {"x-api-key": token(mock.base_url)}
        reports = f"{mock.base_url}/v1/mock/sessions"
        live = httpx.get(f"{reports}/feedback/conformance", headers=headers).json()
        missing = httpx.get(f"{reports}/nobody/conformance", headers=headers)
    assert missing.status_code == 404
    codes = {f["code"] for f in live["findings"]}
    assert {"first_sample_zero", "sign_flip"} <= codes
    written = json.loads((folder / CONFORMANCE_FILE).read_text())
    assert written == check_log(read_session(folder))
    assert {f["code"] for f in written["findings"]} == codes
    assert written["samples"] == live["samples"]


def test_the_mock_names_a_client_that_streams_a_file_as_fast_as_it_can(tmp_path: Path) -> None:
    six_seconds = float_to_int16(SPEECH[: 44100 * 6])
    frames = [six_seconds[i : i + 1024] for i in range(0, six_seconds.size, 1024)]
    found = {}
    with running_mock(MockConfig(transcripts=(FIXTURES / "feedback",))) as mock:
        for name, speed in (("paced", 1.0), ("unpaced", None)):
            asyncio.run(
                record(
                    tmp_path / name,
                    Stream(StartRequest(sample_rate_hertz=44100), frames, speed=speed),
                    Destination(mock.ws_url, token(mock.base_url), "feedback"),
                )
            )
            report = f"{mock.base_url}/v1/mock/sessions/feedback/conformance"
            live = httpx.get(report, headers={"x-api-key": token(mock.base_url)}).json()
            found[name] = {finding["code"]: finding for finding in live["findings"]}
    assert "faster_than_real_time" not in found["paced"]
    unpaced = found["unpaced"]["faster_than_real_time"]
    assert unpaced["explanation"].startswith("audio arrives at ")
    assert unpaced["evidence"]["times_real_time"] > 2
    assert "sample_rate_mismatch" not in found["unpaced"]


def run_check(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "check", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_exits_0_on_a_clean_fixture_and_names_problems_otherwise(tmp_path: Path) -> None:
    clean = run_check(FIXTURES / "standup", "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["findings"] == []
    hot = run_check(FIXTURES / "hot")
    assert hot.returncode == 1
    assert "clipping" in hot.stdout
    missing = run_check(tmp_path / "nothing")
    assert missing.returncode == 2
    assert "is not a folder" in missing.stderr


def report_codes(report: dict[str, Any]) -> list[str]:
    return [finding["code"] for finding in report["findings"]]


def test_every_fixture_has_only_the_findings_it_was_made_with() -> None:
    for name, expected in {
        "standup": [],
        "feedback": [],
        "support-call": [],
        "hot": ["clipping"],
    }.items():
        assert report_codes(check_log(read_session(FIXTURES / name))) == expected, name


@pytest.mark.parametrize("fixture", ["standup", "feedback", "support-call"])
def test_audio_far_faster_than_declared_shows_in_its_spectrum_even_at_full_speed(
    fixture: str,
) -> None:
    audio = read_pcm16(FIXTURES / fixture / "audio.wav")
    at_48k = float_to_int16(resample(int16_to_float32(audio.samples), audio.sample_rate, 48000))
    # A replay at full speed: the wall clock says nothing; the spectrum does.
    monitor = stream(framed(at_48k), declared=16000, seconds_per_frame=0.0001)
    findings = {finding["code"]: finding for finding in monitor.report()["findings"]}
    assert set(findings) == {"band_too_narrow", "faster_than_real_time"}
    finding = findings["band_too_narrow"]
    assert finding["evidence"]["band_edge_hz"] < 3000


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize("fixture", ["standup", "feedback", "support-call"])
def test_speech_declared_at_its_true_rate_has_a_speech_band(fixture: str, rate: int) -> None:
    audio = read_pcm16(FIXTURES / fixture / "audio.wav")
    resampled = float_to_int16(resample(int16_to_float32(audio.samples), audio.sample_rate, rate))
    monitor = stream(framed(resampled), declared=rate, seconds_per_frame=0.0001)
    assert "band_too_narrow" not in monitor.findings()
