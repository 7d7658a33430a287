"""The mock's opt-in send-time stamps, aligned with a session log's clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness.client.session import Stream, frames_of, run_session
from harness.protocol import StartRequest
from harness.session_folder.log import SessionLogWriter, read_session
from harness.session_folder.wavfile import read_pcm16
from mock_symbl import MockConfig, running_mock
from mock_symbl.web.outbox import SENT_STAMP

from helpers import FIXTURES, token


def replay(folder: Path, stamp: bool) -> list[tuple[float, int | None]]:
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav")
    config = MockConfig(transcripts=(FIXTURES / "hot",), stamp_send_times=stamp)
    with running_mock(config) as mock:
        url = f"{mock.streaming_url('hot')}?access_token={token(mock.base_url)}"
        with SessionLogWriter(folder, endpoint=url, sample_rate=48000) as log:
            start = StartRequest(sample_rate_hertz=48000)
            asyncio.run(
                run_session(url, Stream(start, frames_of(audio.samples, 1024), speed=None), log=log)
            )
    session = read_session(folder)
    origin = int(session.header["clock_origin_ns"])
    return [(origin + frame.t * 1e9, frame.data.get(SENT_STAMP)) for frame in session.received()]


def test_every_frame_is_stamped_and_arrives_after_it_was_sent(tmp_path: Path) -> None:
    arrivals = replay(tmp_path / "stamped", stamp=True)
    assert arrivals
    for received, sent in arrivals:
        assert sent is not None
        # The log keeps microseconds: allow its rounding, nothing more.
        assert received >= sent - 1000
    sent_times = [sent for _, sent in arrivals]
    assert sent_times == sorted(sent_times)


def test_no_stamps_unless_asked(tmp_path: Path) -> None:
    assert all(sent is None for _, sent in replay(tmp_path / "plain", stamp=False))


def test_servers_listen_on_tcp_sockets_so_nagle_is_off() -> None:
    # asyncio sets TCP_NODELAY only on sockets whose protocol is TCP; with proto 0 every
    # frame after the first of a burst waited for an ACK (20-40 ms, measured).
    import socket

    from harness.serve import _bind

    listening = _bind("127.0.0.1", 0)
    try:
        assert listening.proto == socket.IPPROTO_TCP
    finally:
        listening.close()
