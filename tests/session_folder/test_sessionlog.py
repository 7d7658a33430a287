"""The session folder: round trips, cut logs, killed writers, redaction, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness.session_folder.log import (
    AUDIO_FILE,
    EVENTS_FILE,
    AudioFrame,
    Closed,
    ErrorRecord,
    Opened,
    SessionLogError,
    SessionLogWriter,
    TextFrame,
    read_session,
)
from harness.session_folder.redact import Redactor
from harness.session_folder.wavfile import PcmWavWriter, WavError

URL = "ws://127.0.0.1:8080/v1/streaming/abc"


class FakeClock:
    """A monotonic clock that advances 1.5 ms per reading."""

    def __init__(self) -> None:
        self.now = 10_000_000_000

    def __call__(self) -> int:
        self.now += 1_500_000
        return self.now


@pytest.fixture
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp) / "session"


# Plain content that no redaction rule touches.
plain = st.text(st.characters(categories=["L", "N", "Zs"]), max_size=20)
json_objects = st.dictionaries(
    st.sampled_from(["type", "a", "b", "payload"]),
    st.recursive(
        st.none() | st.booleans() | st.integers() | plain, lambda c: st.lists(c, max_size=3)
    ),
    max_size=4,
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("send_json"), json_objects),
        st.tuples(st.just("recv_json"), json_objects),
        st.tuples(st.just("send_raw"), plain.map(lambda s: f"<{s}>")),
        st.tuples(st.just("recv_raw"), plain.map(lambda s: f"__{s}")),
        st.tuples(
            st.just("audio"),
            hnp.arrays(np.int16, st.integers(0, 600)).map(lambda a: a.astype("<i2").tobytes()),
        ),
        st.tuples(
            st.just("odd_audio"), st.binary(min_size=1, max_size=99).filter(lambda b: len(b) % 2)
        ),
        st.tuples(st.just("error"), plain),
    ),
    max_size=25,
)


def write_session(folder: Path, ops: list[tuple[str, Any]], close: bool = True) -> SessionLogWriter:
    writer = SessionLogWriter(folder, endpoint=URL, sample_rate=16000, clock=FakeClock())
    writer.opened(URL)
    for op, value in ops:
        if op.startswith("send_"):
            writer.sent_text(json.dumps(value) if op == "send_json" else value)
        elif op.startswith("recv_"):
            writer.received_text(json.dumps(value) if op == "recv_json" else value)
        elif op.endswith("audio"):
            writer.sent_audio(value)
        else:
            writer.error(value)
    writer.closed(1000, "done")
    if close:
        writer.close()
    return writer


@given(operations)
def test_write_then_read_round_trip(ops: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "s"
        write_session(folder, ops)
        log = read_session(folder)
    assert log.complete
    assert log.problems == ()
    assert isinstance(log.records[0], Opened)
    assert isinstance(log.records[-1], Closed)
    body = log.records[1:-1]
    assert len(body) == len(ops)
    sent = b""
    for (op, value), record in zip(ops, body, strict=True):
        assert record.position == len(sent) // 2
        if op in ("send_json", "recv_json"):
            assert isinstance(record, TextFrame)
            assert record.direction == op[:4]
            assert record.data == value
        elif op in ("send_raw", "recv_raw"):
            assert isinstance(record, TextFrame)
            assert record.text == value
        elif op.endswith("audio"):
            assert isinstance(record, AudioFrame)
            even = value[: len(value) - len(value) % 2]
            assert log.audio_of(record).astype("<i2").tobytes() == even
            assert record.odd_byte == value[len(even) :]
            sent += even
        else:
            assert isinstance(record, ErrorRecord)
            assert record.message == value
    assert log.audio.astype("<i2").tobytes() == sent
    times = [record.t for record in log.records]
    assert times == sorted(times)
    assert times[0] == pytest.approx(0.0015)


SAMPLE_OPS: list[tuple[str, Any]] = [
    ("send_json", {"type": "start_request"}),
    ("audio", np.arange(1024, dtype="<i2").tobytes()),
    ("recv_json", {"type": "message", "message": {"type": "recognition_result"}}),
    ("audio", np.arange(512, dtype="<i2").tobytes()),
    ("recv_json", {"type": "message_response", "messages": [{"payload": {"content": "Hi."}}]}),
]


def test_a_log_cut_anywhere_in_its_last_line_keeps_everything_before(folder: Path) -> None:
    write_session(folder, SAMPLE_OPS)
    lines = (folder / EVENTS_FILE).read_bytes().splitlines(keepends=True)
    complete = read_session(folder).records
    # The last record line (before the footer) and the footer itself.
    for last in (len(lines) - 2, len(lines) - 1):
        prefix = b"".join(lines[:last])
        line = lines[last]
        kept = last - 1  # records before the cut line (the header is not a record)
        for cut in range(len(line) + 1):
            (folder / EVENTS_FILE).write_bytes(prefix + line[:cut])
            log = read_session(folder)
            expect = kept + (1 if cut >= len(line) - 1 and last < len(lines) - 1 else 0)
            if last == len(lines) - 1:
                expect = len(complete)
            assert log.records == complete[:expect], (last, cut)
            footer_kept = last == len(lines) - 1 and cut >= len(line) - 1
            assert log.complete == footer_kept
            if 0 < cut < len(line) - 1:
                assert any("is cut" in p for p in log.problems), (last, cut, log.problems)


def test_a_corrupt_line_before_the_last_is_an_error_naming_it(folder: Path) -> None:
    write_session(folder, SAMPLE_OPS)
    lines = (folder / EVENTS_FILE).read_bytes().splitlines(keepends=True)
    lines[3] = b"{garbage\n"
    (folder / EVENTS_FILE).write_bytes(b"".join(lines))
    with pytest.raises(SessionLogError, match=r"line 4 is not a valid record .*; 2 records before"):
        read_session(folder)


KILLED_WRITER = """
import sys, numpy as np
from pathlib import Path
from harness.session_folder.log import SessionLogWriter
writer = SessionLogWriter(Path(sys.argv[1]), endpoint=sys.argv[2], sample_rate=16000)
writer.opened(sys.argv[2])
writer.sent_text('{"type":"start_request"}')
for i in range(1_000_000):
    writer.sent_audio(np.full(1024, i % 1000, dtype="<i2").tobytes())
    writer.received_text('{"type":"message","message":{"type":"recognition_result"}}')
    if i == 200:
        print("ready", flush=True)
