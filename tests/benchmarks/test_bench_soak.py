"""The soak benchmark's pure parts: reading /proc, event delays, looping audio, the verdicts
and the table (the runs themselves are the benchmark's, not the suite's)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_soak.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_soak", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up while the class is made.
    sys.modules["bench_soak"] = module
    spec.loader.exec_module(module)
    return module


soak = load()

STATUS = """Name:\tpython
VmPeak:\t  412000 kB
VmRSS:\t   80848 kB
RssAnon:\t   61220 kB
Threads:\t3
"""


def test_rss_is_read_from_proc_status_and_missing_for_a_process_without_memory() -> None:
    assert soak.rss_kb(STATUS) == 80848
    assert soak.rss_kb("Name:\tkthreadd\nState:\tS (sleeping)\n") is None


def test_this_process_can_be_sampled_and_a_gone_one_cannot() -> None:
    here = soak.sample(os.getpid(), 1.5)
    assert here.t == 1.5
    assert here.rss_kb > 0
    assert here.fds >= 3
    assert soak.sample(2**22 + 1, 0.0) is None


def word(text: str, start: float, end: float) -> dict[str, object]:
    def at(seconds: float) -> dict[str, str]:
        return {"seconds": str(int(seconds)), "nanos": str(round(seconds % 1 * 1e9))}

    return {"word": text, "startTime": at(start), "endTime": at(end)}


def partial(*words: dict[str, object]) -> dict[str, object]:
    alternatives = [{"words": list(words), "transcript": ""}]
    return {
        "type": "message",
        "message": {
            "type": "recognition_result",
            "payload": {"raw": {"alternatives": alternatives}},
        },
    }


def final(offset: float, duration: float) -> dict[str, object]:
    return {
        "type": "message_response",
        "messages": [{"id": "m", "duration": {"timeOffset": offset, "duration": duration}}],
    }


def test_an_event_covers_audio_to_its_last_word_end_or_its_message_end() -> None:
    assert soak.audio_end_s(partial(word("a", 0.1, 0.5), word("b", 0.6, 1.25))) == 1.25
    assert soak.audio_end_s(final(0.5, 3.25)) == 3.75
    assert soak.audio_end_s({"type": "message", "message": {"type": "started_listening"}}) is None
    assert soak.audio_end_s("not JSON") is None


def test_a_delay_runs_from_the_send_of_the_frame_holding_the_events_last_sample() -> None:
    # Frames of 1,000 samples at 1 kHz, sent at 10, 11, 12 s.
    offsets, sent = [0, 1000, 2000], [10.0, 11.0, 12.0]
    events = [
        (11.5, partial(word("a", 0.2, 1.0))),  # ends at sample 1000: frame 0's last is 999
        (12.25, final(0.0, 1.5)),  # ends inside frame 1
        (12.5, {"type": "message", "message": {"type": "started_listening"}}),
        (13.0, partial(word("b", 2.0, 9.0))),  # beyond what was sent: the last frame
    ]
    delays = soak.event_delays_ms(offsets, sent, 1000, events)
    assert delays == [1500.0, 1250.0, 1000.0]


def test_looped_audio_runs_on_across_the_seam_in_whole_frames_for_the_time_asked() -> None:
    audio = np.arange(2500, dtype=np.int16)
    frames = list(soak.looped(audio, 1.0, 4000))
    joined = np.concatenate(frames)
    assert joined.size == 4000
    assert [frame.size for frame in frames] == [1024, 1024, 1024, 928]
    assert np.array_equal(joined, np.concatenate((audio, audio[:1500])))


def outcome(name: str, speed: str, **changes: object) -> object:
    fields: dict[str, object] = {
        "name": name,
        "speed": speed,
        "audio_s": 60.0,
        "planned_s": 60.0,
        "close_code": 1000,
        "error": None,
        "received_messages": 4,
        "stored_messages": 4,
        "delays_ms": [10.0, 20.0, 30.0],
    }
    return soak.SessionOutcome(**{**fields, **changes})


def test_a_session_completes_with_all_audio_a_normal_close_and_every_stored_message() -> None:
    assert outcome("a", "1x").completed
    cut = outcome("b", "max", close_code=1011, error="connection closed with 1011 keepalive")
    assert not cut.completed
    assert cut.why_not() == "connection closed with 1011 keepalive"
    short = outcome("c", "max", audio_s=30.0)
    assert short.why_not() == "sent 30 of 60 s"
    missing = outcome("d", "1x", received_messages=3)
    assert missing.why_not() == "received 3 of 4 stored messages"


def engine_run(
    engine: str, warm_kb: int, end_kb: int, end_fds: int, sessions: list[object]
) -> object:
    run = soak.EngineRun(engine)
    run.idle = soak.Sample(0.0, 50_000, 7)
    run.warm = soak.Sample(5.0, warm_kb, 7)
    run.samples = [run.warm, soak.Sample(10.0, max(warm_kb, end_kb) + 1024, 9)]
    run.end = soak.Sample(20.0, end_kb, end_fds)
    run.sessions = sessions
    return run


def test_the_verdicts_and_the_table_say_what_failed_and_compare_with_the_transcript_engine() -> (
    None
):
    # An hour of audio each: ten minutes at 1x and five times ten at max speed.
    hour = [outcome("rt", "1x", audio_s=600.0, planned_s=600.0)] + [
        outcome(f"max-{i}", "max", audio_s=600.0, planned_s=600.0) for i in range(5)
    ]
    cheap = engine_run("transcript", 80 * 1024, 90 * 1024, 7, hour)
    leaky = engine_run(
        "asr",
        100 * 1024,
        200 * 1024,
        9,
        [*hour[:5], outcome("max-5", "max", audio_s=600.0, planned_s=600.0, close_code=1011)],
    )
    assert cheap.growth_mb_per_h() == 10.0
    assert all(cheap.verdicts().values())
    assert leaky.verdicts() == {
        "all complete": False,
        "RSS growth < 50 MB/h": False,
        "no fd growth": False,
    }
    printed = soak.table([leaky, cheap])
    asr_line = next(line for line in printed.splitlines() if line.startswith("asr  "))
    assert "5/6" in asr_line
    assert "all complete: FAIL" in printed
    assert (
        "transcript all complete: PASS, RSS growth < 50 MB/h: PASS, no fd growth: PASS" in printed
    )
    assert "asr engine peak RSS: 201 MB" in printed
    assert "1x delay p99 1.00x transcript's" in printed
    assert "not completed: max-5: closed with 1011" in printed


def test_growth_is_the_slope_once_the_pools_are_full() -> None:
    run = soak.EngineRun("asr")
    # Pools fill in the first minutes (+400 MB), then 1 MB per 6 minutes: 10 MB per hour.
    run.samples = [
        soak.Sample(float(t), 100_000 + 400_000 * min(t, 300) // 300, 7) for t in range(0, 600, 5)
    ]
    run.samples += [
        soak.Sample(float(t), 500_000 + (t - 600) * 1024 // 360, 7) for t in range(600, 3600, 5)
    ]
    growth = run.growth_mb_per_h()
    assert growth is not None
    assert 9.0 < growth < 11.0
