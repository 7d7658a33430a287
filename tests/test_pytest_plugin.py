"""The pytest plugin in throwaway projects: record modes, failing diffs, xdist."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from mock_symbl import MockConfig, running_mock

from helpers import FIXTURES, token

SUITE = """
def test_hot(symbl_replay):
    assert symbl_replay("sessions/hot").matches_baseline()
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(FIXTURES / "hot", pytester.path / "sessions" / "hot")
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_mode_none_compares_with_the_recording_and_writes_nothing(project: pytest.Pytester) -> None:
    result = run(project, "--symbl-record-mode=none")
    result.assert_outcomes(passed=1)
    assert not (project.path / "symbl-baselines").exists()


def test_mode_once_writes_missing_baselines_then_compares(project: pytest.Pytester) -> None:
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    events = project.path / "symbl-baselines" / "sessions" / "hot" / "events.jsonl"
    written = events.stat().st_mtime_ns
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    assert events.stat().st_mtime_ns == written


def test_mode_new_rewrites_baselines_older_than_their_session(project: pytest.Pytester) -> None:
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    events = project.path / "symbl-baselines" / "sessions" / "hot" / "events.jsonl"
    written = events.stat().st_mtime_ns
    run(project, "--symbl-record-mode=new").assert_outcomes(passed=1)
    assert events.stat().st_mtime_ns == written
    time.sleep(0.01)
    os.utime(project.path / "sessions" / "hot" / "events.jsonl")
    run(project, "--symbl-record-mode=new").assert_outcomes(passed=1)
    assert events.stat().st_mtime_ns > written


def test_mode_all_rewrites_every_baseline(project: pytest.Pytester) -> None:
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    events = project.path / "symbl-baselines" / "sessions" / "hot" / "events.jsonl"
    written = events.stat().st_mtime_ns
    run(project, "--symbl-record-mode=all").assert_outcomes(passed=1)
    assert events.stat().st_mtime_ns > written


def test_a_failing_comparison_shows_the_semantic_diff(project: pytest.Pytester) -> None:
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    events = project.path / "symbl-baselines" / "sessions" / "hot" / "events.jsonl"
    records = [json.loads(line) for line in events.read_text().splitlines()]
    for record in records:
        data = record.get("data") or {}
        if data.get("type") == "message_response":
            data["messages"][0]["payload"]["content"] = "Testing the loudspeaker one two three."
            break
    events.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = run(project, "--symbl-record-mode=none")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*differs from*", "*transcript: word error rate*loudspeaker*"])


def test_every_xdist_worker_gets_its_own_mock(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_workers="""
import os
from pathlib import Path

import pytest

@pytest.mark.parametrize("n", range(4))
def test_port(symbl_mock, symbl_replay, n):
    assert symbl_replay("sessions/hot").matches_baseline()
    worker = os.environ["PYTEST_XDIST_WORKER"]
    (Path("ports") / f"{worker}-{n}").write_text(f"{worker} {symbl_mock.port}")
"""
    )
    (project.path / "ports").mkdir()
    result = run(project, "-n", "2")
    result.assert_outcomes(passed=5)
    seen = {tuple(p.read_text().split()) for p in (project.path / "ports").iterdir()}
    workers = {worker for worker, _ in seen}
    ports = {port for _, port in seen}
    assert len(workers) == 2
    assert len(ports) == 2


CLIENT_SUITE = """
import json
import uuid
from pathlib import Path

import pytest
import soundfile as sf
from websockets.sync.client import connect


def run_client(symbl_mock, wav):
    # A user's own client: any connection id, its own start request.
    audio, rate = sf.read(wav, dtype="int16")
    received = []
    with connect(symbl_mock.streaming_url(str(uuid.uuid4()))) as ws:
        speech = {"encoding": "LINEAR16", "sampleRateHertz": rate}
        ws.send(json.dumps({"type": "start_request", "config": {"speechRecognition": speech}}))
        for i in range(0, audio.size, 1024):
            ws.send(audio[i : i + 1024].tobytes())
        ws.send(json.dumps({"type": "stop_request"}))
        for message in ws:
            received.append(json.loads(message))
    return received


@pytest.mark.symbl(sessions=["recordings"])
def test_client(symbl_mock):
    received = run_client(symbl_mock, Path(__file__).parent / "hot.wav")
    entry = symbl_mock.connection()
    assert entry.matched or entry.recorded_to, entry.error
    assert any(m["type"] == "message_response" for m in received)
    FAIL_AFTER_THE_CLIENT_RAN
"""