"""


def test_a_killed_writer_leaves_a_readable_session(folder: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(folder), URL],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGKILL)
        process.wait()
    log = read_session(folder)
    assert not log.complete
    assert any("no footer" in problem for problem in log.problems)
    frames = log.audio_frames()
    assert len(frames) > 200
    assert log.audio.size >= frames[-1].offset + frames[-1].samples
    for frame in frames:
        assert np.all(log.audio_of(frame) == frames.index(frame) % 1000)


def test_a_wav_header_never_finished_is_repaired_on_read(folder: Path) -> None:
    write_session(folder, SAMPLE_OPS)
    wav = bytearray((folder / AUDIO_FILE).read_bytes())
    wav[4:8] = wav[40:44] = b"\x00\x00\x00\x00"
    (folder / AUDIO_FILE).write_bytes(bytes(wav))
    log = read_session(folder)
    assert log.audio.size == 1536
    assert any("header says 0 data bytes" in problem for problem in log.problems)


# Credentials as they come (JWTs, API keys): long and of mixed characters. Shorter or
# single-class strings could be found in a log's own vocabulary ("symbl-harness-session")
# without anything having leaked.
tokens = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=16, max_size=48
).filter(
    lambda t: (
        any(c.isdigit() for c in t) and any(c.islower() for c in t) and any(c.isupper() for c in t)
    )
)


@given(token=tokens, api_key=tokens, secret=tokens, subprotocol=tokens)
def test_secrets_never_reach_any_written_file(
    token: str, api_key: str, secret: str, subprotocol: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "s"
        url = f"{URL}?source=js&access_token={token}&accessToken={token}"
        with SessionLogWriter(
            folder,
            endpoint=url,
            sample_rate=16000,
            extra_header={"auth": {"appId": "app", "appSecret": secret}},
        ) as writer:
            writer.opened(
                url,
                headers=[
                    ("Authorization", f"Bearer {token}"),
                    ("X-API-KEY", api_key),
                    ("Sec-WebSocket-Protocol", subprotocol),
                ],
            )
            writer.sent_text(json.dumps({"type": "start_request", "accessToken": token}))
            writer.sent_text(str({"type": "stop_request", "x-api-key": api_key}))
            writer.received_text(
                json.dumps({"type": "error", "message": f"bad {api_key} {secret}"})
            )
            writer.received_text(f"echo {subprotocol} Bearer {token}")
            writer.sent_audio(bytes(64))
            writer.error(f"GET /v1/conversations?access_token={token} failed for {secret}")
            writer.closed(4001, f"Authorization: Bearer {token}")
        written = b"".join(path.read_bytes() for path in folder.iterdir())
    for value in (token, api_key, secret, subprotocol):
        assert value.encode() not in written


def test_secrets_given_to_the_writer_are_removed_everywhere(folder: Path) -> None:
    with SessionLogWriter(
        folder, endpoint=URL, sample_rate=8000, secrets=["s3cr3t-t0ken"]
    ) as writer:
        writer.received_text(json.dumps({"type": "message", "text": "said s3cr3t-t0ken aloud"}))
    assert b"s3cr3t-t0ken" not in (folder / EVENTS_FILE).read_bytes()


def test_redaction_leaves_ordinary_speech_alone(folder: Path) -> None:
    message = {
        "type": "message_response",
        "messages": [{"payload": {"content": "Basic information about the bearer bonds."}}],
    }
    with SessionLogWriter(folder, endpoint=URL, sample_rate=8000) as writer:
        writer.received_text(json.dumps(message))
    assert read_session(folder).received()[0].data == message


# Bad input: each gives one line that names the problem.


def header(**fields: Any) -> str:
    base = {"kind": "header", "format": "symbl-harness-session", "version": 1, "sample_rate": 16000}
    return json.dumps({**base, **fields}) + "\n"


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("", "is empty"),
        ("not json\n", "line 1 is not JSON"),
        ("[" * 100_000 + "\n", "line 1 is not JSON"),
        (header() + "[" * 100_000 + "\n" + '{"kind":"footer"}\n', "line 2 is not a valid record"),
        ('{"format": "something-else"}\n', "is not a symbl-harness-session log"),
        (header(version=2), "is format version 2; .* reads version 1"),
        (header(version="1"), "invalid format version"),
        (header(sample_rate=0), "no valid sample_rate"),
        (
            header()
            + '{"t": 0, "kind": "audio", "dir": "send", "offset": 0, "samples": 10}\n'
            + '{"kind": "footer"}\n',
            "has no audio.wav but its log sent audio",
        ),
        (
            header() + '{"t": 0, "kind": "audio", "offset": 5, "samples": 10}\n{"kind":"footer"}\n',
            "offset 5 does not follow",
        ),
        (header() + '{"t": "x", "kind": "open"}\n{"kind":"footer"}\n', "t is not a number"),
    ],
)
def test_unusable_logs_give_one_line_errors(folder: Path, events: str, message: str) -> None:
    folder.mkdir()
    (folder / EVENTS_FILE).write_text(events)
    with pytest.raises(SessionLogError, match=message) as error:
        read_session(folder)
    assert "\n" not in str(error.value)


def test_not_a_session_folder(folder: Path) -> None:
    with pytest.raises(SessionLogError, match="is not a folder"):
        read_session(folder)
    folder.mkdir()
    with pytest.raises(SessionLogError, match=r"has no events\.jsonl"):
        read_session(folder)


def test_audio_shorter_than_the_log_says_is_an_error(folder: Path) -> None:
    write_session(folder, SAMPLE_OPS)
    wav = (folder / AUDIO_FILE).read_bytes()
    (folder / AUDIO_FILE).write_bytes(wav[:-200])
    with pytest.raises(SessionLogError, match=r"holds 1436 samples but events\.jsonl sent 1536"):
        read_session(folder)


def test_audio_that_is_not_a_wav_is_an_error(folder: Path) -> None:
    write_session(folder, SAMPLE_OPS)
    (folder / AUDIO_FILE).write_bytes(b"ID3 not a wav at all")
    with pytest.raises(SessionLogError, match=r"audio\.wav is not a WAV file"):
        read_session(folder)


def test_the_writer_refuses_to_overwrite_a_session(folder: Path) -> None:
    write_session(folder, [])
    with pytest.raises(SessionLogError, match="not empty"):
        SessionLogWriter(folder, endpoint=URL, sample_rate=16000)


def test_fixture_like_folders_without_audio_records_read(folder: Path) -> None:
    folder.mkdir()
    (folder / EVENTS_FILE).write_text(header() + '{"kind": "footer", "samples": 0}\n')
    log = read_session(folder)
    assert log.complete
    assert log.audio.size == 0


# Write failures and impossible input: the folder keeps what reached the disk and reads.

CAPPED_WRITER = """
import resource, sys
from pathlib import Path
from harness.session_folder.log import SessionLogError, SessionLogWriter
resource.setrlimit(resource.RLIMIT_FSIZE, (32768, 32768))
writer = SessionLogWriter(Path(sys.argv[1]), endpoint="ws://h/x", sample_rate=16000)
try:
    for n in range(100):
        writer.sent_audio(bytes([n % 100, 0]) * 500)
