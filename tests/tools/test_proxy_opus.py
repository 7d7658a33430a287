"""An Opus client through the recording proxy: the folder holds PCM, and replays."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from opus_audio import (
    fixture_audio,
    ogg_frames,
    ogg_opus,
    opus_packets,
    opus_start,
    stream_frames,
    transcribing_mock,
    words,
)

from harness.audio.fingerprint import compare_audio
from harness.client.record import Destination
from harness.serve import RunningServer, running
from harness.session_folder.log import read_session
from harness.session_folder.wavfile import read_pcm16
from harness.tools.proxy import create_proxy
from harness.tools.replay import MAX_FRAME_SAMPLES, plan_replay, replay

from helpers import FIXTURES, streaming_url, token


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    """A transcript-answering mock behind a recording proxy."""
    out = tmp_path_factory.mktemp("recordings")
    with (
        transcribing_mock() as mock,
        running(create_proxy(mock.base_url, out)) as proxy,
    ):
        yield proxy, out


def assert_same_audio(recorded: np.ndarray, rate: int, source: np.ndarray) -> None:
    """The recording is the source as heard: aligned, as loud, the same waveform."""
    match = compare_audio(recorded, rate, source, rate, 0.0)
    assert abs(match.offset_s) < 0.01
    assert abs(match.level_db) < 1.0
    assert match.correlation > 0.9
    assert match.overlap_s > 0.95 * source.size / rate


def test_an_ogg_opus_client_is_recorded_as_pcm_and_replays_to_the_same_messages(
    proxied: tuple[RunningServer, Path], tmp_path: Path
) -> None:
    proxy, out = proxied
    samples, rate = fixture_audio("hot")
    frames = ogg_frames(ogg_opus(samples, rate))
    received = asyncio.run(stream_frames(streaming_url(proxy, "hot"), opus_start(rate), frames))
    assert words(received)
    log = read_session(out / "hot")
    assert log.complete
    assert (log.header["encoding"], log.header["wire_encoding"]) == ("LINEAR16", "Opus")
    assert log.sample_rate == rate
    assert read_pcm16(out / "hot" / "audio.wav").sample_rate == rate
    # One record per frame the client sent; the first pages are headers, with no samples.
    audio = log.audio_frames()
    assert len(audio) == len(frames)
    assert audio[0].samples == 0
    assert_same_audio(log.audio, rate, samples)
    assert [m["payload"]["content"] for m in log.messages()] == words(received)

    plan = plan_replay(out / "hot")
    assert (plan.start.encoding, plan.rate) == ("LINEAR16", rate)
    assert all(0 < frame.size <= MAX_FRAME_SAMPLES for frame in plan.audio)
    assert np.array_equal(np.concatenate(plan.audio), log.audio)
    # Replayed through the proxy, to the mock, as a client's stream would go.
    again = asyncio.run(
        replay(
            plan,
            tmp_path / "replayed",
            Destination(proxy.ws_url, token(proxy.base_url), "hot--replay"),
            None,
        )
    )
    assert again.result is not None
    replayed = read_session(tmp_path / "replayed")
    assert replayed.header["encoding"] == "LINEAR16"
    assert "wire_encoding" not in replayed.header
    assert replayed.messages()
    assert [m["payload"]["content"] for m in replayed.messages()] == words(received)


def test_the_web_sdks_opus_packets_are_recorded_as_pcm_at_the_declared_rate(
    proxied: tuple[RunningServer, Path],
) -> None:
    proxy, out = proxied
    samples, rate = fixture_audio("standup")
    assert rate == 16000
    # 48 kHz packets declared as 16 kHz: Opus decodes at any rate, so the server hears 16 kHz.
    packets = opus_packets(samples, rate)
    received = asyncio.run(
        stream_frames(streaming_url(proxy, "standup"), opus_start(rate), packets)
    )
    log = read_session(out / "standup")
    assert log.header["wire_encoding"] == "Opus"
    assert log.sample_rate == rate
    # A record per packet, and one at the close: the resampler's last milliseconds.
    assert len(log.audio_frames()) == len(packets) + 1
    assert_same_audio(log.audio, rate, samples)
    assert [m["payload"]["content"] for m in log.messages()] == words(received)
    assert words(received)


def test_the_cli_replays_a_recorded_opus_session(
    proxied: tuple[RunningServer, Path], tmp_path: Path
) -> None:
    proxy, out = proxied
    samples, rate = fixture_audio("hot")
    asyncio.run(
        stream_frames(
            streaming_url(proxy, "hot--cli"), opus_start(rate), opus_packets(samples, rate)
        )
    )
    # With the fixture's transcript beside it, `--mock` recognises the replay by it.
    shutil.copy(FIXTURES / "hot" / "transcript.json", out / "hot--cli")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "replay",
            str(out / "hot--cli"),
            "--mock",
            "--speed",
            "max",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "replayed into" in done.stderr
    replayed = read_session(tmp_path / "r")
    recorded = read_session(out / "hot--cli")
    assert np.array_equal(replayed.audio, recorded.audio)
    assert replayed.messages()
    assert [m["payload"]["content"] for m in replayed.messages()] == [
        m["payload"]["content"] for m in recorded.messages()
    ]