@pytest.fixture
def client_project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(FIXTURES / "hot" / "audio.wav", pytester.path / "hot.wav")
    pytester.makepyfile(test_client=CLIENT_SUITE.replace("FAIL_AFTER_THE_CLIENT_RAN", ""))
    return pytester


def recordings(project: pytest.Pytester) -> list[str]:
    folder = project.path / "recordings"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_client_is_answered_from_the_recording_its_own_run_made(
    client_project: pytest.Pytester,
) -> None:
    failed = run(client_project)
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*No recording matches this audio*0 recordings loaded*"])
    assert recordings(client_project) == []
    run(client_project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    assert recordings(client_project) == ["test_client"]
    written = (client_project.path / "recordings" / "test_client" / "events.jsonl").read_bytes()
    run(client_project).assert_outcomes(passed=1)
    run(client_project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    assert recordings(client_project) == ["test_client"]
    after = (client_project.path / "recordings" / "test_client" / "events.jsonl").read_bytes()
    assert after == written


def test_mode_passed_keeps_what_a_failing_test_recorded_nowhere(
    client_project: pytest.Pytester,
) -> None:
    client_project.makepyfile(
        test_client=CLIENT_SUITE.replace("FAIL_AFTER_THE_CLIENT_RAN", "assert False, 'mine'")
    )
    run(client_project, "--symbl-record-mode=passed").assert_outcomes(failed=1)
    assert recordings(client_project) == []
    client_project.makepyfile(test_client=CLIENT_SUITE.replace("FAIL_AFTER_THE_CLIENT_RAN", ""))
    run(client_project, "--symbl-record-mode=passed").assert_outcomes(passed=1)
    assert recordings(client_project) == ["test_client"]


def test_an_expired_recording_warns_fails_or_is_recorded_again(
    client_project: pytest.Pytester,
) -> None:
    run(client_project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    events = client_project.path / "recordings" / "test_client" / "events.jsonl"
    made = events.read_bytes()
    aged = ("--symbl-expires-in=0.000001",)
    warned = run(client_project, *aged)
    warned.assert_outcomes(passed=1)
    warned.stdout.fnmatch_lines(["*RecordingExpiredWarning*test_client expired on*"])
    failed = run(client_project, *aged, "--symbl-expiry=fail")
    failed.assert_outcomes(errors=1)
    failed.stdout.fnmatch_lines(["*RecordingExpiredError*test_client expired on*"])
    run(client_project, *aged, "--symbl-expiry=record").assert_outcomes(passed=1)
    assert recordings(client_project) == ["test_client"]
    assert events.read_bytes() != made


def test_baselines_of_two_sessions_with_one_name_stay_apart(project: pytest.Pytester) -> None:
    shutil.copytree(FIXTURES / "hot", project.path / "other" / "hot")
    project.makepyfile(
        test_suite=SUITE + "\ndef test_other(symbl_replay):\n"
        '    assert symbl_replay("other/hot").matches_baseline()\n'
    )
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=2)
    baselines = project.path / "symbl-baselines"
    assert (baselines / "sessions" / "hot" / "events.jsonl").is_file()
    assert (baselines / "other" / "hot" / "events.jsonl").is_file()


def test_a_miss_is_recorded_from_the_upstream_endpoint_with_credentials_from_the_environment(
    client_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SYMBL_ACCESS_TOKEN", "SYMBL_APP_ID", "SYMBL_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    transcript = MockConfig(engine="transcript", transcripts=(FIXTURES / "hot",))
    with running_mock(transcript) as upstream:
        refused = run(
            client_project, "--symbl-record-mode=once", f"--symbl-upstream={upstream.ws_url}"
        )
        refused.stderr.fnmatch_lines(["*--symbl-upstream: no credentials*"])
        assert refused.ret == pytest.ExitCode.USAGE_ERROR
        monkeypatch.setenv("SYMBL_ACCESS_TOKEN", token(upstream.base_url))
        recorded = run(
            client_project, "--symbl-record-mode=once", f"--symbl-upstream={upstream.ws_url}"
        )
        recorded.assert_outcomes(passed=1)
        assert recordings(client_project) == ["test_client"]
        assert len(upstream.journal(settle_s=60)) == 1
    run(client_project).assert_outcomes(passed=1)


def test_mode_once_records_each_test_of_a_module_sharing_one_folder(
    client_project: pytest.Pytester,
) -> None:
    shutil.copy(FIXTURES / "standup" / "audio.wav", client_project.path / "standup.wav")
    second = (
        '\n\n@pytest.mark.symbl(sessions=["recordings"])\n'
        "def test_other_client(symbl_mock):\n"
        '    run_client(symbl_mock, Path(__file__).parent / "standup.wav")\n'
        "    entry = symbl_mock.connection()\n"
        "    assert entry.matched or entry.recorded_to, entry.error\n"
    )
    client_project.makepyfile(
        test_client=CLIENT_SUITE.replace("FAIL_AFTER_THE_CLIENT_RAN", "") + second
    )
    run(client_project, "--symbl-record-mode=once").assert_outcomes(passed=2)
    assert recordings(client_project) == ["test_client", "test_other_client"]
    run(client_project).assert_outcomes(passed=2)


def test_a_miss_still_being_saved_when_the_test_ends_is_kept(
    client_project: pytest.Pytester,
) -> None:
    unread = (
        '\n\n@pytest.mark.symbl(sessions=["recordings"])\n'
        "def test_client_not_reading_the_journal(symbl_mock):\n"
        "    misses = symbl_mock.mock.streaming.misses\n"
        "    keep = misses.keep_if_missed\n"
        "\n"
        "    def slowly(*args):\n"
        "        # The server saves the miss after the client has gone (and the test ended).\n"
        "        time.sleep(1)\n"
        "        return keep(*args)\n"
        "\n"
        "    misses.keep_if_missed = slowly\n"
        '    run_client(symbl_mock, Path(__file__).parent / "hot.wav")\n'
    )
    client_project.makepyfile(
        test_client="import time\n" + CLIENT_SUITE.split("@pytest", maxsplit=1)[0] + unread
    )
    run(client_project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    assert recordings(client_project) == ["test_client_not_reading_the_journal"]


def test_a_test_records_again_only_its_own_expired_recordings(
    client_project: pytest.Pytester,
) -> None:
    shutil.copy(FIXTURES / "standup" / "audio.wav", client_project.path / "standup.wav")
    other = (
        '\n\n@pytest.mark.symbl(sessions=["recordings"])\n'
        "def test_other(symbl_mock):\n"
        '    run_client(symbl_mock, Path(__file__).parent / "standup.wav")\n'
        "    assert symbl_mock.connection().matched or symbl_mock.connection().recorded_to\n"
    )
    client_project.makepyfile(
        test_client=CLIENT_SUITE.replace("FAIL_AFTER_THE_CLIENT_RAN", "") + other
    )
    run(client_project, "--symbl-record-mode=once").assert_outcomes(passed=2)
    assert recordings(client_project) == ["test_client", "test_other"]
    folder = client_project.path / "recordings"
    before = {
        name: (folder / name / "events.jsonl").read_bytes() for name in recordings(client_project)
    }
    aged = ("--symbl-expires-in=0.000001", "--symbl-expiry=record", "-k", "not test_other")
    run(client_project, *aged).assert_outcomes(passed=1, deselected=1)
    assert recordings(client_project) == ["test_client", "test_other"]
    assert (folder / "test_client" / "events.jsonl").read_bytes() != before["test_client"]
    assert (folder / "test_other" / "events.jsonl").read_bytes() == before["test_other"]