except SessionLogError as error:
    print(error)
writer.close()
"""


def test_a_full_disk_ends_the_log_without_a_footer_and_keeps_what_was_written(
    folder: Path,
) -> None:
    # RLIMIT_FSIZE fails the write that crosses it (EFBIG), as a full disk would (ENOSPC).
    result = subprocess.run(
        [sys.executable, "-c", CAPPED_WRITER, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    (line,) = result.stdout.splitlines()
    assert "File too large" in line
    assert "incomplete" in line
    log = read_session(folder)
    assert not log.complete
    frames = log.audio_frames()
    assert 0 < len(frames) < 100
    for number, frame in enumerate(frames):
        assert np.all(log.audio_of(frame) == number % 100)


def test_a_rate_no_wav_can_hold_records_the_session_without_audio(folder: Path) -> None:
    with SessionLogWriter(folder, endpoint=URL, sample_rate=2**32) as writer:
        writer.sent_text(json.dumps({"type": "start_request"}))
        writer.sent_audio(bytes(2048))
    assert not (folder / AUDIO_FILE).exists()
    log = read_session(folder)
    assert log.complete
    assert log.sample_rate == 2**32
    assert [f.samples for f in log.audio_frames()] == [1024]
    assert log.audio.size == 0
    assert any("4294967296 Hz cannot be written to a WAV" in p for p in log.problems)


@pytest.mark.parametrize("rate", [0, -1, 768_001, 2**31, 2**32])
def test_the_wav_writer_refuses_an_impossible_rate_before_writing(folder: Path, rate: int) -> None:
    folder.mkdir()
    with pytest.raises(WavError, match=f"{rate} Hz cannot be written"):
        PcmWavWriter(folder / AUDIO_FILE, rate)
    assert not (folder / AUDIO_FILE).exists()


def test_json_nested_too_deep_to_walk_is_kept_as_text(folder: Path) -> None:
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    with SessionLogWriter(folder, endpoint=URL, sample_rate=16000) as writer:
        writer.received_text(deep)
    (frame,) = read_session(folder).received()
    assert frame.text == deep


def test_a_shared_redactor_carries_secrets_from_one_log_to_the_next(tmp_path: Path) -> None:
    redactor = Redactor()
    with SessionLogWriter(
        tmp_path / "a",
        endpoint=f"{URL}?access_token=Tok3n-0f-Sess1on",
        sample_rate=16000,
        redactor=redactor,
    ):
        pass
    with SessionLogWriter(tmp_path / "b", endpoint=URL, sample_rate=16000, redactor=redactor) as b:
        b.received_text("echo Tok3n-0f-Sess1on")
    assert b"Tok3n-0f-Sess1on" not in (tmp_path / "b" / EVENTS_FILE).read_bytes()
